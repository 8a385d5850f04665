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
 * every REELECT_EVERY observations, and counts halve at DECAY_AT (or at
 * FORGET_AT while none is elected) so the election follows what the
 * process does now. */
#define LEARN_MIN     4
#define ELECT_SHARE   0.5
#define REELECT_EVERY 64
#define DECAY_AT      4096
/* Counts halve as well at FORGET_AT observations with none elected. */
#define FORGET_AT 16
/* Locations that held the value nearly as often as the elected one (its
 * copies: a register and a spill slot, the loop's own pointer and its
 * CFrame's) must hold the same at every sample: where they differ, the
 * loop is between frames (popping one, pushing another). */
#define STRONG_SHARE 0.97
#define MAX_STRONG   4

/* Bytes from the instruction a frame was last seen at to the loop's
 * instruction pointer: the instruction and its inline caches (3.12's
 * LOAD_ATTR has nine cache units). */
#define INSTR_SPAN 24

struct anchor_learning {
    uint32_t hits[N_LOCS];
    uint32_t exact[N_LOCS]; /* of the hits, those equal to the low end */
    uint32_t observations;
    uint32_t since_election;
    int elected; /* a location, or NO_LOC */
    int strong[MAX_STRONG];
    int n_strong;
};

/* A call the loop makes: the location that holds the instruction pointer
 * of the calling frame there, and its distance past the instruction (a
 * call site runs one instruction, so both are fixed). Candidates are
 * counted over the samples in which the frame had not moved on. */
#define SITE_SLOTS      1024
#define SITE_CANDIDATES 8
#define SITE_MIN        3

struct site_candidate {
    int16_t loc;
    int16_t delta; /* bytes from the instruction to the value */
    uint16_t count;
};

struct call_site {
    uint64_t pc; /* the return address into the loop; 0: empty */
    uint16_t observations;
    uint8_t n;
    struct site_candidate c[SITE_CANDIDATES];
};

struct bts_python_merge {
    struct bts_merge_opts opts;
    struct anchor_learning frame; /* the current interpreter frame */
    /* Its code: the start of its bytecode (3.8-3.11 keep that pointer), or
     * else a pointer into it (the instruction pointer, 3.12+). */
    struct anchor_learning code_start;
    struct anchor_learning code;
    /* Where each call site of the loop keeps the calling frame's
     * instruction pointer, and how far past the instruction it points. */
    struct call_site *sites; /* SITE_SLOTS, open addressing by return address */
    struct bts_merge_stats stats;
    /* frames rebuilt from a sample, handed out until the next merge */
    struct bts_python_frame rebuilt;
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

/* Functions that push or pop interpreter frames (3.11-3.13). */
static const char *const frame_op_names[] = {
    "_PyEvalFramePushAndInit*", "_PyEvalFrameClearAndPop", "_PyEval_FrameClearAndPop",
    "_PyFrame_Clear*",          "_PyFrame_Push*",          "_PyThreadState_PushFrame",
    "_PyThreadState_PopFrame",  "clear_thread_frame",      "clear_gen_frame",
};

static bool name_matches(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, name, n - 1) == 0;
    return strcmp(pattern, name) == 0;
}

/* The name without a GCC clone suffix (".cold", ".isra.0", ...) or the
 * symbolizer's " (file:line)", in buf. */
static const char *base_name(const char *name, char *buf, size_t len)
{
    size_t n = strcspn(name, ". ");
    if (!name[n] || n >= len)
        return name;
    memcpy(buf, name, n);
    buf[n] = '\0';
    return buf;
}

