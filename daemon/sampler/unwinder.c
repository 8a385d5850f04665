/* SPDX-License-Identifier: MIT */
/* unwinder: libunwind remote unwinding over copied stacks and ELF files. */
#define _GNU_SOURCE
#include "unwinder-private.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libunwind.h>

#include "debug-frame.h"
#include "elf-image.h"
#include "proc-maps.h"

/* Exported by libunwind but not declared in its headers (perf does the same). */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
                                              unw_dyn_info_t *di, unw_proc_info_t *pi,
                                              int need_unwind_info, void *arg);
#define dwarf_search_unwind_table UNW_OBJ(dwarf_search_unwind_table)

#define DW_EH_PE_omit    0xff
#define DW_EH_PE_absptr  0x00
#define DW_EH_PE_udata2  0x02
#define DW_EH_PE_udata4  0x03
#define DW_EH_PE_udata8  0x04
#define DW_EH_PE_sdata2  0x0a
#define DW_EH_PE_sdata4  0x0b
#define DW_EH_PE_sdata8  0x0c
#define DW_EH_PE_pcrel   0x10
#define DW_EH_PE_datarel 0x30

#define UNWIND_TIME_CAP_NS 2000000LL
#define WORD_CACHE_SIZE    4096

/* Unwind table of one ELF image, found once. */
struct image_info {
    const struct bts_elf *elf;
    bool usable;
    uint64_t hdr_vaddr;   /* .eh_frame_hdr */
    uint64_t table_vaddr; /* its binary search table */
    uint64_t fde_count;
    int debug_frame_state; /* 0 not tried, 1 converted, -1 none */
    struct bts_debug_frame_table debug_frame;
    uint64_t debug_frame_base; /* where the converted table is served */
};

/* A converted .debug_frame, served to libunwind at an unmapped address. */
struct overlay {
    uint64_t base;
    size_t len;
    const uint8_t *data;
};

struct word_cache_entry {
    uint64_t addr; /* 8-aligned runtime address + 1, 0 = empty */
    uint64_t value;
};

struct bts_unwinder {
    struct bts_unwind_target target;
    unw_addr_space_t as;
    struct image_info *images; /* open addressing by elf pointer */
    size_t nimages, cap_images;
    struct word_cache_entry *words; /* read-only file words by address */
    struct overlay *overlays;
    size_t noverlays;
};

/* State of one unwind call, passed to the accessors as `arg`. */
struct unwind_call {
    struct bts_unwinder *u;
    const uint64_t *regs;
    const uint8_t *stack;
    uint64_t sp;
    uint64_t stack_size;
};

static size_t hash_ptr(const void *p)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (size_t)h;
}

/* The load bias of the image behind `map`: run-time minus ELF vaddr. */
static int map_bias(const struct bts_elf *elf, const struct bts_map *map, uint64_t addr,
                    uint64_t *bias)
{
    uint64_t vaddr;
    int ret = bts_elf_runtime_to_vaddr(elf, map, addr, &vaddr);
    if (ret == 0)
        *bias = addr - vaddr;
    return ret;
}

static int read_file_word(struct bts_unwinder *u, uint64_t addr, uint64_t *value)
{
    struct word_cache_entry *slot = &u->words[(addr >> 3) & (WORD_CACHE_SIZE - 1)];
    if (slot->addr == addr + 1) {
        *value = slot->value;
        return 0;
    }
    struct bts_elf *elf = NULL;
    const struct bts_map *map = u->target.find_map(u->target.ctx, addr, &elf);
    uint64_t vaddr;
    if (!map || !elf || (map->prot & 2 /* PROT_WRITE */))
        return -UNW_EINVAL;
    if (bts_elf_runtime_to_vaddr(elf, map, addr, &vaddr) < 0)
        return -UNW_EINVAL;
    if (bts_elf_read_vaddr(elf, vaddr, value, sizeof(*value)) < 0)
        return -UNW_EINVAL;
    slot->addr = addr + 1;
    slot->value = *value;
    return 0;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *valp, int write, void *arg)
{
    (void)as;
    struct unwind_call *c = arg;
    if (write)
        return -UNW_EINVAL;
    if (addr >= c->sp && addr - c->sp < c->stack_size) {
        if (addr - c->sp + sizeof(*valp) > c->stack_size)
            return -UNW_EINVAL;
        memcpy(valp, c->stack + (addr - c->sp), sizeof(*valp));
        return 0;
    }
    for (size_t i = 0; i < c->u->noverlays; i++) {
        const struct overlay *o = &c->u->overlays[i];
        if (addr >= o->base && addr - o->base + sizeof(*valp) <= o->len) {
            memcpy(valp, o->data + (addr - o->base), sizeof(*valp));
            return 0;
        }
    }
    uint64_t v;
    if (read_file_word(c->u, addr, &v) < 0)
        return -UNW_EINVAL;
    *valp = v;
    return 0;
}

