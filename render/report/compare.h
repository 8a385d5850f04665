/* SPDX-License-Identifier: MIT */
/* compare: BEFORE/AFTER statistics of two profiles (normalisation, change,
 * significance) and the `bt-spy report --compare` table. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "calltree.h"
#include "report.h"

/* What a function's value is on each side. */
enum bts_compare_measure {
    BTS_COMPARE_AUTO = 0, /* TIME when both sides know their duration, else SHARES
                           * (with a unit of work: TIME when both know a time, else COUNTS) */
    BTS_COMPARE_SHARES,   /* percent of the side's samples; changes in pp */
    BTS_COMPARE_TIME,     /* seconds: share x the side's time */
    BTS_COMPARE_COUNTS,   /* raw sample counts */
};

/* What is known about one input. Unknown numbers are 0, unknown strings NULL. */
struct bts_compare_side {
    const char *name;     /* file name */
    const char *command;  /* what was profiled */
    double duration_s;    /* wall time of the recording */
    double rate_hz;       /* samples per second per thread */
    int64_t start_unix_s; /* when the recording started */
    double work;          /* units of work done (--per), 0 = not given */
};

struct bts_compare_opts {
    enum bts_compare_measure measure;
    const char *work_unit; /* name of the unit of work ("bars"); NULL = no --per */
    double confidence;     /* 0.5 .. 0.999999; 0 means 0.99 */
    struct bts_compare_side side[2];
};

/* One item's numbers (a function, or a node of the tree). value = scale x
 * count / total samples of the side; change = value[1] - value[0]. */
struct bts_compare_value {
    uint64_t count[2];
    double value[2];
    double change;
    double half_ci;   /* change +- half_ci is the interval at the confidence level */
    double p;         /* two-sided p-value of "no change"; 1 when untested */
    bool significant; /* after Benjamini-Hochberg over the items of its family */
};

struct bts_compare;

/* Statistics of a finished differential tree: BEFORE in column 0, AFTER in
 * column 1. The tree must outlive the result. NULL + errno: ENOMEM; ENODATA
 * when a side has no samples; EINVAL when the measure needs what a side
 * lacks (TIME without a duration or rate, a unit of work without both
 * amounts, SHARES with a unit of work); bts_compare_why() cannot say why
 * then, so callers check bts_compare_check() first. */
struct bts_compare *bts_compare_new(const struct bts_calltree *t, const struct bts_compare_opts *o);
void bts_compare_free(struct bts_compare *c);

/* Why o cannot be compared ("--measure time needs ..."), or NULL when it can. */
const char *bts_compare_check(const struct bts_compare_opts *o);

/* The measure in use after AUTO is resolved. */
enum bts_compare_measure bts_compare_measure_used(const struct bts_compare *c);
/* value = scale[side] x count / total[side]. */
double bts_compare_scale(const struct bts_compare *c, unsigned side);
uint64_t bts_compare_total(const struct bts_compare *c, unsigned side);
double bts_compare_confidence(const struct bts_compare *c);
/* Unit of values ("%", "s", "samples", "s/bars") and of changes ("pp", ...). */
const char *bts_compare_unit(const struct bts_compare *c);
const char *bts_compare_change_unit(const struct bts_compare *c);

/* A node of the tree (inclusive counts); the nodes are one family for the
 * significance correction. */
void bts_compare_node(const struct bts_compare *c, bts_calltree_node n,
                      struct bts_compare_value *v);

/* Functions (a sample counts once per distinct function on its stack;
 * leading thread/process frames are left out), ordered by |change| of the
 * inclusive value, largest first (ties: callers first). */
size_t bts_compare_function_count(const struct bts_compare *c);
const char *bts_compare_function(const struct bts_compare *c, size_t i, size_t *len,
                                 struct bts_compare_value *total, struct bts_compare_value *self);

/* "naive.folded: 1497 samples, 3.0 s at 499 Hz, 2024-12-01 10:00 UTC"
 * into buf (always terminated). */
void bts_compare_describe_side(const struct bts_compare *c, unsigned side, char *buf, size_t len);
/* "total 3.4 s → 3.0 s (−12%); bte_phase_history −66.8 pp (significant)" */
void bts_compare_summary(const struct bts_compare *c, char *buf, size_t len);
/* "2.01 s", "67.1%", "1,127 samples" for a value; with sign for a change. */
void bts_compare_format_value(const struct bts_compare *c, double v, bool change, char *buf,
                              size_t len);

struct bts_compare_report_opts {
    size_t top;                  /* rows; 0 = all */
    enum bts_report_style style; /* text, markdown, csv, json */
    const char *svg_link;        /* markdown: images to link below the table, or NULL */
    const char *png_link;
};

/* Writes the summary, both sides and the table of top changes: rank,
 * function, before, after, change, interval, significant, counts. 0 or -EIO. */
int bts_compare_write(const struct bts_compare *c, const struct bts_compare_report_opts *o,
                      FILE *out);
