/* SPDX-License-Identifier: MIT */
/* symbolizer: pc -> "function", "function (file.c:12)", "module+0xoff",
 * JIT names or "[unknown]", interned. A pc inside an ELF function is
 * resolved once per function: the answer is cached for the address range
 * the function covers, so the cache grows with the functions a target runs,
 * not with every instruction address it is sampled at. Other pcs (JIT code,
 * module+0xoff, and every pc with --lines, whose names differ by line) are
 * cached per pc. */
#define _GNU_SOURCE

#include "symbolizer.h"
#include "string-arena-private.h"
#include "demangle-private.h"
#include "elf-image.h"
#include "jit-map-private.h"
#include "proc-maps.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_BUF   512
#define UNKNOWN    "[unknown]"
#define JIT_MODULE "[jit]"

/* Interned strings: one copy of each, so equal names share a pointer. */
struct string_pool {
    const char **set; /* open addressing, power-of-two size */
    size_t cap;
    size_t count;
    struct bts_string_arena names;
};

struct pc_slot {
    uint64_t addr;
    const char *name; /* NULL: empty slot */
    const char *module;
    uint64_t start; /* run-time address of the containing function, 0 if unknown */
};

/* [lo, hi): run-time addresses that all resolve to one ELF function. */
struct fn_range {
    uint64_t lo, hi;
    struct pc_slot slot;
};

struct bts_symbolizer {
    struct bts_maps *maps;
    struct bts_symbolizer_opts opts;
    struct bts_jit_map *jit;
    struct fn_range *ranges; /* sorted by lo, disjoint */
    size_t nranges;
    size_t ranges_cap;
    struct pc_slot *slots;
    size_t cap;
    size_t count;
    struct string_pool pool;
    const char *unknown;
    const char *jit_module;
};

/* ---- string pool ---------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

static int pool_grow(struct string_pool *p)
{
    size_t ncap = p->cap ? p->cap * 2 : 1024;
    const char **set = calloc(ncap, sizeof(*set));
    if (!set)
        return -ENOMEM;
    for (size_t i = 0; i < p->cap; i++) {
        if (!p->set[i])
            continue;
        size_t j = hash_bytes(p->set[i], strlen(p->set[i])) & (ncap - 1);
        while (set[j])
            j = (j + 1) & (ncap - 1);
        set[j] = p->set[i];
    }
    free(p->set);
    p->set = set;
    p->cap = ncap;
    return 0;
}

static const char *pool_intern(struct string_pool *p, const char *s, size_t len)
{
    if ((p->count + 1) * 2 > p->cap && pool_grow(p) < 0)
        return NULL;
    size_t i = hash_bytes(s, len) & (p->cap - 1);
    for (; p->set[i]; i = (i + 1) & (p->cap - 1)) {
        if (strncmp(p->set[i], s, len) == 0 && p->set[i][len] == '\0')
            return p->set[i];
    }
    const char *copy = bts_string_arena_add(&p->names, s, len);
    if (!copy)
        return NULL;
    p->set[i] = copy;
    p->count++;
    return copy;
}

static void pool_free(struct string_pool *p)
{
    bts_string_arena_clear(&p->names);
    free(p->set);
}

/* ---- lifecycle ------------------------------------------------------ */

struct bts_symbolizer *bts_symbolizer_new(struct bts_maps *maps,
                                          const struct bts_symbolizer_opts *opts)
{
    struct bts_symbolizer *sym = calloc(1, sizeof(*sym));
    if (!sym)
        goto fail;
    sym->maps = maps;
    sym->opts = opts ? *opts : (struct bts_symbolizer_opts){.lines = false, .demangle = true};
    char path[64];
    snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)bts_maps_pid(maps));
    sym->jit = bts_jit_map_new(path, bts_maps_pid(maps));
    sym->cap = 1024;
    sym->slots = calloc(sym->cap, sizeof(*sym->slots));
    if (!sym->jit || !sym->slots)
        goto fail;
    sym->unknown = pool_intern(&sym->pool, UNKNOWN, strlen(UNKNOWN));
    sym->jit_module = pool_intern(&sym->pool, JIT_MODULE, strlen(JIT_MODULE));
    if (!sym->unknown || !sym->jit_module)
        goto fail;
    return sym;
fail:
    bts_symbolizer_free(sym);
    errno = ENOMEM;
    return NULL;
}

void bts_symbolizer_free(struct bts_symbolizer *sym)
{
    if (!sym)
        return;
    bts_jit_map_free(sym->jit);
    free(sym->ranges);
    free(sym->slots);
    pool_free(&sym->pool);
    free(sym);
}