enum bts_merge_kind bts_python_merge_classify(const char *name)
{
    char buf[128];
    if (!name || !*name || name[0] == '[' || strstr(name, "+0x"))
        return BTS_MERGE_UNKNOWN;
    name = base_name(name, buf, sizeof(buf));
    if (strcmp(name, "_PyEval_EvalFrameDefault") == 0)
        return BTS_MERGE_EVAL;
    for (size_t i = 0; i < sizeof(internal_names) / sizeof(internal_names[0]); i++) {
        if (name_matches(internal_names[i], name))
            return BTS_MERGE_INTERNAL;
    }
    for (size_t i = 0; i < sizeof(frame_op_names) / sizeof(frame_op_names[0]); i++) {
        if (name_matches(frame_op_names[i], name))
            return BTS_MERGE_FRAME_OP;
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
    m->sites = calloc(SITE_SLOTS, sizeof(*m->sites));
    if (!m->sites) {
        free(m);
        errno = ENOMEM;
        return NULL;
    }
    return m;
}

void bts_python_merge_free(struct bts_python_merge *m)
{
    if (!m)
        return;
    free(m->sites);
    free(m);
}

void bts_python_merge_reset(struct bts_python_merge *m)
{
    if (!m)
        return;
    learning_reset(&m->frame);
    learning_reset(&m->code_start);
    learning_reset(&m->code);
    memset(m->sites, 0, SITE_SLOTS * sizeof(*m->sites));
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

/* The value the learned locations agree on in frame `f`: false when none
 * can be read or two of them differ. */
static bool agreed_value(const struct anchor_learning *l, const struct bts_merge_input *in,
                         const struct bts_unwind_frame *f, uint64_t *out)
{
    bool found = false;
    for (int i = 0; i < l->n_strong; i++) {
        uint64_t v;
        if (!loc_value(in, f, l->strong[i], &v))
            continue;
        if (found && v != *out)
            return false;
        *out = v;
        found = true;
    }
    return found;
}

static void observe(struct anchor_learning *l, const struct bts_merge_input *in,
                    const struct bts_unwind_frame *f, uint64_t lo, uint64_t hi)
{
    for (int loc = 0; loc < N_LOCS; loc++) {
        uint64_t v;
        if (loc_value(in, f, loc, &v) && v >= lo && v < hi) {
            l->hits[loc]++;
            l->exact[loc] += v == lo;
        }
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
        if (best != NO_LOC && l->hits[best] >= ELECT_SHARE * l->observations) {
            l->elected = best;
            l->n_strong = 0;
            for (int loc = 0; loc < N_LOCS && l->n_strong < MAX_STRONG; loc++) {
                if (l->hits[loc] >= STRONG_SHARE * l->hits[best])
                    l->strong[l->n_strong++] = loc;
            }
        }
    }
    /* Nothing elected yet: where the loop kept the value in the first
     * calls (start-up, imports) should not outvote where it keeps it now. */
    if (l->observations >= DECAY_AT || (l->elected == NO_LOC && l->observations >= FORGET_AT)) {
        for (int loc = 0; loc < N_LOCS; loc++) {
            l->hits[loc] /= 2;
            l->exact[loc] /= 2;
        }
        l->observations /= 2;
    }
}

/* --- runs of Python frames ---------------------------------------------- */

#define MAX_RUNS 256

/* Splits the thread's frames (innermost first) into runs, each ending at
 * an entry frame: what one activation of the loop runs, from frame
 * `first` on (those before it came after the sample). Returns the number
 * of runs, or -1 when the outermost frame is no entry frame (a chain cut
 * off) or there are too many. starts[i] is the first frame of run i;
 * starts[n] the end. */
static int split_runs(const struct bts_python_thread *t, size_t first, size_t *starts)
{
    int n = 0;
    starts[0] = first;
    for (size_t i = first; i < t->n_frames; i++) {
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

/* What one activation shows: frames [first, end) of the chain read, after
 * `lead` when the merge rebuilt the innermost one from the sample. */
struct run_view {
    size_t first, end;
    const struct bts_python_frame *lead;
    int line;     /* of the innermost frame shown */
    bool unknown; /* shown as one frame the merge could not tell */
    bool torn;    /* a partial merge's activation it could not vouch for */
};

/* The call site of activation `native_index` (its return address into
 * the loop); NULL for the leaf, which is at no call, or when the table is
 * full. */
static struct call_site *call_site(struct bts_python_merge *m, const struct bts_merge_input *in,
                                   size_t native_index, bool add)
{
    uint64_t pc = in->native[native_index].pc;
    if (native_index == 0 || !pc)
        return NULL;
    size_t j = (size_t)((pc * 0x9e3779b97f4a7c15ull) >> 54) & (SITE_SLOTS - 1);
    for (size_t probe = 0; probe < 16; probe++, j = (j + 1) & (SITE_SLOTS - 1)) {
        struct call_site *s = &m->sites[j];
        if (s->pc == pc)
            return s;
        if (!s->pc) {
            if (!add)
                return NULL;
            s->pc = pc;
            return s;
        }
    }
    return NULL;
}

/* Counts, at activation `native_index`'s call site, the locations that
 * point `delta` bytes past the instruction `instr` its frame was read at. */
static void observe_site(struct bts_python_merge *m, const struct bts_merge_input *in,
                         size_t native_index, uint64_t instr)
{
    struct call_site *s = call_site(m, in, native_index, true);
    const struct bts_unwind_frame *f = &in->native[native_index];
    if (!s || !instr || s->observations == UINT16_MAX)
        return;
    s->observations++;
    for (int loc = 0; loc < N_LOCS; loc++) {
        uint64_t v;
        if (!loc_value(in, f, loc, &v) || v < instr || v - instr > INSTR_SPAN)
            continue;
        int16_t delta = (int16_t)(v - instr);
        uint8_t i = 0;
        while (i < s->n && (s->c[i].loc != loc || s->c[i].delta != delta))
            i++;
        if (i == s->n) {
            if (s->n == SITE_CANDIDATES)
                continue;
            s->c[s->n++] = (struct site_candidate){.loc = (int16_t)loc, .delta = delta};
        }
        s->c[i].count++;
    }
}

/* The instruction activation `native_index` was at, from its call site's
 * learned location, when it lies in [lo, hi); 0 when the sample does not
 * tell (the leaf, a site not learned yet). */
static uint64_t sample_instr(struct bts_python_merge *m, const struct bts_merge_input *in,
                             size_t native_index, uint64_t lo, uint64_t hi)
{
    struct call_site *s = call_site(m, in, native_index, false);
    const struct site_candidate *best = NULL;
    uint64_t v;
    if (!s || s->observations < SITE_MIN)
        return 0;
    for (uint8_t i = 0; i < s->n; i++) {
        if (!best || s->c[i].count > best->count)
            best = &s->c[i];
    }
    if (!best || best->count < SITE_MIN || 4 * best->count < 3 * s->observations ||
        !loc_value(in, &in->native[native_index], best->loc, &v) ||
        v - (uint64_t)best->delta < lo || v - (uint64_t)best->delta >= hi)
        return 0;
    return v - (uint64_t)best->delta;
}

/* The sample's pointer to activation `f`'s code: its bytecode's start
 * where the loop keeps that, else a pointer into it. */
static bool code_value(const struct bts_python_merge *m, const struct bts_merge_input *in,
                       const struct bts_unwind_frame *f, uint64_t *out)
{
    if (m->code_start.elected != NO_LOC)
        return agreed_value(&m->code_start, in, f, out);
    return m->code.elected != NO_LOC && loc_value(in, f, m->code.elected, out);
}

/* Whether value `v` of the code location matches frame `py`'s code. */
static bool code_matches(const struct bts_python_merge *m, const struct bts_python_frame *py,
                         uint64_t v)
{
    if (!py->bytecode_start)
        return false;
    if (m->code_start.elected != NO_LOC)
        return v == py->bytecode_start;
    return v >= py->bytecode_start && v < py->bytecode_end;
}

/* The innermost frame of activation `f` when the chain read no longer has
 * it where the sample does: read what its memory holds now and keep it if
 * that still runs the sample's code. */
static const struct bts_python_frame *rebuild_returned(struct bts_python_merge *m,
                                                       const struct bts_merge_input *in,
                                                       uint64_t frame, uint64_t code_value,
                                                       uint64_t *previous)
{
    if (!in->read_frame || in->read_frame(in->reader, frame, &m->rebuilt, previous) < 0 ||
        !code_matches(m, &m->rebuilt, code_value))
        return NULL;
    return &m->rebuilt;
}

/* Whether rebuilt frame `g`, whose memory links to `previous`, was called
 * by `caller`, the frame at that address now. From 3.11 a call pushes the
 * callee right after its caller on the thread's data stack, so another
 * function's frame at the caller's address since (the sample's caller
 * returned, and a later call of another size took its place) moves where
 * its callee would be. Same-size frames and generators' frames, which
 * live elsewhere, cannot be told this way. */
static bool called_from(const struct bts_python_frame *g, uint64_t previous,
                        const struct bts_python_frame *caller)
{
    if (previous != caller->frame)
        return false;
    return !g->stack_bytes || !caller->stack_bytes ||
           g->frame == caller->frame + caller->stack_bytes;
}

/* The line of the innermost frame `py` of activation `native_index`, and
 * the count it goes to. */
static int innermost_line(struct bts_python_merge *m, const struct bts_merge_input *in,
                          size_t native_index, const struct bts_python_frame *py, bool rebuilt)
{
    struct bts_python_frame at;
    uint64_t instr;
    if (in->trusted) {
        m->stats.line_exact++;
        return py->line;
    }
    instr = sample_instr(m, in, native_index, py->bytecode_start, py->bytecode_end);
    if (instr && instr == py->instr) {
        if (rebuilt)
            m->stats.line_sample++;
        else
            m->stats.line_exact++;
        return py->line;
    }
    if (instr && in->code_at && in->code_at(in->reader, py->bytecode_start, instr, &at) == 0 &&
        at.code == py->code) {
        m->stats.line_sample++;
        return at.line;
    }
    /* A rebuilt frame's memory holds where it returned from, not where
     * it was; a frame read holds where it is now. */
    if (rebuilt) {
        m->stats.line_unknown++;
        return 0;
    }
    m->stats.line_after++;
    return py->line;
}

static bool push(struct bts_merge_frame *out, size_t max, size_t *n,
                 const struct bts_python_frame *python, size_t native, int line)
{
    if (*n >= max)
        return false;
    out[*n] = (struct bts_merge_frame){.python = python, .native = (uint32_t)native, .line = line};
    (*n)++;
    return true;
}

static bool push_run(struct bts_merge_frame *out, size_t max, size_t *n,
                     const struct bts_python_thread *t, const struct run_view *v)
{
    bool first = true;
    if (v->unknown || v->torn) {
        if (*n >= max)
            return false;
        out[(*n)++] = (struct bts_merge_frame){.unknown = v->unknown, .torn = v->torn};
        return true;
    }
    if (v->lead) {
        if (!push(out, max, n, v->lead, 0, v->line))
            return false;
        first = false;
    }
    for (size_t j = v->first; j < v->end; j++, first = false) {
        if (!push(out, max, n, &t->frames[j], 0, first ? v->line : t->frames[j].line))
            return false;
    }
    return true;
}

/* Whether a frame of `kind` lies between activation `native_index` and the
 * first named native function or eval loop under it (or the leaf). */
static bool kind_below(const struct bts_merge_input *in, size_t native_index,
                       enum bts_merge_kind kind)
{
    for (size_t i = native_index; i-- > 0;) {
        if (in->kinds[i] == kind)
            return true;
        if (in->kinds[i] == BTS_MERGE_NATIVE || in->kinds[i] == BTS_MERGE_EVAL)
            return false;
    }
    return false;
}

/* Whether activation `native_index` is pushing or popping a frame itself:
 * a frame operation reached from it through the interpreter's plumbing
 * (or nameless frames, which could be plumbing) alone. One that a named
 * C function calls (list.sort calling its key function back) pushes the
 * frame of a later activation, not this one's. */
static bool pushing_own_frame(const struct bts_merge_input *in, size_t native_index)
{
    return kind_below(in, native_index, BTS_MERGE_FRAME_OP);
}

/* Whether a nameless frame of the interpreter lies between activation
 * `native_index` and the first named native function under it (or the
 * leaf): one that could be pushing or popping the activation's frame. */
static bool nameless_below(const struct bts_merge_input *in, size_t native_index)
{
    return kind_below(in, native_index, BTS_MERGE_UNKNOWN);
}

/* Whether activation `native_index` calls only named work of its own: no
 * plumbing, frame operation or nameless frame of the interpreter between
 * it and the leaf. */
static bool only_work_below(const struct bts_merge_input *in, size_t native_index)
{
    for (size_t i = 0; i < native_index; i++) {
        if (in->kinds[i] != BTS_MERGE_NATIVE)
            return false;
    }
    return true;
}

/* Whether only the interpreter's plumbing (named as such) lies between
 * activation `native_index` and the leaf: it is starting or ending, or
 * calls no code of its own. */
static bool only_plumbing_below(const struct bts_merge_input *in, size_t native_index)
{
    for (size_t i = 0; i < native_index; i++) {
        if (in->kinds[i] != BTS_MERGE_INTERNAL && in->kinds[i] != BTS_MERGE_FRAME_OP)
            return false;
    }
    return true;
}

/* Checks the innermost activation against the chain read, rebuilding or
 * trimming its first run where the sample shows what happened since.
 * `view` is set up for the aligned run. BTS_MERGE_OK or why torn. */
static enum bts_merge_result check_innermost(struct bts_python_merge *m,
                                             const struct bts_merge_input *in, size_t native_index,
                                             struct run_view *view, bool popped)
{
    const struct bts_python_thread *t = in->python;
    const struct bts_unwind_frame *f = &in->native[native_index];
    uint64_t frame, code_ptr, previous;
    /* Its copies disagree, or it calls a frame push or pop: the loop's
     * view and the chain may differ at the sample itself. */
    if (!agreed_value(&m->frame, in, f, &frame) || !code_value(m, in, f, &code_ptr) ||
        pushing_own_frame(in, native_index))
        return BTS_MERGE_TORN_FRAME;
    /* Running in the loop itself, its pointers may be between two frames
     * (one set, the other not yet): only a frame that agrees with the
     * chain read is taken, none is rebuilt. At a call the loop has
     * settled on its frame, unless what it calls could be a frame push or
     * pop with no name (a stripped interpreter's static functions): there
     * its frame and code pointers were seen to name a frame and the callee
     * it had just popped (pandas under Debian's 3.11). */
    bool settled = native_index > 0 && !nameless_below(in, native_index);
    if (popped) {
        /* The whole run returned since: only its entry frame can be told
         * apart from the rest, so that is all it may have held. */
        if (!settled)
            return BTS_MERGE_TORN_COUNT;
        const struct bts_python_frame *g = rebuild_returned(m, in, frame, code_ptr, &previous);
        if (!g || !g->is_entry || (previous && !called_from(g, previous, &t->frames[0])))
            return BTS_MERGE_TORN_COUNT;
        view->lead = g;
        view->first = view->end = 0;
        m->stats.rebuilt_returned++;
        view->line = innermost_line(m, in, native_index, g, true);
        return BTS_MERGE_OK;
    }
    const struct bts_python_frame *py = &t->frames[view->first];
    if (frame == py->frame) {
        if (code_matches(m, py, code_ptr)) {
            view->line = innermost_line(m, in, native_index, py, false);
            return BTS_MERGE_OK;
        }
        /* Another call took the frame's address since. Its callers need
         * not be the sample's: on pandas under Debian's 3.11 a property's
         * frame (an entry frame, called through C by the outer
         * activation's frame) had, 100 us later, given its address to a
         * frame called by a generator that the outer frame resumed
         * since; the sample's code under the new frame's callers put the
         * generator in between. The sample tells nothing of the old
         * frame's callers, so nothing is rebuilt. */
        return BTS_MERGE_TORN_CODE;
    }
    if (!settled)
        return BTS_MERGE_TORN_FRAME;
    /* The frame returned to the one the chain now starts with. */
    const struct bts_python_frame *g = rebuild_returned(m, in, frame, code_ptr, &previous);
    if (!g)
        return BTS_MERGE_TORN_FRAME;
    if (g->is_entry) {
        /* It was its activation's only frame: that activation ended, and
         * the run read in its place is a later call from the same caller
         * (the next run's, which the outer activation vouched for). */
        if (previous &&
            (view->end >= t->n_frames || !called_from(g, previous, &t->frames[view->end])))
            return BTS_MERGE_TORN_FRAME;
        view->first = view->end;
    } else if (!called_from(g, previous, py)) {
        return BTS_MERGE_TORN_FRAME;
    }
    view->lead = g;
    m->stats.rebuilt_returned++;
    view->line = innermost_line(m, in, native_index, g, true);
    return BTS_MERGE_OK;
}

/* How many of the chain's first frames the thread pushed after the
 * sample: those before the innermost activation's frame, found further
 * out. 0 when it is first, not found, or when that cannot be told: while
 * a frame is pushed or popped, or when a nameless native frame under the
 * activation could be another one the chain's extra runs belong to. */
static size_t newer_frames(const struct bts_python_merge *m, const struct bts_merge_input *in,
                           size_t e0)
{
    const struct bts_python_thread *t = in->python;
    const struct bts_unwind_frame *f = &in->native[e0];
    uint64_t frame, code;
    bool crossing = false;
    if (in->trusted || m->frame.elected == NO_LOC || code_anchor(m) == NO_LOC ||
        !agreed_value(&m->frame, in, f, &frame) || !code_value(m, in, f, &code) ||
        t->frames[0].frame == frame)
        return 0;
    /* in the loop itself, or pushing or popping a frame: no settled view */
    if (e0 == 0 || pushing_own_frame(in, e0))
        return 0;
    for (size_t p = 1; p < t->n_frames; p++) {
        crossing |= t->frames[p - 1].is_entry;
        if (t->frames[p].frame != frame)
            continue;
        if (!code_matches(m, &t->frames[p], code))
            return 0;
        for (size_t i = 0; crossing && i < e0; i++) {
            if (in->kinds[i] == BTS_MERGE_UNKNOWN)
                return 0;
        }
        return p;
    }
    return 0;
}

/* The native indexes of the sample's activations of the loop, innermost
 * first, into evals: how many, or -1 when there are more than MAX_RUNS. An
 * activation whose frame the copy does not hold whole (the last frame
 * unwound) is past what can be checked: the stack stops before it
 * (*n_native, *complete), and its Python frames count as outer ones. */
static int find_evals(const struct bts_merge_input *in, size_t *evals, size_t *n_native,
                      bool *complete)
{
    int n = 0;

    for (size_t i = 0; i < *n_native; i++) {
        if (in->kinds[i] != BTS_MERGE_EVAL)
            continue;
        if (!in->native[i].cfa) {
            *n_native = i;
            *complete = false;
            break;
        }
        if (n == MAX_RUNS)
            return -1;
        evals[n++] = i;
    }
    return n;
}

/* The merged stack, leaf first: each activation (native frames of kind
 * BTS_MERGE_EVAL, the outermost at native index `outermost`) gives way to
 * its view; the chain's frames from `next` on, past the copy, are appended
 * as callers. How many frames it wrote. */
static size_t build(struct bts_python_merge *m, const struct bts_merge_input *in,
                    const struct run_view *views, size_t outermost, size_t n_native, bool complete,
                    size_t next, struct bts_merge_frame *out, size_t max)
{
    const struct bts_python_thread *t = in->python;
    size_t n = 0;
    int k = 0;

    for (size_t i = 0; i < n_native; i++) {
        if (in->kinds[i] == BTS_MERGE_EVAL) {
            if (!push_run(out, max, &n, t, &views[k++]))
                return n;
            continue;
        }
        if (!m->opts.keep_internal &&
            (in->kinds[i] == BTS_MERGE_INTERNAL || in->kinds[i] == BTS_MERGE_FRAME_OP ||
             (complete && i > outermost)))
            continue;
        if (!push(out, max, &n, NULL, i, 0))
            return n;
    }
    /* The copy ended first: the rest of the Python stack is outside it,
     * called into by frames the sample vouched for. */
    if (next < t->n_frames) {
        m->stats.truncated++;
        for (size_t j = next; j < t->n_frames; j++) {
            if (!push(out, max, &n, &t->frames[j], 0, t->frames[j].line))
                break;
        }
    }
    return n;
}

/* A torn sample's outer activations, where the chain read still runs them:
 * the outermost activation is found in the chain by the frame the sample
 * shows it running (with its code), and from there inwards each activation
 * must run the next run's first frame and code, as a full merge checks
 * its outer activations. The innermost activation, and every one inside
 * the first that fails, shows as one "[python frames torn]" frame; native
 * frames stay as unwound. Nothing the sample does not vouch for is shown
 * as a Python frame, and the innermost activation never is: its frames
 * are the ones that move. The activations are the full merge's (evals,
 * n_native and complete as find_evals left them, in->python with frames);
 * starts and views are its scratch, reused. Returns whether it merged
 * (into out, *n_out). */
static bool partial_merge(struct bts_python_merge *m, const struct bts_merge_input *in,
                          const size_t *evals, int n_evals, size_t n_native, bool complete,
                          size_t *starts, struct run_view *views, struct bts_merge_frame *out,
                          size_t max, size_t *n_out)
{
    const struct bts_python_thread *t = in->python;
    int n_runs, r, k, vouched;
    uint64_t v, code;

    if (in->trusted || n_evals < 2 || m->frame.elected == NO_LOC || code_anchor(m) == NO_LOC)
        return false;
    n_runs = split_runs(t, 0, starts);
    if (n_runs < 1)
        return false;
    k = n_evals - 1;
    if (!agreed_value(&m->frame, in, &in->native[evals[k]], &v))
        return false;
    for (r = n_runs - 1; r >= 0 && t->frames[starts[r]].frame != v; r--)
        ;
    /* With the whole stack unwound, the outermost activation runs the
     * outermost run; else runs past it lie beyond the copy. */
    if (r < 0 || (complete && r != n_runs - 1))
        return false;
    for (vouched = n_evals; k >= 1 && r >= 0; k--, r--) {
        const struct bts_unwind_frame *f = &in->native[evals[k]];
        const struct bts_python_frame *py = &t->frames[starts[r]];
        if (!agreed_value(&m->frame, in, f, &v) || v != py->frame || !code_value(m, in, f, &code) ||
            !code_matches(m, py, code))
            break;
        views[k] = (struct run_view){.first = starts[r], .end = starts[r + 1]};
        vouched = k;
    }
    if (vouched == n_evals)
        return false;
    for (k = vouched; k < n_evals; k++)
        views[k].line = innermost_line(m, in, evals[k], &t->frames[views[k].first], false);
    for (k = 0; k < vouched; k++)
        views[k] = (struct run_view){.torn = true};
    *n_out = build(m, in, views, evals[n_evals - 1], n_native, complete, views[n_evals - 1].end,
                   out, max);
    return *n_out > 0;
}

enum bts_merge_result bts_python_merge(struct bts_python_merge *m, const struct bts_merge_input *in,
                                       struct bts_merge_frame *out, size_t max, size_t *n_out)
{
    const struct bts_python_thread *t = in->python;
    size_t starts[MAX_RUNS + 1];
    size_t evals[MAX_RUNS];
    struct run_view views[MAX_RUNS];
    size_t n_native = in->n_native;
    bool complete = in->complete;
    int n_runs, n_evals = 0;
    size_t skip;
    /* 1 when the innermost activation's run returned since the sample:
     * activation k then runs run k - 1 of the chain read. */
    int popped = 0;
    enum bts_merge_result r = BTS_MERGE_OK;
    size_t n = 0;

    *n_out = 0;
    m->stats.samples++;
    if (!t || t->n_frames == 0) {
        /* No frame read, yet the loop runs on the stack: the thread was
         * read as it pushed its first frame or popped its last (a
         * module's end), or moved on; torn, not a thread without Python,
         * whose stack would show the loop and its plumbing. */
        for (size_t i = 0; i < n_native; i++) {
            if (in->kinds[i] == BTS_MERGE_EVAL) {
                r = BTS_MERGE_TORN_COUNT;
                goto out;
            }
        }
        for (size_t i = 0; i < n_native && push(out, max, &n, NULL, i, 0); i++)
            ;
        *n_out = n;
        r = BTS_MERGE_NO_PYTHON;
        goto out;
    }
    n_evals = find_evals(in, evals, &n_native, &complete);
    if (n_evals < 0) {
        r = BTS_MERGE_TORN_COUNT;
        goto out;
    }
    if (n_evals == 0) {
        r = BTS_MERGE_TORN_STACK;
        goto out;
    }
    skip = newer_frames(m, in, evals[0]);
    n_runs = split_runs(t, skip, starts);
    /* Read at the sample itself, one run more than activations while the
     * innermost one calls out through the interpreter's plumbing: the
     * frame of a call whose loop has not started yet (list.sort pushing
     * its key function's frame). It has not run: left out, as frames
     * pushed after a sample are. */
    if (in->trusted && complete && n_runs == n_evals + 1 && evals[0] > 0 &&
        !only_work_below(in, evals[0])) {
        skip = starts[1];
        n_runs = split_runs(t, skip, starts);
    }
    if (n_runs < 0 || n_evals > n_runs + 1 || (complete && n_evals < n_runs)) {
        r = BTS_MERGE_TORN_COUNT;
        goto out;
    }
    /* One run too few: the innermost one may have returned since. Read at
     * the sample itself, that is an activation whose frame the chain has
     * let go already, ending (only plumbing under it): it runs no Python
     * frame any more. */
    if (n_evals == n_runs + 1 || (complete && n_evals != n_runs)) {
        bool ending = in->trusted && n_evals == n_runs + 1 && only_plumbing_below(in, evals[0]);
        if ((in->trusted && !ending) || n_evals < 2) {
            r = BTS_MERGE_TORN_COUNT;
            goto out;
        }
        popped = 1;
    }

    /* Learn the anchors from activations and runs that line up. */
    if (!popped) {
        for (int k = 0; k < n_evals; k++) {
            const struct bts_unwind_frame *f = &in->native[evals[k]];
            const struct bts_python_frame *py = &t->frames[starts[k]];
            observe(&m->frame, in, f, py->frame, py->frame + 1);
            if (py->bytecode_start) {
                observe(&m->code_start, in, f, py->bytecode_start, py->bytecode_start + 1);
                observe(&m->code, in, f, py->bytecode_start, py->bytecode_end);
            }
            observe_site(m, in, evals[k], py->instr);
        }
    }
    for (int k = 0; k < n_evals; k++) {
        views[k] = (struct run_view){
            .first = k >= popped ? starts[k - popped] : 0,
            .end = k >= popped ? starts[k - popped + 1] : 0,
        };
        views[k].line = k >= popped ? t->frames[views[k].first].line : 0;
    }
    if (popped && in->trusted) {
        /* the activation that is ending, shown as the anchored path shows
         * one it cannot tell */
        views[0].unknown = true;
        m->stats.unknown_innermost++;
    }
    if (!in->trusted) {
        if (m->frame.elected == NO_LOC || code_anchor(m) == NO_LOC) {
            r = BTS_MERGE_TORN_LEARNING;
            goto out;
        }
        /* Outer activations have not returned (the inner ones run inside
         * them): each must run the very frame and code the sample shows. */
        for (int k = n_evals - 1; k >= 1; k--) {
            const struct bts_unwind_frame *f = &in->native[evals[k]];
            const struct bts_python_frame *py = &t->frames[views[k].first];
            uint64_t v;
            if (!agreed_value(&m->frame, in, f, &v) || v != py->frame) {
                r = BTS_MERGE_TORN_FRAME;
                break;
            }
            if (!code_value(m, in, f, &v) || !code_matches(m, py, v)) {
                r = BTS_MERGE_TORN_CODE;
                break;
            }
            views[k].line = innermost_line(m, in, evals[k], py, false);
        }
        if (r == BTS_MERGE_OK) {
            r = check_innermost(m, in, evals[0], &views[0], popped);
            /* Every outer activation is vouched for, and the innermost one
             * calls no code of its own (it is setting up or clearing its
             * frame, called back by native code such as list.sort): its
             * callers are known, its Python frame is not. Shown as one
             * unknown frame at the leaf, not torn. */
            if (r != BTS_MERGE_OK && n_evals >= 2 && only_plumbing_below(in, evals[0])) {
                views[0] = (struct run_view){.unknown = true};
                m->stats.unknown_innermost++;
                r = BTS_MERGE_OK;
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
    } else {
        for (int k = 0; k < n_evals; k++)
            m->stats.line_exact++;
    }

    n = build(m, in, views, evals[n_evals - 1], n_native, complete, starts[n_evals - popped], out,
              max);
    *n_out = n;
    if (skip)
        m->stats.trimmed++;
out:
    m->stats.results[r]++;
    if (r != BTS_MERGE_OK &&
        partial_merge(m, in, evals, n_evals, n_native, complete, starts, views, out, max, n_out))
        m->stats.partial++;
    return r;
}
