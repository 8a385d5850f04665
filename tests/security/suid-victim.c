/* SPDX-License-Identifier: MIT */
/* Fixture for the security tests: the privileged image. Installed setuid
 * root (or run by root), it burns CPU in root_only_secret_fn (one thread) or
 * root_victim_thread_fn (threads); run without privilege it burns the same
 * CPU in user_spin_fn / user_thread_fn, so a frame's name says whether the
 * sampled code ran with euid 0. `suid-victim euid` prints the euid. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double seconds_to_run = 2.0;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Spins until `end`; the callers differ only by name. */
__attribute__((noinline)) static double burn(double end)
{
    volatile double acc = 0;
    while (now_s() < end)
        for (int i = 0; i < 2000; i++)
            acc += i * 0.5;
    return acc;
}

__attribute__((noinline)) double root_only_secret_fn(double end)
{
    return burn(end) + 1;
}

__attribute__((noinline)) double user_spin_fn(double end)
{
    return burn(end) + 2;
}

__attribute__((noinline)) void *root_victim_thread_fn(void *arg)
{
    double end = *(double *)arg;
    burn(end);
    return NULL;
}

__attribute__((noinline)) void *user_thread_fn(void *arg)
{
    double end = *(double *)arg;
    burn(end);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: suid-victim euid | spin SECONDS | threads SECONDS\n", stderr);
        return 2;
    }
    if (!strcmp(argv[1], "euid")) {
        printf("%d\n", (int)geteuid());
        return 0;
    }
    if (argc > 2)
        seconds_to_run = atof(argv[2]);
    double end = now_s() + seconds_to_run;
    bool privileged = geteuid() == 0;
    if (!strcmp(argv[1], "spin")) {
        return privileged ? root_only_secret_fn(end) < 0 : user_spin_fn(end) < 0;
    }
    if (!strcmp(argv[1], "threads")) {
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            if (pthread_create(&t[i], NULL, privileged ? root_victim_thread_fn : user_thread_fn,
                               &end))
                return 1;
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        return 0;
    }
    fprintf(stderr, "suid-victim: unknown mode '%s'\n", argv[1]);
    return 2;
}
