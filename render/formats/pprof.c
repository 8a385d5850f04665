/* SPDX-License-Identifier: MIT */
/* pprof: profile.proto builder (interned strings, functions, locations),
 * gzip writer and a bounds-checked reader. */
#include "pprof.h"

#include "array.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "folded.h"

#define DEFAULT_PERIOD_NS    (1000000000ull / 100)
#define DEFAULT_PERIOD_BYTES 4096
/* A pprof larger than this (compressed or not) is refused rather than
 * exhausting memory on a hostile input. */
#define MAX_INPUT_BYTES (1ull << 31)

typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__ValueType pb_value_type;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Label pb_label;
typedef Perftools__Profiles__Mapping pb_mapping;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Line pb_line;
typedef Perftools__Profiles__Function pb_function;

/* Open-addressing table of 1-based ids keyed by a 64-bit hash; the caller
 * compares candidates. */
struct id_table {
    uint32_t *slots; /* 0 = empty */
    uint64_t *hashes;
    size_t cap; /* power of two */
    size_t used;
};

struct location_key {
    uint64_t function_id;
    uint64_t address;
    uint64_t mapping_id;
};

struct sample_rec {
    size_t first; /* index into b->stack_ids */
    size_t n;
    uint64_t count;
    uint64_t bytes;
    int64_t thread; /* string index, 0 = none */
    int64_t tid;
    int64_t time_ms; /* -1 = none */
};

struct bts_pprof_builder {
    struct bts_pprof_opts opts;
    char **strings;
    size_t *string_lens;
    size_t nstrings, strings_cap;
    struct id_table string_index; /* ids are string index + 1 */
    uint64_t *function_of_string; /* 0 = none */
    size_t nfunctions;
    int64_t *function_names; /* string index per function id - 1 */
    struct location_key *locations;
    size_t nlocations, locations_cap;
    struct id_table location_index;
    pb_mapping *mappings;
    size_t nmappings;
    uint64_t *stack_ids;
    size_t nstack_ids, stack_ids_cap;
    struct sample_rec *samples;
    size_t nsamples, samples_cap;
    bool time_labels; /* some sample has one */
};

static uint64_t hash_bytes(const void *data, size_t len, uint64_t h)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

#define HASH_SEED 0xcbf29ce484222325ull

static int id_table_grow(struct id_table *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 64;
    uint32_t *slots = calloc(ncap, sizeof(*slots));
    uint64_t *hashes = calloc(ncap, sizeof(*hashes));

    if (!slots || !hashes) {
        free(slots);
        free(hashes);
        return -ENOMEM;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i])
            continue;
        size_t j = t->hashes[i] & (ncap - 1);
        while (slots[j])
            j = (j + 1) & (ncap - 1);
        slots[j] = t->slots[i];
        hashes[j] = t->hashes[i];
    }
    free(t->slots);
    free(t->hashes);
    t->slots = slots;
    t->hashes = hashes;
    t->cap = ncap;
    return 0;
}

static void id_table_free(struct id_table *t)
{
    free(t->slots);
    free(t->hashes);
}

/* Returns the string index of name, adding it if new; -ENOMEM. */
static int64_t intern(struct bts_pprof_builder *b, const char *name, size_t len)
{
    struct id_table *t = &b->string_index;
    uint64_t h = hash_bytes(name, len, HASH_SEED);
    size_t j;

    if ((t->used + 1) * 2 > t->cap && id_table_grow(t))
        return -ENOMEM;
    for (j = h & (t->cap - 1); t->slots[j]; j = (j + 1) & (t->cap - 1)) {
        uint32_t i = t->slots[j] - 1;
        if (t->hashes[j] == h && b->string_lens[i] == len && !memcmp(b->strings[i], name, len))
            return i;
    }
    if (b->nstrings >= UINT32_MAX - 1)
        return -ENOMEM;
    if (bts_array_grow((void **)&b->strings, &b->strings_cap, b->nstrings + 1, sizeof(*b->strings)))
        return -ENOMEM;
    size_t lens_cap = b->strings_cap;
    void *lens = realloc(b->string_lens, lens_cap * sizeof(*b->string_lens));
    if (!lens)
        return -ENOMEM;
    b->string_lens = lens;
    lens = realloc(b->function_of_string, lens_cap * sizeof(*b->function_of_string));
    if (!lens)
        return -ENOMEM;
    b->function_of_string = lens;
    char *copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, name, len);
    copy[len] = '\0';
    b->strings[b->nstrings] = copy;
    b->string_lens[b->nstrings] = len;
    b->function_of_string[b->nstrings] = 0;
    t->slots[j] = (uint32_t)(b->nstrings + 1);
    t->hashes[j] = h;
    t->used++;
    return (int64_t)b->nstrings++;
}

static int64_t intern_cstr(struct bts_pprof_builder *b, const char *s)
{
    return intern(b, s, strlen(s));
}

struct bts_pprof_builder *bts_pprof_builder_new(const struct bts_pprof_opts *o)
{
    struct bts_pprof_builder *b = calloc(1, sizeof(*b));

    if (!b)
        return NULL;
    if (o)
        b->opts = *o;
    if (!b->opts.period_ns)
        b->opts.period_ns = DEFAULT_PERIOD_NS;
    if (!b->opts.period_bytes)
        b->opts.period_bytes = DEFAULT_PERIOD_BYTES;
    /* string_table[0] must be "". */
    if (intern(b, "", 0) < 0) {
        bts_pprof_builder_free(b);
        errno = ENOMEM;
        return NULL;
    }
    return b;
}

void bts_pprof_builder_free(struct bts_pprof_builder *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nstrings; i++)
        free(b->strings[i]);
    free(b->strings);
    free(b->string_lens);
    free(b->function_of_string);
    free(b->function_names);
    id_table_free(&b->string_index);
    free(b->locations);
    id_table_free(&b->location_index);
    free(b->mappings);
    free(b->stack_ids);
    free(b->samples);
    free(b);
}

