/* SPDX-License-Identifier: MIT */
/* svg: compact, deterministic, script-optional SVG flame graphs. */
#pragma once

#include <stdio.h>

#include "layout.h"

/* Writes a built layout as SVG, with the script that zooms and searches.
 * `out` is flushed, not closed. 0, -ENOMEM, or -errno of a write error
 * (-EIO when the cause is unknown). A bts_flamegraph_writer. */
int bts_svg_write(const struct bts_layout *l, FILE *out);
