/* SPDX-License-Identifier: MIT */
/* check-session: whole sessions (launch, attach, exit mid-run, fp mode)
 * against sampler-fixture, checking stacks reach main or start_thread; and
 * the target guard, on made-up identities and on live targets that exec,
 * turn non-dumpable, or exec a program they may not read. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "session.h"
#include "target-guard.h"
#include "unwinder-private.h"

struct folded_summary {
    uint64_t total;
    uint64_t rooted;  /* stacks that start at main, a thread start or the loader */
    uint64_t runtime; /* unrooted stacks of the sanitizer runtime's own work */
    uint64_t chain;   /* stacks holding a;b;c */
    uint64_t worker;  /* stacks under "thread worker (" */
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

/* Whether a stack (without its thread frame) starts where a thread of the
 * program starts: main, start_thread, a new thread still in clone3, or the
 * dynamic loader's entry, which runs before main (an instrumented fixture
 * spends tens of milliseconds there, in ASan's set-up). */
static bool rooted(const char *stack)
{
    return strncmp(stack, "main;", 5) == 0 || strstr(stack, "start_thread;") ||
           strcmp(stack, "clone3") == 0 || strcmp(stack, "clone") == 0 ||
           (strncmp(stack, "ld-linux", 8) == 0 &&
            (strstr(stack, ";_dl_start;") || strstr(stack, ";_dl_init;")));
}

/* Stacks "rooted" counts against: all but the sanitizer runtime's own that
 * do not start at a root (LSan's tracer thread at exit runs on a stack of
 * its own making, from a raw clone). Without sanitizers that is all. */
