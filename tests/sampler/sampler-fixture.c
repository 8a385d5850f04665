/* SPDX-License-Identifier: MIT */
/* sampler-fixture: spins in c() via main -> a -> b -> c (built -O2 without
 * frame pointers) so sampler tests know the stack to expect. Options:
 * --thread N      also run the chain in a thread named "worker" after N ms
 * --exit-after N  exit(0) after N ms */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

volatile unsigned long fixture_sink;
volatile int fixture_stop;

__attribute__((noinline)) void c(unsigned long n)
{
    while (!fixture_stop) {
        for (unsigned long i = 0; i < n; i++)
            fixture_sink += i * i;
    }
}

__attribute__((noinline)) void b(unsigned long n)
{
    c(n + 1);
    __asm__ volatile("" ::: "memory");
    fixture_sink++;
}

__attribute__((noinline)) void a(unsigned long n)
{
    b(n + 1);
    __asm__ volatile("" ::: "memory");
    fixture_sink++;
}

static unsigned thread_delay_ms;

static void *worker(void *arg)
{
    (void)arg;
    a(1000);
    return NULL;
}

/* Starts the worker late, so it is created while sampling, then exits. */
static void *spawner(void *arg)
{
    pthread_t th;
    (void)arg;
    struct timespec ts = {thread_delay_ms / 1000, (long)(thread_delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    if (pthread_create(&th, NULL, worker, NULL) == 0) {
        pthread_setname_np(th, "worker");
        pthread_detach(th);
    }
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
    _exit(0);
}

int main(int argc, char **argv)
{
    pthread_t th;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--thread") == 0) {
            thread_delay_ms = (unsigned)atoi(argv[i + 1]);
            if (pthread_create(&th, NULL, spawner, NULL) == 0)
                pthread_detach(th);
        } else if (strcmp(argv[i], "--exit-after") == 0) {
            struct itimerval it = {{0, 0}, {0, 0}};
            long ms = atol(argv[i + 1]);
            it.it_value.tv_sec = ms / 1000;
            it.it_value.tv_usec = (ms % 1000) * 1000;
            signal(SIGALRM, on_alarm);
            setitimer(ITIMER_REAL, &it, NULL);
        }
    }
    a(1000);
    return 0;
}
