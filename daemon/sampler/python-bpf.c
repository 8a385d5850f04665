/* SPDX-License-Identifier: MIT */
/* python-bpf: loads the frame-chain capture program, keeps its maps in
 * step with the interpreters and threads the sessions find, and pairs its
 * records with samples (python-bpf-private.h). */
#include "python-bpf-private.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "python-capture.skel.h"

/* Records kept for pairing: a batch of samples per thread at most (a
 * quarter of its ring). When they overflow, the oldest are lost, those
 * samples are read after the fact, and the session goes back to prompt
 * wakeups (python_read_done's ratio). */
#define SLOTS 128
/* A record is taken in the same interrupt as its sample: its time is
 * within microseconds of the sample's own, before or after it (kernels
 * differ in which is read first). Far less than a sampling period. */
#define MATCH_NS (100 * 1000ULL)

struct known_thread {
    pid_t pid, tid;
    uint64_t tstate;
};

struct bts_python_bpf {
    struct python_capture *skel;
    struct ring_buffer *ring;
    struct bts_capture_record *slots; /* SLOTS of them; tid 0: free */
    size_t next_slot;
    struct known_thread *threads;
    size_t n_threads, threads_cap;
};

/* libbpf's messages would go to stderr: a library never prints. */
static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    (void)level;
    (void)fmt;
    (void)ap;
    return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
    struct bts_python_bpf *b = ctx;
    const struct bts_capture_record *r = data;
    size_t header = offsetof(struct bts_capture_record, frames);

    if (size < header || size > sizeof(*r) || r->tid == 0 || r->n_frames > BTS_CAPTURE_MAX_FRAMES ||
        header + r->n_frames * sizeof(r->frames[0]) > size)
        return 0;
    memcpy(&b->slots[b->next_slot], r, size);
    b->next_slot = (b->next_slot + 1) % SLOTS;
    return 0;
}

struct bts_python_bpf *bts_python_bpf_new(void)
{
    struct bts_python_bpf *b = calloc(1, sizeof(*b));
    int err;

    if (!b)
        return NULL;
    libbpf_set_print(quiet);
    b->slots = calloc(SLOTS, sizeof(*b->slots));
    if (!b->slots) {
        err = -ENOMEM;
        goto fail;
    }
    b->skel = python_capture__open_and_load();
    if (!b->skel) {
        err = -errno;
        goto fail;
    }
    b->ring = ring_buffer__new(bpf_map__fd(b->skel->maps.records), on_record, b, NULL);
    if (!b->ring) {
        err = -errno;
        goto fail;
    }
    return b;
fail:
    bts_python_bpf_free(b);
    errno = err < 0 ? -err : EINVAL;
    return NULL;
}

void bts_python_bpf_free(struct bts_python_bpf *b)
{
    if (!b)
        return;
    ring_buffer__free(b->ring);
    python_capture__destroy(b->skel);
    free(b->slots);
    free(b->threads);
    free(b);
}

int bts_python_bpf_prog_fd(const struct bts_python_bpf *b)
{
    return bpf_program__fd(b->skel->progs.bts_python_capture);
}

int bts_python_bpf_set_process(struct bts_python_bpf *b, pid_t pid,
                               const struct bts_python_chain_layout *l)
{
    struct bts_capture_layout v = {
        .tstate_frame = l->tstate_frame,
        .cframe_frame = l->cframe_frame == UINT32_MAX ? BTS_CAPTURE_NONE : l->cframe_frame,
        .frame_previous = l->frame_previous,
        .frame_bytes = l->frame_bytes,
        .gil_locked = l->gil_locked,
        .gil_holder = l->gil_holder,
    };
    uint32_t key = (uint32_t)pid;

    if (v.frame_bytes > BTS_CAPTURE_FRAME_BYTES || v.frame_bytes > BTS_PYTHON_OVERLAY_MAX_BLOCK ||
        v.frame_previous + 8 > v.frame_bytes)
        return -EINVAL;
    if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.procs), &key, &v, BPF_ANY))
        return -errno;
    return 0;
}

