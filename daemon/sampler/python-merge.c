/* SPDX-License-Identifier: MIT */
/* python-merge: native + Python stacks merged per sample, each evaluation
 * loop activation anchored on what the sample itself carries. */
#include "python-merge-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Slots of an activation's stack frame looked at, counted down from its
 * CFA (the evaluation loop's frames are 300-450 bytes on x86-64). */
#define MAX_SLOTS 128
/* Where a value can be: the six callee-saved registers, then the slots. */
#define N_LOCS (BTS_UNWIND_NSAVED + MAX_SLOTS)
#define NO_LOC (-1)

/* Learning: a location is elected once it held the value in at least
 * ELECT_SHARE of LEARN_MIN or more observations, and more often than any
 * other; elections are held again
 * every REELECT_EVERY observations, and counts halve at DECAY_AT so the
 * election follows what the process does now. */
#define LEARN_MIN     8
#define ELECT_SHARE   0.5
#define REELECT_EVERY 64
#define DECAY_AT      4096

/* Bytes from the instruction a frame was last seen at to the loop's
 * instruction pointer: the instruction and its inline caches (3.12's
 * LOAD_ATTR has nine cache units). */
#define INSTR_SPAN 24

struct anchor_learning {
    uint32_t hits[N_LOCS];
    uint32_t observations;
    uint32_t since_election;
    int elected; /* a location, or NO_LOC */
};

struct bts_python_merge {
    struct bts_merge_opts opts;
    struct anchor_learning frame; /* the current interpreter frame */
    /* Its code: the start of its bytecode (3.8-3.11 keep that pointer), or
     * else a pointer into it (the instruction pointer, 3.12+). */
    struct anchor_learning code_start;
    struct anchor_learning code;
    struct bts_merge_stats stats;
};

static const char *const saved_names[BTS_UNWIND_NSAVED] = {"rbx", "rbp", "r12",
                                                           "r13", "r14", "r15"};

/* --- classification ---------------------------------------------------- */

/* Functions that only pass a call on, start the interpreter or a thread,
 * or set up and tear down frames, 3.8 to 3.13. A trailing '*' matches any
 * rest. */
static const char *const internal_names[] = {
    "_PyEval_Vector",
    "_PyEval_EvalCode*",
    "PyEval_EvalCode*",
    "_PyEval_EvalFrame",
    "PyEval_EvalFrame*",
    "_PyEvalFramePushAndInit*",
    "_PyEvalFrameClearAndPop*",
    "_PyFrame_Clear*",
    "_PyFrame_Push*",
    "_PyThreadState_PushFrame",
    "_PyThreadState_PopFrame",
    "clear_thread_frame",
    "clear_gen_frame",
    "function_code_fastcall",
    "call_function",
    "trace_call_function",
    "do_call_core",
    "_PyFunction_Vectorcall",
    "_PyFunction_FastCall*",
    "method_vectorcall*",
    "cfunction_vectorcall*",
    "cfunction_call*",
    "_PyCFunction_FastCall*",
    "_PyMethodDef_RawFastCall*",
    "_PyMethodDescr_FastCall*",
    "_PyObject_Vectorcall*",
    "PyObject_Vectorcall*",
    "_PyObject_MakeTpCall",
    "_PyObject_FastCall*",
    "_PyObject_Call*",
    "PyObject_Call",
    "PyObject_CallOneArg",
    "PyObject_CallNoArgs",
    "PyObject_CallObject",
    "PyObject_CallFunction*",
    "PyObject_CallMethod*",
    "_PyObject_CallMethod*",
    "PyEval_CallObjectWithKeywords",
    "PyVectorcall_Call",
    "_PyVectorcall_Call",
    "object_vacall",
    "vectorcall_method",
    "vectorcall_unbound",
    "slot_tp_call",
    "gen_send_ex*",
    "gen_iternext",
    "gen_send",
    "t_bootstrap",
    "thread_run",
    "pythread_wrapper",
};

static bool name_matches(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, name, n - 1) == 0;
    return strcmp(pattern, name) == 0;
}

