/* SPDX-License-Identifier: MIT */
/* python-merge-probe: the merge's exactness against ground truth. Runs a
 * Python workload as our child, stops it now and then (ptrace) to take a
 * sample together with the Python stack of that instant (the truth), lets
 * it run on for --delay-us, reads its Python stack again as the perf_event
 * path would (late), and merges both. A late merge that is published must
 * equal the truth's; one that differs is a wrong merge, and any makes the
 * probe fail. Prints the share of torn samples by reason. With --record,
 * writes every sample to a file check-python-merge replays. */
#define _GNU_SOURCE

#include "elf-image.h"
#include "proc-maps.h"
#include "python-merge-compare.h"
#include "python-merge-private.h"
#include "python-native-private.h"
#include "python-reader.h"
#include "symbolizer.h"
#include "unwinder-private.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_STACK    (64 * 1024)
#define MAX_MERGED   (BTS_MAX_FRAMES + BTS_PYTHON_MAX_FRAMES)
#define STARTUP_US   800000
#define FIND_RETRIES 50

struct probe_opts {
    int samples;
    int delay_us;
    uint64_t stack_size;
    const char *record;
    double max_torn; /* fail when more are torn (share); < 0: never */
    bool show_torn;  /* print each torn sample's frames */
};

struct probe {
    pid_t pid;
    struct bts_maps *maps;
    struct bts_symbolizer *sym;
    struct bts_unwinder *unwinder;
    struct bts_python *truth_reader, *late_reader;
    struct bts_python_merge *truth_merge, *late_merge;
    FILE *record;
    uint8_t stack[MAX_STACK];
    struct bts_unwind_frame native[BTS_MAX_FRAMES];
    uint8_t kinds[BTS_MAX_FRAMES];
    struct bts_merge_frame truth_out[MAX_MERGED], late_out[MAX_MERGED];
    /* counters */
    unsigned taken, truth_torn, published, partial, wrong, line_differs;
};

static const struct bts_map *find_map(void *ctx, uint64_t addr, struct bts_elf **elf)
{
    struct probe *p = ctx;
    const struct bts_map *m = bts_maps_find(p->maps, addr);
    *elf = m ? bts_maps_elf(p->maps, m) : NULL;
    return m;
}

static void regs_from_user(const struct user_regs_struct *u, uint64_t *r)
{
    memset(r, 0, BTS_REG_COUNT * sizeof(*r));
    r[0] = u->rax, r[1] = u->rbx, r[2] = u->rcx, r[3] = u->rdx, r[4] = u->rsi, r[5] = u->rdi;
    r[6] = u->rbp, r[7] = u->rsp, r[8] = u->rip;
    r[16] = u->r8, r[17] = u->r9, r[18] = u->r10, r[19] = u->r11;
    r[20] = u->r12, r[21] = u->r13, r[22] = u->r14, r[23] = u->r15;
}

static void busy_wait_us(int us)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while ((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000 < us);
}

/* --- the record file (format in check-python-merge.c) ------------------- */

static void record_frame(FILE *f, const struct bts_python_frame *py)
{
    fprintf(f, "%lx %lx %lx %lx %lx %d %d %s\n", (unsigned long)py->frame, (unsigned long)py->code,
            (unsigned long)py->instr, (unsigned long)py->bytecode_start,
            (unsigned long)py->bytecode_end, py->is_entry, py->line, py->name);
}

static void record_python(FILE *f, const char *tag, const struct bts_python_thread *t)
{
    for (size_t i = 0; t && i < t->n_frames; i++) {
        fprintf(f, "py %s ", tag);
        record_frame(f, &t->frames[i]);
    }
}

/* The late reader's answers to the merge, recorded for the replay ("rf":
 * a frame read by address, "ca": a code object found by a pointer into
 * its bytecode). */
static char answers[64 * 1024];
static size_t answers_len;

