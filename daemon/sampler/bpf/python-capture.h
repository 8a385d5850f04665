/* SPDX-License-Identifier: MIT */
/* python-capture: what the eBPF program python-capture.bpf.c records at
 * each perf_event sample of a thread that runs CPython, and what it is
 * told about that thread's interpreter. Shared by the program (built with
 * clang -target bpf) and python-bpf.c, so plain fixed-size types only. */
#ifndef BTS_PYTHON_CAPTURE_H
#define BTS_PYTHON_CAPTURE_H

/* Deepest frame chain captured; a deeper one is flagged truncated. */
#define BTS_CAPTURE_MAX_FRAMES 128
/* Bytes copied from the start of each frame: enough for every field the
 * reader reads of a frame (python-reader-private.h: previous, code,
 * instruction, owner, entry flag, and a frame object's reference count and
 * type) on 3.8 to 3.13. */
#define BTS_CAPTURE_FRAME_BYTES 120
/* An offset this version does not have. */
#define BTS_CAPTURE_NONE 0xffffffffu

/* Flags of a record. */
#define BTS_CAPTURE_TRUNCATED 1u /* the chain goes on past MAX_FRAMES */
#define BTS_CAPTURE_FAULT     2u /* a read failed (memory not present) */
#define BTS_CAPTURE_GIL       4u /* gil_locked and gil_holder were read */

/* Per process (map "procs", key: the tgid). */
struct bts_capture_layout {
    unsigned int tstate_frame;   /* thread state -> its frame (or _PyCFrame) */
    unsigned int cframe_frame;   /* _PyCFrame -> current frame; NONE when none */
    unsigned int frame_previous; /* frame -> the frame it links to */
    unsigned int frame_bytes;    /* bytes to copy per frame (<= FRAME_BYTES) */
    unsigned int pad;
    unsigned long long gil_locked; /* address of the GIL's held flag (an int); 0: none */
    unsigned long long gil_holder; /* address of its holder (a thread state); 0: none */
};

struct bts_capture_frame {
    unsigned long long addr;
    unsigned char bytes[BTS_CAPTURE_FRAME_BYTES];
};

/* One record per sample (ring buffer "records"): n_frames frames follow the
 * header; the record is cut after them. */
struct bts_capture_record {
    unsigned int tid;
    unsigned int pid;
    unsigned long long time_ns; /* CLOCK_MONOTONIC, taken just before the sample's */
    unsigned long long tstate;
    unsigned long long tstate_value; /* the 8 bytes at tstate + tstate_frame */
    unsigned long long cframe_value; /* the 8 bytes at that + cframe_frame (if any) */
    unsigned long long gil_holder;   /* the 8 bytes at layout gil_holder */
    unsigned int gil_locked;         /* the 4 bytes at layout gil_locked */
    unsigned int flags;
    unsigned int n_frames;
    struct bts_capture_frame frames[BTS_CAPTURE_MAX_FRAMES];
};

#endif