int bts_pprof_builder_add_mapping(struct bts_pprof_builder *b, uint64_t start, uint64_t limit,
                                  uint64_t file_offset, const char *filename, const char *build_id,
                                  uint64_t *id)
{
    pb_mapping m = PERFTOOLS__PROFILES__MAPPING__INIT;
    int64_t fn = intern_cstr(b, filename ? filename : "");
    int64_t bid = intern_cstr(b, build_id ? build_id : "");
    void *p;

    if (fn < 0 || bid < 0)
        return -ENOMEM;
    p = realloc(b->mappings, (b->nmappings + 1) * sizeof(*b->mappings));
    if (!p)
        return -ENOMEM;
    b->mappings = p;
    m.id = b->nmappings + 1;
    m.memory_start = start;
    m.memory_limit = limit;
    m.file_offset = file_offset;
    m.filename = fn;
    m.build_id = bid;
    m.has_functions = 1;
    b->mappings[b->nmappings++] = m;
    *id = m.id;
    return 0;
}

static int64_t function_id(struct bts_pprof_builder *b, const char *name, size_t len)
{
    int64_t s = intern(b, name, len);

    if (s < 0)
        return s;
    if (!b->function_of_string[s]) {
        void *p = realloc(b->function_names, (b->nfunctions + 1) * sizeof(*b->function_names));
        if (!p)
            return -ENOMEM;
        b->function_names = p;
        b->function_names[b->nfunctions++] = s;
        b->function_of_string[s] = b->nfunctions;
    }
    return (int64_t)b->function_of_string[s];
}

static int64_t location_id(struct bts_pprof_builder *b, const struct location_key *k)
{
    struct id_table *t = &b->location_index;
    uint64_t h = hash_bytes(k, sizeof(*k), HASH_SEED);
    size_t j;

    if ((t->used + 1) * 2 > t->cap && id_table_grow(t))
        return -ENOMEM;
    for (j = h & (t->cap - 1); t->slots[j]; j = (j + 1) & (t->cap - 1)) {
        const struct location_key *c = &b->locations[t->slots[j] - 1];
        if (t->hashes[j] == h && !memcmp(c, k, sizeof(*k)))
            return t->slots[j];
    }
    if (b->nlocations >= UINT32_MAX - 1)
        return -ENOMEM;
    if (bts_array_grow((void **)&b->locations, &b->locations_cap, b->nlocations + 1,
                       sizeof(*b->locations)))
        return -ENOMEM;
    b->locations[b->nlocations++] = *k;
    t->slots[j] = (uint32_t)b->nlocations;
    t->hashes[j] = h;
    t->used++;
    return (int64_t)b->nlocations;
}

int bts_pprof_builder_add_sample(struct bts_pprof_builder *b, const struct bts_pprof_frame *frames,
                                 size_t n, uint64_t count, const char *thread, size_t thread_len,
                                 int64_t tid)
{
    struct bts_pprof_sample one = {frames, n, count, 0, thread, thread_len, tid, -1};

    return bts_pprof_builder_add(b, &one);
}

int bts_pprof_builder_add(struct bts_pprof_builder *b, const struct bts_pprof_sample *in)
{
    const struct bts_pprof_frame *frames = in->frames;
    size_t n = in->n;
    uint64_t bytes = in->bytes;
    struct sample_rec *s;
    int64_t th = 0;

    if (!bytes)
        bytes = in->count > UINT64_MAX / b->opts.period_bytes ? UINT64_MAX
                                                              : in->count * b->opts.period_bytes;
    if (in->count > INT64_MAX || bytes > INT64_MAX)
        return -EOVERFLOW;
    if (bts_array_grow((void **)&b->stack_ids, &b->stack_ids_cap, b->nstack_ids + n,
                       sizeof(*b->stack_ids)))
        return -ENOMEM;
    if (bts_array_grow((void **)&b->samples, &b->samples_cap, b->nsamples + 1, sizeof(*b->samples)))
        return -ENOMEM;
    /* pprof lists locations leaf first. */
    for (size_t i = 0; i < n; i++) {
        const struct bts_pprof_frame *f = &frames[n - 1 - i];
        struct location_key k = {0, f->address, f->mapping_id};
        int64_t fid, lid;

        if (f->mapping_id > b->nmappings)
            return -EINVAL;
        fid = function_id(b, f->name, f->len);
        if (fid < 0)
            return (int)fid;
        k.function_id = (uint64_t)fid;
        lid = location_id(b, &k);
        if (lid < 0)
            return (int)lid;
        b->stack_ids[b->nstack_ids + i] = (uint64_t)lid;
    }
    if (in->thread) {
        th = intern(b, in->thread, in->thread_len);
        if (th < 0)
            return (int)th;
    }
    s = &b->samples[b->nsamples++];
    s->first = b->nstack_ids;
    s->n = n;
    s->count = in->count;
    s->bytes = bytes;
    s->thread = th;
    s->tid = in->tid;
    s->time_ms = in->time_ms < 0 ? -1 : in->time_ms;
    b->time_labels |= s->time_ms >= 0;
    b->nstack_ids += n;
    return 0;
}