const char *bts_symbolizer_jit_note(const struct bts_symbolizer *sym)
{
    return sym ? bts_jit_map_note(sym->jit) : NULL;
}

/* ---- resolution ----------------------------------------------------- */

static const char *module_name(struct bts_symbolizer *sym, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    const char *deleted = " (deleted)";
    size_t dlen = strlen(deleted);
    if (len > dlen && strcmp(base + len - dlen, deleted) == 0)
        len -= dlen;
    return pool_intern(&sym->pool, base, len);
}

static const char *offset_name(struct bts_symbolizer *sym, const char *module, uint64_t off)
{
    char buf[PATH_MAX + 32];
    int n = snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, module, off);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return NULL;
    return pool_intern(&sym->pool, buf, (size_t)n);
}

/* "name" or "name (file.c:12)", demangled as the options say. */
static const char *function_name(struct bts_symbolizer *sym, struct bts_elf *elf, const char *raw,
                                 uint64_t vaddr)
{
    char *demangled = sym->opts.demangle ? bts_demangle(raw) : NULL;
    const char *name = demangled ? demangled : raw;
    /* Symbol versions ("clock_nanosleep@@GLIBC_2.17") are not names. */
    size_t name_len = demangled ? strlen(name) : strcspn(name, "@");
    const char *out;
    char line[LINE_BUF];
    if (sym->opts.lines && bts_elf_line(elf, vaddr, line, sizeof(line)) == 0) {
        size_t len = name_len + strlen(line) + 4;
        char *buf = malloc(len);
        if (!buf) {
            out = NULL;
            goto out;
        }
        int n = snprintf(buf, len, "%.*s (%s)", (int)name_len, name, line);
        out = n > 0 ? pool_intern(&sym->pool, buf, (size_t)n) : NULL;
        free(buf);
    } else {
        out = pool_intern(&sym->pool, name, name_len);
    }
out:
    free(demangled);
    return out;
}

/* Resolves `addr` into `slot`; for a pc in an ELF function, sets
 * [*lo, *hi), which holds addr, to the run-time range with the same answer
 * (else *lo == *hi). */
static void resolve(struct bts_symbolizer *sym, uint64_t addr, struct pc_slot *slot, uint64_t *lo,
                    uint64_t *hi)
{
    const struct bts_map *map = bts_maps_find(sym->maps, addr);
    slot->name = sym->unknown;
    slot->module = sym->unknown;
    slot->start = 0;
    *lo = *hi = 0;
    if (map && (map->path[0] == '/' || strcmp(map->path, "[vdso]") == 0 ||
                strcmp(map->path, "[vsyscall]") == 0)) {
        const char *module = module_name(sym, map->path);
        if (!module)
            return;
        struct bts_elf *elf = bts_maps_elf(sym->maps, map);
        uint64_t off = addr - map->start + map->pgoff;
        if (elf) {
            uint64_t vaddr;
            if (bts_elf_runtime_to_vaddr(elf, map, addr, &vaddr) == 0) {
                uint64_t sym_start = 0, range_end = 0;
                const char *raw = bts_elf_symbol_range(elf, vaddr, &sym_start, &range_end);
                const char *name = raw ? function_name(sym, elf, raw, vaddr) : NULL;
                if (name) {
                    slot->name = name;
                    slot->module = module;
                    if (sym_start && sym_start <= vaddr)
                        slot->start = addr - (vaddr - sym_start);
                    if (!sym->opts.lines) {
                        /* sym_start <= vaddr < range_end, and within the
                         * mapping run-time = vaddr + constant: the same
                         * distances, clipped to the mapping. */
                        uint64_t below = vaddr - sym_start, above = range_end - vaddr;
                        *lo = addr - map->start > below ? addr - below : map->start;
                        *hi = map->end - addr > above ? addr + above : map->end;
                    }
                    return;
                }
                off = vaddr;
            }
        } else {
            /* Code in a file that is not ELF (memfd JIT code, say). */
            const char *jit = bts_jit_map_find(sym->jit, addr);
            const char *name = jit ? pool_intern(&sym->pool, jit, strlen(jit)) : NULL;
            if (name) {
                slot->name = name;
                slot->module = sym->jit_module;
                return;
            }
        }
        const char *name = offset_name(sym, module, off);
        if (name) {
            slot->name = name;
            slot->module = module;
        }
        return;
    }
    const char *jit = bts_jit_map_find(sym->jit, addr);
    const char *name = jit ? pool_intern(&sym->pool, jit, strlen(jit)) : NULL;
    if (name) {
        slot->name = name;
        slot->module = sym->jit_module;
    }
}