static int access_reg(unw_addr_space_t as, unw_regnum_t regnum, unw_word_t *valp, int write,
                      void *arg)
{
    (void)as;
    static const int perf_index[] = {
        [UNW_X86_64_RAX] = 0,  [UNW_X86_64_RDX] = 3,  [UNW_X86_64_RCX] = 2,  [UNW_X86_64_RBX] = 1,
        [UNW_X86_64_RSI] = 4,  [UNW_X86_64_RDI] = 5,  [UNW_X86_64_RBP] = 6,  [UNW_X86_64_RSP] = 7,
        [UNW_X86_64_R8] = 16,  [UNW_X86_64_R9] = 17,  [UNW_X86_64_R10] = 18, [UNW_X86_64_R11] = 19,
        [UNW_X86_64_R12] = 20, [UNW_X86_64_R13] = 21, [UNW_X86_64_R14] = 22, [UNW_X86_64_R15] = 23,
        [UNW_X86_64_RIP] = 8,
    };
    struct unwind_call *c = arg;
    if (write || regnum < 0 || regnum > UNW_X86_64_RIP)
        return -UNW_EBADREG;
    *valp = c->regs[perf_index[regnum]];
    return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t regnum, unw_fpreg_t *fpvalp, int write,
                        void *arg)
{
    (void)as, (void)regnum, (void)fpvalp, (void)write, (void)arg;
    return -UNW_EINVAL;
}

static int resume(unw_addr_space_t as, unw_cursor_t *cu, void *arg)
{
    (void)as, (void)cu, (void)arg;
    return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *bufp, size_t buf_len,
                         unw_word_t *offp, void *arg)
{
    (void)as, (void)addr, (void)bufp, (void)buf_len, (void)offp, (void)arg;
    return -UNW_ENOINFO;
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dilap, void *arg)
{
    (void)as, (void)dilap, (void)arg;
    return -UNW_ENOINFO;
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
    (void)as, (void)pi, (void)arg;
}

/* Reads a DWARF-encoded pointer from the image at vaddr `*pos`. */
static int read_encoded(const struct bts_elf *elf, uint8_t enc, uint64_t *pos, uint64_t datarel,
                        uint64_t *out)
{
    uint8_t buf[8];
    uint64_t v;
    size_t len;
    switch (enc & 0x0f) {
    case DW_EH_PE_absptr:
    case DW_EH_PE_udata8:
    case DW_EH_PE_sdata8:
        len = 8;
        break;
    case DW_EH_PE_udata4:
    case DW_EH_PE_sdata4:
        len = 4;
        break;
    case DW_EH_PE_udata2:
    case DW_EH_PE_sdata2:
        len = 2;
        break;
    default:
        return -ENOTSUP;
    }
    if (bts_elf_read_vaddr(elf, *pos, buf, len) < 0)
        return -EFAULT;
    if (len == 8) {
        memcpy(&v, buf, 8);
    } else if (len == 4) {
        uint32_t w;
        memcpy(&w, buf, 4);
        v = (enc & 0x0f) == DW_EH_PE_sdata4 ? (uint64_t)(int64_t)(int32_t)w : w;
    } else {
        uint16_t w;
        memcpy(&w, buf, 2);
        v = (enc & 0x0f) == DW_EH_PE_sdata2 ? (uint64_t)(int64_t)(int16_t)w : w;
    }
    switch (enc & 0x70) {
    case 0:
        break;
    case DW_EH_PE_pcrel:
        v += *pos;
        break;
    case DW_EH_PE_datarel:
        v += datarel;
        break;
    default:
        return -ENOTSUP;
    }
    *pos += len;
    *out = v;
    return 0;
}