static uint64_t counted(const struct folded_summary *sum)
{
    return sum->total - sum->runtime;
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
        if (rooted(stack))
            sum->rooted += count;
        else if (strstr(stack, "__sanitizer::") || strstr(stack, "__asan::") ||
                 strstr(stack, "__lsan::"))
            sum->runtime += count;
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
    ck_assert_msg(sum.rooted * 100 >= counted(&sum) * 99, "only %llu of %llu rooted:\n%.2000s",
                  (unsigned long long)sum.rooted, (unsigned long long)counted(&sum), sum.text);
    ck_assert_msg(sum.worker > 0, "no worker thread stacks:\n%.2000s", sum.text);
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
    ck_assert_msg(sum.rooted * 100 >= counted(&sum) * 99, "only %llu of %llu rooted:\n%.2000s",
                  (unsigned long long)sum.rooted, (unsigned long long)counted(&sum), sum.text);
    ck_assert_msg(sum.chain * 100 >= sum.total * 95, "a;b;c in %llu of %llu:\n%.2000s",
                  (unsigned long long)sum.chain, (unsigned long long)sum.total, sum.text);
    /* The worker starts 300 ms in, after sampling began. */
    ck_assert_msg(sum.worker >= 50, "worker stacks %llu:\n%.2000s", (unsigned long long)sum.worker,
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
    ck_assert_msg(strstr(sum.text, "c ") || strstr(sum.text, ";c;"), "%.2000s", sum.text);
    free(sum.text);
    bts_session_free(s);
}
END_TEST

START_TEST(test_unread_ring_counts_lost_samples)
{
    /* The session attaches once the fixture runs: a close-on-exec pipe
     * reads end-of-file at the exec. */
    int go[2];
    char c;
    ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(go[0]);
        execl(BTS_FIXTURE, BTS_FIXTURE, (char *)NULL);
        _exit(127);
    }
    close(go[1]);
    ck_assert_int_eq(read(go[0], &c, 1), 0);
    close(go[0]);
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

/* ---- the target guard on made-up facts ---- */

struct facts {
    struct bts_identity id; /* what every thread reads as */
    int read_error;         /* returned by a read instead, when set */
    pid_t gone_tid;         /* this thread reads -ENOENT */
    bool exited;
};

static int read_facts(void *ctx, pid_t pid, pid_t tid, struct bts_identity *out)
{
    struct facts *f = ctx;
    if (f->read_error)
        return f->read_error;
    if (tid && tid == f->gone_tid)
        return -ENOENT;
    *out = f->id;
    out->pid = pid;
    out->tid = tid ? tid : pid;
    return 0;
}

static bool exited_facts(void *ctx)
{
    return ((struct facts *)ctx)->exited;
}

/* A user's process: every id 1001, no capabilities, dumpable. */
static void user_facts(struct facts *f)
{
    memset(f, 0, sizeof(*f));
    f->id.start_ticks = 5000;
    for (int i = 0; i < 4; i++) {
        f->id.uid[i] = 1001;
        f->id.gid[i] = 1001;
    }
    f->id.dumpable = true;
    f->id.exe_dev = 8;
    f->id.exe_ino = 77;
    f->id.start_code = 0x55550000;
    f->id.start_stack = 0x7ffd0000;
}

static struct bts_target_guard *facts_guard(struct facts *f, bool rights)
{
    struct bts_target_guard_opts o = {.pid = 4242,
                                      .rights = rights,
                                      .uid = 1001,
                                      .gid = 1001,
                                      .read = read_facts,
                                      .exited = exited_facts,
                                      .ctx = f};
    struct bts_target_guard *g = bts_target_guard_new(&o);
    ck_assert_ptr_nonnull(g);
    return g;
}

/* The next image: new code and stack addresses, maybe a new file. */
static void exec_facts(struct facts *f)
{
    f->id.exe_ino++;
    f->id.start_code += 0x1000000;
    f->id.start_stack -= 0x100000;
}

START_TEST(test_guard_passes_the_same_process_and_a_plain_exec_once)
{
    struct facts f;
    user_facts(&f);
    struct bts_target_guard *g = facts_guard(&f, true);
    ck_assert_int_eq(bts_target_guard_pin(g), 0);
    ck_assert_int_eq(bts_target_guard_check(g, 4242), 0);
    ck_assert_int_eq(bts_target_guard_check(g, 4243), 0);
    exec_facts(&f);
    ck_assert_int_eq(bts_target_guard_check(g, 4242), BTS_TARGET_GUARD_EXEC);
    ck_assert_int_eq(bts_target_guard_check(g, 4242), 0); /* the new image is the pin now */
    ck_assert_int_eq(bts_target_guard_verdict(g), 0);
    ck_assert_str_eq(bts_target_guard_reason(g), "");
    bts_target_guard_free(g);
}
END_TEST

START_TEST(test_guard_ends_at_a_setuid_exec_and_stays_ended)
{
    struct facts f;
    user_facts(&f);
    struct bts_target_guard *g = facts_guard(&f, true);
    ck_assert_int_eq(bts_target_guard_pin(g), 0);
    exec_facts(&f);
    f.id.uid[1] = f.id.uid[2] = 0;
    f.id.dumpable = false;
    ck_assert_int_eq(bts_target_guard_check(g, 4242), -EPERM);
    ck_assert_str_eq(bts_target_guard_reason(g),
                     "pid 4242 changed credentials (setuid exec: euid 0): session ended");
    /* Final: a process that drops back to the user is not sampled again. */
    user_facts(&f);
    ck_assert_int_eq(bts_target_guard_check(g, 4242), -EPERM);
    ck_assert_int_eq(bts_target_guard_check(g, 4243), -EPERM);
    ck_assert_int_eq(bts_target_guard_verdict(g), -EPERM);
    bts_target_guard_free(g);
}
END_TEST

START_TEST(test_guard_names_setgid_capabilities_and_dumpability)
{
    struct facts f;
    user_facts(&f);
    struct bts_target_guard *g = facts_guard(&f, true);
    ck_assert_int_eq(bts_target_guard_pin(g), 0);
    exec_facts(&f);
    f.id.gid[1] = f.id.gid[2] = 42;
    ck_assert_int_eq(bts_target_guard_check(g, 4243), -EPERM);
    ck_assert_str_eq(bts_target_guard_reason(g),
                     "pid 4242 changed credentials (setgid exec: egid 42): session ended");
    bts_target_guard_free(g);

    user_facts(&f);
    g = facts_guard(&f, true);
    ck_assert_int_eq(bts_target_guard_pin(g), 0);
    exec_facts(&f);
    f.id.cap_prm = f.id.cap_eff = 1ULL << 19; /* CAP_SYS_PTRACE from file capabilities */
    ck_assert_int_eq(bts_target_guard_check(g, 4242), -EPERM);
    ck_assert_str_eq(bts_target_guard_reason(g),
                     "pid 4242 changed credentials (file capabilities at exec: capabilities "
                     "0x80000): session ended");
    bts_target_guard_free(g);

    user_facts(&f);
    g = facts_guard(&f, true);
    ck_assert_int_eq(bts_target_guard_pin(g), 0);
    f.id.dumpable = false; /* prctl(PR_SET_DUMPABLE, 0), no exec */
    ck_assert_int_eq(bts_target_guard_check(g, 4242), -EPERM);
    ck_assert_str_eq(bts_target_guard_reason(g), "pid 4242 became non-dumpable: session ended");
    bts_target_guard_free(g);

    user_facts(&f);
    g = facts_guard(&f, true);
    ck_assert_int_eq(bts_target_guard_pin(g), 0);
    exec_facts(&f);
    f.id.dumpable = false; /* exec of a program it may not read */
    ck_assert_int_eq(bts_target_guard_check(g, 4242), -EPERM);
    ck_assert_str_eq(bts_target_guard_reason(g),
                     "pid 4242 became non-dumpable at exec (a program it may not read): "
                     "session ended");
    bts_target_guard_free(g);
}
END_TEST

START_TEST(test_guard_follows_a_process_not_its_pid)
{
    struct facts f;
    user_facts(&f);
    struct bts_target_guard *g = facts_guard(&f, true);
    ck_assert_int_eq(bts_target_guard_pin(g), 0);
    /* It exits and root's process gets its pid. */
    f.exited = true;
    f.id.start_ticks = 9000;
    for (int i = 0; i < 4; i++)
        f.id.uid[i] = f.id.gid[i] = 0;
    ck_assert_int_eq(bts_target_guard_check(g, 4242), -ESRCH);
    ck_assert_str_eq(bts_target_guard_reason(g),
                     "pid 4242 exited; its pid now names another process");
    f.exited = false; /* a later look at the number sees a live process */
    ck_assert_int_eq(bts_target_guard_check(g, 4242), -ESRCH);
    bts_target_guard_free(g);

    /* Without a pidfd's word, another start time says the same. */
    user_facts(&f);
    g = facts_guard(&f, true);
    ck_assert_int_eq(bts_target_guard_pin(g), 0);
    f.id.start_ticks++;
    ck_assert_int_eq(bts_target_guard_check(g, 4243), -ESRCH);
    bts_target_guard_free(g);

    user_facts(&f);
    g = facts_guard(&f, true);
    ck_assert_int_eq(bts_target_guard_pin(g), 0);
    f.exited = true;
    ck_assert_int_eq(bts_target_guard_check(g, 4242), -ESRCH);
    ck_assert_str_eq(bts_target_guard_reason(g), "pid 4242 exited");
    bts_target_guard_free(g);
}
END_TEST

START_TEST(test_guard_without_rights_still_follows_the_process)
{
    struct facts f;
    user_facts(&f);
    struct bts_target_guard *g = facts_guard(&f, false);
    ck_assert_int_eq(bts_target_guard_pin(g), 0);
    f.id.uid[1] = 0; /* a local session: the kernel's own checks apply */
    f.id.dumpable = false;
    ck_assert_int_eq(bts_target_guard_check(g, 4242), 0);
    f.exited = true;
    ck_assert_int_eq(bts_target_guard_check(g, 4242), -ESRCH);
    bts_target_guard_free(g);
}
END_TEST

START_TEST(test_guard_pin_refuses_what_the_client_may_not_profile)
{
    struct facts f;
    user_facts(&f);
    f.id.uid[1] = f.id.uid[2] = 0;
    struct bts_target_guard *g = facts_guard(&f, true);
    ck_assert_int_eq(bts_target_guard_pin(g), -EPERM);
    ck_assert_str_eq(bts_target_guard_reason(g),
                     "pid 4242 runs with other credentials than uid 1001 (setuid: euid 0)");
    bts_target_guard_free(g);

    user_facts(&f);
    f.id.dumpable = false;
    g = facts_guard(&f, true);
    ck_assert_int_eq(bts_target_guard_pin(g), -EPERM);
    ck_assert_str_eq(bts_target_guard_reason(g), "pid 4242 is not dumpable");
    bts_target_guard_free(g);

    user_facts(&f);
    f.exited = true;
    g = facts_guard(&f, true);
    ck_assert_int_eq(bts_target_guard_pin(g), -ESRCH);
    bts_target_guard_free(g);
}
END_TEST

START_TEST(test_guard_skips_a_gone_thread_and_before_pin_checks_only_exit)
{
    struct facts f;
    user_facts(&f);
    struct bts_target_guard *g = facts_guard(&f, true);
    f.id.uid[1] = 0; /* a launched command before its exec: not judged yet */
    ck_assert_int_eq(bts_target_guard_check(g, 4242), 0);
    user_facts(&f);
    ck_assert_int_eq(bts_target_guard_pin(g), 0);
    f.gone_tid = 4243;
    ck_assert_int_eq(bts_target_guard_check(g, 4243), -ENOENT);
    ck_assert_int_eq(bts_target_guard_verdict(g), 0);
    f.read_error = -EACCES; /* cannot be vouched for: not sampled, not final */
    ck_assert_int_eq(bts_target_guard_check(g, 4244), -EACCES);
    f.read_error = 0;
    ck_assert_int_eq(bts_target_guard_check(g, 4244), 0);
    bts_target_guard_free(g);
}
END_TEST

/* ---- the guard on live targets ---- */

enum change {
    CHANGE_NOT_DUMPABLE,    /* prctl(PR_SET_DUMPABLE, 0) */
    CHANGE_EXEC,            /* exec sampler-fixture (main;a;b;c) */
    CHANGE_EXEC_UNREADABLE, /* exec a copy it may run but not read */
};

static const enum bts_backend guard_backends[] = {BTS_BACKEND_PERF, BTS_BACKEND_PTRACE};

/* Who a guarded target runs as: ourselves, or nobody when we are root
 * (root's capabilities are rights no client has). */
static uid_t guard_uid(void)
{
    return getuid() == 0 ? 65534 : getuid();
}

static gid_t guard_gid(void)
{
    return getuid() == 0 ? 65534 : getgid();
}

/* Written by the spinning fixture so the loop is not optimised away. */
static volatile unsigned long guard_sink;

__attribute__((noinline)) void guard_target_spin(double seconds)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 10000; i++)
            guard_sink += (unsigned long)i * i;
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
}

