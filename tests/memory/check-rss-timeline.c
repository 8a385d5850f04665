/* SPDX-License-Identifier: MIT */
/* check-rss-timeline: statm/smaps_rollup parsing, peak, jumps, bounded
 * memory, and reading a live child's RSS. */
#define _GNU_SOURCE
#include "proc.h"
#include "rss-timeline.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ull * 1024)
#define MS  1000000ull

static struct bts_rss_timeline *feed(const uint64_t *mib, size_t n, uint64_t step_ms,
                                     const struct bts_rss_timeline_opts *o)
{
    struct bts_rss_timeline *tl = bts_rss_timeline_new(0, 0, o);

    ck_assert_ptr_nonnull(tl);
    for (size_t i = 0; i < n; i++) {
        struct bts_rss_point p = {i * step_ms * MS, mib[i] * MIB, BTS_RSS_NONE, BTS_RSS_NONE};
        ck_assert_int_eq(bts_rss_timeline_add(tl, &p), 0);
    }
    bts_rss_timeline_finish(tl, n * step_ms * MS);
    return tl;
}

START_TEST(test_statm_and_rollup_parse)
{
    uint64_t rss, pss, swap;

    ck_assert_int_eq(bts_rss_parse_statm("1000 250 30 4 0 100 0\n", 4096, &rss), 0);
    ck_assert_uint_eq(rss, 250 * 4096);
    ck_assert_int_eq(bts_rss_parse_statm("garbage", 4096, &rss), -EBADMSG);
    ck_assert_int_eq(bts_rss_parse_statm("1", 4096, &rss), -EBADMSG);
    /* An exiting process's statm is all zeros: gone, not an RSS of 0. */
    ck_assert_int_eq(bts_rss_parse_statm("0 0 0 0 0 0 0\n", 4096, &rss), -ESRCH);
    ck_assert_int_eq(
        bts_rss_parse_rollup("55-77 ---p 0 00:00 0  [rollup]\nRss:   1648 kB\nPss:    223 kB\n"
                             "Pss_Anon:  112 kB\nSwap:   0 kB\nSwapPss: 9 kB\n",
                             &pss, &swap),
        0);
    ck_assert_uint_eq(pss, 223 * 1024);
    ck_assert_uint_eq(swap, 0);
    ck_assert_int_eq(bts_rss_parse_rollup("Rss: 1 kB\n", &pss, &swap), -EBADMSG);
    ck_assert_uint_eq(pss, BTS_RSS_NONE);
}
END_TEST

/* A slow smaps_rollup (a big target) is read less often: at most 1% of the
 * time goes to it; a fast one keeps the every-N-intervals pace. */
START_TEST(test_a_slow_rollup_is_read_less_often)
{
    struct bts_rss_timeline_opts o;

    bts_rss_timeline_opts_init(&o);
    ck_assert_uint_eq(bts_rss_rollup_gap(&o, 0), 100 * MS);
    ck_assert_uint_eq(bts_rss_rollup_gap(&o, 1 * MS), 100 * MS);
    ck_assert_uint_eq(bts_rss_rollup_gap(&o, 25 * MS), 2500 * MS);
    o.rollup_every = 1;
    ck_assert_uint_eq(bts_rss_rollup_gap(&o, 50000), 10 * MS);
    ck_assert_uint_eq(bts_rss_rollup_gap(&o, 200000), 20 * MS);
}
END_TEST

START_TEST(test_two_rises_with_a_pause_are_two_jumps)
{
    /* 10 ms reads: flat 10, A grows 120 MiB in 40 ms, 200 ms flat, B grows
     * 40 MiB, flat, then a fall. */
    uint64_t mib[80];
    size_t n = 0;
    struct bts_rss_timeline *tl;
    const struct bts_rss_jump *j;
    size_t nj;
    uint64_t peak_t;

    for (int i = 0; i < 5; i++)
        mib[n++] = 10;
    for (int i = 1; i <= 4; i++)
        mib[n++] = 10 + 30 * (uint64_t)i; /* 40 70 100 130 */
    for (int i = 0; i < 20; i++)
        mib[n++] = 130;
    mib[n++] = 150;
    mib[n++] = 170;
    for (int i = 0; i < 20; i++)
        mib[n++] = 170;
    for (int i = 0; i < 5; i++)
        mib[n++] = 20;
    tl = feed(mib, n, 10, NULL);
    j = bts_rss_timeline_jumps(tl, &nj);
    ck_assert_uint_eq(nj, 2);
    ck_assert_uint_eq(j[0].rss_from, 10 * MIB);
    ck_assert_uint_eq(j[0].rss_to, 130 * MIB);
    ck_assert_uint_eq(j[0].t_from_ns, 40 * MS); /* the last flat read */
    ck_assert_uint_eq(j[0].t_to_ns, 80 * MS);
    ck_assert_uint_eq(j[1].rss_from, 130 * MIB);
    ck_assert_uint_eq(j[1].rss_to, 170 * MIB);
    ck_assert_uint_eq(j[1].t_to_ns, 300 * MS);
    ck_assert_uint_eq(bts_rss_timeline_peak(tl, &peak_t), 170 * MIB);
    ck_assert_uint_eq(peak_t, 300 * MS);
    bts_rss_timeline_free(tl);
}
END_TEST

