/* SPDX-License-Identifier: MIT */
/* grow: memory ground truth. grow_a touches A MiB of new memory, then the
 * program works (no new memory) for a while, then grow_b touches B MiB.
 * usage: grow [A_MIB [B_MIB [WORK_MS]]]   (default 120 40 300) */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ul * 1024)

/* Kept reachable so nothing is optimised away or freed. */
static volatile unsigned char *volatile kept[2];
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

/* Maps `mib` MiB and writes one byte per page: every page is a first touch,
 * so RSS grows by exactly that much (anonymous memory; no huge pages unless
 * the system forces them for every mapping). */
__attribute__((noinline)) static volatile unsigned char *touch(size_t mib)
{
    size_t len = mib * MIB, page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *m;

    if (!len)
        return NULL;
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("grow: mmap");
        exit(1);
    }
    for (size_t off = 0; off < len; off += page)
        m[off] = (unsigned char)(off >> 12 | 1);
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

int main(int argc, char **argv)
{
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
