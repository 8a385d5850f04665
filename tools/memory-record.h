/* SPDX-License-Identifier: MIT */
/* memory-record: the glue record --memory needs between the sampling side
 * (daemon/proc's RSS timeline) and the rendering side (render/core's
 * timeline model, which pprof, speedscope, the chart and report read). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rss-timeline.h"
#include "session.h"
#include "timeline.h"

/* The render side's model of a finished RSS timeline: its points, exact
 * peak, jumps and duration. bucket_ns is the width of the time labels the
 * profile's samples carry (0: none). NULL and errno (ENOMEM). */
struct bts_timeline *bts_memory_timeline(const struct bts_rss_timeline *rss, uint64_t bucket_ns);

/* The user stack copied per fault sample unless --stack-size says
 * otherwise: faults come in bursts of thousands a second, and a quarter of
 * the time profile's 8 KiB keeps the kernel's copy and the ring traffic
 * small enough that bursts are not lost (a fault's stack is its caller's). */
#define BTS_MEMORY_STACK_SIZE 2048

/* --memory: a stack size left at 0 becomes the smaller copy fault samples
 * take (without --memory the session chooses). */
void bts_memory_defaults(struct bts_session_opts *o);

/* Why --memory cannot go with these session options (a usage error's
 * text), or NULL when it can. */
const char *bts_memory_refusal(const struct bts_session_opts *o);

/* The fault period in force (opts' or the default) and the bytes one
 * sample stands for (period x page size). */
unsigned bts_memory_fault_period(const struct bts_session_opts *o);
uint64_t bts_memory_bytes_per_sample(const struct bts_session_opts *o);

/* What --memory samples, for notes and headers: "page faults, one in 32
 * (128 KiB a sample)". Returns buf. */
char *bts_memory_describe(const struct bts_session_opts *o, char *buf, size_t cap);

/* Reads the RSS if a read is due, and returns how long the caller may
 * wait for samples before the next one (0..max_ms ms). */
int bts_memory_poll_rss(struct bts_rss_timeline *rss, int max_ms);

/* Whether pid's main thread has child processes now (its
 * /proc/PID/task/PID/children is not empty). False when it cannot tell. */
bool bts_memory_has_children(pid_t pid);
