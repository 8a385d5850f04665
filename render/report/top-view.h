/* SPDX-License-Identifier: MIT */
/* top-view: the table model behind `bt-spy top`: cumulative folded snapshots
 * in, per-function (or per-line) own and total counts out, over the last
 * refresh window and since the last reset, for all threads or one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bts_top_sort {
    BTS_TOP_SORT_OWN_PCT = 0, /* own samples in the window */
    BTS_TOP_SORT_TOTAL_PCT,   /* total samples in the window */
    BTS_TOP_SORT_OWN_TIME,    /* own samples since the reset */
    BTS_TOP_SORT_TOTAL_TIME,  /* total samples since the reset */
};

enum bts_top_group {
    BTS_TOP_GROUP_FUNCTION = 0, /* "f (a.c:1)" and "f (a.c:9)" are one row "f" */
    BTS_TOP_GROUP_LINE,         /* one row per frame name as sampled */
};

struct bts_top_query {
    enum bts_top_group group;
    enum bts_top_sort sort;
    const char *thread; /* a thread root ("thread NAME (TID)"), or NULL for all */
    bool whole_run;     /* window = everything since the last reset */
};

/* One row. own counts samples whose leaf frame is this function; total
 * counts samples with this function anywhere in the stack, once per stack
 * even when it recurses. */
struct bts_top_row {
    const char *name; /* owned by the view; valid until its next update or free */
    uint64_t own_window, total_window;
    uint64_t own_cum, total_cum;
};

struct bts_top_table {
    struct bts_top_row *rows; /* sorted, most expensive first */
    size_t nrows;
    uint64_t window_samples; /* samples (of the selected threads) in the window */
    uint64_t cum_samples;    /* samples (of the selected threads) since the reset */
};

struct bts_top_view;

/* thread_roots: the first frame of a stack that starts with "thread " is a
 * thread root (bts_session_opts.threads), not a function. NULL + errno. */
struct bts_top_view *bts_top_view_new(bool thread_roots);
void bts_top_view_free(struct bts_top_view *v);

/* Takes a new snapshot: folded text whose counts are cumulative since the
 * session started (bts_session_write_folded). The previous snapshot becomes
 * the start of the window. Malformed lines are skipped and counted.
 * 0 or -errno (-ENOMEM); on error the view keeps its old snapshot. */
int bts_top_view_update(struct bts_top_view *v, const char *folded, size_t len);

/* Malformed lines skipped by all updates so far. */
uint64_t bts_top_view_malformed(const struct bts_top_view *v);

/* Starts the cumulative counts (OwnTime, TotalTime) from zero at the
 * current snapshot. The window is unchanged. */
void bts_top_view_reset(struct bts_top_view *v);

/* Thread roots seen so far, in order of first appearance. */
size_t bts_top_view_threads(const struct bts_top_view *v);
const char *bts_top_view_thread(const struct bts_top_view *v, size_t i);

/* The table for q, or NULL + errno (ENOMEM). Free with bts_top_table_free. */
struct bts_top_table *bts_top_view_table(const struct bts_top_view *v,
                                         const struct bts_top_query *q);
void bts_top_table_free(struct bts_top_table *t);

/* Length of the function part of a frame name: the name without a trailing
 * " (file:line)". */
size_t bts_top_function_len(const char *frame, size_t len);
