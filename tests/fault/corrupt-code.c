/* SPDX-License-Identifier: MIT */
/* corrupt-code: runs a hot loop from a file that is not a valid ELF image. */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Where the code sits in the file; the test expects frames near this offset. */
#define CODE_OFFSET 0x40

/* x86-64: mov ecx, 0x100000; 1: dec ecx; jnz 1b; ret */
static const unsigned char loop_code[] = {0xb9, 0x00, 0x00, 0x10, 0x00,
                                          0xff, 0xc9, 0x75, 0xfc, 0xc3};

static void usage(void)
{
    fputs("usage: corrupt-code FILE SECONDS [--unlink]\n"
          "\n"
          "Writes FILE: a broken ELF header (right magic, garbage after it) and a\n"
          "small loop at offset 0x40, maps it executable and calls the loop for\n"
          "SECONDS seconds. --unlink removes FILE once mapped.\n",
          stderr);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_file(const char *path)
{
    unsigned char buf[4096];
    int fd, ret = 0;

    /* "\177ELF" then bytes no ELF reader accepts: class 9, data 7, and
     * program/section header offsets far past the end of the file. */
    memset(buf, 0xa5, sizeof(buf));
    memcpy(buf, "\177ELF\x09\x07\x01", 7);
    memcpy(buf + CODE_OFFSET, loop_code, sizeof(loop_code));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -errno;
    if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
        ret = errno ? -errno : -EIO;
    if (close(fd) && !ret)
        ret = -errno;
    return ret;
}

int main(int argc, char **argv)
{
    void (*loop)(void);
    double seconds, end;
    unsigned long calls = 0;
    void *code;
    int fd, ret;

    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "--unlink"))) {
        usage();
        return 2;
    }
    seconds = strtod(argv[2], NULL);
    if (!(seconds > 0 && seconds < 3600)) {
        usage();
        return 2;
    }
    ret = write_file(argv[1]);
    if (ret) {
        fprintf(stderr, "corrupt-code: cannot write '%s': %s\n", argv[1], strerror(-ret));
        return 1;
    }
    fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "corrupt-code: cannot open '%s': %s\n", argv[1], strerror(errno));
        return 1;
    }
    code = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    close(fd);
    if (code == MAP_FAILED) {
        fprintf(stderr, "corrupt-code: cannot map '%s': %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (argc == 4 && unlink(argv[1])) {
        fprintf(stderr, "corrupt-code: cannot remove '%s': %s\n", argv[1], strerror(errno));
        return 1;
    }
    /* Converting a data pointer to a function pointer is what a JIT does. */
    memcpy(&loop, &(void *){(char *)code + CODE_OFFSET}, sizeof(loop));
    printf("corrupt-code: pid %d, loop at %p\n", (int)getpid(),
           (void *)((char *)code + CODE_OFFSET));
    fflush(stdout);
    end = now_s() + seconds;
    while (now_s() < end) {
        loop();
        calls++;
    }
    printf("corrupt-code: %lu calls\n", calls);
    munmap(code, 4096);
    return 0;
}