/* The name without a GCC clone suffix (".cold", ".isra.0", ...), in buf. */
static const char *base_name(const char *name, char *buf, size_t len)
{
    const char *dot = strchr(name, '.');
    if (!dot || (size_t)(dot - name) >= len)
        return name;
    memcpy(buf, name, (size_t)(dot - name));
    buf[dot - name] = '\0';
    return buf;
}

enum bts_merge_kind bts_python_merge_classify(const char *name)
{
    char buf[128];
    if (!name || !*name)
        return BTS_MERGE_NATIVE;
    name = base_name(name, buf, sizeof(buf));
    if (strcmp(name, "_PyEval_EvalFrameDefault") == 0)
        return BTS_MERGE_EVAL;
    for (size_t i = 0; i < sizeof(internal_names) / sizeof(internal_names[0]); i++) {
        if (name_matches(internal_names[i], name))
            return BTS_MERGE_INTERNAL;
    }
    return BTS_MERGE_NATIVE;
}

const char *bts_python_merge_result_name(enum bts_merge_result r)
{
    static const char *const names[BTS_MERGE_RESULT_COUNT] = {
        [BTS_MERGE_OK] = "ok",
        [BTS_MERGE_NO_PYTHON] = "no python",
        [BTS_MERGE_TORN_COUNT] = "activation count",
        [BTS_MERGE_TORN_FRAME] = "frame moved",
        [BTS_MERGE_TORN_CODE] = "code changed",
        [BTS_MERGE_TORN_LEARNING] = "still learning",
        [BTS_MERGE_TORN_STACK] = "nothing to anchor",
    };
    return r < BTS_MERGE_RESULT_COUNT ? names[r] : "?";
}

/* --- lifecycle ----------------------------------------------------------- */

static void learning_reset(struct anchor_learning *l)
{
    memset(l, 0, sizeof(*l));
    l->elected = NO_LOC;
}

struct bts_python_merge *bts_python_merge_new(const struct bts_merge_opts *opts)
{
    struct bts_python_merge *m = calloc(1, sizeof(*m));
    if (!m) {
        errno = ENOMEM;
        return NULL;
    }
    if (opts)
        m->opts = *opts;
    learning_reset(&m->frame);
    learning_reset(&m->code_start);
    learning_reset(&m->code);
    return m;
}

void bts_python_merge_free(struct bts_python_merge *m)
{
    free(m);
}

void bts_python_merge_reset(struct bts_python_merge *m)
{
    if (!m)
        return;
    learning_reset(&m->frame);
    learning_reset(&m->code_start);
    learning_reset(&m->code);
    m->stats.learned = false;
}

/* Where the code is checked: the bytecode's start when some location
 * holds it, else any pointer into the bytecode. */
static int code_anchor(const struct bts_python_merge *m)
{
    return m->code_start.elected != NO_LOC ? m->code_start.elected : m->code.elected;
}

void bts_python_merge_stats(const struct bts_python_merge *m, struct bts_merge_stats *out)
{
    *out = m->stats;
    out->learned = m->frame.elected != NO_LOC && code_anchor(m) != NO_LOC;
}

static void loc_name(int loc, char *buf, size_t len)
{
    if (loc == NO_LOC)
        snprintf(buf, len, "%s", "");
    else if (loc < BTS_UNWIND_NSAVED)
        snprintf(buf, len, "%s", saved_names[loc]);
    else
        snprintf(buf, len, "cfa-%d", 8 * (loc - BTS_UNWIND_NSAVED + 1));
}

void bts_python_merge_anchors(const struct bts_python_merge *m, char *frame, char *code, size_t len)
{
    loc_name(m->frame.elected, frame, len);
    loc_name(code_anchor(m), code, len);
}

/* --- what an activation holds ------------------------------------------- */

/* The value at location `loc` of native frame `f`; false when the sample
 * does not hold it (a register no callee saved where we can see, a slot
 * outside the frame or the copy). */
static bool loc_value(const struct bts_merge_input *in, const struct bts_unwind_frame *f, int loc,
                      uint64_t *out)
{
    if (loc < BTS_UNWIND_NSAVED) {
        if (!(f->saved_valid & (1u << loc)))
            return false;
        *out = f->saved[loc];
        return true;
    }
    uint64_t off = 8 * (uint64_t)(loc - BTS_UNWIND_NSAVED + 1);
    uint64_t base = in->regs[BTS_REG_SP];
    if (!f->cfa || off > f->cfa - f->sp)
        return false;
    uint64_t addr = f->cfa - off;
    if (addr < base || addr - base + 8 > in->stack_size)
        return false;
    memcpy(out, in->stack + (addr - base), sizeof(*out));
    return true;
}

