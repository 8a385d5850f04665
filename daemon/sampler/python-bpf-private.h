/* SPDX-License-Identifier: MIT */
/* python-bpf: the eBPF capture of Python frame chains at the sample
 * (bpf/python-capture.bpf.c): loads the program, which the perf_event
 * backend attaches to every cpu-clock event it opens, tells it which
 * threads run which interpreter, and pairs its records with the samples
 * they were taken at. Needs CAP_BPF and CAP_PERFMON (root, or bt-spyd). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpf/python-capture.h"
#include "python-reader.h"

struct bts_python_bpf;

/* Loads and verifies the program. NULL + errno: EPERM when not allowed,
 * else the kernel's or libbpf's error. Never prints. */
struct bts_python_bpf *bts_python_bpf_new(void);
void bts_python_bpf_free(struct bts_python_bpf *b);

/* The program, for PERF_EVENT_IOC_SET_BPF. */
int bts_python_bpf_prog_fd(const struct bts_python_bpf *b);

/* Process `pid` runs an interpreter with this chain layout (from
 * bts_python_chain_layout). 0 or -errno (-EINVAL: a layout the program
 * cannot copy). */
int bts_python_bpf_set_process(struct bts_python_bpf *b, pid_t pid,
                               const struct bts_python_chain_layout *l);

/* Forgets process `pid` and its threads (it exited or exec'd). */
void bts_python_bpf_forget_process(struct bts_python_bpf *b, pid_t pid);

/* Thread `tid` of process `pid` has its thread state at `tstate`: from
 * its next sample on, the program copies that thread's chain. Cheap when
 * nothing changed. 0 or -errno. */
int bts_python_bpf_set_thread(struct bts_python_bpf *b, pid_t pid, pid_t tid, uint64_t tstate);

/* The record of the sample thread `tid` took at `time_ns`, or NULL when
 * there is none (the thread was not known yet, the ring was full). Reads
 * the records waiting first. Valid until the next call. */
const struct bts_capture_record *bts_python_bpf_find(struct bts_python_bpf *b, pid_t tid,
                                                     uint64_t time_ns);

/* The overlay (python-reader.h) that makes a reader walk `r`'s chain and
 * see its GIL holder: its blocks in `blocks` (room for
 * BTS_CAPTURE_MAX_FRAMES + 4). False when the
 * record cannot stand for the chain (cut short, a fault). */
bool bts_python_bpf_overlay(const struct bts_capture_record *r,
                            const struct bts_python_chain_layout *l,
                            struct bts_python_overlay_block *blocks,
                            struct bts_python_overlay *out);
