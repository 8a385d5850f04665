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

/* A markdown table cell: the name in a code span, pipes escaped. */
void bts_report_markdown_cell(FILE *out, const char *s, size_t len);
/* A CSV cell, quoted when it holds a comma, quote, newline or edge space. */
void bts_report_csv_cell(FILE *out, const char *s, size_t len);
/* A text cell: control characters become '?' so the columns hold. */
void bts_report_text_cell(FILE *out, const char *s, size_t len);
