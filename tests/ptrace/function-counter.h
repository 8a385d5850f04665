/* SPDX-License-Identifier: MIT */
/* function-counter: a backend sink for the ptrace tests that unwinds each
 * sample with bts_unwinder, names frames with bts_symbolizer and counts, per
 * function name, the samples whose stack holds it. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "backend-private.h"

struct function_counter;

/* NULL + errno. The maps are read lazily (a launched target execs first). */
struct function_counter *function_counter_new(pid_t pid);
void function_counter_free(struct function_counter *fc);

/* A sink feeding the counter; valid while the counter lives. */
struct bts_backend_sink function_counter_sink(struct function_counter *fc);

uint64_t function_counter_samples(const struct function_counter *fc);
uint64_t function_counter_lost(const struct function_counter *fc);
/* Samples that could not be unwound at all. */
uint64_t function_counter_failed(const struct function_counter *fc);
/* Samples whose stack holds `name` (counted once per sample). */
uint64_t function_counter_count(const struct function_counter *fc, const char *name);
/* Samples of thread `tid`. */
uint64_t function_counter_thread(const struct function_counter *fc, pid_t tid);
/* Percentage of samples holding `name`. */
double function_counter_share(const struct function_counter *fc, const char *name);
/* "NAME COUNT" lines, most samples first. */
void function_counter_print(const struct function_counter *fc, FILE *out);
