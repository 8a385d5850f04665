/* SPDX-License-Identifier: MIT */
/* fixture-lines: symbols check-symbols resolves inside its own process. */
#pragma once

int fixture_lines_target(int x);
extern const int fixture_lines_target_line;
extern char fixture_unsized_a[];
extern char fixture_unsized_b[];
int fixture_linked_entry(int x);
