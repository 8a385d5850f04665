/* SPDX-License-Identifier: MIT */
/* grow: memory ground truth. grow_a touches A MiB of new memory, then the
 * program works (no new memory) for a while, then grow_b touches B MiB.
 * usage: grow [A_MIB [B_MIB [WORK_MS]]]   (default 120 40 300)
 * And the odd targets record --memory must survive, each between 200 ms of
 * work before and after:
 *   grow sparse GIB PAGES  maps GIB GiB (MAP_NORESERVE) and touches PAGES
 *                          pages spread over it in touch_sparse
 *   grow fork MIB          parent_grow touches MIB MiB, then a child touches
 *                          2 x MIB MiB in child_grow; the parent waits
 *   grow die MIB           grow_then_die touches MIB MiB, works, then kills
 *                          itself (SIGKILL) halfway through MIB more */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ul * 1024)

/* Kept reachable so nothing is optimised away or freed. */
static volatile unsigned char *volatile kept[4];
static volatile uint64_t sink;

static unsigned long number(const char *s, unsigned long max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max) {
        fprintf(stderr, "grow: invalid number '%s' (expected 0..%lu)\n", s, max);
        exit(2);
    }
    return v;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char *map(size_t len, int flags)
{
    unsigned char *m =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

    if (m == MAP_FAILED) {
        perror("grow: mmap");
        exit(1);
    }
    return m;
}

/* Writes one byte every `stride` bytes of [m, m + len). */
static void write_every(unsigned char *m, size_t len, size_t stride)
{
    for (size_t off = 0; off < len; off += stride)
        m[off] = (unsigned char)(off >> 12 | 1);
}

/* Maps `mib` MiB and writes one byte per page: every page is a first touch,
 * so RSS grows by exactly that much (anonymous memory; no huge pages unless
 * the system forces them for every mapping). */
__attribute__((noinline)) static volatile unsigned char *touch(size_t mib)
{
    size_t len = mib * MIB;
    unsigned char *m;

    if (!len)
        return NULL;
    m = map(len, 0);
    write_every(m, len, (size_t)sysconf(_SC_PAGESIZE));
    return m;
}

__attribute__((noinline)) void grow_a(size_t mib)
{
    kept[0] = touch(mib);
}

__attribute__((noinline)) void grow_b(size_t mib)
{
    kept[1] = touch(mib);
}

/* CPU work that allocates nothing. */
__attribute__((noinline)) void work(unsigned ms)
{
    double end = now_s() + ms / 1000.0;
    uint64_t x = 88172645463325252ull;

    while (now_s() < end)
        for (int i = 0; i < 10000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
    sink = x;
}

__attribute__((noinline)) void touch_sparse(size_t gib, size_t pages)
{
    size_t len = gib << 30;
    unsigned char *m = map(len, MAP_NORESERVE);

    kept[2] = m;
    if (pages)
        write_every(m, len, len / pages);
}

__attribute__((noinline)) void parent_grow(size_t mib)
{
    kept[0] = touch(mib);
}

__attribute__((noinline)) void child_grow(size_t mib)
{
    kept[1] = touch(mib);
}

__attribute__((noinline)) void grow_then_die(size_t mib)
{
    size_t len = mib * MIB, page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *m = map(2 * len, 0);

    kept[3] = m;
    write_every(m, len, page);
    work(200);
    for (size_t off = len; off < 2 * len; off += page) {
        m[off] = 1;
        if (off == len + len / 2)
            raise(SIGKILL);
    }
}

/* The odd targets: 0, or 2 for a usage error. */
static int odd(int argc, char **argv)
{
    pid_t child;
    int status;

    work(200);
    if (argc == 4 && !strcmp(argv[1], "sparse")) {
        touch_sparse(number(argv[2], 1 << 16), number(argv[3], 1 << 20));
    } else if (argc == 3 && !strcmp(argv[1], "fork")) {
        size_t mib = number(argv[2], 1 << 16);

        parent_grow(mib);
        child = fork();
        if (child < 0) {
            perror("grow: fork");
            return 1;
        }
        if (child == 0) {
            work(100);
            child_grow(2 * mib);
            work(200);
            _exit(0);
        }
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
            ;
    } else if (argc == 3 && !strcmp(argv[1], "die")) {
        grow_then_die(number(argv[2], 1 << 16));
    } else {
        fputs("usage: grow sparse GIB PAGES | fork MIB | die MIB\n", stderr);
        return 2;
    }
    work(200);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && argv[1][0] >= 'a' && argv[1][0] <= 'z' && strcmp(argv[1], "-h"))
        return odd(argc, argv);
    size_t a = argc > 1 ? number(argv[1], 1 << 20) : 120;
    size_t b = argc > 2 ? number(argv[2], 1 << 20) : 40;
    unsigned ms = argc > 3 ? (unsigned)number(argv[3], 600000) : 300;

    if (argc > 4 || (argc > 1 && !strcmp(argv[1], "-h"))) {
        fputs("usage: grow [A_MIB [B_MIB [WORK_MS]]]\n", argc > 4 ? stderr : stdout);
        return argc > 4 ? 2 : 0;
    }
    work(ms);
    grow_a(a);
    work(ms);
    grow_b(b);
    work(ms);
    printf("grow: A %zu MiB, B %zu MiB\n", a, b);
    return 0;
}