START_TEST(test_a_rise_still_going_at_the_end_is_a_jump)
{
    static const uint64_t mib[] = {5, 5, 5, 20, 40, 60};
    struct bts_rss_timeline *tl = feed(mib, 6, 10, NULL);
    const struct bts_rss_jump *j;
    size_t nj;

    j = bts_rss_timeline_jumps(tl, &nj);
    ck_assert_uint_eq(nj, 1);
    ck_assert_uint_eq(j[0].rss_to - j[0].rss_from, 55 * MIB);
    ck_assert_uint_eq(bts_rss_timeline_duration(tl), 60 * MS);
    bts_rss_timeline_free(tl);
}
END_TEST

START_TEST(test_noise_and_small_rises_are_not_jumps)
{
    /* +-128 KiB wobble and one 512 KiB rise (below min_jump). */
    struct bts_rss_timeline *tl = bts_rss_timeline_new(0, 0, NULL);
    size_t nj;

    for (uint64_t i = 0; i < 200; i++) {
        uint64_t rss = 100 * MIB + (i % 2) * 128 * 1024 + (i > 100 ? 512 * 1024 : 0);
        struct bts_rss_point p = {i * 10 * MS, rss, BTS_RSS_NONE, BTS_RSS_NONE};
        ck_assert_int_eq(bts_rss_timeline_add(tl, &p), 0);
    }
    bts_rss_timeline_finish(tl, 2000 * MS);
    bts_rss_timeline_jumps(tl, &nj);
    ck_assert_uint_eq(nj, 0);
    bts_rss_timeline_free(tl);
}
END_TEST

START_TEST(test_only_the_biggest_jumps_are_kept)
{
    struct bts_rss_timeline_opts o;
    struct bts_rss_timeline *tl;
    const struct bts_rss_jump *j;
    uint64_t rss = 0, t = 0;
    size_t nj;

    bts_rss_timeline_opts_init(&o);
    o.max_jumps = 3;
    tl = bts_rss_timeline_new(0, 0, &o);
    /* Rises of 2, 9, 4, 7, 3 MiB, each followed by a 200 ms pause. */
    static const uint64_t rises[] = {2, 9, 4, 7, 3};
    for (size_t r = 0; r < 5; r++) {
        for (int i = 0; i < 20; i++, t += 10 * MS) {
            struct bts_rss_point p = {t, rss, BTS_RSS_NONE, BTS_RSS_NONE};
            ck_assert_int_eq(bts_rss_timeline_add(tl, &p), 0);
        }
        rss += rises[r] * MIB;
    }
    bts_rss_timeline_finish(tl, t);
    j = bts_rss_timeline_jumps(tl, &nj);
    ck_assert_uint_eq(nj, 3);
    ck_assert_uint_eq(j[0].rss_to - j[0].rss_from, 9 * MIB);
    ck_assert_uint_eq(j[1].rss_to - j[1].rss_from, 7 * MIB);
    ck_assert_uint_eq(j[2].rss_to - j[2].rss_from, 4 * MIB);
    bts_rss_timeline_free(tl);
}
END_TEST

