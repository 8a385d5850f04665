/* SPDX-License-Identifier: MIT */
/* output-file: where a command's -o goes. A regular file (or a missing
 * one) is written to a temporary file beside it and renamed into place only
 * when complete, so a failure (a full disk, a crash) never leaves a
 * truncated file that looks finished; a symbolic link to a regular file
 * keeps the link and its target is replaced. Anything else is written in
 * place, as perf and flamegraph.pl do, and stays what it was: "-" (stdout),
 * the file stdout or stderr already is (/dev/stdout, /proc/self/fd/1), a
 * device such as /dev/null, a FIFO, or a link to one of those. */
#pragma once

#include <stdio.h>

struct bts_output_file;

/* Creates the temporary file (or opens the file written in place) now,
 * which also proves the destination is writable. Opening a FIFO waits for
 * its reader. 0 or -errno. */
int bts_output_file_open(const char *path, struct bts_output_file **out);

/* The stream to write to; owned by the output file. */
FILE *bts_output_file_stream(struct bts_output_file *of);

/* The final name, for messages. */
const char *bts_output_file_name(const struct bts_output_file *of);

/* The first error a write to the stream met (e.g. -ENOSPC), or 0. Writers
 * that see only ferror() report -EIO; this says why. */
int bts_output_file_error(const struct bts_output_file *of);

/* Flushes, syncs and closes the stream, then renames the temporary file to
 * the final name. 0 or -errno (e.g. -ENOSPC); on error the temporary file is
 * removed and the final name is left untouched. */
int bts_output_file_commit(struct bts_output_file *of);

/* Removes the temporary file unless committed, and frees. NULL is a no-op. */
void bts_output_file_free(struct bts_output_file *of);
