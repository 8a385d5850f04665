/* SPDX-License-Identifier: MIT */
/* identity: a process's start time, a thread's credentials and
 * dumpability, and the image it runs, read from /proc. */
#define _GNU_SOURCE /* O_CLOEXEC under c11 */
#include "identity.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* /proc/PID/stat after the comm: field 3 is the state; 22 starttime, 26
 * startcode, 28 startstack. The comm may hold spaces and parentheses, so
 * the fields are counted from the last ')'. */
static int parse_stat(const char *buf, struct bts_identity *out)
{
    const char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return -EINVAL;
    p += 2;
    for (int field = 3; field <= 28; field++) {
        char *end;
        if (field == 22 || field == 26 || field == 28) {
            uint64_t v = strtoull(p, &end, 10);
            if (end == p)
                return -EINVAL;
            if (field == 22)
                out->start_ticks = v;
            else if (field == 26)
                out->start_code = v;
            else
                out->start_stack = v;
        }
        if (field == 28)
            break;
        p = strchr(p, ' ');
        if (!p)
            return -EINVAL;
        p++;
    }
    return out->start_ticks ? 0 : -EINVAL;
}

static int parse_ids(const char *line, uint32_t ids[4])
{
    unsigned long v[4];
    if (sscanf(line, "%lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3]) != 4)
        return -EINVAL;
    for (int i = 0; i < 4; i++)
        ids[i] = (uint32_t)v[i];
    return 0;
}

/* Uid:, Gid:, CapPrm: and CapEff: of /proc/PID/task/TID/status. */
static int parse_status(char *buf, struct bts_identity *out)
{
    int found = 0;
    for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!strncmp(line, "Uid:", 4) && parse_ids(line + 4, out->uid) == 0)
            found |= 1;
        else if (!strncmp(line, "Gid:", 4) && parse_ids(line + 4, out->gid) == 0)
            found |= 2;
        else if (!strncmp(line, "CapPrm:", 7))
            found |= sscanf(line + 7, "%" SCNx64, &out->cap_prm) == 1 ? 4 : 0;
        else if (!strncmp(line, "CapEff:", 7))
            found |= sscanf(line + 7, "%" SCNx64, &out->cap_eff) == 1 ? 8 : 0;
    }
    return found == 15 ? 0 : -EINVAL;
}

int bts_identity_read(pid_t pid, pid_t tid, struct bts_identity *out)
{
    char path[96], buf[4096];
    struct stat st;
    ssize_t n;
    int ret = 0, fd;

    memset(out, 0, sizeof(*out));
    if (pid <= 0 || tid < 0)
        return -ESRCH;
    if (!tid)
        tid = pid;
    out->pid = pid;
    out->tid = tid;

    /* Opening maps takes the target's exec lock for reading (mm_access):
     * an exec in progress finishes installing its credentials first. */
    snprintf(path, sizeof(path), "/proc/%d/task/%d/maps", (int)pid, (int)tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
    } else if (errno == ENOENT) {
        snprintf(path, sizeof(path), "/proc/%d", (int)pid);
        return access(path, F_OK) == 0 ? -ENOENT : -ESRCH;
    }

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    n = bts_proc_read_small(path, buf, sizeof(buf));
    if (n < 0) {
        ret = n == -ENOENT ? -ESRCH : (int)n;
        goto out;
    }
    if ((ret = parse_stat(buf, out)) < 0)
        goto out;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
    n = bts_proc_read_small(path, buf, sizeof(buf));
    if (n < 0) {
        ret = n == -ENOENT ? -ENOENT : (int)n;
        goto out;
    }
    if ((ret = parse_status(buf, out)) < 0)
        goto out;

    /* fs/proc/base.c task_dump_owner: the files of a task that is not
     * dumpable belong to root (for euid 0 this cannot tell; root is root). */
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    if (stat(path, &st) < 0) {
        ret = errno == ENOENT ? -ENOENT : -errno;
        goto out;
    }
    out->dumpable = st.st_uid == out->uid[1];

    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    if (stat(path, &st) == 0) {
        out->exe_dev = (uint64_t)st.st_dev;
        out->exe_ino = (uint64_t)st.st_ino;
    }
out:
    return ret;
}

bool bts_identity_exec_changed(const struct bts_identity *was, const struct bts_identity *now)
{
    return was->exe_dev != now->exe_dev || was->exe_ino != now->exe_ino ||
           was->start_code != now->start_code || was->start_stack != now->start_stack;
}
