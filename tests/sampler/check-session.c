/* SPDX-License-Identifier: MIT */
/* check-session: whole sessions (launch, attach, exit mid-run, fp mode)
 * against sampler-fixture, checking stacks reach main or start_thread. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "session.h"
#include "unwinder-private.h"

struct folded_summary {
    uint64_t total;
    uint64_t rooted; /* stacks that start at main or start_thread */
    uint64_t chain;  /* stacks holding a;b;c */
    uint64_t worker; /* stacks under "thread worker (" */
    char *text;
};

static void summarize(struct bts_session *s, struct folded_summary *sum);

/* Polls until `min_samples` samples, of which `min_worker` come from the
 * thread named "worker", or until 20 s pass (a loaded machine is slow, but
 * the assertions that follow do not depend on timing). */
static void poll_until(struct bts_session *s, uint64_t min_samples, uint64_t min_worker)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct bts_session_stats st;
        bts_session_stats(s, &st);
        if (st.samples >= min_samples) {
            struct folded_summary sum;
            summarize(s, &sum);
            free(sum.text);
            if (sum.worker >= min_worker)
                return;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 20)
            return;
        int r = bts_session_poll(s, 100);
        ck_assert_int_ge(r, 0);
        if (r == 1)
            return;
    }
}

static void summarize(struct bts_session *s, struct folded_summary *sum)
{
    size_t len = 0;
    memset(sum, 0, sizeof(*sum));
    FILE *f = open_memstream(&sum->text, &len);
    ck_assert_int_eq(bts_session_write_folded(s, f), 0);
    fclose(f);
    char *save = NULL;
    char *copy = strdup(sum->text);
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strrchr(line, ' ');
        ck_assert_ptr_nonnull(sp);
        uint64_t count = strtoull(sp + 1, NULL, 10);
        *sp = '\0';
        const char *stack = line;
        if (strncmp(stack, "thread ", 7) == 0) {
            if (strncmp(stack, "thread worker (", 15) == 0)
                sum->worker += count;
            stack = strchr(stack, ';') ? strchr(stack, ';') + 1 : "";
        }
        sum->total += count;
        if (strncmp(stack, "main;", 5) == 0 || strstr(stack, "start_thread;"))
            sum->rooted += count;
        if (strstr(stack, "a;b;c"))
            sum->chain += count;
    }
    free(copy);
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void finish(struct bts_session *s, pid_t child)
{
    bts_session_stop(s);
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
}

START_TEST(test_launched_command_stacks_reach_main)
{
    char *argv[] = {BTS_FIXTURE, "--thread", "200", NULL};
    struct bts_session_opts o = {.argv = argv, .rate_hz = 499, .threads = true};
    struct bts_session *s = bts_session_new(&o);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(bts_session_start(s), 0);
    ck_assert_str_eq(bts_session_backend(s), "perf_event");
    poll_until(s, 300, 20);
    pid_t pid = bts_session_pid(s);
    finish(s, pid);
    struct bts_session_stats st;
    struct folded_summary sum;
    bts_session_stats(s, &st);
    summarize(s, &sum);
    ck_assert_uint_ge(st.samples, 300);
    ck_assert_uint_eq(sum.total, st.samples);
    ck_assert_uint_ge(st.threads_seen, 2);
    ck_assert_msg(sum.rooted * 100 >= sum.total * 99, "only %llu of %llu rooted:\n%s",
                  (unsigned long long)sum.rooted, (unsigned long long)sum.total, sum.text);
    ck_assert_msg(sum.worker > 0, "no worker thread stacks:\n%s", sum.text);
    ck_assert_uint_le(st.failed * 100, st.samples);
    free(sum.text);
    bts_session_free(s);
}
END_TEST