int bts_pprof_builder_add_calltree(struct bts_pprof_builder *b, const struct bts_calltree *t)
{
    struct bts_pprof_frame *frames = calloc((size_t)bts_calltree_max_depth(t) + 1, sizeof(*frames));
    struct bts_calltree_walk w;
    bts_calltree_node n = BTS_CALLTREE_ROOT;
    int err = bts_calltree_walk_init(&w, t);

    if (!err && !frames)
        err = -ENOMEM;
    if (err)
        goto out;
    /* Depth first with children in name order: deterministic output. The
     * root's own count is the samples without frames. */
    do {
        uint64_t self = bts_calltree_self(t, n, 0);
        const char *tname = NULL;
        size_t tlen = 0, first = 1, nf = 0;
        int64_t tid = 0;
        size_t root_len;
        const char *root;

        if (!self)
            continue;
        root = w.sp > 1 ? bts_calltree_name(t, w.path[1], &root_len) : NULL;
        if (root && bts_folded_parse_thread_frame(root, root_len, &tname, &tlen, &tid))
            first = 2;
        else
            tname = NULL;
        for (size_t i = first; i < w.sp; i++) {
            frames[nf].name = bts_calltree_name(t, w.path[i], &frames[nf].len);
            frames[nf].address = 0;
            frames[nf].mapping_id = 0;
            nf++;
        }
        err = bts_pprof_builder_add_sample(b, frames, nf, self, tname, tlen, tid);
        if (err)
            goto out;
    } while ((n = bts_calltree_walk_next(&w, t)) != BTS_CALLTREE_ROOT);
out:
    bts_calltree_walk_free(&w);
    free(frames);
    return err;
}

static int gzip_write(const uint8_t *data, size_t len, FILE *out)
{
    z_stream z;
    unsigned char buf[1 << 16];
    int zr, err = 0;

    memset(&z, 0, sizeof(z));
    /* windowBits 15 + 16: gzip wrapper with mtime 0, so output is
     * deterministic. */
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    z.next_in = (unsigned char *)data;
    do {
        size_t chunk = len > UINT_MAX ? UINT_MAX : len;
        z.avail_in = (unsigned)chunk;
        len -= chunk;
        do {
            z.next_out = buf;
            z.avail_out = sizeof(buf);
            zr = deflate(&z, len ? Z_NO_FLUSH : Z_FINISH);
            if (zr == Z_STREAM_ERROR) {
                err = -EIO;
                goto out;
            }
            size_t have = sizeof(buf) - z.avail_out;
            if (have && fwrite(buf, 1, have, out) != have) {
                err = -EIO;
                goto out;
            }
        } while (z.avail_out == 0);
    } while (len);
    if (zr != Z_STREAM_END)
        err = -EIO;
out:
    deflateEnd(&z);
    return err;
}

/* The protobuf-c message tree of one profile, pointing into the builder. */
struct pb_tree {
    pb_sample *samples, **samplep;
    pb_label *labels, **labelp;
    pb_location *locs, **locp;
    pb_line *lines, **linep;
    pb_function *funcs, **funcp;
    pb_mapping **mapp;
    int64_t *values;
};

static void tree_free(struct pb_tree *m)
{
    free(m->samples);
    free(m->samplep);
    free(m->labels);
    free(m->labelp);
    free(m->values);
    free(m->locs);
    free(m->locp);
    free(m->lines);
    free(m->linep);
    free(m->funcs);
    free(m->funcp);
    free(m->mapp);
}

static int tree_alloc(struct pb_tree *m, const struct bts_pprof_builder *b)
{
    size_t ns = b->nsamples ? b->nsamples : 1, nl = b->nlocations ? b->nlocations : 1;
    size_t nf = b->nfunctions ? b->nfunctions : 1, nm = b->nmappings ? b->nmappings : 1;

    m->samples = calloc(ns, sizeof(*m->samples));
    m->samplep = calloc(ns, sizeof(*m->samplep));
    m->labels = calloc(ns * 3, sizeof(*m->labels));
    m->labelp = calloc(ns * 3, sizeof(*m->labelp));
    m->values = calloc(ns * 2, sizeof(*m->values));
    m->locs = calloc(nl, sizeof(*m->locs));
    m->locp = calloc(nl, sizeof(*m->locp));
    m->lines = calloc(nl, sizeof(*m->lines));
    m->linep = calloc(nl, sizeof(*m->linep));
    m->funcs = calloc(nf, sizeof(*m->funcs));
    m->funcp = calloc(nf, sizeof(*m->funcp));
    m->mapp = calloc(nm, sizeof(*m->mapp));
    if (!m->samples || !m->samplep || !m->labels || !m->labelp || !m->values || !m->locs ||
        !m->locp || !m->lines || !m->linep || !m->funcs || !m->funcp || !m->mapp)
        return -ENOMEM;
    return 0;
}

/* String indexes of the label keys and units. */
struct label_keys {
    int64_t thread, tid, time, ms;
};

/* Samples: a count and its cpu time (or its bytes and count), with
 * thread/tid and time labels when known. */
static void tree_fill_samples(struct pb_tree *m, const struct bts_pprof_builder *b,
                              const struct label_keys *k)
{
    for (size_t i = 0; i < b->nsamples; i++) {
        const struct sample_rec *r = &b->samples[i];
        pb_sample *s = &m->samples[i];
        pb_label *l = &m->labels[3 * i];
        size_t nl = 0;

        perftools__profiles__sample__init(s);
        s->n_location_id = r->n;
        s->location_id = b->stack_ids + r->first;
        if (b->opts.kind == BTS_PPROF_MEMORY) {
            m->values[2 * i] = (int64_t)r->bytes;
            m->values[2 * i + 1] = (int64_t)r->count;
        } else {
            m->values[2 * i] = (int64_t)r->count;
            m->values[2 * i + 1] = r->count > (uint64_t)INT64_MAX / b->opts.period_ns
                                       ? INT64_MAX
                                       : (int64_t)(r->count * b->opts.period_ns);
        }
        s->n_value = 2;
        s->value = m->values + 2 * i;
        if (r->thread) {
            perftools__profiles__label__init(&l[nl]);
            l[nl].key = k->thread;
            l[nl++].str = r->thread;
            perftools__profiles__label__init(&l[nl]);
            l[nl].key = k->tid;
            l[nl++].num = r->tid;
        }
        if (r->time_ms >= 0) {
            perftools__profiles__label__init(&l[nl]);
            l[nl].key = k->time;
            l[nl].num = r->time_ms;
            l[nl++].num_unit = k->ms;
        }
        for (size_t j = 0; j < nl; j++)
            m->labelp[3 * i + j] = &l[j];
        s->n_label = nl;
        s->label = nl ? m->labelp + 3 * i : NULL;
        m->samplep[i] = s;
    }
}

