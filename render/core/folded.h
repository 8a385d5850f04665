/* SPDX-License-Identifier: MIT */
/* folded: streaming reader for folded (collapsed) stacks, `a;b;c 42`. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Stop at the first malformed line (bts_folded_reader_next returns -EBADMSG
 * after reporting it) instead of skipping it. */
#define BTS_FOLDED_STRICT 0x1u

/* Called once per malformed line with the reader's input name, the 1-based
 * line number and a short lowercase reason ("missing count"). The reader
 * never prints; the caller decides how to show "file:line: reason". */
typedef void (*bts_folded_diag_fn)(void *ctx, const char *file, uint64_t line, const char *reason);

/* One stack line. `stack` points into the reader's buffer (NUL-terminated,
 * root first, frames separated by ';', raw bytes: no UTF-8 check) and stays
 * valid until the next call to bts_folded_reader_next or _free.
 * ncounts is 1 for `stack count` and 2 for differential `stack before after`
 * (then count[0] = before, count[1] = after). The first stack line of an input
 * fixes ncounts for the whole input; a later line with a different number of
 * counts is malformed. */
struct bts_folded_record {
    const char *stack;
    size_t stack_len;
    uint64_t count[2];
    unsigned ncounts;
    uint64_t line;
};

struct bts_folded_reader;

/* Reads `in` (not owned, not closed) in large blocks. `name` labels
 * diagnostics ("-" or "<stdin>" for stdin) and is copied. diag may be NULL.
 * flags: BTS_FOLDED_*. Returns NULL and sets errno (ENOMEM). */
struct bts_folded_reader *bts_folded_reader_new(FILE *in, const char *name, unsigned flags,
                                                bts_folded_diag_fn diag, void *diag_ctx);
void bts_folded_reader_free(struct bts_folded_reader *r);

/* Returns 1 and fills *rec for the next stack line (blank lines, CR of CRLF
 * and malformed lines are skipped), 0 at end of input, -EBADMSG on a
 * malformed line in strict mode, -EMSGSIZE (after reporting it, and from
 * then on) at a line longer than BTS_LINE_LIMIT_BYTES (line-limit.h),
 * -errno on a read error, -ENOMEM. */
int bts_folded_reader_next(struct bts_folded_reader *r, struct bts_folded_record *rec);

/* Counters so far: stack lines returned and malformed lines reported. */
uint64_t bts_folded_reader_stacks(const struct bts_folded_reader *r);
uint64_t bts_folded_reader_malformed(const struct bts_folded_reader *r);
/* Bytes consumed from the input so far. */
uint64_t bts_folded_reader_bytes(const struct bts_folded_reader *r);

/* Writes one folded line: the stack bytes as they are, then each count.
 * Returns 0 or -EIO (check ferror(out) for the cause). */
int bts_folded_write(FILE *out, const char *stack, size_t stack_len, const uint64_t *counts,
                     unsigned ncounts);

/* True when `name` is a `thread NAME (TID)` root frame; fills the thread
 * name span and the tid. */
bool bts_folded_parse_thread_frame(const char *name, size_t len, const char **tname,
                                   size_t *tname_len, int64_t *tid);
/* True when `name` is a `thread NAME (TID)` or `process NAME (PID)` root
 * frame: context, not a function. */
bool bts_folded_is_context_frame(const char *name, size_t len);
