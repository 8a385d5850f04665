// SPDX-License-Identifier: GPL-2.0 OR MIT
/* python-capture: runs in the kernel at every perf_event sample of a
 * thread bt-spy knows runs CPython (map "threads": tid -> its thread
 * state), before the sample is written, and copies the head of every frame
 * on that thread's chain into a ring buffer record. The reader then reads
 * the chain from those bytes, not from the thread's memory later, so the
 * Python frames are the ones live at the sample. It reads the sampled
 * thread's own memory only, writes nothing, and always lets the sample
 * through. (GPL for the kernel's helpers; MIT like the rest.) */
#include <linux/bpf.h>
#include <linux/bpf_perf_event.h>
#include <bpf/bpf_helpers.h>

#include "python-capture.h"

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, __u32);
    __type(value, struct bts_capture_layout);
} procs SEC(".maps");

/* Not preallocated: a session holds as many entries as its target has
 * Python threads, not the maximum. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, __u32);
    __type(value, __u64);
} threads SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct bts_capture_record);
} scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 21);
} records SEC(".maps");

#define HEADER_BYTES ((unsigned long)&((struct bts_capture_record *)0)->frames)

SEC("perf_event")
int bts_python_capture(struct bpf_perf_event_data *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id, pid = (__u32)(id >> 32), zero = 0;
    __u64 *tstate = bpf_map_lookup_elem(&threads, &tid);
    struct bts_capture_layout *l;
    struct bts_capture_record *r;
    __u64 frame = 0, size;
    __u32 len, prev_at;

    if (!tstate)
        return 1;
    l = bpf_map_lookup_elem(&procs, &pid);
    r = bpf_map_lookup_elem(&scratch, &zero);
    if (!l || !r)
        return 1;
    r->tid = tid;
    r->pid = pid;
    r->time_ns = bpf_ktime_get_ns();
    r->tstate = *tstate;
    r->flags = 0;
    r->n_frames = 0;
    r->cframe_value = 0;
    if (l->gil_locked && l->gil_holder &&
        !bpf_probe_read_user(&r->gil_locked, sizeof(r->gil_locked), (void *)l->gil_locked) &&
        !bpf_probe_read_user(&r->gil_holder, sizeof(r->gil_holder), (void *)l->gil_holder))
        r->flags |= BTS_CAPTURE_GIL;
    len = l->frame_bytes;
    prev_at = l->frame_previous;
    if (len > BTS_CAPTURE_FRAME_BYTES || prev_at > BTS_CAPTURE_FRAME_BYTES - 8 || prev_at + 8 > len)
        return 1;
    if (bpf_probe_read_user(&frame, sizeof(frame), (void *)(*tstate + l->tstate_frame))) {
        r->flags |= BTS_CAPTURE_FAULT;
        goto out;
    }
    r->tstate_value = frame;
    if (frame && l->cframe_frame != BTS_CAPTURE_NONE) {
        if (bpf_probe_read_user(&frame, sizeof(frame), (void *)(frame + l->cframe_frame))) {
            r->flags |= BTS_CAPTURE_FAULT;
            goto out;
        }
        r->cframe_value = frame;
    }
    for (__u32 i = 0; i < BTS_CAPTURE_MAX_FRAMES && frame; i++) {
        struct bts_capture_frame *f = &r->frames[i];

        f->addr = frame;
        if (bpf_probe_read_user(f->bytes, len, (void *)frame)) {
            r->flags |= BTS_CAPTURE_FAULT;
            goto out;
        }
        r->n_frames = i + 1;
        frame = *(__u64 *)(f->bytes + prev_at);
    }
    if (frame)
        r->flags |= BTS_CAPTURE_TRUNCATED;
out:
    size = HEADER_BYTES + (__u64)r->n_frames * sizeof(struct bts_capture_frame);
    if (size > sizeof(*r))
        size = sizeof(*r);
    bpf_ringbuf_output(&records, r, size, 0);
    return 1;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