static void observe(struct anchor_learning *l, const struct bts_merge_input *in,
                    const struct bts_unwind_frame *f, uint64_t lo, uint64_t hi)
{
    for (int loc = 0; loc < N_LOCS; loc++) {
        uint64_t v;
        if (loc_value(in, f, loc, &v) && v >= lo && v < hi)
            l->hits[loc]++;
    }
    l->observations++;
    l->since_election++;
    if (l->observations >= LEARN_MIN &&
        (l->elected == NO_LOC || l->since_election >= REELECT_EVERY)) {
        int best = NO_LOC;
        for (int loc = 0; loc < N_LOCS; loc++) {
            if (best == NO_LOC || l->hits[loc] > l->hits[best])
                best = loc;
        }
        l->since_election = 0;
        if (best != NO_LOC && l->hits[best] >= ELECT_SHARE * l->observations)
            l->elected = best;
    }
    if (l->observations >= DECAY_AT) {
        for (int loc = 0; loc < N_LOCS; loc++)
            l->hits[loc] /= 2;
        l->observations /= 2;
    }
}

/* --- runs of Python frames ---------------------------------------------- */

#define MAX_RUNS 256

/* Splits the thread's frames (innermost first) into runs, each ending at
 * an entry frame: what one activation of the loop runs. Returns the number
 * of runs, or -1 when the outermost frame is no entry frame (a chain cut
 * off) or there are too many. starts[i] is the first frame of run i;
 * starts[n] the end. */
static int split_runs(const struct bts_python_thread *t, size_t *starts)
{
    int n = 0;
    starts[0] = 0;
    for (size_t i = 0; i < t->n_frames; i++) {
        if (!t->frames[i].is_entry)
            continue;
        if (n + 1 >= MAX_RUNS)
            return -1;
        starts[++n] = i + 1;
    }
    if (starts[n] != t->n_frames)
        return -1;
    return n;
}

/* --- the merge ----------------------------------------------------------- */

/* Whether some value the activation holds points at the instruction the
 * frame was read at, or just past it: the frame had not moved on. */
static bool instr_held(const struct bts_merge_input *in, size_t native_index, uint64_t instr)
{
    const struct bts_unwind_frame *f = &in->native[native_index];
    if (!instr)
        return false;
    if (native_index == 0) {
        for (int r = 0; r < BTS_REG_COUNT; r++) {
            if (in->regs[r] >= instr && in->regs[r] - instr <= INSTR_SPAN)
                return true;
        }
    }
    for (int loc = 0; loc < N_LOCS; loc++) {
        uint64_t v;
        if (loc_value(in, f, loc, &v) && v >= instr && v - instr <= INSTR_SPAN)
            return true;
    }
    return false;
}

static bool push(struct bts_merge_frame *out, size_t max, size_t *n, bool python, size_t index,
                 int line)
{
    if (*n >= max)
        return false;
    out[*n] = (struct bts_merge_frame){.python = python, .index = (uint32_t)index, .line = line};
    (*n)++;
    return true;
}

enum bts_merge_result bts_python_merge(struct bts_python_merge *m, const struct bts_merge_input *in,
                                       struct bts_merge_frame *out, size_t max, size_t *n_out)
{
    const struct bts_python_thread *t = in->python;
    size_t starts[MAX_RUNS + 1];
    size_t evals[MAX_RUNS];
    size_t n_native = in->n_native;
    bool complete = in->complete;
    int n_runs, n_evals = 0;
    enum bts_merge_result r = BTS_MERGE_OK;
    size_t n = 0;

