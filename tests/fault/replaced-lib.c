/* SPDX-License-Identifier: MIT */
/* replaced-lib: loads a shared library, then renames garbage over its file
 * (as a package upgrade does) and keeps calling into the loaded copy. */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
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

/* Writes 8 KiB of garbage to `tmp` and renames it over `path`. */
static int replace_with_garbage(const char *path, const char *tmp)
{
    char buf[8192];
    int fd, ret = 0;

    memset(buf, 0x5a, sizeof(buf));
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0)
        return -errno;
    if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
        ret = errno ? -errno : -EIO;
    if (close(fd) && !ret)
        ret = -errno;
    if (!ret && rename(tmp, path))
        ret = -errno;
    return ret;
}

int main(int argc, char **argv)
{
    unsigned long (*spin)(unsigned long);
    unsigned long calls = 0, acc = 0;
    double end;
    char *tmp = NULL;
    void *lib;
    int ret;

    if (argc != 3 || !(strtod(argv[2], NULL) > 0)) {
        fputs("usage: replaced-lib LIB.so SECONDS\n", stderr);
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) {
        fprintf(stderr, "replaced-lib: %s\n", dlerror());
        return 1;
    }
    *(void **)&spin = dlsym(lib, "fault_hot_spin");
    if (!spin) {
        fprintf(stderr, "replaced-lib: %s\n", dlerror());
        return 1;
    }
    if (asprintf(&tmp, "%s.new", argv[1]) < 0)
        return 1;
    ret = replace_with_garbage(argv[1], tmp);
    free(tmp);
    if (ret) {
        fprintf(stderr, "replaced-lib: cannot replace '%s': %s\n", argv[1], strerror(-ret));
        return 1;
    }
    printf("replaced-lib: pid %d, '%s' replaced\n", (int)getpid(), argv[1]);
    fflush(stdout);
    end = now_s() + strtod(argv[2], NULL);
    while (now_s() < end) {
        acc += spin(100000);
        calls++;
    }
    printf("replaced-lib: %lu calls (%lu)\n", calls, acc & 0xff);
    return 0;
}
