/* SPDX-License-Identifier: MIT */
/* report-private: table cells shared by the report and compare writers. */
#pragma once

#include <stddef.h>
#include <stdio.h>

/* A markdown table cell: the name in a code span, pipes escaped. */
void bts_report_markdown_cell(FILE *out, const char *s, size_t len);
/* A CSV cell, quoted when it holds a comma, quote, newline or edge space. */
void bts_report_csv_cell(FILE *out, const char *s, size_t len);
/* A text cell: control characters become '?' so the columns hold. */
void bts_report_text_cell(FILE *out, const char *s, size_t len);
