/* SPDX-License-Identifier: MIT */
/* spool: atomic profile files owned by the profiled uid, and their names. */
#define _GNU_SOURCE /* mkostemp */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "authz.h"
#include "protocol.h"

int bts_spool_write(const char *dir, const char *name, const char *text, size_t len,
                    const struct bts_spool_owner *owner)
{
    char tmp[4096], final[4096];
    int ret = 0;
    if (snprintf(final, sizeof(final), "%s/%s", dir, name) >= (int)sizeof(final) ||
        snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    /* mkostemp creates it 0600: never readable by others, even for a
     * moment, unless the owner's group is asked for. */
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* The mode first, while the file is still ours (changing it later
     * would take CAP_FOWNER); then the owner. When the daemon may not give
     * files away (not root) the file stays its own, 0600: less open, not
     * more. */
    if (owner->group_read && fchmod(fd, 0640) < 0)
        ret = -errno;
    if (!ret && fchown(fd, owner->uid, owner->gid) < 0 && fchmod(fd, 0600) < 0)
        ret = -errno;
    if (!ret)
        ret = bts_protocol_write_all(fd, text, len);
    if (!ret && fsync(fd) < 0)
        ret = -errno;
    if (close(fd) < 0 && !ret)
        ret = -errno;
    if (!ret && rename(tmp, final) < 0)
        ret = -errno;
    if (ret)
        unlink(tmp);
    return ret;
}

void bts_profile_stem(pid_t pid, const char *comm, char *out, size_t out_len)
{
    long ticks = sysconf(_SC_CLK_TCK);
    uint64_t start = bts_authz_start_ticks(pid);
    long long btime = 0;
    char line[128];
    FILE *f = fopen("/proc/stat", "re");
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "btime %lld", &btime) == 1)
                break;
        }
        fclose(f);
    }
    long long when = start && ticks > 0 ? btime + (long long)(start / (uint64_t)ticks) : 0;
    if (!when)
        when = (long long)time(NULL);
    /* Names become file names: no slashes, no leading dots. */
    char safe[64];
    snprintf(safe, sizeof(safe), "%s", comm && comm[0] ? comm : "pid");
    for (char *p = safe; *p; p++) {
        if (*p == '/' || *p == ' ' || (p == safe && *p == '.'))
            *p = '_';
    }
    snprintf(out, out_len, "%s-%d-%lld", safe, (int)pid, when);
}
