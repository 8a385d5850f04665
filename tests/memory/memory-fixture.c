/* SPDX-License-Identifier: MIT */
/* memory-fixture: writes memory profiles the way record --memory will, for
 * the tests that need no sampler.
 *   memory-fixture synthetic OUT.pb.gz
 *       a fixed timeline (2 MiB, +120 MiB at 0.30-0.40 s in grow_a, +40 MiB
 *       at 0.90-0.95 s in grow_b, down to 100 MiB at 1.40 s) and samples
 *       with time labels where each function faulted.
 *   memory-fixture live OUT.pb.gz CMD [ARG...]
 *       runs CMD, reads its RSS every 10 ms until it exits (the real
 *       daemon/proc timeline), and gives each jump one stack, "main;jump_N",
 *       labelled with the jump's buckets. Prints "peak BYTES". */
#define _GNU_SOURCE
#include "memory-record.h"
#include "pprof.h"
#include "proc.h"
#include "rss-timeline.h"
#include "timeline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB    (1024ull * 1024)
#define MS     1000000ull
#define BUCKET (10 * MS)

static int fail(const char *what, int err)
{
    fprintf(stderr, "memory-fixture: %s: %s\n", what, strerror(err < 0 ? -err : err));
    return 1;
}

static int write_profile(const char *path, struct bts_pprof_builder *b)
{
    FILE *f = fopen(path, "wb");
    int err;

    if (!f)
        return fail(path, errno);
    err = bts_pprof_builder_write(b, f);
    if (fclose(f) && !err)
        err = -EIO;
    return err ? fail(path, err) : 0;
}

/* Adds `bytes` to stack `names` spread over the buckets of [t0, t1). */
static int spread(struct bts_pprof_builder *b, const char *const *names, size_t n, uint64_t bytes,
                  uint64_t t0, uint64_t t1)
{
    struct bts_pprof_frame f[8];
    uint64_t nb = (t1 - t0) / BUCKET, each = bytes / nb;

    for (size_t i = 0; i < n; i++)
        f[i] = (struct bts_pprof_frame){names[i], strlen(names[i]), 0, 0};
    for (uint64_t k = 0; k < nb; k++) {
        uint64_t part = k + 1 == nb ? bytes - each * (nb - 1) : each;
        struct bts_pprof_sample s = {f,    n, part / 4096, part,
                                     NULL, 0, 0,           (int64_t)((t0 + k * BUCKET) / MS)};
        int err = bts_pprof_builder_add(b, &s);
        if (err)
            return err;
    }
    return 0;
}

static int synthetic(const char *out)
{
    struct bts_rss_timeline *rss = bts_rss_timeline_new(0, 0, NULL);
    struct bts_timeline *tl;
    struct bts_pprof_builder *b;
    static const char *const a[] = {"main", "run", "grow_a", "touch"};
    static const char *const a2[] = {"main", "run", "grow_a", "index_rows"};
    static const char *const bb[] = {"main", "run", "grow_b", "touch"};
    static const char *const init[] = {"main", "load_config"};
    int err = 0;

    if (!rss)
        return fail("timeline", errno);
    for (uint64_t t = 0; t <= 1500 * MS && !err; t += 10 * MS) {
        uint64_t v = 2 * MIB;
        if (t >= 300 * MS)
            v += t >= 400 * MS ? 120 * MIB : 120 * MIB * (t - 300 * MS) / (100 * MS);
        if (t >= 900 * MS)
            v += t >= 950 * MS ? 40 * MIB : 40 * MIB * (t - 900 * MS) / (50 * MS);
        if (t >= 1400 * MS)
            v = 100 * MIB;
        struct bts_rss_point p = {t, v, t % (100 * MS) ? BTS_RSS_NONE : v / 2,
                                  t % (100 * MS) ? BTS_RSS_NONE : 0};
        err = bts_rss_timeline_add(rss, &p);
    }
    bts_rss_timeline_finish(rss, 1500 * MS);
    tl = err ? NULL : bts_memory_timeline(rss, BUCKET);
    bts_rss_timeline_free(rss);
    if (!tl)
        return fail("timeline", err ? err : errno);
    struct bts_pprof_opts o = {.kind = BTS_PPROF_MEMORY,
                               .period_bytes = 4096,
                               .duration_nanos = 1500 * (int64_t)MS,
                               .comment = "memory-fixture synthetic",
                               .timeline = tl};
    b = bts_pprof_builder_new(&o);
    if (!b)
        return fail("builder", ENOMEM);
    /* grow_a: 96 MiB in touch, 24 MiB in index_rows; grow_b: 40 MiB. */
    err = spread(b, a, 4, 96 * MIB, 300 * MS, 400 * MS);
    if (!err)
        err = spread(b, a2, 4, 24 * MIB, 300 * MS, 400 * MS);
    if (!err)
        err = spread(b, bb, 4, 40 * MIB, 900 * MS, 950 * MS);
    if (!err)
        err = spread(b, init, 2, 1 * MIB, 0, 20 * MS);
    if (!err)
        err = write_profile(out, b) ? -EIO : 0;
    bts_pprof_builder_free(b);
    bts_timeline_free(tl);
    return err ? fail(out, err) : 0;
}

static int live(const char *out, char **cmd)
{
    int64_t start = bts_proc_now_ns();
    struct bts_rss_timeline *rss;
    struct bts_timeline *tl;
    struct bts_pprof_builder *b;
    int status, err = 0;
    pid_t pid = fork();

    if (pid < 0)
        return fail("fork", errno);
    if (pid == 0) {
        execvp(cmd[0], cmd);
        _exit(127);
    }
    rss = bts_rss_timeline_new(pid, start, NULL);
    if (!rss)
        return fail("timeline", errno);
    for (;;) {
        /* Read before reaping: a zombie's RSS is gone. */
        int rc = bts_rss_timeline_poll(rss, bts_proc_now_ns());
        if (rc && rc != -ESRCH)
            fprintf(stderr, "memory-fixture: read: %s\n", strerror(-rc));
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        usleep(1000);
    }
    bts_rss_timeline_finish(rss, (uint64_t)(bts_proc_now_ns() - start));
    tl = bts_memory_timeline(rss, BUCKET);
    bts_rss_timeline_free(rss);
    if (!tl)
        return fail("timeline", errno);
    struct bts_pprof_opts o = {
        .kind = BTS_PPROF_MEMORY, .comment = "memory-fixture live", .timeline = tl};
    b = bts_pprof_builder_new(&o);
    for (size_t i = 0; b && !err && i < tl->njumps; i++) {
        const struct bts_timeline_jump *j = &tl->jumps[i];
        char name[32];
        const char *names[] = {"main", name};
        uint64_t t0 = j->t_from_ns / BUCKET * BUCKET, t1 = (j->t_to_ns / BUCKET + 1) * BUCKET;
        snprintf(name, sizeof(name), "jump_%zu", i + 1);
        err = spread(b, names, 2, j->rss_to - j->rss_from, t0, t1);
    }
    if (!b)
        err = -ENOMEM;
    if (!err)
        err = write_profile(out, b) ? -EIO : 0;
    if (!err)
        printf("peak %" PRIu64 "\n", tl->peak_rss);
    bts_pprof_builder_free(b);
    bts_timeline_free(tl);
    if (err)
        return fail(out, err);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : fail(cmd[0], ECHILD);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "synthetic"))
        return synthetic(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "live"))
        return live(argv[2], argv + 3);
    fputs("usage: memory-fixture synthetic OUT | live OUT CMD [ARG...]\n", stderr);
    return 2;
}
