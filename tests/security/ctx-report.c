/* SPDX-License-Identifier: MIT */
/* Fixture for the security tests: a command launched through bt-spyd that
 * reports the context it was given. Writes HOME, PATH, BTS_SEC_MARK, the
 * working directory and every open fd (with its target) to REPORT, prints a
 * line to stdout and a fake log line to stderr, then burns CPU in
 * ctx_hot_fn for SECONDS (default 0.5) so its profile is not empty. */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
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

__attribute__((noinline)) double ctx_hot_fn(double end)
{
    volatile double acc = 0;
    while (now_s() < end)
        for (int i = 0; i < 2000; i++)
            acc += i * 0.5;
    return acc;
}

/* The fds open now, before REPORT is opened. */
static int list_fds(int *fds, int max)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0, self;
    struct dirent *de;
    if (!d)
        return -1;
    self = dirfd(d);
    while ((de = readdir(d)) && n < max) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);
        if (*end || de->d_name[0] == '.' || fd == self)
            continue;
        fds[n++] = (int)fd;
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    int fds[256], nfds;
    char cwd[PATH_MAX], link[64], target[PATH_MAX];
    if (argc < 2) {
        fputs("usage: ctx-report REPORT [SECONDS]\n", stderr);
        return 2;
    }
    nfds = list_fds(fds, 256);
    FILE *f = fopen(argv[1], "we");
    if (!f) {
        perror("ctx-report: report");
        return 1;
    }
    const char *home = getenv("HOME"), *path = getenv("PATH"), *mark = getenv("BTS_SEC_MARK");
    fprintf(f, "HOME=%s\n", home ? home : "(unset)");
    fprintf(f, "PATH=%s\n", path ? path : "(unset)");
    fprintf(f, "BTS_SEC_MARK=%s\n", mark ? mark : "(unset)");
    fprintf(f, "CWD=%s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "(unknown)");
    for (int i = 0; i < nfds; i++) {
        ssize_t n;
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[i]);
        n = readlink(link, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        fprintf(f, "FD %d %s\n", fds[i], target);
    }
    fclose(f);
    printf("CTX-STDOUT-MARK from uid %d\n", (int)getuid());
    fflush(stdout);
    fprintf(stderr, "bt-spyd: error: FAKE LOG LINE injected by uid %d\n", (int)getuid());
    ctx_hot_fn(now_s() + (argc > 2 ? atof(argv[2]) : 0.5));
    return 0;
}
