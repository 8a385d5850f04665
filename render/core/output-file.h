/* SPDX-License-Identifier: MIT */
/* output-file: an output written to a temporary file beside its final name
 * and renamed into place only when complete, so a failure (a full disk, a
 * crash) never leaves a truncated file that looks finished. "-" is stdout. */
#pragma once

#include <stdio.h>

struct bts_output_file;

/* Creates the temporary file now, which also proves the destination is
 * writable. 0 or -errno. */
int bts_output_file_open(const char *path, struct bts_output_file **out);

/* The stream to write to; owned by the output file. */
FILE *bts_output_file_stream(struct bts_output_file *of);

/* The final name, for messages. */
const char *bts_output_file_name(const struct bts_output_file *of);

/* Flushes, syncs and closes the stream, then renames the temporary file to
 * the final name. 0 or -errno (e.g. -ENOSPC); on error the temporary file is
 * removed and the final name is left untouched. */
int bts_output_file_commit(struct bts_output_file *of);

/* Removes the temporary file unless committed, and frees. NULL is a no-op. */
void bts_output_file_free(struct bts_output_file *of);