/* Locations (one line each), functions and mappings. */
static void tree_fill_code(struct pb_tree *m, const struct bts_pprof_builder *b)
{
    for (size_t i = 0; i < b->nlocations; i++) {
        perftools__profiles__location__init(&m->locs[i]);
        perftools__profiles__line__init(&m->lines[i]);
        m->locs[i].id = i + 1;
        m->locs[i].mapping_id = b->locations[i].mapping_id;
        m->locs[i].address = b->locations[i].address;
        m->lines[i].function_id = b->locations[i].function_id;
        m->linep[i] = &m->lines[i];
        m->locs[i].n_line = 1;
        m->locs[i].line = m->linep + i;
        m->locp[i] = &m->locs[i];
    }
    for (size_t i = 0; i < b->nfunctions; i++) {
        perftools__profiles__function__init(&m->funcs[i]);
        m->funcs[i].id = i + 1;
        m->funcs[i].name = b->function_names[i];
        m->funcs[i].system_name = b->function_names[i];
        m->funcp[i] = &m->funcs[i];
    }
    for (size_t i = 0; i < b->nmappings; i++)
        m->mapp[i] = &b->mappings[i];
}

int bts_pprof_builder_write(struct bts_pprof_builder *b, FILE *out)
{
    pb_profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
    pb_value_type vt[2] = {PERFTOOLS__PROFILES__VALUE_TYPE__INIT,
                           PERFTOOLS__PROFILES__VALUE_TYPE__INIT};
    pb_value_type period_type = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
    pb_value_type *vtp[2] = {&vt[0], &vt[1]};
    struct pb_tree m = {0};
    struct label_keys k;
    uint8_t *buf = NULL, *timeline = NULL;
    int64_t s_samples, s_count, s_cpu, s_ns, s_space, s_bytes, comments[2];
    size_t len, ncomments = 0;
    bool memory = b->opts.kind == BTS_PPROF_MEMORY;
    int err = -ENOMEM;

    s_samples = intern_cstr(b, "samples");
    s_count = intern_cstr(b, "count");
    s_cpu = intern_cstr(b, memory ? "space" : "cpu");
    s_ns = intern_cstr(b, memory ? "bytes" : "nanoseconds");
    s_space = s_cpu;
    s_bytes = s_ns;
    k.thread = intern_cstr(b, "thread");
    k.tid = intern_cstr(b, "tid");
    /* Only when used: the bytes of every other profile stay as they were. */
    k.time = b->time_labels ? intern_cstr(b, "time") : 0;
    k.ms = b->time_labels ? intern_cstr(b, "ms") : 0;
    if (s_samples < 0 || s_count < 0 || s_cpu < 0 || s_ns < 0 || k.thread < 0 || k.tid < 0 ||
        k.time < 0 || k.ms < 0)
        goto out;
    if (b->opts.comment && (comments[ncomments++] = intern_cstr(b, b->opts.comment)) < 0)
        goto out;
    if (b->opts.timeline) {
        char *enc;
        size_t enc_len;
        err = bts_timeline_encode(b->opts.timeline, &enc, &enc_len);
        if (err)
            goto out;
        timeline = (uint8_t *)enc;
        err = -ENOMEM;
        /* The encoded timeline is a string no message refers to (allowed:
         * readers resolve only the indexes they meet), so go tool pprof
         * does not print a long line with every comment; a short comment
         * says it is there. */
        if (intern(b, enc, enc_len) < 0)
            goto out;
        char summary[160], peak[32], at[32];
        const struct bts_timeline *tl = b->opts.timeline;
        snprintf(summary, sizeof(summary),
                 BTS_TIMELINE_SUMMARY "peak RSS %s at %s, %zu points, %zu jumps "
                                      "(bt-spy report --memory shows them)",
                 bts_timeline_format_bytes(tl->peak_rss, peak, sizeof(peak)),
                 bts_timeline_format_time(tl->peak_t_ns, at, sizeof(at)), tl->npoints, tl->njumps);
        if ((comments[ncomments++] = intern_cstr(b, summary)) < 0)
            goto out;
    }
    vt[0].type = memory ? s_space : s_samples;
    vt[0].unit = memory ? s_bytes : s_count;
    vt[1].type = memory ? s_samples : s_cpu;
    vt[1].unit = memory ? s_count : s_ns;
    period_type.type = s_cpu;
    period_type.unit = s_ns;
    if (tree_alloc(&m, b) < 0)
        goto out;
    tree_fill_samples(&m, b, &k);
    tree_fill_code(&m, b);

    p.n_sample_type = 2;
    p.sample_type = vtp;
    p.n_sample = b->nsamples;
    p.sample = m.samplep;
    p.n_mapping = b->nmappings;
    p.mapping = m.mapp;
    p.n_location = b->nlocations;
    p.location = m.locp;
    p.n_function = b->nfunctions;
    p.function = m.funcp;
    p.n_string_table = b->nstrings;
    p.string_table = b->strings;
    p.time_nanos = b->opts.time_nanos;
    p.duration_nanos = b->opts.duration_nanos;
    p.period_type = &period_type;
    p.period = (int64_t)(memory ? b->opts.period_bytes : b->opts.period_ns);
    p.n_comment = ncomments;
    p.comment = comments;
    /* go tool pprof shows the last sample type unless told. */
    if (memory)
        p.default_sample_type = s_space;

    len = perftools__profiles__profile__get_packed_size(&p);
    buf = malloc(len ? len : 1);
    if (!buf)
        goto out;
    perftools__profiles__profile__pack(&p, buf);
    err = gzip_write(buf, len, out);
    if (!err && fflush(out))
        err = -EIO;
out:
    tree_free(&m);
    free(buf);
    free(timeline);
    return err;
}

