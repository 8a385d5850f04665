/* SPDX-License-Identifier: MIT */
/* pprof: gzip-compressed profile.proto writer and reader (go tool pprof,
 * Pyroscope, Parca). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "calltree.h"

struct bts_pprof_opts {
    uint64_t period_ns;     /* nanoseconds per sample; 0 = 1e9 / 100 Hz */
    int64_t time_nanos;     /* collection start (unix ns); 0 keeps output deterministic */
    int64_t duration_nanos; /* 0 = unknown */
};

/* One frame for the builder. address and mapping_id are 0 when unknown
 * (folded input); frames with the same name, address and mapping share one
 * location. */
struct bts_pprof_frame {
    const char *name;
    size_t len;
    uint64_t address;
    uint64_t mapping_id; /* from bts_pprof_builder_add_mapping, or 0 */
};

struct bts_pprof_builder;

/* o may be NULL (defaults). Returns NULL and sets errno (ENOMEM). */
struct bts_pprof_builder *bts_pprof_builder_new(const struct bts_pprof_opts *o);
void bts_pprof_builder_free(struct bts_pprof_builder *b);

/* Declares a mapping (an executable or library mapped at [start, limit));
 * *id receives its 1-based id. 0 or -ENOMEM. */
int bts_pprof_builder_add_mapping(struct bts_pprof_builder *b, uint64_t start, uint64_t limit,
                                  uint64_t file_offset, const char *filename, const char *build_id,
                                  uint64_t *id);

/* Adds one sample: frames root first, `count` samples. thread may be NULL;
 * with it the sample gets the labels thread=NAME and tid=TID. 0, -EINVAL
 * (bad mapping id) or -ENOMEM. */
int bts_pprof_builder_add_sample(struct bts_pprof_builder *b, const struct bts_pprof_frame *frames,
                                 size_t n, uint64_t count, const char *thread, size_t thread_len,
                                 int64_t tid);

/* Adds every stack of a finished tree (column 0). A root frame
 * `thread NAME (TID)` becomes the labels thread/tid instead of a frame. */
int bts_pprof_builder_add_calltree(struct bts_pprof_builder *b, const struct bts_calltree *t);

/* Encodes and writes the gzip-compressed profile. Sample types are
 * samples/count and cpu/nanoseconds (count * period_ns). 0, -ENOMEM, -EIO. */
int bts_pprof_builder_write(struct bts_pprof_builder *b, FILE *out);

/* Whole conversions. name is used for diagnostics only. */
int bts_pprof_write_calltree(const struct bts_calltree *t, const struct bts_pprof_opts *o,
                             FILE *out);
/* Reads folded stacks from folded_in (malformed lines are skipped) and
 * writes the pprof. Easy to call on a memory buffer through fmemopen. */
int bts_pprof_write_folded(FILE *folded_in, const char *name, const struct bts_pprof_opts *o,
                           FILE *out);

/* Reads a pprof (gzip-compressed or raw) into t (column 0, not finished).
 * sample_type picks the value by type name ("cpu", "samples") or NULL for
 * the first. Labels thread/tid become a `thread NAME (TID)` root frame;
 * inlined lines are expanded (innermost last). On malformed input returns
 * -EBADMSG and describes it in err ("offset N: reason"). */
int bts_pprof_read(FILE *in, const char *sample_type, struct bts_calltree *t, char *err,
                   size_t errlen);
int bts_pprof_read_buffer(const void *data, size_t len, const char *sample_type,
                          struct bts_calltree *t, char *err, size_t errlen);

/* What a profile says about its recording; 0 or "" where it does not. */
struct bts_pprof_meta {
    int64_t time_nanos;     /* start (unix ns) */
    int64_t duration_nanos; /* wall time of the recording */
    int64_t period_ns;      /* time between samples, when period_type is in nanoseconds */
    char comment[256];      /* the first comment */
};
/* bts_pprof_read that also fills *meta (may be NULL). */
int bts_pprof_read_meta(FILE *in, const char *sample_type, struct bts_calltree *t,
                        struct bts_pprof_meta *meta, char *err, size_t errlen);