__attribute__((noinline)) void guard_after_change(double seconds)
{
    guard_target_spin(seconds);
    __asm__ volatile("" ::: "memory");
}

/* A copy of the fixture in a fresh directory under /tmp, with `mode`: the
 * build directory may sit where guard_uid() cannot go (a clone in root's
 * 0700 home). */
static char *copy_fixture(char *dir, size_t len, mode_t mode)
{
    static char path[300];
    char buf[65536];
    snprintf(dir, len, "/tmp/bts-guard.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0755), 0);
    snprintf(path, sizeof(path), "%s/fixture", dir);
    int in = open(BTS_FIXTURE, O_RDONLY | O_CLOEXEC);
    int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    ck_assert_int_ge(in, 0);
    ck_assert_int_ge(out, 0);
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        ck_assert_int_eq(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

/* A copy of the fixture that guard_uid() may run but not read. Root may
 * read anything, so root's copy is for nobody; our own copy without a read
 * bit is unreadable even to us. */
static char *unreadable_fixture(char *dir, size_t len)
{
    return copy_fixture(dir, len, getuid() == 0 ? 0711 : 0111);
}

/* Forks a target that runs as guard_uid(), spins for `before` seconds in
 * guard_target_spin(), then makes `change` and spins on (or runs the exec'd
 * fixture for 3 s). Returns once it runs. */
static pid_t guard_target(enum change change, double before, const char *exe)
{
    int ready[2];
    char c;
    ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (getuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                              setresuid(65534, 65534, 65534) < 0))
            _exit(126);
        prctl(PR_SET_DUMPABLE, 1); /* a change of ids made it non-dumpable */
        if (write(ready[1], "r", 1) != 1)
            _exit(126);
        guard_target_spin(before);
        if (change == CHANGE_NOT_DUMPABLE) {
            prctl(PR_SET_DUMPABLE, 0);
            guard_after_change(3);
            _exit(0);
        }
        execl(exe, exe, "--exit-after", "3000", (char *)NULL);
        _exit(127);
    }
    close(ready[1]);
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    return pid;
}

static char thread_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 'X';
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p ? p[2] : 'X';
}

