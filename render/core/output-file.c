/* SPDX-License-Identifier: MIT */
/* output-file: a regular file is written beside its name and renamed into
 * place when complete; anything else (stdout, a device, a FIFO, a link to
 * one) is written in place. */
#define _GNU_SOURCE /* fopencookie, F_DUPFD_CLOEXEC, asprintf */

#include "output-file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STREAM_BUFFER 65536

struct bts_output_file {
    char *path;     /* as given, for messages */
    char *tmp_path; /* the temporary file, NULL when written in place */
    char *final;    /* what tmp_path is renamed to: path or a link's target */
    mode_t mode;    /* of the temporary file */
    int fd;
    FILE *stream;
    int write_err; /* the first -errno a write met */
    bool committed;
};

/* The stream writes through these, so the real reason of a failed write
 * (-ENOSPC, -EPIPE) is kept: ferror() alone says only that one failed. */
static ssize_t stream_write(void *cookie, const char *buf, size_t len)
{
    struct bts_output_file *of = cookie;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(of->fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!of->write_err)
                of->write_err = n < 0 ? -errno : -EIO;
            break;
        }
        done += (size_t)n;
    }
    return (ssize_t)done; /* short: stdio marks the stream in error */
}

static int stream_close(void *cookie)
{
    struct bts_output_file *of = cookie;
    int ret = close(of->fd);
    of->fd = -1;
    return ret;
}

static bool same_file(const struct stat *st, int fd)
{
    struct stat fst;
    return fstat(fd, &fst) == 0 && fst.st_dev == st->st_dev && fst.st_ino == st->st_ino;
}

/* Where to write `path`: sets of->fd for a file written in place (stdout,
 * the file stdout or stderr already is, a device, a FIFO, a socket, or a
 * link to one of those), else of->final, of->mode and of->tmp_path for
 * a regular file replaced by rename. 0 or -errno. */
static int choose(struct bts_output_file *of, const char *path)
{
    struct stat st, lst;
    bool exists = strcmp(path, "-") && stat(path, &st) == 0;
    mode_t mask = umask(0);
    umask(mask);
    of->mode = 0666 & ~mask;
    if (!strcmp(path, "-") || (exists && same_file(&st, STDOUT_FILENO))) {
        fflush(stdout); /* what was printed before goes first */
        of->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        return of->fd < 0 ? -errno : 0;
    }
    if (exists && same_file(&st, STDERR_FILENO)) {
        of->fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        return of->fd < 0 ? -errno : 0;
    }
    if (exists && !S_ISREG(st.st_mode)) {
        /* Replacing /dev/null or a FIFO by a regular file would break
         * every other user of it: write to it, as perf and cat do. */
        of->fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        return of->fd < 0 ? -errno : 0;
    }
    if (exists) {
        of->mode = st.st_mode & 0777; /* replacing keeps the file's mode */
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
            /* Replace the file the link names, not the link. */
            of->final = realpath(path, NULL);
            if (!of->final)
                return -errno;
        }
    }
    if (!of->final && !(of->final = strdup(path)))
        return -ENOMEM;
    const char *slash = strrchr(of->final, '/');
    if (asprintf(&of->tmp_path, "%.*s.%s.XXXXXX", slash ? (int)(slash - of->final + 1) : 0,
                 of->final, slash ? slash + 1 : of->final) < 0) {
        of->tmp_path = NULL;
        return -ENOMEM;
    }
    of->fd = mkostemp(of->tmp_path, O_CLOEXEC);
    if (of->fd < 0) {
        int err = -errno;
        free(of->tmp_path);
        of->tmp_path = NULL;
        return err;
    }
    fchmod(of->fd, of->mode); /* mkstemp made it 0600 */
    return 0;
}

int bts_output_file_open(const char *path, struct bts_output_file **out)
{
    struct bts_output_file *of = calloc(1, sizeof(*of));
    int ret;
    if (!of)
        return -ENOMEM;
    of->fd = -1;
    of->path = strdup(path);
    if (!of->path) {
        ret = -ENOMEM;
        goto out;
    }
    ret = choose(of, path);
    if (ret)
        goto out;
    of->stream =
        fopencookie(of, "w", (cookie_io_functions_t){.write = stream_write, .close = stream_close});
    if (!of->stream) {
        ret = -errno;
        goto out;
    }
    setvbuf(of->stream, NULL, _IOFBF, STREAM_BUFFER);
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

int bts_output_file_error(const struct bts_output_file *of)
{
    return of ? of->write_err : 0;
}

int bts_output_file_commit(struct bts_output_file *of)
{
    int ret = 0;
    if (fflush(of->stream) || ferror(of->stream))
        ret = of->write_err ? of->write_err : errno ? -errno : -EIO;
    if (!ret && of->tmp_path && fsync(of->fd))
        ret = -errno;
    if (fclose(of->stream) && !ret)
        ret = of->write_err ? of->write_err : errno ? -errno : -EIO;
    of->stream = NULL;
    if (!ret && of->tmp_path && rename(of->tmp_path, of->final))
        ret = -errno;
    if (!ret)
        of->committed = true;
    return ret;
}

void bts_output_file_free(struct bts_output_file *of)
{
    if (!of)
        return;
    if (of->stream)
        fclose(of->stream);
    else if (of->fd >= 0)
        close(of->fd);
    if (of->tmp_path && !of->committed)
        unlink(of->tmp_path);
    free(of->tmp_path);
    free(of->final);
    free(of->path);
    free(of);
}