int bts_pprof_write_calltree(const struct bts_calltree *t, const struct bts_pprof_opts *o,
                             FILE *out)
{
    struct bts_pprof_builder *b = bts_pprof_builder_new(o);
    int err;

    if (!b)
        return -ENOMEM;
    err = bts_pprof_builder_add_calltree(b, t);
    if (!err)
        err = bts_pprof_builder_write(b, out);
    bts_pprof_builder_free(b);
    return err;
}

int bts_pprof_write_folded(FILE *folded_in, const char *name, const struct bts_pprof_opts *o,
                           FILE *out)
{
    struct bts_calltree *t = bts_calltree_from_folded(folded_in, name);
    int err;

    if (!t)
        return -errno;
    err = bts_pprof_write_calltree(t, o, out);
    bts_calltree_free(t);
    return err;
}

/* ---- reader ---- */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EBADMSG;
}

/* The first byte of a profile: gzip's magic (when `gzip` may be) or a valid
 * protobuf key. Checked before the rest is read or inflated, so an input
 * that is neither (/dev/zero, text) fails at once rather than after
 * MAX_INPUT_BYTES of memory. */
static int check_first_byte(uint8_t b, bool gzip, char *err, size_t errlen)
{
    if (gzip && b == 0x1f)
        return 0;
    if (b < 8)
        return fail(err, errlen, "offset 0: invalid field number 0 (not a pprof profile)");
    switch (b & 7) {
    case 0:
    case 1:
    case 2:
    case 5:
        return 0;
    default:
        return fail(err, errlen, "offset 0: invalid wire type %u (not a pprof profile)",
                    (unsigned)(b & 7));
    }
}

/* Inflates a gzip (or zlib) stream. */
static int gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen, char *err,
                  size_t errlen)
{
    z_stream z;
    uint8_t *buf = NULL;
    size_t cap = len * 4 + 4096, used = 0;
    int zr, ret = 0;

    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return -ENOMEM;
    z.next_in = (unsigned char *)in;
    z.avail_in = len > UINT_MAX ? UINT_MAX : (unsigned)len;
    for (;;) {
        if (used == cap || !buf) {
            if (cap > MAX_INPUT_BYTES) {
                ret = fail(err, errlen, "offset %zu: decompressed profile larger than %llu bytes",
                           (size_t)z.total_in, (unsigned long long)MAX_INPUT_BYTES);
                goto out;
            }
            uint8_t *nb = realloc(buf, buf ? cap * 2 : cap);
            if (!nb) {
                ret = -ENOMEM;
                goto out;
            }
            if (buf)
                cap *= 2;
            buf = nb;
        }
        z.next_out = buf + used;
        z.avail_out = (unsigned)((cap - used) > UINT_MAX ? UINT_MAX : cap - used);
        size_t before = z.avail_out;
        zr = inflate(&z, Z_NO_FLUSH);
        if (used == 0 && before > z.avail_out &&
            (ret = check_first_byte(buf[0], false, err, errlen)))
            goto out;
        used += before - z.avail_out;
        if (zr == Z_STREAM_END)
            break;
        if (zr == Z_NEED_DICT || zr == Z_DATA_ERROR) {
            ret = fail(err, errlen, "offset %zu: corrupt gzip data (%s)", (size_t)z.total_in,
                       z.msg ? z.msg : "bad data");
            goto out;
        }
        if (zr == Z_MEM_ERROR) {
            ret = -ENOMEM;
            goto out;
        }
        if (zr == Z_BUF_ERROR && z.avail_in == 0) {
            ret = fail(err, errlen, "offset %zu: truncated gzip stream", (size_t)z.total_in);
            goto out;
        }
    }
    *out = buf;
    *outlen = used;
    buf = NULL;
out:
    inflateEnd(&z);
    free(buf);
    return ret;
}

/* Walks the top-level protobuf wire format so a malformed profile is
 * reported at the offset of its first bad field. */
static int check_wire(const uint8_t *p, size_t len, char *err, size_t errlen)
{
    size_t off = 0;

    while (off < len) {
        size_t start = off;
        uint64_t key = 0, v = 0;
        int shift = 0;

        do {
            if (off >= len || shift > 63)
                return fail(err, errlen, "offset %zu: truncated field key", start);
            key |= (uint64_t)(p[off] & 0x7f) << shift;
            shift += 7;
        } while (p[off++] & 0x80);
        if ((key >> 3) == 0)
            return fail(err, errlen, "offset %zu: invalid field number 0", start);
        switch (key & 7) {
        case 0:
            shift = 0;
            do {
                if (off >= len || shift > 63)
                    return fail(err, errlen, "offset %zu: truncated varint", start);
                shift += 7;
            } while (p[off++] & 0x80);
            break;
        case 1:
            if (len - off < 8)
                return fail(err, errlen, "offset %zu: truncated 64-bit field", start);
            off += 8;
            break;
        case 2:
            shift = 0;
            do {
                if (off >= len || shift > 63)
                    return fail(err, errlen, "offset %zu: truncated length", start);
                v |= (uint64_t)(p[off] & 0x7f) << shift;
                shift += 7;
            } while (p[off++] & 0x80);
            if (v > len - off)
                return fail(err, errlen,
                            "offset %zu: field %" PRIu64 " length %" PRIu64
                            " runs past the end (%zu bytes left)",
                            start, key >> 3, v, len - off);
            off += v;
            break;
        case 5:
            if (len - off < 4)
                return fail(err, errlen, "offset %zu: truncated 32-bit field", start);
            off += 4;
            break;
        default:
            return fail(err, errlen, "offset %zu: invalid wire type %u", start,
                        (unsigned)(key & 7));
        }
    }
    return 0;
}