static void load_image_info(struct image_info *info)
{
    uint64_t hdr, offset, size, pos, eh_frame, count;
    const char *file;
    uint8_t head[4];
    info->usable = false;
    if (bts_elf_section(info->elf, ".eh_frame_hdr", &hdr, &offset, &size, &file) < 0)
        return;
    if (bts_elf_read_vaddr(info->elf, hdr, head, sizeof(head)) < 0 || head[0] != 1)
        return;
    /* libunwind's binary search only understands this table encoding. */
    if (head[1] == DW_EH_PE_omit || head[2] == DW_EH_PE_omit ||
        head[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
        return;
    pos = hdr + 4;
    if (read_encoded(info->elf, head[1], &pos, hdr, &eh_frame) < 0 ||
        read_encoded(info->elf, head[2], &pos, hdr, &count) < 0)
        return;
    info->hdr_vaddr = hdr;
    info->table_vaddr = pos;
    info->fde_count = count;
    info->usable = count > 0;
}

/* Reads a section the image does not load (e.g. .debug_frame) from its file. */
static uint8_t *read_section_file(const char *path, uint64_t offset, uint64_t size)
{
    uint8_t *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || size == 0 || size > (256u << 20))
        goto out;
    buf = malloc(size);
    if (buf && pread(fd, buf, size, (off_t)offset) != (ssize_t)size) {
        free(buf);
        buf = NULL;
    }
out:
    if (fd >= 0)
        close(fd);
    return buf;
}

/* True when nothing of the target and no overlay lies in [start, start+len). */
static bool range_is_free(struct bts_unwinder *u, uint64_t start, uint64_t len)
{
    struct bts_elf *elf;
    for (uint64_t a = start; a - start < len + 4096; a += 4096) {
        if (u->target.find_map(u->target.ctx, a, &elf))
            return false;
    }
    for (size_t i = 0; i < u->noverlays; i++) {
        if (start < u->overlays[i].base + u->overlays[i].len && u->overlays[i].base < start + len)
            return false;
    }
    return true;
}

/* Converts the image's .debug_frame and finds an unmapped place within reach
 * of its code (table entries are 32-bit offsets) to serve it from. */
static void load_debug_frame(struct bts_unwinder *u, struct image_info *info,
                             const struct bts_map *map, uint64_t bias)
{
    uint64_t vaddr, offset, size;
    const char *file;
    uint8_t *sec = NULL;
    info->debug_frame_state = -1;
    if (bts_elf_section(info->elf, ".debug_frame", &vaddr, &offset, &size, &file) < 0)
        return;
    sec = read_section_file(file, offset, size);
    if (!sec || bts_debug_frame_convert(sec, size, bias, &info->debug_frame) < 0)
        goto out;
    struct overlay *n = realloc(u->overlays, (u->noverlays + 1) * sizeof(*n));
    if (!n)
        goto out;
    u->overlays = n;
    uint64_t len = (info->debug_frame.len + 4095) & ~4095ULL;
    for (int k = 0; k < 32; k++) {
        uint64_t step = (uint64_t)(k / 2 + 1) << 24; /* 16 MiB steps, below then above */
        uint64_t base = k % 2 == 0 ? (map->start & ~4095ULL) - len - step
                                   : ((map->end + 4095) & ~4095ULL) + step;
        if ((k % 2 == 0 && base > map->start) || base >= (1ULL << 47))
            continue;
        if (!range_is_free(u, base, len) || bts_debug_frame_place(&info->debug_frame, base) < 0)
            continue;
        info->debug_frame_base = base;
        u->overlays[u->noverlays++] = (struct overlay){
            .base = base, .len = info->debug_frame.len, .data = info->debug_frame.data};
        info->debug_frame_state = 1;
        goto out;
    }
out:
    if (info->debug_frame_state < 0)
        bts_debug_frame_table_free(&info->debug_frame);
    free(sec);
}

static struct image_info *image_info_for(struct bts_unwinder *u, const struct bts_elf *elf)
{
    if (u->nimages * 2 >= u->cap_images) {
        size_t ncap = u->cap_images ? u->cap_images * 2 : 64;
        struct image_info *n = calloc(ncap, sizeof(*n));
        if (!n)
            return NULL;
        for (size_t i = 0; i < u->cap_images; i++) {
            if (!u->images[i].elf)
                continue;
            size_t j = hash_ptr(u->images[i].elf) & (ncap - 1);
            while (n[j].elf)
                j = (j + 1) & (ncap - 1);
            n[j] = u->images[i];
        }
        free(u->images);
        u->images = n;
        u->cap_images = ncap;
    }
    size_t mask = u->cap_images - 1;
    size_t j = hash_ptr(elf) & mask;
    for (; u->images[j].elf; j = (j + 1) & mask) {
        if (u->images[j].elf == elf)
            return &u->images[j];
    }
    u->images[j].elf = elf;
    u->nimages++;
    load_image_info(&u->images[j]);
    return &u->images[j];
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
                          int need_unwind_info, void *arg)
{
    struct unwind_call *c = arg;
    struct bts_unwinder *u = c->u;
    struct bts_elf *elf = NULL;
    const struct bts_map *map = u->target.find_map(u->target.ctx, ip, &elf);
    uint64_t bias = 0;
    if (!map || !elf || map_bias(elf, map, ip, &bias) < 0)
        return -UNW_ENOINFO;
    struct image_info *info = image_info_for(u, elf);
    int ret = -UNW_ENOINFO;
    if (!info)
        return ret;
    unw_dyn_info_t di;
    memset(&di, 0, sizeof(di));
    di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
    di.start_ip = map->start;
    di.end_ip = map->end;
    di.u.rti.name_ptr = 0;
    if (info->usable) {
        di.u.rti.segbase = info->hdr_vaddr + bias;
        di.u.rti.table_data = info->table_vaddr + bias;
        /* Each entry is two int32s: initial location and FDE address. */
        di.u.rti.table_len = info->fde_count * 8 / sizeof(unw_word_t);
        ret = dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
        if (ret >= 0)
            return ret;
    }
    /* No .eh_frame entry: fall back to .debug_frame. */
    if (info->debug_frame_state == 0)
        load_debug_frame(u, info, map, bias);
    if (info->debug_frame_state < 0 || info->debug_frame.bias != bias)
        return ret;
    di.u.rti.segbase = info->debug_frame_base;
    di.u.rti.table_data = info->debug_frame_base;
    di.u.rti.table_len = info->debug_frame.count * 8 / sizeof(unw_word_t);
    return dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
}

static unw_accessors_t accessors = {
    .find_proc_info = find_proc_info,
    .put_unwind_info = put_unwind_info,
    .get_dyn_info_list_addr = get_dyn_info_list_addr,
    .access_mem = access_mem,
    .access_reg = access_reg,
    .access_fpreg = access_fpreg,
    .resume = resume,
    .get_proc_name = get_proc_name,
};

struct bts_unwinder *bts_unwinder_new(const struct bts_unwind_target *target)
{
    struct bts_unwinder *u = calloc(1, sizeof(*u));
    int err = ENOMEM;
    if (!u)
        goto out;
    u->target = *target;
    u->words = calloc(WORD_CACHE_SIZE, sizeof(*u->words));
    if (!u->words)
        goto out;
    u->as = unw_create_addr_space(&accessors, 0);
    if (!u->as)
        goto out;
    unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
    return u;
out:
    bts_unwinder_free(u);
    errno = err;
    return NULL;
}

void bts_unwinder_free(struct bts_unwinder *u)
{
    if (!u)
        return;
    if (u->as)
        unw_destroy_addr_space(u->as);
    for (size_t i = 0; i < u->cap_images; i++)
        bts_debug_frame_table_free(&u->images[i].debug_frame);
    free(u->images);
    free(u->overlays);
    free(u->words);
    free(u);
}

void bts_unwinder_flush(struct bts_unwinder *u)
{
    if (!u)
        return;
    unw_flush_cache(u->as, 0, 0);
    memset(u->words, 0, WORD_CACHE_SIZE * sizeof(*u->words));
    /* Image infos are per ELF image and hold no run-time addresses: keep them.
     * The cache owns the images, so a pointer is never reused for another
     * file while the cache lives. */
}

const int bts_unwind_saved_reg[BTS_UNWIND_NSAVED] = {1, 6, 20, 21, 22, 23};

/* libunwind's numbers for the same registers, in the same order. */
static const unw_regnum_t saved_unw_reg[BTS_UNWIND_NSAVED] = {
    UNW_X86_64_RBX, UNW_X86_64_RBP, UNW_X86_64_R12, UNW_X86_64_R13, UNW_X86_64_R14, UNW_X86_64_R15,
};

static void frame_saved_regs(unw_cursor_t *cursor, struct bts_unwind_frame *f)
{
    f->saved_valid = 0;
    for (unsigned i = 0; i < BTS_UNWIND_NSAVED; i++) {
        unw_word_t v;
        if (unw_get_reg(cursor, saved_unw_reg[i], &v) == 0) {
            f->saved[i] = v;
            f->saved_valid |= (uint8_t)(1u << i);
        }
    }
}

/* One unwind loop for both entry points: `pcs` or `frames` (the other NULL). */
static int unwind(struct bts_unwinder *u, const uint64_t *regs, const uint8_t *stack,
                  uint64_t stack_size, uint64_t *pcs, struct bts_unwind_frame *frames, unsigned max)
{
    struct unwind_call call = {
        .u = u, .regs = regs, .stack = stack, .sp = regs[BTS_REG_SP], .stack_size = stack_size};
    unw_cursor_t cursor;
    unsigned n = 0;
    uint64_t last_ip = regs[BTS_REG_IP];
    int64_t deadline = bts_proc_now_ns() + UNWIND_TIME_CAP_NS;
    if (max == 0)
        return -EINVAL;
    if (regs[BTS_REG_IP] == 0)
        return -ENOENT;
    if (frames) {
        memset(&frames[0], 0, sizeof(frames[0]));
        frames[0].pc = regs[BTS_REG_IP];
        frames[0].sp = regs[BTS_REG_SP];
        for (unsigned i = 0; i < BTS_UNWIND_NSAVED; i++)
            frames[0].saved[i] = regs[bts_unwind_saved_reg[i]];
        frames[0].saved_valid = (1u << BTS_UNWIND_NSAVED) - 1;
    } else {
        pcs[0] = regs[BTS_REG_IP];
    }
    n = 1;
    if (unw_init_remote(&cursor, u->as, &call) < 0)
        return (int)n;
    uint64_t last_sp = regs[BTS_REG_SP];
    while (n < max) {
        int step = unw_step(&cursor);
        if (step == 0 && frames)
            frames[n - 1].outermost = true;
        if (step <= 0)
            break;
        unw_word_t ip = 0, sp = 0;
        if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0)
            break;
        unw_get_reg(&cursor, UNW_REG_SP, &sp);
        /* Guard against cycles in corrupt frames: the stack only grows up. */
        if (sp < last_sp || (sp == last_sp && ip == last_ip))
            break;
        last_sp = sp;
        last_ip = ip;
        if (frames) {
            struct bts_unwind_frame *f = &frames[n];
            frames[n - 1].cfa = sp;
            memset(f, 0, sizeof(*f));
            f->pc = ip;
            f->sp = sp;
            frame_saved_regs(&cursor, f);
        } else {
            pcs[n] = ip;
        }
        n++;
        if ((n & 15) == 0 && bts_proc_now_ns() > deadline)
            break;
    }
    return (int)n;
}

int bts_unwinder_unwind(struct bts_unwinder *u, const uint64_t *regs, const uint8_t *stack,
                        uint64_t stack_size, uint64_t *pcs, unsigned max)
{
    return unwind(u, regs, stack, stack_size, pcs, NULL, max);
}

int bts_unwinder_unwind_frames(struct bts_unwinder *u, const uint64_t *regs, const uint8_t *stack,
                               uint64_t stack_size, struct bts_unwind_frame *frames, unsigned max)
{
    return unwind(u, regs, stack, stack_size, NULL, frames, max);
}