void bts_python_bpf_forget_process(struct bts_python_bpf *b, pid_t pid)
{
    uint32_t key = (uint32_t)pid;
    size_t kept = 0;

    bpf_map_delete_elem(bpf_map__fd(b->skel->maps.procs), &key);
    for (size_t i = 0; i < b->n_threads; i++) {
        if (b->threads[i].pid == pid) {
            key = (uint32_t)b->threads[i].tid;
            bpf_map_delete_elem(bpf_map__fd(b->skel->maps.threads), &key);
        } else {
            b->threads[kept++] = b->threads[i];
        }
    }
    b->n_threads = kept;
}

int bts_python_bpf_set_thread(struct bts_python_bpf *b, pid_t pid, pid_t tid, uint64_t tstate)
{
    struct known_thread *t = NULL;
    uint32_t key = (uint32_t)tid;

    for (size_t i = 0; i < b->n_threads && !t; i++)
        if (b->threads[i].tid == tid)
            t = &b->threads[i];
    if (t && t->pid == pid && t->tstate == tstate)
        return 0;
    if (!t) {
        if (b->n_threads == b->threads_cap) {
            size_t cap = b->threads_cap ? b->threads_cap * 2 : 64;
            struct known_thread *n = realloc(b->threads, cap * sizeof(*n));

            if (!n)
                return -ENOMEM;
            b->threads = n;
            b->threads_cap = cap;
        }
        t = &b->threads[b->n_threads++];
    }
    *t = (struct known_thread){.pid = pid, .tid = tid, .tstate = tstate};
    if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.threads), &key, &tstate, BPF_ANY))
        return -errno;
    return 0;
}

const struct bts_capture_record *bts_python_bpf_find(struct bts_python_bpf *b, pid_t tid,
                                                     uint64_t time_ns)
{
    struct bts_capture_record *best = NULL;
    uint64_t best_gap = MATCH_NS;

    ring_buffer__consume(b->ring);
    for (size_t i = 0; i < SLOTS; i++) {
        struct bts_capture_record *r = &b->slots[i];
        uint64_t gap = r->time_ns > time_ns ? r->time_ns - time_ns : time_ns - r->time_ns;

        if ((pid_t)r->tid == tid && gap <= best_gap) {
            best = r;
            best_gap = gap;
        }
    }
    if (best)
        best->tid = 0; /* one sample, one record */
    return best;
}

static int block_order(const void *a, const void *b)
{
    const struct bts_python_overlay_block *x = a, *y = b;

    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

bool bts_python_bpf_overlay(const struct bts_capture_record *r,
                            const struct bts_python_chain_layout *l,
                            struct bts_python_overlay_block *blocks, struct bts_python_overlay *out)
{
    size_t n = 0;

    /* on_record bounded n_frames, set_process frame_bytes */
    if (r->flags & (BTS_CAPTURE_TRUNCATED | BTS_CAPTURE_FAULT))
        return false;
    blocks[n++] = (struct bts_python_overlay_block){
        .addr = r->tstate + l->tstate_frame, .len = 8, .data = (const uint8_t *)&r->tstate_value};
    if (l->cframe_frame != UINT32_MAX && r->tstate_value)
        blocks[n++] = (struct bts_python_overlay_block){.addr = r->tstate_value + l->cframe_frame,
                                                        .len = 8,
                                                        .data = (const uint8_t *)&r->cframe_value};
    if (r->flags & BTS_CAPTURE_GIL) {
        blocks[n++] = (struct bts_python_overlay_block){
            .addr = l->gil_locked, .len = 4, .data = (const uint8_t *)&r->gil_locked};
        blocks[n++] = (struct bts_python_overlay_block){
            .addr = l->gil_holder, .len = 8, .data = (const uint8_t *)&r->gil_holder};
    }
    for (uint32_t i = 0; i < r->n_frames; i++)
        blocks[n++] = (struct bts_python_overlay_block){
            .addr = r->frames[i].addr, .len = l->frame_bytes, .data = r->frames[i].bytes};
    qsort(blocks, n, sizeof(*blocks), block_order);
    *out = (struct bts_python_overlay){.blocks = blocks, .n = n};
    return true;
}
