/* SPDX-License-Identifier: MIT */
/* memory-record: the glue record --memory needs between the sampling side
 * (daemon/proc's RSS timeline) and the rendering side (render/core's
 * timeline model, which pprof, speedscope, the chart and report read). */
#pragma once

#include <stdint.h>

#include "rss-timeline.h"
#include "timeline.h"

/* The render side's model of a finished RSS timeline: its points, exact
 * peak, jumps and duration. bucket_ns is the width of the time labels the
 * profile's samples carry (0: none). NULL and errno (ENOMEM). */
struct bts_timeline *bts_memory_timeline(const struct bts_rss_timeline *rss, uint64_t bucket_ns);
