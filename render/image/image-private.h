/* SPDX-License-Identifier: MIT */
/* image internals: the cairo back ends, as bts_flamegraph_writer. */
#pragma once

#include <stdio.h>

#include "layout.h"

/* A built layout as PNG or PDF, drawn as the SVG draws it. 0, -EFBIG for a
 * PNG over 32767 px, -ENOMEM, or -errno of a write error (-EIO when the
 * cause is unknown). */
int image_write_png(const struct bts_layout *l, FILE *out);
int image_write_pdf(const struct bts_layout *l, FILE *out);
