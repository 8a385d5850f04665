/* SPDX-License-Identifier: MIT */
/* Fixture for the security tests: targets a profiler must describe right.
 * `odd-target zombie SECONDS` leaves an unreaped child (a zombie) and
 * `odd-target traced SECONDS` keeps a child under its own PTRACE_SEIZE (no
 * stop: the child keeps running). Both print "child PID" and live SECONDS. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fputs("usage: odd-target zombie|traced SECONDS\n", stderr);
        return 2;
    }
    double seconds = atof(argv[2]);
    int traced = !strcmp(argv[1], "traced");
    if (!traced && strcmp(argv[1], "zombie")) {
        fprintf(stderr, "odd-target: unknown mode '%s'\n", argv[1]);
        return 2;
    }
    pid_t child = fork();
    if (child < 0) {
        perror("odd-target: fork");
        return 1;
    }
    if (child == 0) {
        if (!traced)
            _exit(0);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* ends with the fixture, even on SIGKILL */
        nap(seconds);
        _exit(0);
    }
    if (traced && ptrace(PTRACE_SEIZE, child, NULL, NULL) < 0) {
        perror("odd-target: PTRACE_SEIZE");
        kill(child, SIGKILL);
        return 1;
    }
    if (!traced) {
        /* Wait until the child is a zombie, without reaping it. */
        siginfo_t si;
        waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT);
    }
    printf("child %d\n", (int)child);
    fflush(stdout);
    nap(seconds);
    if (traced) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    return 0;
}
