/* SPDX-License-Identifier: MIT */
/* ptrace-sample: drives the ptrace backend on a pid for the integration
 * tests (the kill-safety test SIGKILLs it mid-sampling).
 * usage: ptrace-sample --pid PID [--idle] [--rate HZ] [--seconds S]
 * Prints "samples N lost N failed N threads N" and then "FUNCTION COUNT"
 * lines; exits 0, 1 when the backend fails to start. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "function-counter.h"
#include "ptrace-backend-private.h"

static volatile sig_atomic_t interrupted;

static void on_term(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct bts_backend_config cfg = {.rate_hz = 100, .stack_size = 8192};
    double seconds = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pid") && i + 1 < argc)
            cfg.pid = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            cfg.rate_hz = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--idle"))
            cfg.idle = true;
        else {
            fprintf(stderr, "usage: ptrace-sample --pid PID [--idle] [--rate HZ] [--seconds S]\n");
            return 2;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct function_counter *fc = function_counter_new(cfg.pid);
    struct bts_sampler_backend *b = bts_ptrace_backend_new();
    if (!fc || !b)
        return 1;
    struct bts_backend_sink sink = function_counter_sink(fc);
    int err = b->ops->start(b, &cfg, &sink);
    if (err < 0) {
        fprintf(stderr, "ptrace-sample: cannot attach to pid %d: %s\n", (int)cfg.pid,
                strerror(-err));
        return 1;
    }
    double end = now_s() + seconds;
    while (!interrupted && now_s() < end) {
        if (b->ops->poll(b, 50) == 1)
            break;
    }
    struct bts_backend_threads th;
    b->ops->threads(b, &th);
    b->ops->stop(b);
    printf("samples %llu lost %llu failed %llu threads %u\n",
           (unsigned long long)function_counter_samples(fc),
           (unsigned long long)function_counter_lost(fc),
           (unsigned long long)function_counter_failed(fc), th.seen);
    function_counter_print(fc, stdout);
    b->ops->free(b);
    function_counter_free(fc);
    return 0;
}