    *n_out = 0;
    m->stats.samples++;
    if (!t || t->n_frames == 0) {
        for (size_t i = 0; i < n_native && push(out, max, &n, false, i, 0); i++)
            ;
        *n_out = n;
        r = BTS_MERGE_NO_PYTHON;
        goto out;
    }
    n_runs = split_runs(t, starts);
    for (size_t i = 0; i < n_native; i++) {
        if (in->kinds[i] != BTS_MERGE_EVAL)
            continue;
        /* An activation whose frame the copy does not hold whole (the
         * last frame unwound) is past what can be checked: the stack
         * stops before it, and its Python frames count as outer ones. */
        if (!in->native[i].cfa) {
            n_native = i;
            complete = false;
            break;
        }
        if (n_evals == MAX_RUNS) {
            r = BTS_MERGE_TORN_COUNT;
            goto out;
        }
        evals[n_evals++] = i;
    }
    if (n_runs < 0 || (complete && n_evals != n_runs) || n_evals > n_runs) {
        r = BTS_MERGE_TORN_COUNT;
        goto out;
    }
    if (n_evals == 0) {
        r = BTS_MERGE_TORN_STACK;
        goto out;
    }

    /* Learn and check the anchors, activation k against run k. */
    for (int k = 0; k < n_evals; k++) {
        const struct bts_unwind_frame *f = &in->native[evals[k]];
        const struct bts_python_frame *py = &t->frames[starts[k]];
        observe(&m->frame, in, f, py->frame, py->frame + 1);
        if (py->bytecode_start) {
            observe(&m->code_start, in, f, py->bytecode_start, py->bytecode_start + 1);
            observe(&m->code, in, f, py->bytecode_start, py->bytecode_end);
        }
    }
    if (!in->trusted) {
        int code_loc = code_anchor(m);
        bool exact_start = m->code_start.elected != NO_LOC;
        if (m->frame.elected == NO_LOC || code_loc == NO_LOC) {
            r = BTS_MERGE_TORN_LEARNING;
            goto out;
        }
        for (int k = 0; k < n_evals; k++) {
            const struct bts_unwind_frame *f = &in->native[evals[k]];
            const struct bts_python_frame *py = &t->frames[starts[k]];
            uint64_t v;
            if (!loc_value(in, f, m->frame.elected, &v) || v != py->frame) {
                r = BTS_MERGE_TORN_FRAME;
                break;
            }
            if (!loc_value(in, f, code_loc, &v) || !py->bytecode_start ||
                (exact_start ? v != py->bytecode_start
                             : v < py->bytecode_start || v >= py->bytecode_end)) {
                r = BTS_MERGE_TORN_CODE;
                break;
            }
        }
        if (r != BTS_MERGE_OK) {
            /* An early election may have picked a location that holds the
             * value only at some call sites: count again at once. */
            m->frame.since_election = REELECT_EVERY;
            m->code_start.since_election = REELECT_EVERY;
            m->code.since_election = REELECT_EVERY;
            goto out;
        }
    }

    /* Build the stack, leaf first: each activation gives way to its run. */
    {
        int k = 0;
        size_t outermost = 0; /* native frames past the outermost activation are the root */
        for (size_t i = 0; i < n_native; i++) {
            if (in->kinds[i] == BTS_MERGE_EVAL)
                outermost = i;
        }
        for (size_t i = 0; i < n_native; i++) {
            if (in->kinds[i] == BTS_MERGE_EVAL) {
                const struct bts_python_frame *py = &t->frames[starts[k]];
                if (in->trusted || instr_held(in, i, py->instr))
                    m->stats.line_exact++;
                else
                    m->stats.line_after++;
                for (size_t j = starts[k]; j < starts[k + 1]; j++) {
                    if (!push(out, max, &n, true, j, t->frames[j].line))
                        goto built;
                }
                k++;
                continue;
            }
            if (!m->opts.keep_internal &&
                (in->kinds[i] == BTS_MERGE_INTERNAL || (complete && i > outermost)))
                continue;
            if (!push(out, max, &n, false, i, 0))
                goto built;
        }
        /* The copy ended first: the rest of the Python stack is outside it,
         * called into by frames the sample vouched for. */
        if (k < n_runs) {
            m->stats.truncated++;
            for (size_t j = starts[k]; j < t->n_frames; j++) {
                if (!push(out, max, &n, true, j, t->frames[j].line))
                    break;
            }
        }
    }
built:
    *n_out = n;
out:
    m->stats.results[r]++;
    return r;
}
