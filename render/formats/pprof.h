/* SPDX-License-Identifier: MIT */
/* pprof: gzip-compressed profile.proto writer and reader (go tool pprof,
 * Pyroscope, Parca). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "calltree.h"
#include "timeline.h"

/* What the values of a profile are. */
enum bts_pprof_kind {
    BTS_PPROF_CPU = 0, /* samples/count, cpu/nanoseconds (count x period_ns) */
    /* space/bytes (the default for go tool pprof and for our reader: the
     * first), samples/count; each sample weighs the bytes it stands for. */
    BTS_PPROF_MEMORY,
};

struct bts_pprof_opts {
    uint64_t period_ns;     /* nanoseconds per sample; 0 = 1e9 / 100 Hz */
    int64_t time_nanos;     /* collection start (unix ns); 0 keeps output deterministic */
    int64_t duration_nanos; /* 0 = unknown */
    enum bts_pprof_kind kind;
    uint64_t period_bytes; /* memory: bytes per sample when a sample gives none (4096) */
    const char *comment;   /* a note, the first comment (e.g. the command); NULL = none */
    /* Memory: the RSS timeline (bts_timeline_encode's text) as a string
     * no message refers to, and a one-line BTS_TIMELINE_SUMMARY comment.
     * NULL = none. */
    const struct bts_timeline *timeline;
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

/* One sample for bts_pprof_builder_add. */
struct bts_pprof_sample {
    const struct bts_pprof_frame *frames; /* root first */
    size_t n;
    uint64_t count;     /* samples */
    uint64_t bytes;     /* memory: the bytes they stand for; 0 = count x period_bytes */
    const char *thread; /* NULL, or the thread=NAME and tid=TID labels */
    size_t thread_len;
    int64_t tid;
    /* The start of the sample's time bucket (ms since the recording
     * started; the bucket's width is the timeline's bucket_ns), written as
     * the numeric label time=N (unit ms); -1 = none. */
    int64_t time_ms;
};

/* Adds one sample. 0, -EINVAL (bad mapping id), -EOVERFLOW, -ENOMEM. */
int bts_pprof_builder_add(struct bts_pprof_builder *b, const struct bts_pprof_sample *s);

/* Adds every stack of a finished tree (column 0). A root frame
 * `thread NAME (TID)` becomes the labels thread/tid instead of a frame. */
int bts_pprof_builder_add_calltree(struct bts_pprof_builder *b, const struct bts_calltree *t);

/* Encodes and writes the gzip-compressed profile. Sample types are
 * samples/count and cpu/nanoseconds (count * period_ns), or for
 * BTS_PPROF_MEMORY space/bytes and samples/count. 0, -ENOMEM, -EIO. */
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
    int64_t time_nanos;      /* start (unix ns) */
    int64_t duration_nanos;  /* wall time of the recording */
    int64_t period_ns;       /* time between samples, when period_type is in nanoseconds */
    char comment[256];       /* the first comment that is not a timeline */
    char type[32], unit[32]; /* of the value read: "cpu" "nanoseconds", "space" "bytes" */
};
/* bts_pprof_read that also fills *meta (may be NULL). */
int bts_pprof_read_meta(FILE *in, const char *sample_type, struct bts_calltree *t,
                        struct bts_pprof_meta *meta, char *err, size_t errlen);

/* Reading with more choices than bts_pprof_read_meta. */
struct bts_pprof_read_opts {
    const char *sample_type; /* NULL: the first */
    /* Only samples whose time label (bts_pprof_sample.time_ms) is in
     * [from_ms, to_ms]; samples without one are left out. */
    bool window;
    int64_t from_ms, to_ms;
    /* Out (may be NULL): the timeline a comment carries, or NULL when there
     * is none or it is malformed (the profile still reads); caller frees. */
    struct bts_timeline **timeline;
};
/* The same from a buffer or a stream; o may be NULL. Errors as bts_pprof_read. */
int bts_pprof_read_ex(const void *data, size_t len, const struct bts_pprof_read_opts *o,
                      struct bts_calltree *t, struct bts_pprof_meta *meta, char *err,
                      size_t errlen);
int bts_pprof_read_file_ex(FILE *in, const struct bts_pprof_read_opts *o, struct bts_calltree *t,
                           struct bts_pprof_meta *meta, char *err, size_t errlen);
