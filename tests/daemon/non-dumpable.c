/* SPDX-License-Identifier: MIT */
/* non-dumpable: marks itself non-dumpable, as programs that change
 * credentials or hold secrets do, prints "ready", then sleeps SECONDS
 * (default 20). Its
 * owner may then no longer trace it, so the daemon must refuse them. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    unsigned seconds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 20;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        perror("non-dumpable: prctl(PR_SET_DUMPABLE, 0)");
        return 1;
    }
    puts("ready");
    fflush(stdout);
    while (seconds > 0)
        seconds = sleep(seconds);
    return 0;
}