START_TEST(test_attached_process_stacks_reach_main_and_new_threads_are_followed)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(BTS_FIXTURE, BTS_FIXTURE, "--thread", "300", (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
    struct bts_session_opts o = {.pid = pid, .rate_hz = 999, .threads = true};
    /* libunwind opens a pipe once per process (to probe memory): open it
     * before counting. */
    struct bts_unwind_target nothing = {0};
    bts_unwinder_free(bts_unwinder_new(&nothing));
    int fds_before = count_fds();
    struct bts_session *s = bts_session_new(&o);
    ck_assert_int_eq(bts_session_start(s), 0);
    poll_until(s, 500, 50);
    struct bts_session_stats st;
    struct folded_summary sum;
    bts_session_stats(s, &st);
    /* main and worker; the thread that started the worker has exited and
     * its event is gone. */
    ck_assert_uint_eq(st.threads, 2);
    finish(s, pid);
    summarize(s, &sum);
    ck_assert_uint_ge(st.samples, 500);
    ck_assert_uint_ge(st.threads_seen, 2);
    ck_assert_msg(sum.rooted * 100 >= sum.total * 99, "only %llu of %llu rooted:\n%s",
                  (unsigned long long)sum.rooted, (unsigned long long)sum.total, sum.text);
    ck_assert_msg(sum.chain * 100 >= sum.total * 95, "a;b;c in %llu of %llu:\n%s",
                  (unsigned long long)sum.chain, (unsigned long long)sum.total, sum.text);
    /* The worker starts 300 ms in, after sampling began. */
    ck_assert_msg(sum.worker >= 50, "worker stacks %llu:\n%s", (unsigned long long)sum.worker,
                  sum.text);
    free(sum.text);
    bts_session_free(s);
    /* Events, rings and ELF files are all released. */
    ck_assert_int_eq(count_fds(), fds_before);
}
END_TEST

START_TEST(test_target_exit_ends_the_session_and_keeps_stacks)
{
    char *argv[] = {BTS_FIXTURE, "--exit-after", "300", NULL};
    struct bts_session_opts o = {.argv = argv, .rate_hz = 499};
    struct bts_session *s = bts_session_new(&o);
    ck_assert_int_eq(bts_session_start(s), 0);
    int r = 0;
    for (int i = 0; i < 100 && r == 0; i++)
        r = bts_session_poll(s, 50);
    ck_assert_int_eq(r, 1);
    struct bts_session_stats st;
    bts_session_stats(s, &st);
    ck_assert(st.target_exited);
    ck_assert(WIFEXITED(st.exit_status) && WEXITSTATUS(st.exit_status) == 0);
    ck_assert_uint_gt(st.samples, 0);
    struct folded_summary sum;
    summarize(s, &sum);
    ck_assert_uint_eq(sum.total, st.samples);
    ck_assert_ptr_nonnull(strstr(sum.text, "main;a;b;c "));
    ck_assert_int_eq(bts_session_poll(s, 10), 1);
    free(sum.text);
    bts_session_free(s);
}
END_TEST

START_TEST(test_frame_pointer_mode_samples_the_leaf)
{
    char *argv[] = {BTS_FIXTURE, NULL};
    struct bts_session_opts o = {.argv = argv, .rate_hz = 499, .unwind = BTS_UNWIND_FP};
    struct bts_session *s = bts_session_new(&o);
    ck_assert_int_eq(bts_session_start(s), 0);
    poll_until(s, 50, 0);
    finish(s, bts_session_pid(s));
    struct bts_session_stats st;
    struct folded_summary sum;
    bts_session_stats(s, &st);
    summarize(s, &sum);
    ck_assert_uint_ge(st.samples, 50);
    /* The fixture has no frame pointers, so only the leaf is certain. */
    ck_assert_msg(strstr(sum.text, "c ") || strstr(sum.text, ";c;"), "%s", sum.text);
    free(sum.text);
    bts_session_free(s);
}
END_TEST

START_TEST(test_unread_ring_counts_lost_samples)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(BTS_FIXTURE, BTS_FIXTURE, (char *)NULL);
        _exit(127);
    }
    struct bts_session_opts o = {.pid = pid, .rate_hz = 4999};
    struct bts_session *s = bts_session_new(&o);
    ck_assert_int_eq(bts_session_start(s), 0);
    /* 512 KiB hold ~60 samples; the fixture spins long enough to make more. */
    struct timespec ts = {1, 500 * 1000000L};
    nanosleep(&ts, NULL);
    for (int i = 0; i < 10; i++)
        bts_session_poll(s, 10);
    finish(s, pid);
    struct bts_session_stats st;
    bts_session_stats(s, &st);
    ck_assert_uint_gt(st.samples, 0);
    ck_assert_uint_gt(st.lost, 0);
    bts_session_free(s);
}
END_TEST