static pid_t tracer_pid(pid_t pid)
{
    char path[64], line[256];
    pid_t tracer = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "TracerPid:", 10) == 0)
            tracer = (pid_t)atoi(line + 10);
    }
    if (f)
        fclose(f);
    return tracer;
}

static struct bts_session *guarded_session(pid_t pid, enum bts_backend backend)
{
    struct bts_session_opts o = {.pid = pid,
                                 .rate_hz = 499,
                                 .backend = backend,
                                 .guard = true,
                                 .guard_uid = guard_uid(),
                                 .guard_gid = guard_gid()};
    struct bts_session *s = bts_session_new(&o);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(bts_session_start(s), 0);
    return s;
}

/* Polls until the session ends or `seconds` pass; returns the last poll. */
static int poll_for(struct bts_session *s, double seconds)
{
    struct timespec t0, t;
    int r = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        r = bts_session_poll(s, 20);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (r == 0 &&
             (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
    return r;
}

/* Samples of stacks that hold `frame`. */
static uint64_t count_frame(const char *text, const char *frame)
{
    uint64_t n = 0;
    for (const char *p = strstr(text, frame); p; p = strstr(p + 1, frame)) {
        const char *nl = strchr(p, '\n');
        const char *sp = nl ? nl : p + strlen(p);
        while (sp > p && sp[-1] != ' ')
            sp--;
        n += strtoull(sp, NULL, 10);
        if (!nl)
            break;
        p = nl;
    }
    return n;
}

/* After the guard ended a session: the target runs on, untraced, and the
 * profile holds what was sampled before the change and, when `after` is
 * set, nothing of it. */
static void assert_let_go(struct bts_session *s, pid_t pid, const char *why_part, const char *after)
{
    const char *why, *hint;
    struct folded_summary sum;
    bts_session_explain(s, &why, &hint);
    ck_assert_msg(strstr(why, why_part), "reason '%s' lacks '%s'", why, why_part);
    ck_assert_ptr_nonnull(strstr(why, ": session ended"));
    ck_assert_str_ne(hint, "");
    ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0); /* not killed */
    ck_assert_int_eq(tracer_pid(pid), 0);
    char state = thread_state(pid);
    ck_assert_msg(state != 't' && state != 'T', "target left in state %c", state);
    summarize(s, &sum);
    ck_assert_msg(strstr(sum.text, "guard_target_spin"), "nothing from before:\n%.2000s", sum.text);
    if (after)
        ck_assert_msg(!strstr(sum.text, after), "'%s' sampled after the change:\n%.2000s", after,
                      sum.text);
    free(sum.text);
}

START_TEST(test_guarded_session_ends_when_the_target_turns_non_dumpable)
{
    pid_t pid = guard_target(CHANGE_NOT_DUMPABLE, 0.5, NULL);
    struct bts_session *s = guarded_session(pid, guard_backends[_i]);
    struct folded_summary sum;
    int r = poll_for(s, 5);
    ck_assert_int_eq(r, -EPERM);
    ck_assert_int_eq(bts_session_poll(s, 0), -EPERM);
    assert_let_go(s, pid, "became non-dumpable", NULL);
    /* A change without an exec is seen at the next rescan (50 ms perf, 10
     * ms ptrace): what ran in between may be in, and nothing after. */
    summarize(s, &sum);
    uint64_t before = count_frame(sum.text, "guard_target_spin");
    uint64_t after = count_frame(sum.text, "guard_after_change");
    ck_assert_msg(after * 5 <= before, "%llu samples after the change, %llu in all:\n%.2000s",
                  (unsigned long long)after, (unsigned long long)before, sum.text);
    free(sum.text);
    bts_session_free(s);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
END_TEST

START_TEST(test_guarded_session_follows_a_plain_exec)
{
    char dir[64];
    const char *exe = copy_fixture(dir, sizeof(dir), 0755);
    pid_t pid = guard_target(CHANGE_EXEC, 0.3, exe);
    struct bts_session *s = guarded_session(pid, guard_backends[_i]);
    struct folded_summary sum = {0};
    struct timespec t0, t;
    int r = 0;
    /* A poll returns after each ptrace tick: wait by the clock, 5 s at most. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        r = bts_session_poll(s, 30);
        free(sum.text);
        summarize(s, &sum);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (r == 0 && !strstr(sum.text, "main;a;b;c ") && t.tv_sec - t0.tv_sec < 5);
    ck_assert_int_eq(r, 0);
    ck_assert_msg(strstr(sum.text, "guard_target_spin"), "%.2000s", sum.text);
    ck_assert_msg(strstr(sum.text, "main;a;b;c "), "the new image was not sampled:\n%.2000s",
                  sum.text);
    free(sum.text);
    finish(s, pid);
    bts_session_free(s);
    unlink(exe);
    rmdir(dir);
}
END_TEST

START_TEST(test_guarded_session_ends_at_exec_of_a_program_it_may_not_read)
{
    char dir[64];
    const char *exe = unreadable_fixture(dir, sizeof(dir));
    pid_t pid = guard_target(CHANGE_EXEC_UNREADABLE, 0.5, exe);
    struct bts_session *s = guarded_session(pid, guard_backends[_i]);
    int r = poll_for(s, 5);
    ck_assert_int_eq(r, -EPERM);
    assert_let_go(s, pid, "became non-dumpable at exec", ";a;b;c");
    bts_session_free(s);
    /* Let go before its first instruction, the image runs on by itself. */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(exe);
    rmdir(dir);
}
END_TEST

START_TEST(test_guarded_session_refuses_a_target_of_another_uid)
{
    pid_t pid = guard_target(CHANGE_NOT_DUMPABLE, 5, NULL);
    struct bts_session_opts o = {.pid = pid,
                                 .backend = guard_backends[_i],
                                 .guard = true,
                                 .guard_uid = guard_uid() + 1,
                                 .guard_gid = guard_gid()};
    struct bts_session *s = bts_session_new(&o);
    const char *why, *hint;
    ck_assert_int_eq(bts_session_start(s), -EPERM);
    bts_session_explain(s, &why, &hint);
    ck_assert_msg(strstr(why, "runs with other credentials than uid"), "%s", why);
    ck_assert_str_ne(hint, "");
    ck_assert_int_eq(tracer_pid(pid), 0);
    bts_session_free(s);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
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
    tc = tcase_create("guard-facts");
    tcase_add_test(tc, test_guard_passes_the_same_process_and_a_plain_exec_once);
    tcase_add_test(tc, test_guard_ends_at_a_setuid_exec_and_stays_ended);
    tcase_add_test(tc, test_guard_names_setgid_capabilities_and_dumpability);
    tcase_add_test(tc, test_guard_follows_a_process_not_its_pid);
    tcase_add_test(tc, test_guard_without_rights_still_follows_the_process);
    tcase_add_test(tc, test_guard_pin_refuses_what_the_client_may_not_profile);
    tcase_add_test(tc, test_guard_skips_a_gone_thread_and_before_pin_checks_only_exit);
    suite_add_tcase(s, tc);
    /* Each on perf_event (0) and ptrace (1). */
    tc = tcase_create("guard");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_guarded_session_ends_when_the_target_turns_non_dumpable, 0, 2);
    tcase_add_loop_test(tc, test_guarded_session_follows_a_plain_exec, 0, 2);
    tcase_add_loop_test(tc, test_guarded_session_ends_at_exec_of_a_program_it_may_not_read, 0, 2);
    tcase_add_loop_test(tc, test_guarded_session_refuses_a_target_of_another_uid, 0, 2);
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