static void answer(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void answer(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(answers + answers_len, sizeof(answers) - answers_len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(answers) - answers_len)
        answers_len += (size_t)n;
}

static void answer_frame(const struct bts_python_frame *py)
{
    answer("%lx %lx %lx %lx %lx %d %d %s\n", (unsigned long)py->frame, (unsigned long)py->code,
           (unsigned long)py->instr, (unsigned long)py->bytecode_start,
           (unsigned long)py->bytecode_end, py->is_entry, py->line, py->name ? py->name : "?");
}

static int late_read_frame(void *reader, uint64_t frame, struct bts_python_frame *out,
                           uint64_t *previous)
{
    int r = bts_python_read_frame(reader, frame, out, previous);
    answer("rf %lx %d %lx ", (unsigned long)frame, r, (unsigned long)*previous);
    answer_frame(out);
    return r;
}

static int late_code_at(void *reader, uint64_t addr, uint64_t instr, struct bts_python_frame *out)
{
    int r = bts_python_code_at(reader, addr, instr, out);
    answer("ca %lx %lx %d ", (unsigned long)addr, (unsigned long)instr, r);
    answer_frame(out);
    return r;
}

static void record_sample(struct probe *p, const uint64_t *regs, uint64_t stack_len, int n,
                          const struct bts_python_thread *truth,
                          const struct bts_python_thread *late)
{
    FILE *f = p->record;
    fprintf(f, "sample\nregs");
    for (int i = 0; i < BTS_REG_COUNT; i++)
        fprintf(f, " %lx", (unsigned long)regs[i]);
    fprintf(f, "\n");
    for (int i = 0; i < n; i++) {
        const struct bts_unwind_frame *fr = &p->native[i];
        fprintf(f, "native %lx %lx %lx %x %d", (unsigned long)fr->pc, (unsigned long)fr->sp,
                (unsigned long)fr->cfa, fr->saved_valid, fr->outermost);
        for (int k = 0; k < BTS_UNWIND_NSAVED; k++)
            fprintf(f, " %lx", (unsigned long)fr->saved[k]);
        fprintf(f, " %s\n", bts_symbolizer_name(p->sym, fr->pc, i > 0));
        /* Only the evaluation loop's frames are looked into. */
        if (p->kinds[i] != BTS_MERGE_EVAL || !fr->cfa)
            continue;
        fprintf(f, "words %lx", (unsigned long)fr->sp);
        for (uint64_t a = fr->sp; a + 8 <= fr->cfa && a + 8 - regs[BTS_REG_SP] <= stack_len;
             a += 8) {
            uint64_t v;
            memcpy(&v, p->stack + (a - regs[BTS_REG_SP]), 8);
            fprintf(f, " %lx", (unsigned long)v);
        }
        fprintf(f, "\n");
    }
    record_python(f, "truth", truth);
    record_python(f, "late", late);
    fwrite(answers, 1, answers_len, f);
    fprintf(f, "end\n");
}

/* --- one sample ------------------------------------------------------------ */

/* The two merges agree: the same frames in the same order (Python frames
 * by address and code object). Lines are compared apart. */
static const char *frame_name(struct probe *p, const struct bts_merge_frame *f)
{
    return f->unknown  ? "[python frame unknown]"
           : f->python ? f->python->name
                       : bts_symbolizer_name(p->sym, p->native[f->native].pc, true);
}

static void print_wrong(struct probe *p, const struct bts_merge_frame *t, size_t nt,
                        const struct bts_merge_frame *l, size_t nl)
{
    fprintf(stderr, "WRONG merge (truth %zu frames, late %zu):\n", nt, nl);
    for (size_t i = 0; i < nt || i < nl; i++)
        fprintf(stderr, "  %-50s | %s\n", i < nt ? frame_name(p, &t[i]) : "",
                i < nl ? frame_name(p, &l[i]) : "");
}

/* A torn sample, for finding what tears: its native frames up to the
 * second activation and both chains' first frames. */
static void print_torn(struct probe *p, enum bts_merge_result r, int n,
                       const struct bts_python_thread *tt, const struct bts_python_thread *lt)
{
    static const char kind_tag[] = "nEIFU";
    int evals = 0;
    fprintf(stderr, "torn (%s):", bts_python_merge_result_name(r));
    for (int i = 0; i < n && evals < 2; i++) {
        evals += p->kinds[i] == BTS_MERGE_EVAL;
        fprintf(stderr, " %s/%c", bts_symbolizer_name(p->sym, p->native[i].pc, i > 0),
                kind_tag[p->kinds[i]]);
    }
    for (int i = 0; i < n; i++) {
        if (p->kinds[i] != BTS_MERGE_EVAL)
            continue;
        fprintf(stderr, "\n  regs:");
        for (int k = 0; k < BTS_UNWIND_NSAVED; k++)
            fprintf(stderr, " %lx", (unsigned long)p->native[i].saved[k]);
        break;
    }
    fprintf(stderr, "\n  truth:");
    for (size_t i = 0; i < tt->n_frames && i < 4; i++)
        fprintf(stderr, " %s@%lx%s", tt->frames[i].name, (unsigned long)tt->frames[i].frame,
                tt->frames[i].is_entry ? "!" : "");
    fprintf(stderr, "\n  late: ");
    for (size_t i = 0; lt && i < lt->n_frames && i < 4; i++)
        fprintf(stderr, " %s@%lx%s", lt->frames[i].name, (unsigned long)lt->frames[i].frame,
                lt->frames[i].is_entry ? "!" : "");
    fprintf(stderr, "\n");
}

static int take_sample(struct probe *p, const struct probe_opts *o)
{
    struct user_regs_struct ur;
    uint64_t regs[BTS_REG_COUNT];
    struct bts_python_sample truth, late;
    int status;

    if (ptrace(PTRACE_INTERRUPT, p->pid, 0, 0) < 0)
        return -errno;
    if (waitpid(p->pid, &status, __WALL) < 0)
        return -errno;
    if (WIFEXITED(status) || WIFSIGNALED(status))
        return -ESRCH;
    if (ptrace(PTRACE_GETREGS, p->pid, 0, &ur) < 0) {
        ptrace(PTRACE_CONT, p->pid, 0, 0);
        return 0;
    }
    regs_from_user(&ur, regs);
    const struct bts_map *sm = bts_maps_find(p->maps, regs[BTS_REG_SP]);
    uint64_t len = sm ? sm->end - regs[BTS_REG_SP] : 0;
    if (len > o->stack_size)
        len = o->stack_size;
    struct iovec local = {p->stack, len}, remote = {(void *)(uintptr_t)regs[BTS_REG_SP], len};
    ssize_t got = len ? process_vm_readv(p->pid, &local, 1, &remote, 1, 0) : -1;
    int tr = bts_python_sample_thread(p->truth_reader, p->pid, &truth);
    ptrace(PTRACE_CONT, p->pid, 0, 0);
    if (o->delay_us > 0)
        busy_wait_us(o->delay_us);
    int lr = bts_python_sample_thread(p->late_reader, p->pid, &late);
    if (got <= 0 || tr < 0 || lr < 0 || truth.n_threads != 1)
        return 0;

    int n = bts_unwinder_unwind_frames(p->unwinder, regs, p->stack, (uint64_t)got, p->native,
                                       BTS_MAX_FRAMES);
    if (n <= 0)
        return 0;
    bts_python_native_classify(p->sym, p->native, (size_t)n, p->kinds);
    p->taken++;
    const struct bts_python_thread *tt = &truth.threads[0];
    const struct bts_python_thread *lt = late.n_threads == 1 ? &late.threads[0] : NULL;

    struct bts_merge_input in = {
        .native = p->native,
        .kinds = p->kinds,
        .n_native = (size_t)n,
        .complete = p->native[n - 1].outermost,
        .regs = regs,
        .stack = p->stack,
        .stack_size = (uint64_t)got,
        .python = tt,
        .trusted = true,
    };
    size_t nt, nl;
    enum bts_merge_result rt = bts_python_merge(p->truth_merge, &in, p->truth_out, MAX_MERGED, &nt);
    in.python = lt;
    in.trusted = false;
    in.reader = p->late_reader;
    in.read_frame = late_read_frame;
    in.code_at = late_code_at;
    answers_len = 0;
    enum bts_merge_result rl = bts_python_merge(p->late_merge, &in, p->late_out, MAX_MERGED, &nl);
    if (p->record)
        record_sample(p, regs, (uint64_t)got, n, tt, lt);
    if (rt != BTS_MERGE_OK) {
        p->truth_torn++;
        return 0;
    }
    if (rl != BTS_MERGE_OK && (rl == BTS_MERGE_NO_PYTHON || nl == 0)) {
        if (o->show_torn)
            print_torn(p, rl, n, tt, lt);
        return 0;
    }
    /* A partial merge is published too: its vouched frames must be the
     * truth's, each torn one standing for an activation's run. */
    if (rl != BTS_MERGE_OK)
        p->partial++;
    else
        p->published++;
    bool lines_differ;
    if (!same_merge(p->truth_out, nt, p->late_out, nl, &lines_differ)) {
        p->wrong++;
        print_wrong(p, p->truth_out, nt, p->late_out, nl);
        fprintf(stderr, "  truth chain:");
        for (size_t i = 0; i < tt->n_frames; i++)
            fprintf(stderr, " %s@%lx%s", tt->frames[i].name, (unsigned long)tt->frames[i].frame,
                    tt->frames[i].is_entry ? "!" : "");
        fprintf(stderr, "\n  late chain:");
        for (size_t i = 0; lt && i < lt->n_frames; i++)
            fprintf(stderr, " %s@%lx%s", lt->frames[i].name, (unsigned long)lt->frames[i].frame,
                    lt->frames[i].is_entry ? "!" : "");
        fprintf(stderr, "\n  reader answers: %.*s", (int)answers_len, answers);
    } else if (lines_differ) {
        p->line_differs++;
    }
    return 0;
}

/* --- main ------------------------------------------------------------------- */

static int usage(FILE *f, int code)
{
    fprintf(f, "usage: python-merge-probe [--samples N] [--delay-us D] [--stack-size B]\n"
               "                          [--record FILE] [--max-torn SHARE] [--show-torn]\n"
               "                          -- PYTHON ARGS...\n");
    return code;
}

static int setup(struct probe *p)
{
    struct bts_symbolizer_opts so = {.demangle = true};
    struct bts_unwind_target target = {.ctx = p, .find_map = find_map};
    struct bts_python_info info;
    struct bts_merge_opts mo = {0};

    for (int i = 0; i < FIND_RETRIES && !p->truth_reader; i++) {
        p->truth_reader = bts_python_new(p->pid, &info);
        if (!p->truth_reader)
            usleep(100000);
    }
    if (!p->truth_reader)
        return -errno;
    p->late_reader = bts_python_new(p->pid, NULL);
    p->maps = bts_maps_new(p->pid, NULL);
    p->sym = p->maps ? bts_symbolizer_new(p->maps, &so) : NULL;
    p->unwinder = bts_unwinder_new(&target);
    p->truth_merge = bts_python_merge_new(&mo);
    p->late_merge = bts_python_merge_new(&mo);
    if (!p->late_reader || !p->sym || !p->unwinder || !p->truth_merge || !p->late_merge)
        return -ENOMEM;
    printf("python %s (%s)\n", info.version, info.path);
    if (p->record)
        fprintf(p->record, "version %s\n", info.version);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"samples", required_argument, NULL, 'n'},
        {"delay-us", required_argument, NULL, 'd'},
        {"stack-size", required_argument, NULL, 's'},
        {"record", required_argument, NULL, 'r'},
        {"max-torn", required_argument, NULL, 't'},
        {"show-torn", no_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct probe_opts o = {.samples = 400, .delay_us = 100, .stack_size = 32768, .max_torn = -1};
    static struct probe p;
    int c, ret = 1;

    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            o.samples = atoi(optarg);
            break;
        case 'd':
            o.delay_us = atoi(optarg);
            break;
        case 's':
            o.stack_size = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            o.record = optarg;
            break;
        case 't':
            o.max_torn = atof(optarg);
            break;
        case 'T':
            o.show_torn = true;
            break;
        case 'h':
            return usage(stdout, 0);
        default:
            return usage(stderr, 2);
        }
    }
    if (optind >= argc || o.samples <= 0 || o.stack_size == 0 || o.stack_size > MAX_STACK)
        return usage(stderr, 2);
    if (o.record && !(p.record = fopen(o.record, "we"))) {
        fprintf(stderr, "python-merge-probe: cannot open '%s': %s\n", o.record, strerror(errno));
        return 1;
    }
    p.pid = fork();
    if (p.pid < 0)
        return 1;
    if (p.pid == 0) {
        execv(argv[optind], argv + optind);
        _exit(127);
    }
    usleep(STARTUP_US);
    if (ptrace(PTRACE_SEIZE, p.pid, 0, 0) < 0) {
        printf("SKIP: cannot trace our child: %s\n", strerror(errno));
        ret = 77;
        goto out;
    }
    int err = setup(&p);
    if (err < 0) {
        fprintf(stderr, "python-merge-probe: no interpreter found in pid %d: %s\n", (int)p.pid,
                strerror(-err));
        goto out;
    }
    srand(1);
    for (int s = 0; s < o.samples; s++) {
        usleep(1000 + (unsigned)rand() % 3000);
        if (take_sample(&p, &o) < 0)
            break;
    }

    struct bts_merge_stats st;
    char af[16], ac[16];
    bts_python_merge_stats(p.late_merge, &st);
    bts_python_merge_anchors(p.late_merge, af, ac, sizeof(af));
    unsigned considered = p.taken - p.truth_torn;
    printf("samples %u, truth not mergeable %u, published %u (%.1f%%), partly merged %u "
           "(%.1f%%), wrong %u, lines differ %u\n",
           p.taken, p.truth_torn, p.published, considered ? 100.0 * p.published / considered : 0.0,
           p.partial, considered ? 100.0 * p.partial / considered : 0.0, p.wrong, p.line_differs);
    printf("anchors: frame %s, code %s; lines exact %lu, from the sample %lu, read after %lu, "
           "unknown %lu; truncated %lu; rebuilt: returned %lu; trimmed %lu\n",
           af, ac, (unsigned long)st.line_exact, (unsigned long)st.line_sample,
           (unsigned long)st.line_after, (unsigned long)st.line_unknown,
           (unsigned long)st.truncated, (unsigned long)st.rebuilt_returned,
           (unsigned long)st.trimmed);
    printf("late results:");
    for (int r = 0; r < BTS_MERGE_RESULT_COUNT; r++)
        printf(" %s=%lu", bts_python_merge_result_name(r), (unsigned long)st.results[r]);
    printf("\n");
    ret = p.wrong ? 1 : 0;
    if (!p.taken) {
        fprintf(stderr, "python-merge-probe: no sample taken\n");
        ret = 1;
    }
    if (o.max_torn >= 0 && considered && 1.0 - (double)p.published / considered > o.max_torn) {
        fprintf(stderr, "python-merge-probe: %.1f%% torn, over %.1f%%\n",
                100.0 * (1.0 - (double)p.published / considered), 100.0 * o.max_torn);
        ret = 1;
    }
out:
    kill(p.pid, SIGKILL);
    waitpid(p.pid, NULL, 0);
    if (p.record)
        fclose(p.record);
    bts_python_merge_free(p.truth_merge);
    bts_python_merge_free(p.late_merge);
    bts_python_free(p.truth_reader);
    bts_python_free(p.late_reader);
    bts_unwinder_free(p.unwinder);
    bts_symbolizer_free(p.sym);
    bts_maps_free(p.maps);
    return ret;
}