START_TEST(test_missing_pid_is_explained)
{
    struct bts_session_opts o = {.pid = 0x3ffffff0};
    struct bts_session *s = bts_session_new(&o);
    const char *why, *hint;
    ck_assert_int_eq(bts_session_start(s), -ESRCH);
    bts_session_explain(s, &why, &hint);
    ck_assert_str_eq(why, "no process with pid 1073741808");
    ck_assert_str_ne(hint, "");
    bts_session_free(s);
}
END_TEST

START_TEST(test_missing_command_is_reported)
{
    char *argv[] = {"bt-spy-no-such-command", NULL};
    struct bts_session_opts o = {.argv = argv};
    struct bts_session *s = bts_session_new(&o);
    const char *why, *hint;
    ck_assert_int_eq(bts_session_start(s), -ENOENT);
    bts_session_explain(s, &why, &hint);
    ck_assert_str_eq(why, "command not found: bt-spy-no-such-command");
    bts_session_free(s);
}
END_TEST

START_TEST(test_inconsistent_options_are_rejected)
{
    char *argv[] = {"true", NULL};
    struct bts_session_opts both = {.pid = 1, .argv = argv};
    struct bts_session_opts none = {0};
    struct bts_session_opts odd_stack = {.pid = 1, .stack_size = 1001};
    ck_assert_ptr_null(bts_session_new(&both));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(bts_session_new(&none));
    ck_assert_ptr_null(bts_session_new(&odd_stack));
    struct bts_session_opts idle = {.argv = argv, .idle = true, .backend = BTS_BACKEND_PERF};
    struct bts_session *s = bts_session_new(&idle);
    ck_assert_int_eq(bts_session_start(s), -ENOTSUP);
    bts_session_free(s);
    bts_session_free(NULL);
}
END_TEST

START_TEST(test_subprocess_session_runs_to_the_end)
{
    char *argv[] = {"sh", "-c", "true; true", NULL};
    struct bts_session_opts o = {.argv = argv, .subprocesses = true};
    struct bts_session *s = bts_session_new(&o);
    struct bts_session_stats st;
    int r = 0;
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(bts_session_start(s), 0);
    for (int i = 0; i < 200 && r == 0; i++)
        r = bts_session_poll(s, 50);
    ck_assert_int_eq(r, 1);
    bts_session_stats(s, &st);
    ck_assert(st.target_exited);
    bts_session_free(s);
}
END_TEST

Suite *bts_session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("sampling");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_launched_command_stacks_reach_main);
    tcase_add_test(tc, test_attached_process_stacks_reach_main_and_new_threads_are_followed);
    tcase_add_test(tc, test_target_exit_ends_the_session_and_keeps_stacks);
    tcase_add_test(tc, test_frame_pointer_mode_samples_the_leaf);
    tcase_add_test(tc, test_unread_ring_counts_lost_samples);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_missing_pid_is_explained);
    tcase_add_test(tc, test_missing_command_is_reported);
    tcase_add_test(tc, test_inconsistent_options_are_rejected);
    tcase_add_test(tc, test_subprocess_session_runs_to_the_end);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_session_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
