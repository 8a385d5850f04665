/* SPDX-License-Identifier: MIT */
/* output-file: write to a temporary file, rename into place when complete. */
#define _GNU_SOURCE

#include "output-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bts_output_file {
    char *path;
    char *tmp_path; /* NULL for stdout */
    FILE *stream;
    bool committed;
};

int bts_output_file_open(const char *path, struct bts_output_file **out)
{
    struct bts_output_file *of;
    const char *slash;
    int fd = -1, ret;

    of = calloc(1, sizeof(*of));
    if (!of)
        return -ENOMEM;
    of->path = strdup(path);
    if (!of->path) {
        ret = -ENOMEM;
        goto out;
    }
    if (!strcmp(path, "-")) {
        of->stream = stdout;
        *out = of;
        return 0;
    }
    slash = strrchr(path, '/');
    if (asprintf(&of->tmp_path, "%.*s.%s.XXXXXX", slash ? (int)(slash - path + 1) : 0, path,
                 slash ? slash + 1 : path) < 0) {
        of->tmp_path = NULL;
        ret = -ENOMEM;
        goto out;
    }
    fd = mkstemp(of->tmp_path);
    if (fd < 0) {
        ret = -errno;
        free(of->tmp_path);
        of->tmp_path = NULL;
        goto out;
    }
    /* mkstemp makes 0600; give the profile the usual 0666 & ~umask. */
    {
        mode_t mask = umask(0);
        umask(mask);
        fchmod(fd, 0666 & ~mask);
    }
    of->stream = fdopen(fd, "w");
    if (!of->stream) {
        ret = -errno;
        close(fd);
        goto out;
    }
    *out = of;
    return 0;
out:
    bts_output_file_free(of);
    return ret;
}

FILE *bts_output_file_stream(struct bts_output_file *of)
{
    return of->stream;
}

const char *bts_output_file_name(const struct bts_output_file *of)
{
    return of->path;
}

int bts_output_file_commit(struct bts_output_file *of)
{
    int ret = 0;

    if (of->stream == stdout) {
        if (fflush(stdout) || ferror(stdout))
            return errno ? -errno : -EIO;
        of->committed = true;
        return 0;
    }
    if (fflush(of->stream) || ferror(of->stream))
        ret = errno ? -errno : -EIO;
    if (!ret && fsync(fileno(of->stream)))
        ret = -errno;
    if (fclose(of->stream) && !ret)
        ret = errno ? -errno : -EIO;
    of->stream = NULL;
    if (!ret && rename(of->tmp_path, of->path))
        ret = -errno;
    if (!ret)
        of->committed = true;
    return ret;
}

void bts_output_file_free(struct bts_output_file *of)
{
    if (!of)
        return;
    if (of->stream && of->stream != stdout)
        fclose(of->stream);
    if (of->tmp_path && !of->committed)
        unlink(of->tmp_path);
    free(of->tmp_path);
    free(of->path);
    free(of);
}
