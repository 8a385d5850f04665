/* SPDX-License-Identifier: MIT */
/* function-counter: unwinds and names backend samples, counts functions. */
#include "function-counter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "elf-image.h"
#include "proc-maps.h"
#include "symbolizer.h"
#include "unwinder-private.h"

#define MAX_NAMES   1024
#define MAX_THREADS 64

struct name_count {
    const char *name; /* interned by the symbolizer: compared by pointer */
    uint64_t count;
    uint64_t last_sample; /* counts a name once per sample */
};

struct function_counter {
    pid_t pid;
    struct bts_elf_cache *cache;
    struct bts_maps *maps;
    struct bts_symbolizer *sym;
    struct bts_unwinder *unwinder;
    bool maps_dirty;
    uint64_t samples, lost, failed;
    struct name_count names[MAX_NAMES];
    size_t nnames;
    pid_t tids[MAX_THREADS];
    uint64_t tid_samples[MAX_THREADS];
    size_t ntids;
    uint64_t pcs[BTS_MAX_FRAMES];
};

static const struct bts_map *find_map(void *ctx, uint64_t addr, struct bts_elf **elf)
{
    struct function_counter *fc = ctx;
    const struct bts_map *map = bts_maps_find(fc->maps, addr);
    *elf = map ? bts_maps_elf(fc->maps, map) : NULL;
    return map;
}

struct function_counter *function_counter_new(pid_t pid)
{
    struct function_counter *fc = calloc(1, sizeof(*fc));
    if (!fc)
        return NULL;
    fc->pid = pid;
    fc->cache = bts_elf_cache_new();
    if (!fc->cache) {
        free(fc);
        errno = ENOMEM;
        return NULL;
    }
    return fc;
}

void function_counter_free(struct function_counter *fc)
{
    if (!fc)
        return;
    bts_unwinder_free(fc->unwinder);
    bts_symbolizer_free(fc->sym);
    bts_maps_free(fc->maps);
    bts_elf_cache_free(fc->cache);
    free(fc);
}

static bool ensure_tools(struct function_counter *fc)
{
    if (fc->unwinder)
        return true;
    struct bts_symbolizer_opts so = {.lines = false, .demangle = true};
    struct bts_unwind_target target = {.ctx = fc, .find_map = find_map};
    if (!fc->maps && !(fc->maps = bts_maps_new(fc->pid, fc->cache)))
        return false;
    if (!fc->sym && !(fc->sym = bts_symbolizer_new(fc->maps, &so)))
        return false;
    fc->unwinder = bts_unwinder_new(&target);
    return fc->unwinder != NULL;
}

static void count_name(struct function_counter *fc, const char *name)
{
    for (size_t i = 0; i < fc->nnames; i++) {
        if (fc->names[i].name == name) {
            if (fc->names[i].last_sample != fc->samples) {
                fc->names[i].count++;
                fc->names[i].last_sample = fc->samples;
            }
            return;
        }
    }
    if (fc->nnames < MAX_NAMES)
        fc->names[fc->nnames++] = (struct name_count){name, 1, fc->samples};
}

static void count_thread(struct function_counter *fc, pid_t tid)
{
    for (size_t i = 0; i < fc->ntids; i++) {
        if (fc->tids[i] == tid) {
            fc->tid_samples[i]++;
            return;
        }
    }
    if (fc->ntids < MAX_THREADS) {
        fc->tids[fc->ntids] = tid;
        fc->tid_samples[fc->ntids++] = 1;
    }
}

static void on_sample(void *ctx, const struct bts_raw_sample *s)
{
    struct function_counter *fc = ctx;
    if (!ensure_tools(fc)) {
        fc->failed++;
        return;
    }
    if (fc->maps_dirty) {
        bts_maps_refresh(fc->maps);
        bts_unwinder_flush(fc->unwinder);
        fc->maps_dirty = false;
    }
    const uint64_t *pcs = fc->pcs;
    int n;
    if (s->pcs) {
        pcs = s->pcs;
        n = (int)s->npcs;
    } else {
        n = bts_unwinder_unwind(fc->unwinder, s->regs, s->stack, s->stack_size, fc->pcs,
                                BTS_MAX_FRAMES);
    }
    if (n <= 0) {
        fc->failed++;
        return;
    }
    fc->samples++;
    count_thread(fc, s->tid);
    for (int i = 0; i < n; i++)
        count_name(fc, bts_symbolizer_name(fc->sym, pcs[i], i > 0));
}

static void on_lost(void *ctx, uint64_t count)
{
    struct function_counter *fc = ctx;
    fc->lost += count;
}

static void on_maps_changed(void *ctx)
{
    struct function_counter *fc = ctx;
    fc->maps_dirty = true;
}

struct bts_backend_sink function_counter_sink(struct function_counter *fc)
{
    return (struct bts_backend_sink){
        .ctx = fc, .sample = on_sample, .lost = on_lost, .maps_changed = on_maps_changed};
}

uint64_t function_counter_samples(const struct function_counter *fc)
{
    return fc->samples;
}

uint64_t function_counter_lost(const struct function_counter *fc)
{
    return fc->lost;
}

uint64_t function_counter_failed(const struct function_counter *fc)
{
    return fc->failed;
}

uint64_t function_counter_count(const struct function_counter *fc, const char *name)
{
    for (size_t i = 0; i < fc->nnames; i++) {
        if (strcmp(fc->names[i].name, name) == 0)
            return fc->names[i].count;
    }
    return 0;
}

uint64_t function_counter_thread(const struct function_counter *fc, pid_t tid)
{
    for (size_t i = 0; i < fc->ntids; i++) {
        if (fc->tids[i] == tid)
            return fc->tid_samples[i];
    }
    return 0;
}

double function_counter_share(const struct function_counter *fc, const char *name)
{
    return fc->samples ? 100.0 * (double)function_counter_count(fc, name) / (double)fc->samples
                       : 0.0;
}

static int by_count(const void *a, const void *b)
{
    const struct name_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->name, y->name);
}

void function_counter_print(const struct function_counter *fc, FILE *out)
{
    struct name_count sorted[MAX_NAMES];
    memcpy(sorted, fc->names, fc->nnames * sizeof(sorted[0]));
    qsort(sorted, fc->nnames, sizeof(sorted[0]), by_count);
    for (size_t i = 0; i < fc->nnames; i++)
        fprintf(out, "%s %llu\n", sorted[i].name, (unsigned long long)sorted[i].count);
}
