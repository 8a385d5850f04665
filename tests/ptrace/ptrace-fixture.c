/* SPDX-License-Identifier: MIT */
/* ptrace-fixture: threads with known stacks for the ptrace backend tests,
 * built -O2 without frame pointers (the spin functions differ in a constant
 * so identical-code folding cannot merge them). Thread "alpha" spins in spin_alpha(),
 * "beta" in spin_beta(), "gamma" sleeps in sleep_gamma(); main waits in
 * wait_for_workers(). Prints "ready" once every thread runs. Options:
 *   --late-thread MS  start "delta", spinning in spin_delta(), after MS ms
 *   --seconds S       make every thread return after S seconds; exit 3
 *   --exit-now S      exit(4) after S seconds with every thread still busy
 *   --gamma-name NAME name "gamma" NAME instead (tests escaping of names)
 *   --vfork-thread MS start three threads "epsilon", each vforking children
 *                     that live MS ms, so they spend their time in
 *                     uninterruptible sleep
 * SIGRTMIN is counted; SIGUSR1 prints "signals N" and keeps running. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

volatile unsigned long fixture_sink;
static volatile sig_atomic_t stop_all;
/* Counted with an atomic add: a process-directed signal may run its
 * handler in two threads at once, and `volatile sig_atomic_t` ++ is a load
 * and a store, which then loses one (3 of 300 once, in 50 loaded runs). */
static int rt_signals;
static volatile sig_atomic_t report_asked;
static int started; /* threads inside their function, for "ready" */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_rt(int sig)
{
    (void)sig;
    __atomic_add_fetch(&rt_signals, 1, __ATOMIC_RELAXED);
}

static void on_usr1(int sig)
{
    (void)sig;
    report_asked = 1;
}

__attribute__((noinline)) static void spin_leaf(unsigned long n)
{
    for (unsigned long i = 0; i < n; i++)
        fixture_sink += i * i;
}

__attribute__((noinline)) void spin_alpha(void)
{
    __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
    while (!stop_all)
        spin_leaf(1000);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void spin_beta(void)
{
    __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
    while (!stop_all)
        spin_leaf(1001);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void spin_delta(void)
{
    __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
    while (!stop_all)
        spin_leaf(1002);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void sleep_gamma(void)
{
    __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
    while (!stop_all) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    __asm__ volatile("" ::: "memory");
}

static void *run_alpha(void *arg)
{
    (void)arg;
    spin_alpha();
    return NULL;
}

static void *run_beta(void *arg)
{
    (void)arg;
    spin_beta();
    return NULL;
}

static void *run_gamma(void *arg)
{
    (void)arg;
    sleep_gamma();
    return NULL;
}

static void *run_delta(void *arg)
{
    (void)arg;
    spin_delta();
    return NULL;
}

static long vfork_ms;

/* Blocked in vfork (state D) while each child lives: a thread that cannot
 * stop for a tracer until its child exits. */
__attribute__((noinline)) void vfork_epsilon(void)
{
    while (!stop_all) {
        struct timespec ts = {vfork_ms / 1000, (vfork_ms % 1000) * 1000000L};
        pid_t child = vfork();
        if (child == 0) {
            nanosleep(&ts, NULL);
            _exit(0);
        }
        if (child < 0)
            nanosleep(&ts, NULL);
        else
            waitpid(child, NULL, 0);
    }
    __asm__ volatile("" ::: "memory");
}

static void *run_epsilon(void *arg)
{
    (void)arg;
    vfork_epsilon();
    return NULL;
}

__attribute__((noinline)) void wait_for_workers(double seconds, double exit_now, long late_ms)
{
    double start = now_s();
    bool late_started = late_ms < 0;
    pthread_t late;
    while (!stop_all) {
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
        if (report_asked) {
            report_asked = 0;
            printf("signals %d\n", __atomic_load_n(&rt_signals, __ATOMIC_RELAXED));
            fflush(stdout);
        }
        if (!late_started && (now_s() - start) * 1000 >= (double)late_ms) {
            late_started = pthread_create(&late, NULL, run_delta, NULL) == 0;
            if (late_started)
                pthread_setname_np(late, "delta");
        }
        if (seconds > 0 && now_s() - start >= seconds)
            stop_all = 1;
        if (exit_now > 0 && now_s() - start >= exit_now)
            exit(4);
    }
    __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
    double seconds = 0, exit_now = 0;
    long late_ms = -1;
    const char *names[3] = {"alpha", "beta", "gamma"};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--exit-now"))
            exit_now = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--late-thread"))
            late_ms = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--gamma-name"))
            names[2] = argv[i + 1];
        else if (!strcmp(argv[i], "--vfork-thread"))
            vfork_ms = atol(argv[i + 1]);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_rt;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGRTMIN, &sa, NULL);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);

    pthread_t th[3];
    void *(*fn[3])(void *) = {run_alpha, run_beta, run_gamma};
    for (int i = 0; i < 3; i++) {
        if (pthread_create(&th[i], NULL, fn[i], NULL) != 0)
            return 1;
        pthread_setname_np(th[i], names[i]);
    }
    pthread_t epsilon;
    for (int i = 0; vfork_ms > 0 && i < 3; i++) {
        if (pthread_create(&epsilon, NULL, run_epsilon, NULL) == 0)
            pthread_setname_np(epsilon, "epsilon");
    }
    while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < 3)
        sched_yield();
    printf("ready\n");
    fflush(stdout);
    wait_for_workers(seconds, exit_now, late_ms);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    return 3;
}
