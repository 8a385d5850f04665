/* SPDX-License-Identifier: MIT */
/* Fixture for the security tests: an unprivileged process that burns CPU in
 * user_before_exec_fn until FILE exists (--until FILE) or MS milliseconds
 * passed (--for MS), then execs PROG ARGS... if given, else exits 0. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Returns once `until` exists or `end` passed, checking every ~1 ms. */
__attribute__((noinline)) double user_before_exec_fn(const char *until, double end)
{
    volatile double acc = 0;
    for (;;) {
        double t0 = now_s();
        if (until ? access(until, F_OK) == 0 : t0 >= end)
            return acc;
        while (now_s() < t0 + 0.001)
            for (int i = 0; i < 500; i++)
                acc += i * 0.5;
    }
}

int main(int argc, char **argv)
{
    const char *until = NULL;
    double end = 0;
    int i = 1;
    if (argc >= 3 && !strcmp(argv[1], "--until")) {
        until = argv[2];
    } else if (argc >= 3 && !strcmp(argv[1], "--for")) {
        end = now_s() + atof(argv[2]) / 1000;
    } else {
        fputs("usage: spin-exec (--until FILE | --for MS) [-- PROG ARGS...]\n", stderr);
        return 2;
    }
    i = 3;
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    user_before_exec_fn(until, end);
    if (i < argc && !strcmp(argv[i], "--"))
        i++;
    if (i >= argc)
        return 0;
    execv(argv[i], argv + i);
    perror("spin-exec: execv");
    return 127;
}