struct id_map {
    uint64_t *ids; /* sorted */
    size_t *index;
    size_t n;
};

static int cmp_id_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Builds a sorted id -> index map; duplicate or zero ids are malformed. */
static int id_map_build(struct id_map *m, const uint64_t *ids, size_t n, const char *what,
                        char *err, size_t errlen)
{
    uint64_t *pairs = malloc((n ? n : 1) * 2 * sizeof(*pairs));
    int ret = 0;

    m->ids = malloc((n ? n : 1) * sizeof(*m->ids));
    m->index = malloc((n ? n : 1) * sizeof(*m->index));
    m->n = n;
    if (!pairs || !m->ids || !m->index) {
        ret = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        pairs[2 * i] = ids[i];
        pairs[2 * i + 1] = i;
    }
    qsort(pairs, n, 2 * sizeof(*pairs), cmp_id_pair);
    for (size_t i = 0; i < n; i++) {
        m->ids[i] = pairs[2 * i];
        m->index[i] = (size_t)pairs[2 * i + 1];
        if (m->ids[i] == 0) {
            ret = fail(err, errlen, "offset 0: %s id 0 is reserved", what);
            goto out;
        }
        if (i && m->ids[i] == m->ids[i - 1]) {
            ret = fail(err, errlen, "offset 0: duplicate %s id %" PRIu64, what, m->ids[i]);
            goto out;
        }
    }
out:
    free(pairs);
    return ret;
}