START_TEST(test_a_long_recording_stays_bounded_and_keeps_its_peak)
{
    struct bts_rss_timeline_opts o;
    struct bts_rss_timeline *tl;
    const struct bts_rss_point *pts;
    size_t n, reads = 100000;
    uint64_t peak_t, max_seen = 0;

    bts_rss_timeline_opts_init(&o);
    o.max_points = 64;
    tl = bts_rss_timeline_new(0, 0, &o);
    for (size_t i = 0; i < reads; i++) {
        /* A sawtooth with one spike at read 77777. */
        uint64_t rss = (i % 1000) * MIB / 10 + (i == 77777 ? 500 * MIB : 0);
        struct bts_rss_point p = {i * 10 * MS, rss, BTS_RSS_NONE, BTS_RSS_NONE};
        ck_assert_int_eq(bts_rss_timeline_add(tl, &p), 0);
    }
    bts_rss_timeline_finish(tl, reads * 10 * MS);
    pts = bts_rss_timeline_points(tl, &n);
    ck_assert_uint_le(n, 64);
    ck_assert_uint_ge(n, 32);
    ck_assert_uint_ge(bts_rss_timeline_stride(tl), reads / 64);
    for (size_t i = 0; i < n; i++) {
        if (i)
            ck_assert_uint_ge(pts[i].t_ns, pts[i - 1].t_ns);
        if (pts[i].rss > max_seen)
            max_seen = pts[i].rss;
    }
    /* The spike survives downsampling, in the points and as the peak. */
    ck_assert_uint_eq(max_seen, 500 * MIB + 777 * MIB / 10);
    ck_assert_uint_eq(bts_rss_timeline_peak(tl, &peak_t), max_seen);
    ck_assert_uint_eq(peak_t, 77777 * 10 * MS);
    ck_assert_uint_eq(bts_rss_timeline_reads(tl), reads);
    bts_rss_timeline_free(tl);
}
END_TEST

/* top --memory shows the latest read, not the highest of a merged point. */
START_TEST(test_the_last_read_is_not_merged_away)
{
    struct bts_rss_timeline_opts o;
    struct bts_rss_timeline *tl;
    const struct bts_rss_point *pts;
    uint64_t t;
    size_t n;

    bts_rss_timeline_opts_init(&o);
    o.max_points = 16;
    tl = bts_rss_timeline_new(0, 0, &o);
    ck_assert_ptr_nonnull(tl);
    ck_assert_uint_eq(bts_rss_timeline_last(tl, &t), BTS_RSS_NONE);
    for (uint64_t i = 0; i < 1001; i++) {
        /* Falls from 1000 MiB to 0 MiB: every merged point holds its first. */
        struct bts_rss_point p = {i * 10 * MS, (1000 - i) * MIB, BTS_RSS_NONE, BTS_RSS_NONE};
        ck_assert_int_eq(bts_rss_timeline_add(tl, &p), 0);
    }
    pts = bts_rss_timeline_points(tl, &n);
    ck_assert_uint_gt(bts_rss_timeline_stride(tl), 1);
    ck_assert_uint_gt(pts[n - 1].rss, 0);
    ck_assert_uint_eq(bts_rss_timeline_last(tl, &t), 0);
    ck_assert_uint_eq(t, 1000 * 10 * MS);
    ck_assert_uint_eq(bts_rss_timeline_last(tl, NULL), 0);
    bts_rss_timeline_free(tl);
}
END_TEST

START_TEST(test_bad_options_and_backwards_time_are_refused)
{
    struct bts_rss_timeline_opts o;
    struct bts_rss_timeline *tl;
    struct bts_rss_point p = {50, MIB, BTS_RSS_NONE, BTS_RSS_NONE};

    bts_rss_timeline_opts_init(&o);
    o.max_points = 3;
    errno = 0;
    ck_assert_ptr_null(bts_rss_timeline_new(0, 0, &o));
    ck_assert_int_eq(errno, EINVAL);
    tl = bts_rss_timeline_new(0, 0, NULL);
    ck_assert_int_eq(bts_rss_timeline_add(tl, &p), 0);
    p.t_ns = 10;
    ck_assert_int_eq(bts_rss_timeline_add(tl, &p), -EINVAL);
    bts_rss_timeline_finish(tl, 100);
    p.t_ns = 200;
    ck_assert_int_eq(bts_rss_timeline_add(tl, &p), -EINVAL);
    bts_rss_timeline_free(tl);
    bts_rss_timeline_free(NULL);
}
END_TEST

/* Writes one byte per page. Not instrumented, and the map comes straight
 * from the kernel: under ASan, mmap's interceptor and checked stores would
 * also fault in shadow memory, an eighth more RSS than the child touches. */
__attribute__((no_sanitize("address", "undefined"))) static void touch_pages(size_t len)
{
    volatile char *m = (volatile char *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
                                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);

    if (m == (volatile char *)MAP_FAILED)
        _exit(1);
    for (size_t off = 0; off < len; off += 4096)
        m[off] = 1;
}

