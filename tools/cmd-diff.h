/* SPDX-License-Identifier: MIT */
/* cmd-diff: what bt-spy diff shares with report --compare: reading two
 * profiles of any format, their statistics, and the diff picture. */
#pragma once

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "calltree.h"
#include "compare.h"
#include "format.h"
#include "render.h"

/* From cmd-convert.c: the input side every reading command shares. */
struct bts_convert_input {
    struct bts_format_load_opts load;
    uint64_t diags;
};
int bts_convert_load(const char *path, struct bts_convert_input *in, struct bts_calltree *t);
int bts_convert_input_option(const char *cmd, int c, const char *arg, struct bts_convert_input *in);
struct option *bts_convert_longopts(const struct option *own, size_t n);

/* The inputs of a comparison and the options that shape it. */
struct bts_diff_inputs {
    struct bts_convert_input in;
    struct bts_compare_opts cmp;
    char *work_unit;                 /* owned; cmp.work_unit points here */
    struct bts_profile_meta meta[2]; /* what the files say; commands point here */
};

/* --measure, --per, --duration, --rate, --confidence: for getopt tables
 * and usage texts. */
extern const struct option bts_diff_compare_longopts[];
extern const size_t bts_diff_compare_longopt_count;
extern const char bts_diff_compare_help[];

/* Handles one of those options, or an input option (--from ...). 0,
 * BTS_EXIT_USAGE after printing the error, or 1 when c is neither. */
int bts_diff_compare_option(const char *cmd, int c, const char *arg, struct bts_diff_inputs *d);

/* Reads BEFORE and AFTER, merges them into one differential tree and
 * computes the statistics. Prints its own errors; returns an exit status
 * (0 on success, when *tree and *cmp belong to the caller). */
int bts_diff_load(const char *cmd, char *const paths[2], struct bts_diff_inputs *d,
                  struct bts_calltree **tree, struct bts_compare **cmp);

/* The picture: ro's title, subtitle and notes where given, else both
 * inputs and the colour key. Returns bts_render_tree's errors. */
int bts_diff_draw(const struct bts_calltree *t, const struct bts_compare *cmp,
                  const struct bts_render_opts *ro, enum bts_render_widths widths,
                  enum bts_render_format fmt, FILE *out);

void bts_diff_inputs_free(struct bts_diff_inputs *d);