static bool id_map_find(const struct id_map *m, uint64_t id, size_t *index)
{
    size_t lo = 0, hi = m->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->ids[mid] == id) {
            *index = m->index[mid];
            return true;
        }
        if (m->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static void id_map_free(struct id_map *m)
{
    free(m->ids);
    free(m->index);
}

static bool string_ok(const pb_profile *p, int64_t i)
{
    return i >= 0 && (uint64_t)i < p->n_string_table;
}

/* Checks the string table and sample types; *vi is the index of the value
 * to read (sample_type's, or the first). */
static int read_header(const pb_profile *p, const char *sample_type, size_t *vi, char *err,
                       size_t errlen)
{
    size_t i;

    if (p->n_string_table == 0 || p->string_table[0][0] != '\0')
        return fail(err, errlen, "offset 0: string_table[0] must be the empty string");
    if (p->n_sample_type == 0)
        return fail(err, errlen, "offset 0: profile has no sample types");
    for (i = 0; i < p->n_sample_type; i++) {
        if (!string_ok(p, p->sample_type[i]->type) || !string_ok(p, p->sample_type[i]->unit))
            return fail(err, errlen, "offset 0: sample_type[%zu] has a bad string index", i);
    }
    *vi = 0;
    if (!sample_type)
        return 0;
    for (i = 0; i < p->n_sample_type; i++)
        if (!strcmp(p->string_table[p->sample_type[i]->type], sample_type))
            break;
    if (i == p->n_sample_type) {
        char have[256] = "";
        for (size_t j = 0; j < p->n_sample_type; j++) {
            size_t l = strlen(have);
            snprintf(have + l, sizeof(have) - l, "%s%s", j ? ", " : "",
                     p->string_table[p->sample_type[j]->type]);
        }
        if (err && errlen)
            snprintf(err, errlen, "no sample type '%s' (the profile has: %s)", sample_type, have);
        return -ENOENT;
    }
    *vi = i;
    return 0;
}

/* Id -> index maps of functions and locations, with every reference from a
 * location to a function checked. */
static int read_code(const pb_profile *p, struct id_map *funcs, struct id_map *locs, char *err,
                     size_t errlen)
{
    size_t n = p->n_location > p->n_function ? p->n_location : p->n_function;
    uint64_t *ids = malloc((n + 1) * sizeof(*ids));
    int ret;

    if (!ids)
        return -ENOMEM;
    for (size_t i = 0; i < p->n_function; i++) {
        ids[i] = p->function[i]->id;
        if (!string_ok(p, p->function[i]->name)) {
            ret = fail(err, errlen, "offset 0: function %" PRIu64 " has a bad name index %" PRId64,
                       p->function[i]->id, p->function[i]->name);
            goto out;
        }
    }
    ret = id_map_build(funcs, ids, p->n_function, "function", err, errlen);
    if (ret)
        goto out;
    for (size_t i = 0; i < p->n_location; i++) {
        const pb_location *l = p->location[i];
        ids[i] = l->id;
        for (size_t j = 0; j < l->n_line; j++) {
            size_t fi;
            if (!id_map_find(funcs, l->line[j]->function_id, &fi)) {
                ret = fail(err, errlen,
                           "offset 0: location %" PRIu64 " refers to unknown function %" PRIu64,
                           l->id, l->line[j]->function_id);
                goto out;
            }
        }
    }
    ret = id_map_build(locs, ids, p->n_location, "location", err, errlen);
out:
    free(ids);
    return ret;
}

/* What reading the samples needs, and the buffers it reuses. */
struct sample_reader {
    const pb_profile *p;
    struct id_map locs, funcs;
    size_t vi;                       /* value index */
    int64_t k_thread, k_tid, k_time; /* string indexes of the label keys, or -1 */
    const struct bts_pprof_read_opts *o;
    const char **names; /* one sample's frames, root first */
    size_t *lens, cap;
    char *thread_buf; /* "thread NAME (TID)" */
    char *addr_heap;  /* "0x..." names of locations without lines */
};

/* Finds the thread and time labels of sample si. */
static int sample_thread(const struct sample_reader *r, size_t si, const char **thread,
                         int64_t *tid, bool *have_tid, int64_t *time_ms, char *err, size_t errlen)
{
    const pb_profile *p = r->p;
    const pb_sample *s = p->sample[si];

    for (size_t li = 0; li < s->n_label; li++) {
        const pb_label *l = s->label[li];
        if (!string_ok(p, l->key) || !string_ok(p, l->str) || !string_ok(p, l->num_unit))
            return fail(err, errlen, "offset 0: sample %zu label %zu has a bad string index", si,
                        li);
        if (l->key == r->k_thread && l->str) {
            *thread = p->string_table[l->str];
        } else if (l->key == r->k_tid) {
            *tid = l->num;
            *have_tid = true;
        } else if (l->key == r->k_time && !l->str) {
            *time_ms = l->num;
        }
    }
    return 0;
}

/* Makes room for `need` frames. */
static int reader_reserve(struct sample_reader *r, size_t need)
{
    void *a;

    if (need <= r->cap)
        return 0;
    a = realloc(r->names, need * 2 * sizeof(*r->names));
    if (!a)
        return -ENOMEM;
    r->names = a;
    a = realloc(r->lens, need * 2 * sizeof(*r->lens));
    if (!a)
        return -ENOMEM;
    r->lens = a;
    r->cap = need * 2;
    return 0;
}

/* Adds sample si to t. */
static int read_sample(struct sample_reader *r, size_t si, struct bts_calltree *t, char *err,
                       size_t errlen)
{
    const pb_profile *p = r->p;
    const pb_sample *s = p->sample[si];
    const char *thread = NULL;
    int64_t tid = 0, time_ms = -1;
    bool have_tid = false;
    size_t n = 0, need;
    int ret;

    if (s->n_value != p->n_sample_type)
        return fail(err, errlen, "offset 0: sample %zu has %zu values for %zu sample types", si,
                    s->n_value, p->n_sample_type);
    if (s->value[r->vi] < 0)
        return fail(err, errlen, "offset 0: sample %zu has a negative value", si);
    if (s->value[r->vi] == 0)
        return 0;
    ret = sample_thread(r, si, &thread, &tid, &have_tid, &time_ms, err, errlen);
    if (ret)
        return ret;
    if (r->o->window && (time_ms < 0 || time_ms < r->o->from_ms || time_ms > r->o->to_ms))
        return 0;
    /* Count the frames first: every line of every location. */
    need = thread ? 1 : 0;
    for (size_t j = 0; j < s->n_location_id; j++) {
        size_t idx;
        if (!id_map_find(&r->locs, s->location_id[j], &idx))
            return fail(err, errlen, "offset 0: sample %zu refers to unknown location %" PRIu64, si,
                        s->location_id[j]);
        need += p->location[idx]->n_line ? p->location[idx]->n_line : 1;
    }
    if (reader_reserve(r, need) < 0)
        return -ENOMEM;
    /* Root first: last location first, and within a location the outermost
     * line (the last) first, so inlined frames end innermost last.
     * Locations without lines are shown by address. */
    free(r->thread_buf);
    r->thread_buf = NULL;
    if (thread) {
        size_t tl = strlen(thread) + 32;
        r->thread_buf = malloc(tl);
        if (!r->thread_buf)
            return -ENOMEM;
        if (have_tid)
            snprintf(r->thread_buf, tl, "thread %s (%" PRId64 ")", thread, tid);
        else
            snprintf(r->thread_buf, tl, "thread %s", thread);
        r->names[n] = r->thread_buf;
        r->lens[n++] = strlen(r->thread_buf);
    }
    free(r->addr_heap);
    r->addr_heap = NULL;
    for (size_t j = s->n_location_id; j-- > 0;) {
        size_t idx = 0;
        id_map_find(&r->locs, s->location_id[j], &idx);
        const pb_location *l = p->location[idx];
        if (l->n_line == 0) {
            char *slot;
            if (!r->addr_heap && !(r->addr_heap = malloc(s->n_location_id * 24)))
                return -ENOMEM;
            slot = r->addr_heap + j * 24;
            snprintf(slot, 24, "0x%" PRIx64, l->address);
            r->names[n] = slot;
            r->lens[n++] = strlen(slot);
            continue;
        }
        for (size_t k = l->n_line; k-- > 0;) {
            size_t fi = 0;
            id_map_find(&r->funcs, l->line[k]->function_id, &fi);
            const char *fname = p->string_table[p->function[fi]->name];
            r->names[n] = fname;
            r->lens[n++] = strlen(fname);
        }
    }
    uint64_t count = (uint64_t)s->value[r->vi];
    return bts_calltree_add_frames(t, r->names, r->lens, n, &count, 1, 0); /* n may be 0 */
}

static void read_meta(const pb_profile *p, struct bts_pprof_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->time_nanos = p->time_nanos > 0 ? p->time_nanos : 0;
    m->duration_nanos = p->duration_nanos > 0 ? p->duration_nanos : 0;
    if (p->period > 0 && p->period_type && string_ok(p, p->period_type->unit) &&
        !strcmp(p->string_table[p->period_type->unit], "nanoseconds"))
        m->period_ns = p->period;
    for (size_t i = 0; i < p->n_comment && !m->comment[0]; i++) {
        const char *c;
        if (!string_ok(p, p->comment[i]))
            continue;
        c = p->string_table[p->comment[i]];
        if (!bts_timeline_is_encoded(c, strlen(c)) &&
            strncmp(c, BTS_TIMELINE_SUMMARY, sizeof(BTS_TIMELINE_SUMMARY) - 1))
            snprintf(m->comment, sizeof(m->comment), "%s", c);
    }
}

/* The first string (a comment, or one no message refers to) that decodes
 * as a timeline, or NULL. */
static struct bts_timeline *read_timeline(const pb_profile *p)
{
    for (size_t i = 1; i < p->n_string_table; i++) {
        const char *c = p->string_table[i];
        struct bts_timeline *tl;
        if (bts_timeline_is_encoded(c, strlen(c)) && (tl = bts_timeline_decode(c, strlen(c), NULL)))
            return tl;
    }
    return NULL;
}

static int read_profile(const pb_profile *p, const struct bts_pprof_read_opts *o,
                        struct bts_calltree *t, struct bts_pprof_meta *meta, char *err,
                        size_t errlen)
{
    struct sample_reader r = {.p = p, .k_thread = -1, .k_tid = -1, .k_time = -1, .o = o};
    int ret = read_header(p, o->sample_type, &r.vi, err, errlen);

    if (ret)
        goto out;
    if (meta) {
        read_meta(p, meta);
        snprintf(meta->type, sizeof(meta->type), "%s", p->string_table[p->sample_type[r.vi]->type]);
        snprintf(meta->unit, sizeof(meta->unit), "%s", p->string_table[p->sample_type[r.vi]->unit]);
    }
    for (size_t i = 1; i < p->n_string_table; i++) {
        if (!strcmp(p->string_table[i], "thread") && r.k_thread < 0)
            r.k_thread = (int64_t)i;
        if (!strcmp(p->string_table[i], "tid") && r.k_tid < 0)
            r.k_tid = (int64_t)i;
        if (!strcmp(p->string_table[i], "time") && r.k_time < 0)
            r.k_time = (int64_t)i;
    }
    ret = read_code(p, &r.funcs, &r.locs, err, errlen);
    for (size_t si = 0; !ret && si < p->n_sample; si++)
        ret = read_sample(&r, si, t, err, errlen);
    if (!ret && o->timeline)
        *o->timeline = read_timeline(p);
out:
    id_map_free(&r.locs);
    id_map_free(&r.funcs);
    free(r.names);
    free(r.lens);
    free(r.thread_buf);
    free(r.addr_heap);
    return ret;
}

static int read_buffer(const void *data, size_t len, const struct bts_pprof_read_opts *o,
                       struct bts_calltree *t, struct bts_pprof_meta *meta, char *err,
                       size_t errlen)
{
    const uint8_t *p = data;
    uint8_t *raw = NULL;
    size_t rawlen = len;
    pb_profile *prof = NULL;
    int ret;

    if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        ret = gunzip(p, len, &raw, &rawlen, err, errlen);
        if (ret)
            goto out;
        p = raw;
    }
    ret = check_wire(p, rawlen, err, errlen);
    if (ret)
        goto out;
    prof = perftools__profiles__profile__unpack(NULL, rawlen, p);
    if (!prof) {
        ret = fail(err, errlen, "offset 0: malformed protobuf (not a pprof profile)");
        goto out;
    }
    ret = read_profile(prof, o, t, meta, err, errlen);
out:
    if (prof)
        perftools__profiles__profile__free_unpacked(prof, NULL);
    free(raw);
    return ret;
}