/* A child that touches `mib` MiB 300 ms after it starts, then waits. */
static pid_t grow_child(size_t mib, int *ready_fd)
{
    int fds[2];
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct timespec d = {0, 300 * 1000000L};
        close(fds[0]);
        nanosleep(&d, NULL);
        touch_pages(mib * MIB);
        if (write(fds[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(fds[1]);
    *ready_fd = fds[0];
    return pid;
}

START_TEST(test_reads_a_live_process_and_notices_its_exit)
{
    int64_t start = bts_proc_now_ns(), deadline;
    int fd, status, err = 0;
    pid_t pid = grow_child(64, &fd);
    struct bts_rss_timeline *tl = bts_rss_timeline_new(pid, start, NULL);
    const struct bts_rss_jump *j;
    size_t nj;
    char c;

    ck_assert_ptr_nonnull(tl);
    /* Sample until the child has touched its memory, then 200 ms more. */
    ck_assert_int_eq(read(fd, &c, 1), 1);
    deadline = bts_proc_now_ns() + 200 * (int64_t)MS;
    while (bts_proc_now_ns() < deadline) {
        ck_assert_int_eq(bts_rss_timeline_poll(tl, bts_proc_now_ns()), 0);
        usleep(2000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    for (int i = 0; i < 100 && !err; i++) {
        usleep(11000);
        err = bts_rss_timeline_poll(tl, bts_proc_now_ns());
    }
    ck_assert_int_eq(err, -ESRCH);
    ck_assert_int_eq(bts_rss_timeline_poll(tl, bts_proc_now_ns()), -ESRCH);
    bts_rss_timeline_finish(tl, (uint64_t)(bts_proc_now_ns() - start));
    ck_assert_uint_ge(bts_rss_timeline_peak(tl, NULL), 64 * MIB);
    ck_assert_uint_ge(bts_rss_timeline_reads(tl), 10);
    j = bts_rss_timeline_jumps(tl, &nj);
    (void)j;
    close(fd);
    bts_rss_timeline_free(tl);
}
END_TEST

START_TEST(test_sees_a_jump_while_it_happens)
{
    int64_t start = bts_proc_now_ns(), deadline;
    int fd, status;
    pid_t pid = grow_child(96, &fd);
    struct bts_rss_timeline *tl = bts_rss_timeline_new(pid, start, NULL);
    const struct bts_rss_jump *j;
    size_t nj;

    /* Sample from before the growth until 300 ms after it. */
    deadline = start + 2000 * (int64_t)MS;
    while (bts_proc_now_ns() < deadline) {
        char c;
        struct timeval tv = {0, 0};
        fd_set rd;
        ck_assert_int_eq(bts_rss_timeline_poll(tl, bts_proc_now_ns()), 0);
        FD_ZERO(&rd);
        FD_SET(fd, &rd);
        if (select(fd + 1, &rd, NULL, NULL, &tv) == 1 && read(fd, &c, 1) == 1)
            deadline = bts_proc_now_ns() + 300 * (int64_t)MS;
        usleep(1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    bts_rss_timeline_finish(tl, (uint64_t)(bts_proc_now_ns() - start));
    j = bts_rss_timeline_jumps(tl, &nj);
    ck_assert_uint_ge(nj, 1);
    ck_assert_uint_ge(j[0].rss_to - j[0].rss_from, 90 * MIB);
    ck_assert_uint_le(j[0].rss_to - j[0].rss_from, 100 * MIB);
    ck_assert_uint_ge(j[0].t_from_ns, 200 * MS); /* after the child's 300 ms nap */
    close(fd);
    bts_rss_timeline_free(tl);
}
END_TEST

static Suite *bts_rss_timeline_suite(void)
{
    Suite *s = suite_create("rss-timeline");
    TCase *parse = tcase_create("parse");
    TCase *model = tcase_create("model");
    TCase *live = tcase_create("live");

    tcase_add_test(parse, test_statm_and_rollup_parse);
    tcase_add_test(parse, test_a_slow_rollup_is_read_less_often);
    tcase_add_test(model, test_two_rises_with_a_pause_are_two_jumps);
    tcase_add_test(model, test_a_rise_still_going_at_the_end_is_a_jump);
    tcase_add_test(model, test_noise_and_small_rises_are_not_jumps);
    tcase_add_test(model, test_only_the_biggest_jumps_are_kept);
    tcase_add_test(model, test_a_long_recording_stays_bounded_and_keeps_its_peak);
    tcase_add_test(model, test_the_last_read_is_not_merged_away);
    tcase_add_test(model, test_bad_options_and_backwards_time_are_refused);
    tcase_add_test(live, test_reads_a_live_process_and_notices_its_exit);
    tcase_add_test(live, test_sees_a_jump_while_it_happens);
    tcase_set_timeout(live, 30);
    suite_add_tcase(s, parse);
    suite_add_tcase(s, model);
    suite_add_tcase(s, live);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_rss_timeline_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