/* Index of the first range with lo > addr. */
static size_t range_after(const struct bts_symbolizer *sym, uint64_t addr)
{
    size_t lo = 0, hi = sym->nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sym->ranges[mid].lo <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct pc_slot *add_range(struct bts_symbolizer *sym, uint64_t lo, uint64_t hi,
                                       const struct pc_slot *slot)
{
    size_t i = range_after(sym, lo);
    /* Keep ranges disjoint: clip against the neighbours (a mapping change
     * can make an old range overlap a new function). */
    if (i > 0 && sym->ranges[i - 1].hi > lo)
        lo = sym->ranges[i - 1].hi;
    if (i < sym->nranges && sym->ranges[i].lo < hi)
        hi = sym->ranges[i].lo;
    if (lo >= hi)
        return NULL;
    if (sym->nranges == sym->ranges_cap) {
        size_t ncap = sym->ranges_cap ? sym->ranges_cap * 2 : 256;
        struct fn_range *r = realloc(sym->ranges, ncap * sizeof(*r));
        if (!r)
            return NULL;
        sym->ranges = r;
        sym->ranges_cap = ncap;
    }
    memmove(&sym->ranges[i + 1], &sym->ranges[i], (sym->nranges - i) * sizeof(*sym->ranges));
    sym->ranges[i] = (struct fn_range){.lo = lo, .hi = hi, .slot = *slot};
    sym->nranges++;
    return &sym->ranges[i].slot;
}

static size_t slot_index(uint64_t addr, size_t cap)
{
    uint64_t h = addr * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h ^ (h >> 32)) & (cap - 1);
}

static int grow_slots(struct bts_symbolizer *sym)
{
    size_t ncap = sym->cap * 2;
    struct pc_slot *slots = calloc(ncap, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < sym->cap; i++) {
        if (!sym->slots[i].name)
            continue;
        size_t j = slot_index(sym->slots[i].addr, ncap);
        while (slots[j].name)
            j = (j + 1) & (ncap - 1);
        slots[j] = sym->slots[i];
    }
    free(sym->slots);
    sym->slots = slots;
    sym->cap = ncap;
    return 0;
}

static const struct pc_slot *lookup(struct bts_symbolizer *sym, uint64_t addr)
{
    size_t r = range_after(sym, addr);
    if (r > 0 && addr < sym->ranges[r - 1].hi)
        return &sym->ranges[r - 1].slot;
    size_t i = slot_index(addr, sym->cap);
    for (; sym->slots[i].name; i = (i + 1) & (sym->cap - 1)) {
        if (sym->slots[i].addr == addr)
            return &sym->slots[i];
    }
    struct pc_slot slot = {.addr = addr};
    uint64_t lo, hi;
    resolve(sym, addr, &slot, &lo, &hi);
    if (lo < hi) {
        const struct pc_slot *added = add_range(sym, lo, hi, &slot);
        if (added)
            return added;
    }
    if ((sym->count + 1) * 4 > sym->cap * 3) {
        if (grow_slots(sym) < 0)
            return NULL;
        i = slot_index(addr, sym->cap);
        while (sym->slots[i].name)
            i = (i + 1) & (sym->cap - 1);
    }
    sym->slots[i] = slot;
    sym->count++;
    return &sym->slots[i];
}

const char *bts_symbolizer_name(struct bts_symbolizer *sym, uint64_t pc, bool is_return_address)
{
    if (pc == 0)
        return sym->unknown;
    const struct pc_slot *slot = lookup(sym, is_return_address ? pc - 1 : pc);
    return slot ? slot->name : sym->unknown;
}

uint64_t bts_symbolizer_function_start(struct bts_symbolizer *sym, uint64_t pc,
                                       bool is_return_address)
{
    if (pc == 0)
        return 0;
    const struct pc_slot *slot = lookup(sym, is_return_address ? pc - 1 : pc);
    return slot ? slot->start : 0;
}

const char *bts_symbolizer_module(struct bts_symbolizer *sym, uint64_t pc)
{
    if (pc == 0)
        return sym->unknown;
    const struct pc_slot *slot = lookup(sym, pc);
    return slot ? slot->module : sym->unknown;
}

void bts_symbolizer_cache_size(const struct bts_symbolizer *sym, size_t *functions, size_t *pcs)
{
    *functions = sym->nranges;
    *pcs = sym->count;
}