int bts_pprof_read_buffer(const void *data, size_t len, const char *sample_type,
                          struct bts_calltree *t, char *err, size_t errlen)
{
    struct bts_pprof_read_opts o = {.sample_type = sample_type};

    return read_buffer(data, len, &o, t, NULL, err, errlen);
}

int bts_pprof_read_ex(const void *data, size_t len, const struct bts_pprof_read_opts *o,
                      struct bts_calltree *t, struct bts_pprof_meta *meta, char *err, size_t errlen)
{
    static const struct bts_pprof_read_opts defaults;

    if (!o)
        o = &defaults;
    if (o->timeline)
        *o->timeline = NULL;
    if (len && (((const uint8_t *)data)[0] != 0x1f || len < 2))
        if (check_first_byte(((const uint8_t *)data)[0], true, err, errlen))
            return -EBADMSG;
    return read_buffer(data, len, o, t, meta, err, errlen);
}

int bts_pprof_read(FILE *in, const char *sample_type, struct bts_calltree *t, char *err,
                   size_t errlen)
{
    return bts_pprof_read_meta(in, sample_type, t, NULL, err, errlen);
}

int bts_pprof_read_meta(FILE *in, const char *sample_type, struct bts_calltree *t,
                        struct bts_pprof_meta *meta, char *err, size_t errlen)
{
    struct bts_pprof_read_opts o = {.sample_type = sample_type};

    return bts_pprof_read_file_ex(in, &o, t, meta, err, errlen);
}

int bts_pprof_read_file_ex(FILE *in, const struct bts_pprof_read_opts *o, struct bts_calltree *t,
                           struct bts_pprof_meta *meta, char *err, size_t errlen)
{
    static const struct bts_pprof_read_opts defaults;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int ret;

    if (!o)
        o = &defaults;
    if (o->timeline)
        *o->timeline = NULL;
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_INPUT_BYTES) {
                ret = fail(err, errlen, "offset %zu: profile larger than %llu bytes", len,
                           (unsigned long long)MAX_INPUT_BYTES);
                goto out;
            }
            if (bts_array_grow((void **)&buf, &cap, len + (1 << 16), 1)) {
                ret = -ENOMEM;
                goto out;
            }
        }
        size_t got = fread(buf + len, 1, cap - len, in);
        if (len == 0 && got > 0 && (ret = check_first_byte(buf[0], true, err, errlen)))
            goto out;
        len += got;
        if (got == 0) {
            if (ferror(in)) {
                ret = errno ? -errno : -EIO;
                goto out;
            }
            break;
        }
    }
    ret = read_buffer(buf, len, o, t, meta, err, errlen);
out:
    free(buf);
    return ret;
}
