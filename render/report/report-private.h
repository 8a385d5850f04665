/* SPDX-License-Identifier: MIT */
/* report-private: table cells shared by the report and compare writers. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"

/* One function of a tree: its self and total counts. */
struct bts_report_row {
    uint32_t name; /* bts_calltree_name_by_id */
    uint64_t self, total;
};
/* The functions of a finished tree, sorted `by` (ties: the other count,
 * then the name id), and the grand total. *rows is the caller's to free.
 * A count is in the total of each distinct function on its stack once;
 * leading thread/process frames are left out. 0 or -ENOMEM. */
int bts_report_rows(const struct bts_calltree *t, enum bts_report_order by,
                    struct bts_report_row **rows, size_t *nrows, uint64_t *grand);

/* How a function table shows its counts: as samples or as bytes. */
struct bts_report_unit {
    const char *name; /* in CSV headers and JSON keys: self_NAME, total_NAME */
    int width;        /* of the text columns */
    /* The count as text and markdown show it, into buf; NULL: the number. */
    const char *(*format)(uint64_t count, char *buf, size_t len);
};
/* The width of the text table's function column for rows[0..n): the
 * longest name, 8 to 60. */
size_t bts_report_name_width(const struct bts_calltree *t, const struct bts_report_row *rows,
                             size_t n);
/* Writes rows[i] as the table line of rank i + 1 in `style`: the name, its
 * self and total shares of grand, and its counts in `unit`. */
void bts_report_write_row(FILE *out, enum bts_report_style style, const struct bts_calltree *t,
                          const struct bts_report_row *rows, size_t i, uint64_t grand,
                          size_t name_width, const struct bts_report_unit *unit);

/* A markdown table cell: the name in a code span, pipes escaped. */
void bts_report_markdown_cell(FILE *out, const char *s, size_t len);
/* A CSV cell, quoted when it holds a comma, quote, newline or edge space. */
void bts_report_csv_cell(FILE *out, const char *s, size_t len);
/* A text cell: control characters become '?' so the columns hold. */
void bts_report_text_cell(FILE *out, const char *s, size_t len);
