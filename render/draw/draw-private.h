/* SPDX-License-Identifier: MIT */
/* draw internals: the palettes the layout colours frames with. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"

/* Colours (palette.c), 0xRRGGBB. A frame's colour under palette pal from
 * a hash of its name alone, so a function has the same colour in every
 * graph; a differential frame's from its self-count delta (flamegraph.pl's
 * scale: white at 0, full red or blue at +-maxdelta, negate swaps them), or
 * from the caller's statistics (pale when not significant). */
uint32_t palette_frame(enum bts_render_palette pal, const char *name, size_t len);
uint32_t palette_delta(double delta, double maxdelta, bool negate);
uint32_t palette_compare(double delta, double maxdelta, bool significant, bool negate);
/* The background gradient for --bgcolors NAME (NULL or "": the palette's
 * default). 0 or -EINVAL. */
int palette_background(const char *name, enum bts_render_palette pal, uint32_t *top, uint32_t *bot);
