/* SPDX-License-Identifier: MIT */
/* Fixture for the security tests: runs PROG ARGS... as pid PID, the way a
 * pid wrap-around would, by writing PID-1 to /proc/sys/kernel/ns_last_pid
 * before each fork (needs CAP_SYS_ADMIN). Children that got another pid
 * exit at once and the parent tries again, up to 200 times. Prints
 * "reused PID" and waits for PROG; exits 3 when the pid was never won. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int set_last_pid(long pid)
{
    char buf[32];
    int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int n = snprintf(buf, sizeof(buf), "%ld", pid);
    int r = write(fd, buf, (size_t)n) == n ? 0 : -errno;
    close(fd);
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fputs("usage: pid-reuse PID PROG [ARGS...]\n", stderr);
        return 2;
    }
    long want = strtol(argv[1], NULL, 10);
    if (want < 2) {
        fputs("pid-reuse: PID must be above 1\n", stderr);
        return 2;
    }
    for (int attempt = 0; attempt < 200; attempt++) {
        int r = set_last_pid(want - 1);
        if (r < 0) {
            fprintf(stderr, "pid-reuse: cannot write ns_last_pid: %s\n", strerror(-r));
            return 3;
        }
        pid_t pid = fork();
        if (pid < 0) {
            perror("pid-reuse: fork");
            return 3;
        }
        if (pid == 0) {
            if (getpid() != (pid_t)want)
                _exit(0);
            execv(argv[2], argv + 2);
            _exit(127);
        }
        if (pid != (pid_t)want) {
            waitpid(pid, NULL, 0);
            continue;
        }
        printf("reused %ld after %d tries\n", want, attempt + 1);
        fflush(stdout);
        int status;
        waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    }
    fprintf(stderr, "pid-reuse: pid %ld was not handed out again in 200 forks\n", want);
    return 3;
}
