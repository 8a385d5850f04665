/* SPDX-License-Identifier: MIT */
/* process-tree: a process's descendants and names, read from /proc. */
#define _GNU_SOURCE

#include "process-tree.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct proc_link {
    pid_t pid;
    pid_t ppid;
};

/* The ppid field of /proc/PID/stat, which follows the ")" that closes comm
 * (comm itself may hold spaces and parentheses). */
static pid_t read_ppid(pid_t pid)
{
    char path[64], buf[512];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *close_paren = strrchr(buf, ')');
    int ppid;
    char state;
    if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    return (pid_t)ppid;
}

static int by_ppid(const void *a, const void *b)
{
    const struct proc_link *x = a, *y = b;
    return x->ppid != y->ppid ? (x->ppid < y->ppid ? -1 : 1)
                              : (x->pid > y->pid) - (x->pid < y->pid);
}

static int by_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

int bts_process_tree_descendants(pid_t root, pid_t *out, size_t max)
{
    struct proc_link *links = NULL;
    pid_t *found = NULL;
    size_t nlinks = 0, cap = 0, nfound = 0, head = 0;
    struct dirent *e;
    int ret = 0;
    DIR *d;

    d = opendir("/proc");
    if (!d)
        return -errno;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)atoi(e->d_name), ppid = read_ppid(pid);
        if (ppid <= 0)
            continue;
        if (nlinks == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            struct proc_link *nl = realloc(links, ncap * sizeof(*links));
            if (!nl) {
                ret = -ENOMEM;
                goto out;
            }
            links = nl;
            cap = ncap;
        }
        links[nlinks++] = (struct proc_link){pid, ppid};
    }
    qsort(links, nlinks, sizeof(*links), by_ppid);
    found = malloc((nlinks + 1) * sizeof(*found));
    if (!found) {
        ret = -ENOMEM;
        goto out;
    }
    /* Breadth first from root over the (ppid -> pid) links. */
    found[nfound++] = root;
    while (head < nfound) {
        pid_t parent = found[head++];
        size_t lo = 0, hi = nlinks;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (links[mid].ppid < parent)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < nlinks && links[lo].ppid == parent; lo++)
            if (nfound <= nlinks)
                found[nfound++] = links[lo].pid;
    }
    qsort(found + 1, nfound - 1, sizeof(*found), by_pid);
    for (size_t i = 1; i < nfound && i - 1 < max; i++)
        out[i - 1] = found[i];
    ret = (int)(nfound - 1);
out:
    closedir(d);
    free(links);
    free(found);
    return ret;
}
