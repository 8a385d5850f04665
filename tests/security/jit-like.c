/* SPDX-License-Identifier: MIT */
/* Fixture for the security tests: a JIT-like program. It copies a small
 * counting loop into anonymous executable memory and calls it for SECONDS
 * (default 30), so every sample's leaf is in code no ELF file describes and
 * a profiler looks it up in /tmp/perf-PID.map. Prints "jit PID START SIZE"
 * (hex) once the code runs. With --write-map it writes its own map, naming
 * the code jit_hot_loop, as a real JIT would. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
/* mov ecx, 50000; 1: dec ecx; jnz 1b; ret */
static const uint8_t loop_code[] = {0xb9, 0x50, 0xc3, 0x00, 0x00, 0xff, 0xc9, 0x75, 0xfc, 0xc3};
#elif defined(__aarch64__)
/* movz w1, #50000; 1: subs w1, w1, #1; b.ne 1b; ret */
static const uint32_t loop_words[] = {0x52986a01, 0x71000421, 0x54ffffe1, 0xd65f03c0};
#define loop_code ((const uint8_t *)loop_words)
#else
#define NO_JIT 1
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
#ifdef NO_JIT
    (void)argc;
    (void)argv;
    fputs("jit-like: no machine code for this architecture\n", stderr);
    return 77;
#else
    int write_map = argc > 1 && !strcmp(argv[1], "--write-map");
    double seconds = argc > 1 + write_map ? atof(argv[1 + write_map]) : 30;
#if defined(__aarch64__)
    size_t code_len = sizeof(loop_words);
#else
    size_t code_len = sizeof(loop_code);
#endif
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *code = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED) {
        perror("jit-like: mmap");
        return 1;
    }
    memcpy(code, loop_code, code_len);
    __builtin___clear_cache((char *)code, (char *)code + code_len);
    if (mprotect(code, page, PROT_READ | PROT_EXEC) < 0) {
        perror("jit-like: mprotect");
        return 1;
    }
    if (write_map) {
        char path[64];
        snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
        FILE *f = fopen(path, "w");
        if (!f) {
            perror("jit-like: perf map");
            return 1;
        }
        fprintf(f, "%lx %zx jit_hot_loop\n", (unsigned long)(uintptr_t)code, code_len);
        fclose(f);
    }
    void (*fn)(void) = (void (*)(void))(uintptr_t)code;
    fn();
    printf("jit %d %lx %zx\n", (int)getpid(), (unsigned long)(uintptr_t)code, code_len);
    fflush(stdout);
    double end = now_s() + seconds;
    while (now_s() < end)
        for (int i = 0; i < 100; i++)
            fn();
    return 0;
#endif
}
