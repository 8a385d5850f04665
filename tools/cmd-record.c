/* SPDX-License-Identifier: MIT */
/* bt-spy record: sample a process and write a flame graph or a profile. */
#define _GNU_SOURCE

#include "cli.h"
#include "format.h"
#include "memory-record.h"
#include "output-file.h"
#include "pprof.h"
#include "render.h"
#include "proc.h"
#include "profiler.h"
#include "speedscope.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What record writes: every format but perf script. */
static bool writable(enum bts_format f)
{
    return bts_format_extension(f) != NULL;
}

struct record_opts {
    struct bts_session_opts session;
    const char *output;
    const char *title;
    const char *subtitle;
    enum bts_format format; /* AUTO: from the output name, else SVG */
    double duration_s;      /* 0: until the target exits or Ctrl-C */
    bool status;
    const char *timeline_csv; /* --memory: the RSS timeline as CSV */
};

/* --memory: what travels from the poll loop to the writers. */
struct memory_record {
    struct bts_rss_timeline *rss;
    struct bts_timeline *tl;   /* the writers' model, once recording ended */
    uint64_t bytes_per_sample; /* fault_period x page size */
    bool forked;               /* without --subprocesses: the target had children */
};

static void usage(FILE *out)
{
    fputs("usage: bt-spy record [OPTIONS] (--pid PID | -- CMD [ARGS...])\n"
          "\n"
          "Samples every thread of a process and writes a flame graph or a profile.\n"
          "Ctrl-C, the end of --duration and the target's exit all write the output;\n"
          "a second Ctrl-C quits at once.\n"
          "\n"
          "options:\n"
          "  -p, --pid PID          attach to a running process\n"
          "  -o, --output FILE      output file; the format follows the extension\n"
          "                         (.svg .png .pdf .folded .pb.gz .json); default\n"
          "                         PROG-PID-TIME.svg\n"
          "  -f, --format FMT       svg, png, pdf, collapsed, pprof or speedscope\n"
          "                         (overrides the extension)\n"
          "  -r, --rate HZ          samples per second per thread (default 100)\n"
          "  -d, --duration SEC     stop after SEC seconds (default: until the target exits)\n"
          "  -t, --threads          add a 'thread NAME (TID)' root frame per thread\n"
          "      --idle             also sample sleeping threads (wall-clock profile)\n"
          "      --subprocesses     follow children under 'process NAME (PID)' roots\n"
          "      --backend B        auto, perf, ptrace or read (default auto); read:\n"
          "                         Python stacks only, with nothing in the target\n"
          "      --no-python        native frames only, even for CPython 3.8-3.13 threads\n"
          "      --function         Python frames by function, 'qualname (path)', not by line\n"
          "      --gil              only samples of the thread holding Python's GIL\n"
          "      --native           one stack per sample: Python frames where the eval loop\n"
          "                         ran them, among native frames (extensions, libc, BLAS)\n"
          "      --native-internal  --native, keeping the interpreter's call plumbing\n"
          "      --unwind U         dwarf (libunwind over .eh_frame) or fp (default dwarf)\n"
          "      --stack-size BYTES user stack copied per sample (default 8192; 2048\n"
          "                         with --memory, 32768 with --native)\n"
          "      --lines            add file:line to frames (needs debug info)\n"
          "      --title TEXT       flame graph title\n"
          "      --subtitle TEXT    flame graph subtitle\n"
          "      --no-status        no live status line on a terminal\n"
          "      --memory           sample page faults (first touches of new memory) instead\n"
          "                         of CPU time: a profile in bytes, with the RSS timeline\n"
          "                         (perf_event backend only)\n"
          "      --fault-period N   with --memory: sample every Nth page fault (default 32)\n"
          "      --timeline-csv F   with --memory: also write the RSS timeline as CSV\n"
          "  -h, --help             show this help\n"
          "\n"
          "A thread that runs CPython 3.8-3.13 is shown by its Python frames,\n"
          "'qualname (path:line)', read from outside the process without stopping it;\n"
          "other threads by their native frames.\n"
          "\n"
          "examples:\n"
          "  bt-spy record -o engine.svg -- bt-engine --seconds 5\n"
          "  bt-spy record --pid 1234 -d 30 -r 999 -o run.folded\n"
          "  bt-spy record --threads -o sweep.png -- bt-engine optimize --jobs 2\n"
          "  bt-spy record -o py.svg -- python3 engine/python/bt_backtest.py --seconds 5\n",
          out);
}

enum {
    OPT_SUBPROCESSES = 256,
    OPT_UNWIND,
    OPT_STACK_SIZE,
    OPT_LINES,
    OPT_TITLE,
    OPT_SUBTITLE,
    OPT_NO_STATUS,
    OPT_TIMELINE_CSV,
};

static int parse_args(int argc, char **argv, struct record_opts *o)
{
    static const struct option longopts[] = {
        BTS_CLI_SESSION_LONGOPTS,
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"duration", required_argument, NULL, 'd'},
        {"threads", no_argument, NULL, 't'},
        {"subprocesses", no_argument, NULL, OPT_SUBPROCESSES},
        {"unwind", required_argument, NULL, OPT_UNWIND},
        {"stack-size", required_argument, NULL, OPT_STACK_SIZE},
        {"lines", no_argument, NULL, OPT_LINES},
        {"title", required_argument, NULL, OPT_TITLE},
        {"subtitle", required_argument, NULL, OPT_SUBTITLE},
        {"no-status", no_argument, NULL, OPT_NO_STATUS},
        BTS_CLI_MEMORY_LONGOPTS,
        {"timeline-csv", required_argument, NULL, OPT_TIMELINE_CSV},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t v;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:" BTS_CLI_SESSION_SHORTOPTS "o:f:d:th", longopts,
                            NULL)) != -1) {
        int handled = bts_cli_session_option("record", c, optarg, &o->session);

        if (handled == 1)
            continue;
        if (handled)
            return handled;
        switch (c) {
        case 'o':
            o->output = optarg;
            break;
        case 'f':
            o->format = bts_format_from_name(optarg);
            if (!writable(o->format))
                return bts_cli_usage_error("record", "invalid --format: '%s' (expected %s)", optarg,
                                           "svg, png, pdf, collapsed, pprof or speedscope");
            break;
        case 'd':
            if (bts_cli_parse_seconds("duration", optarg, 0.001, 31 * 24 * 3600.0, &o->duration_s))
                return BTS_EXIT_USAGE;
            break;
        case 't':
            o->session.threads = true;
            break;
        case OPT_SUBPROCESSES:
            o->session.subprocesses = true;
            break;
        case OPT_UNWIND:
            if (!strcmp(optarg, "dwarf"))
                o->session.unwind = BTS_UNWIND_DWARF;
            else if (!strcmp(optarg, "fp"))
                o->session.unwind = BTS_UNWIND_FP;
            else
                return bts_cli_usage_error("record", "invalid --unwind: '%s' (expected %s)", optarg,
                                           "dwarf or fp");
            break;
        case OPT_STACK_SIZE:
            if (bts_cli_parse_u64("stack-size", optarg, BTS_SESSION_MIN_STACK_SIZE,
                                  BTS_SESSION_MAX_STACK_SIZE, &v))
                return BTS_EXIT_USAGE;
            if (v % 8)
                return bts_cli_usage_error(
                    "record", "invalid --stack-size: '%s' (expected a multiple of 8)", optarg);
            o->session.stack_size = (uint32_t)v;
            break;
        case OPT_LINES:
            o->session.lines = true;
            break;
        case OPT_TITLE:
            o->title = optarg;
            break;
        case OPT_SUBTITLE:
            o->subtitle = optarg;
            break;
        case OPT_NO_STATUS:
            o->status = false;
            break;
        case OPT_TIMELINE_CSV:
            o->timeline_csv = optarg;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            return bts_cli_bad_option("record", c, argv);
        }
    }
    if (!o->session.memory && (o->session.fault_period || o->timeline_csv))
        return bts_cli_usage_error("record", "--fault-period and --timeline-csv need --memory");
    if (o->session.memory && bts_memory_refusal(&o->session))
        return bts_cli_usage_error("record", "%s", bts_memory_refusal(&o->session));
    if (o->session.memory && o->session.native)
        return bts_cli_usage_error("record", "--memory and --native do not go together");
    bts_memory_defaults(&o->session);
    return bts_cli_session_target("record", argc, argv, optind, &o->session);
}

/* Folded text whose counts are samples, rewritten in place with counts x
 * mult (bytes). Lines without a count pass unchanged. 0 or -ENOMEM. */
static int scale_folded(char **buf, size_t *len, uint64_t mult)
{
    char *out = NULL;
    size_t out_len = 0;
    FILE *mem = open_memstream(&out, &out_len);
    char *p = *buf, *end = *buf + *len;

    if (!mem)
        return -ENOMEM;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *sp = memrchr(p, ' ', n);
        char *num_end = NULL;
        unsigned long long c = 0;

        if (sp)
            c = strtoull(sp + 1, &num_end, 10);
        if (sp && num_end == p + n)
            fprintf(mem, "%.*s %llu\n", (int)(sp - p), p, c * (unsigned long long)mult);
        else
            fprintf(mem, "%.*s\n", (int)n, p);
        p += n + 1;
    }
    if (fclose(mem))
        return -ENOMEM;
    free(*buf);
    *buf = out;
    *len = out_len;
    return 0;
}

/* py-spy's naming: PROG-PID-YYYY-MM-DDTHH:MM:SS.EXT, without colons so the
 * name is safe on every filesystem. */
static char *default_output_name(pid_t pid, const char *prog, enum bts_format format)
{
    char stamp[32], *copy, *name = NULL;
    time_t now = time(NULL);
    struct tm tm;

    copy = strdup(prog);
    if (!copy)
        return NULL;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
    if (asprintf(&name, "%s-%d-%s.%s", basename(copy), (int)pid, stamp,
                 bts_format_extension(format)) < 0)
        name = NULL;
    free(copy);
    return name;
}

/* "bt-spy: python 3.11.2 (static) found in pid 1234", once per new note. */
static void print_python_note(const struct bts_session_stats *st, unsigned *seen, bool tty)
{
    if (st->python_notes == *seen || !st->python_note[0])
        return;
    *seen = st->python_notes;
    fprintf(stderr, "%sbt-spy: %s\n", tty ? "\r\033[K" : "", st->python_note);
}

/* What the profile's notes say about Python: "" when no interpreter was
 * read, else e.g. " | python 3.11.2 frames". */
static const char *python_notes(const struct bts_session_stats *st, char *buf, size_t len)
{
    buf[0] = '\0';
    if (st->python_found)
        snprintf(buf, len, " | python %s frames%s", st->python_version,
                 st->python_found > 1 ? " (several processes)" : "");
    return buf;
}

/* What the profile's metadata says about --native's merge: how the Python
 * frames were tied to the sample ("perf_event eBPF": copied by the kernel
 * at the sample, the rest read after it and anchored; "perf_event
 * anchored": read after it and checked against its registers and stack;
 * "ptrace stopped": read while the thread was stopped at it). "" without
 * --native. */
static const char *native_note(const struct bts_profiler *s, const struct record_opts *o,
                               const struct bts_session_stats *st)
{
    if (!o->session.native)
        return "";
    if (strcmp(bts_profiler_backend(s), "ptrace") == 0)
        return "native merge: ptrace stopped";
    return st->native_captured ? "native merge: perf_event eBPF capture"
                               : "native merge: perf_event anchored";
}

/* After a --native profile: how many Python samples were merged and how
 * many torn (shown native under "[python frames torn]", or left out when
 * read late), with the causes; with ptrace, what reading the Python stack
 * added to each stop. */
static void print_native_summary(const struct bts_session_stats *st)
{
    uint64_t torn = st->native_torn + st->native_torn_late;
    uint64_t all = st->native_merged + st->native_partial + torn;

    if (!all)
        return;
    fprintf(stderr,
            "bt-spy: python --native: %llu merged (%llu with the innermost frame unknown), %llu "
            "partly merged (%.2f%%: outer Python frames under inner ones torn), %llu torn "
            "(%.2f%%): %llu kept under [python frames torn], %llu read late and left out; by "
            "cause (partly merged and torn): activation count %llu, frame moved %llu, code "
            "changed %llu, still learning %llu, nothing to anchor %llu\n",
            (unsigned long long)st->native_merged, (unsigned long long)st->native_unknown,
            (unsigned long long)st->native_partial,
            100.0 * (double)st->native_partial / (double)all, (unsigned long long)torn,
            100.0 * (double)torn / (double)all, (unsigned long long)st->native_torn,
            (unsigned long long)st->native_torn_late, (unsigned long long)st->native_torn_count,
            (unsigned long long)st->native_torn_frame, (unsigned long long)st->native_torn_code,
            (unsigned long long)st->native_torn_learning,
            (unsigned long long)st->native_torn_stack);
    if (st->native_captured || st->native_captured_torn)
        fprintf(stderr,
                "bt-spy: python --native: %llu merged and %llu torn with Python frames the "
                "kernel copied at the sample (eBPF)\n",
                (unsigned long long)st->native_captured,
                (unsigned long long)st->native_captured_torn);
    if (st->native_stopped)
        fprintf(stderr,
                "bt-spy: python --native: %llu merged from stacks read while stopped; %.1f µs "
                "of stop per sample for the Python read\n",
                (unsigned long long)st->native_stopped,
                (double)st->native_stop_ns / 1e3 / (double)st->native_stopped);
}

/* After the profile: how many samples were Python stacks and what one
 * read cost, e.g. "bt-spy: python 3.11.2: 2987 of 3012 samples are Python
 * stacks; 14.2 µs per sample read". */
static void print_python_summary(const struct bts_session_stats *st, bool gil)
{
    if (!st->python_reads)
        return;
    fprintf(stderr,
            "bt-spy: python %s: %llu of %llu samples are Python stacks; %.1f µs per sample read, "
            "%llu read errors, %llu read too late (left out)\n",
            st->python_version[0] ? st->python_version : "?",
            (unsigned long long)st->python_samples, (unsigned long long)st->samples,
            (double)st->python_read_ns / 1e3 / (double)st->python_reads,
            (unsigned long long)st->python_errors, (unsigned long long)st->python_late);
    if (st->python_captured || st->python_capture_missing || st->python_capture_unusable)
        fprintf(stderr,
                "bt-spy: python: %llu stacks copied by the kernel at their sample (eBPF); %llu "
                "read after it: %llu of threads not known to the copier yet, %llu whose copy "
                "could not be used\n",
                (unsigned long long)st->python_captured,
                (unsigned long long)(st->python_capture_missing + st->python_capture_unusable),
                (unsigned long long)st->python_capture_missing,
                (unsigned long long)st->python_capture_unusable);
    else if (st->capture_errno) {
        fprintf(stderr,
                "bt-spy: python: no eBPF capture (%s): each Python stack was read after its "
                "sample\n",
                strerror(st->capture_errno));
        bts_cli_hint("run as root, give bt-spy CAP_BPF and CAP_PERFMON, or record through "
                     "bt-spyd (--connect), for stacks copied at the sample");
    }
    if (gil)
        fprintf(stderr, "bt-spy: --gil left out %llu samples of threads not holding the GIL\n",
                (unsigned long long)st->gil_dropped);
}

/* With --gil or --threads: each Python thread's samples by the GIL. */
static void print_gil_threads(const struct bts_profiler *s)
{
    struct bts_session_gil_thread t[64];
    size_t n = bts_profiler_gil_threads(s, t, sizeof(t) / sizeof(t[0]));

    for (size_t i = 0; i < n; i++) {
        double all = (double)(t[i].held + t[i].not_held + t[i].unknown);

        fprintf(stderr,
                "bt-spy: python thread %d (pid %d): %.1f%% of its %llu samples hold the GIL, "
                "%.1f%% do not, %.1f%% unknown\n",
                (int)t[i].tid, (int)t[i].pid, 100.0 * (double)t[i].held / all,
                (unsigned long long)all, 100.0 * (double)t[i].not_held / all,
                100.0 * (double)t[i].unknown / all);
    }
}

static void print_status(const struct bts_session_stats *st)
{
    fprintf(stderr, "\r\033[Ksamples %llu  lost %llu  threads %u  elapsed %.1fs",
            (unsigned long long)st->samples, (unsigned long long)st->lost, st->threads,
            st->elapsed_s);
}

/* pprof from the live stacks: every location keeps its address and the
 * mapping (file, range, offset) that held it. */
struct pprof_feed {
    struct bts_pprof_builder *b;
    struct {
        uint64_t start;
        uint64_t id;
    } maps[256];
    size_t nmaps;
    struct bts_pprof_frame frames[256];
    int64_t time_ms; /* --memory: the bucket being fed; -1: none */
};

static uint64_t pprof_mapping(struct pprof_feed *f, const struct bts_session_frame *fr)
{
    uint64_t id = 0;

    if (!fr->map_start)
        return 0;
    for (size_t i = 0; i < f->nmaps; i++)
        if (f->maps[i].start == fr->map_start)
            return f->maps[i].id;
    if (f->nmaps == sizeof(f->maps) / sizeof(f->maps[0]) ||
        bts_pprof_builder_add_mapping(f->b, fr->map_start, fr->map_end, fr->map_offset,
                                      fr->map_path ? fr->map_path : "", NULL, &id))
        return 0;
    f->maps[f->nmaps].start = fr->map_start;
    f->maps[f->nmaps++].id = id;
    return id;
}

static int pprof_stack(void *ctx, const char *root, const struct bts_session_frame *frames,
                       size_t n, uint64_t count)
{
    struct pprof_feed *f = ctx;
    const char *thread = NULL;
    size_t thread_len = 0;
    long tid = 0;

    if (n > sizeof(f->frames) / sizeof(f->frames[0]))
        n = sizeof(f->frames) / sizeof(f->frames[0]);
    for (size_t i = 0; i < n; i++)
        f->frames[i] = (struct bts_pprof_frame){
            .name = frames[i].name,
            .len = strlen(frames[i].name),
            .address = frames[i].pc,
            .mapping_id = pprof_mapping(f, &frames[i]),
        };
    /* "thread NAME (TID)" becomes the labels thread=NAME, tid=TID. */
    if (root && !strncmp(root, "thread ", 7)) {
        const char *open = strrchr(root, '(');
        if (open && open > root + 7) {
            thread = root + 7;
            thread_len = (size_t)(open - 1 - thread);
            tid = strtol(open + 1, NULL, 10);
        }
    }
    return bts_pprof_builder_add(f->b, &(struct bts_pprof_sample){.frames = f->frames,
                                                                  .n = n,
                                                                  .count = count,
                                                                  .thread = thread,
                                                                  .thread_len = thread_len,
                                                                  .tid = tid,
                                                                  .time_ms = f->time_ms});
}

/* --memory: one (stack, time bucket) with its bucket's start. */
static int pprof_bucket(void *ctx, const char *root, const struct bts_session_frame *frames,
                        size_t n, uint64_t count, int64_t time_ms)
{
    struct pprof_feed *f = ctx;

    f->time_ms = time_ms;
    return pprof_stack(ctx, root, frames, n, count);
}

static int write_live_pprof(const struct bts_profiler *s, const struct bts_pprof_opts *po,
                            FILE *out)
{
    struct pprof_feed *f = calloc(1, sizeof(*f));
    int ret;

    if (!f)
        return -ENOMEM;
    f->b = bts_pprof_builder_new(po);
    f->time_ms = -1;
    ret = !f->b                          ? -ENOMEM
          : po->kind == BTS_PPROF_MEMORY ? bts_profiler_foreach_bucket(s, pprof_bucket, f, NULL)
                                         : bts_profiler_foreach_stack(s, pprof_stack, f);
    if (!ret)
        ret = bts_pprof_builder_write(f->b, out);
    bts_pprof_builder_free(f->b);
    free(f);
    return ret;
}

/* Renders the session's stacks into `out` in the chosen format. */
static int write_profile(const struct bts_profiler *s, const struct record_opts *o,
                         enum bts_format format, const char *target, pid_t pid,
                         const struct memory_record *mr, FILE *out)
{
    struct bts_session_stats st;
    struct bts_render_opts ro;
    char *folded = NULL, *notes = NULL, *title = NULL;
    size_t folded_len = 0;
    FILE *mem = NULL, *in = NULL;
    char date[32], pynote[96], desc[64], what[192], *comment = NULL;
    time_t now = time(NULL);
    struct tm tm;
    int ret;

    bts_profiler_stats(s, &st);
    if (st.samples == 0)
        return -ENODATA;
    if (format == BTS_FORMAT_FOLDED && !mr)
        return bts_profiler_write_folded(s, out);

    /* pprof's comment is the command (diff and report --compare name a side
     * by it); a profile of Python frames says so there, with the version. */
    if (format == BTS_FORMAT_PPROF && st.python_found &&
        asprintf(&comment, "%s (python %s frames%s%s%s)", target ? target : "?", st.python_version,
                 o->session.gil ? ", GIL holder only" : "", o->session.native ? ", " : "",
                 native_note(s, o, &st)) < 0)
        return -ENOMEM;
    if (format == BTS_FORMAT_PPROF) {
        struct bts_pprof_opts po = {
            .period_ns = 1000000000ull / o->session.rate_hz,
            .time_nanos = (int64_t)now * 1000000000,
            .duration_nanos = (int64_t)(st.elapsed_s * 1e9),
            .comment = comment,
        };
        if (mr) {
            po.kind = BTS_PPROF_MEMORY;
            po.period_bytes = mr->bytes_per_sample;
            po.timeline = mr->tl;
        }
        ret = write_live_pprof(s, &po, out);
        if (ret != -ENOTSUP) {
            free(comment);
            return ret;
        }
    }
    if (format == BTS_FORMAT_PPROF || format == BTS_FORMAT_SPEEDSCOPE) {
        /* Both writers take folded text; the stacks pass through memory. */
        mem = open_memstream(&folded, &folded_len);
        if (!mem)
            return -errno;
        ret = bts_profiler_write_folded(s, mem);
        if (fclose(mem) && !ret)
            ret = -errno;
        mem = NULL;
        if (!ret) {
            in = fmemopen(folded, folded_len, "r");
            if (!in)
                ret = -errno;
        }
        if (!ret && format == BTS_FORMAT_PPROF) {
            struct bts_pprof_opts po = {
                .period_ns = 1000000000ull / o->session.rate_hz,
                .time_nanos = (int64_t)now * 1000000000,
                .duration_nanos = (int64_t)(st.elapsed_s * 1e9),
                .comment = comment,
            };
            if (mr) {
                po.kind = BTS_PPROF_MEMORY;
                po.period_bytes = mr->bytes_per_sample;
                po.timeline = mr->tl;
            }
            ret = bts_pprof_write_folded(in, "profile", &po, out);
        } else if (!ret) {
            struct bts_speedscope_opts so = {.exporter = "bt-spy " BTS_VERSION};

            if (mr) {
                fclose(in);
                in = NULL;
                ret = scale_folded(&folded, &folded_len, mr->bytes_per_sample);
                if (!ret && !(in = fmemopen(folded, folded_len ? folded_len : 1, "r")))
                    ret = -errno;
                if (ret)
                    goto out;
                so.unit = "bytes";
                so.timeline = mr->tl;
            }
            ret = bts_speedscope_write_folded(in, target ? target : "profile", &so, out);
        }
        goto out;
    }

    mem = open_memstream(&folded, &folded_len);
    if (!mem)
        return -errno;
    ret = bts_profiler_write_folded(s, mem);
    if (fclose(mem) && !ret)
        ret = -errno;
    if (!ret && mr)
        ret = scale_folded(&folded, &folded_len, mr->bytes_per_sample);
    if (ret)
        goto out;
    if (format == BTS_FORMAT_FOLDED) {
        if (folded_len && fwrite(folded, 1, folded_len, out) != folded_len)
            ret = -EIO;
        goto out;
    }

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
    /* Memory samples page faults, not time: the notes say at what rate. */
    if (mr) {
        snprintf(what, sizeof(what),
                 "%.1f s | %llu samples, %llu lost | backend %s | %s, in bytes%s", st.elapsed_s,
                 (unsigned long long)st.samples, (unsigned long long)st.lost,
                 bts_profiler_backend(s), bts_memory_describe(&o->session, desc, sizeof(desc)),
                 o->session.subprocesses ? " | RSS of the first process only"
                 : mr->forked            ? " | children not followed (--subprocesses)"
                                         : "");
        if (o->session.argv && st.target_exited && WIFSIGNALED(st.exit_status))
            snprintf(what + strlen(what), sizeof(what) - strlen(what), " | killed by signal %d",
                     WTERMSIG(st.exit_status));
    } else {
        snprintf(what, sizeof(what), "%.1f s at %u Hz | %llu samples, %llu lost | backend %s | %s",
                 st.elapsed_s, o->session.rate_hz, (unsigned long long)st.samples,
                 (unsigned long long)st.lost, bts_profiler_backend(s),
                 o->session.idle ? "wall-clock" : "on-CPU");
    }
    if (asprintf(&notes, "%s | pid %d | %s%s%s%s%s%s | %s", target ? target : "?", (int)pid, what,
                 python_notes(&st, pynote, sizeof(pynote)),
                 o->session.gil ? " | GIL holder only" : "", o->session.native ? " | " : "",
                 native_note(s, o, &st),
                 st.target_exited && o->session.pid ? " | partial: target exited" : "", date) < 0) {
        notes = NULL;
        ret = -ENOMEM;
        goto out;
    }
    if (!o->title && asprintf(&title, "bt-spy: %s", target ? target : "profile") < 0) {
        title = NULL;
        ret = -ENOMEM;
        goto out;
    }

    bts_render_opts_init(&ro);
    ro.title = o->title ? o->title : title;
    ro.subtitle = o->subtitle;
    ro.notes = notes;
    if (o->session.idle)
        ro.countname = "samples (wall clock)";
    if (mr) {
        ro.countname = "bytes";
        ro.timeline = mr->tl;
    }

    in = fmemopen(folded, folded_len ? folded_len : 1, "r");
    if (!in) {
        ret = -errno;
        goto out;
    }
    if (!folded_len) {
        ret = -ENODATA;
        goto out;
    }
    ret = bts_render_folded(in, "profile", &ro,
                            format == BTS_FORMAT_PNG   ? BTS_RENDER_PNG
                            : format == BTS_FORMAT_PDF ? BTS_RENDER_PDF
                                                       : BTS_RENDER_SVG,
                            out);
out:
    if (in)
        fclose(in);
    free(folded);
    free(notes);
    free(title);
    free(comment);
    return ret;
}

/* Stops at once: bts_profiler_foreach_bucket tells the buckets' width. */
static int first_bucket(void *ctx, const char *root, const struct bts_session_frame *frames,
                        size_t n, uint64_t count, int64_t time_ms)
{
    (void)ctx, (void)root, (void)frames, (void)n, (void)count, (void)time_ms;
    return -ECANCELED;
}

/* --timeline-csv: 0, or -errno after saying why. */
static int write_timeline_csv(const struct bts_timeline *tl, const char *path)
{
    struct bts_output_file *f = NULL;
    int ret = bts_output_file_open(path, &f);

    if (!ret)
        ret = bts_timeline_write_csv(tl, bts_output_file_stream(f));
    if (ret && f && bts_output_file_error(f))
        ret = bts_output_file_error(f);
    if (!ret)
        ret = bts_output_file_commit(f);
    if (ret)
        bts_cli_error("cannot write '%s': %s", path, bts_cli_strerror(ret));
    bts_output_file_free(f);
    return ret;
}

/* One recording, from its options to its written profile. */
struct record_run {
    struct record_opts o;
    enum bts_format format;
    struct bts_profiler *s;
    struct bts_output_file *of;
    struct memory_record mem;
    int64_t mem_start_ns;
    char *output, *target;
    bool tty, stopped_by_user;
};

/* --memory: the RSS timeline starts with the session. 0, or -1 after
 * saying why. */
static int start_memory(struct record_run *r, pid_t pid)
{
    struct bts_session_stats st;
    char what[96];

    /* Time 0 of the timeline is the session's, as for the samples' buckets. */
    bts_profiler_stats(r->s, &st);
    r->mem_start_ns = st.start_ns ? st.start_ns : bts_proc_now_ns();
    r->mem.bytes_per_sample = bts_memory_bytes_per_sample(&r->o.session);
    r->mem.rss = bts_rss_timeline_new(pid, r->mem_start_ns, NULL);
    if (!r->mem.rss) {
        bts_cli_error("cannot set up the RSS timeline: %s", bts_cli_strerror(errno));
        return -1;
    }
    bts_rss_timeline_poll(r->mem.rss, bts_proc_now_ns());
    if (r->o.session.backend == BTS_BACKEND_AUTO)
        fprintf(stderr, "bt-spy: sampling %s of pid %d with the %s backend\n",
                bts_memory_describe(&r->o.session, what, sizeof(what)), (int)pid,
                bts_profiler_backend(r->s));
    if (r->o.session.subprocesses)
        fprintf(stderr,
                "bt-spy: the RSS timeline is pid %d's own; each process's faults are "
                "under its process root\n",
                (int)pid);
    return 0;
}

/* Opens the output and starts sampling. 0 when sampling runs; 1 when it
 * runs but cannot be kept (the caller stops it); -1 when it never started.
 * Errors are said here. */
static int record_begin(struct record_run *r)
{
    pid_t pid;
    int ret;

    r->s = bts_cli_profiler_new(&r->o.session);
    if (!r->s) {
        bts_cli_error("cannot set up the session: %s", bts_cli_strerror(errno));
        return -1;
    }
    /* With an explicit output, make sure it can be written before any
     * sampling starts. */
    if (r->o.output) {
        ret = bts_output_file_open(r->o.output, &r->of);
        if (ret) {
            bts_cli_error("cannot write '%s': %s", r->o.output, bts_cli_strerror(ret));
            return -1;
        }
    }
    bts_cli_catch_stop_signals();
    ret = bts_profiler_start(r->s);
    if (ret) {
        bts_cli_session_error(r->s, &r->o.session, ret);
        return -1;
    }
    pid = bts_profiler_pid(r->s);
    r->target = bts_cli_describe_target(&r->o.session, pid);
    if (r->o.session.memory && start_memory(r, pid))
        return 1;
    if (r->o.session.backend == BTS_BACKEND_AUTO && !r->o.session.memory)
        fprintf(stderr, "bt-spy: sampling pid %d at %u Hz with the %s backend\n", (int)pid,
                r->o.session.rate_hz, bts_profiler_backend(r->s));
    if (r->o.output)
        return 0;
    r->output =
        default_output_name(pid, r->o.session.argv ? r->o.session.argv[0] : r->target, r->format);
    if (!r->output) {
        bts_cli_error("cannot name the output: %s", bts_cli_strerror(errno));
        return 1;
    }
    ret = bts_output_file_open(r->output, &r->of);
    if (ret) {
        bts_cli_error("cannot write '%s': %s", r->output, bts_cli_strerror(ret));
        return 1;
    }
    return 0;
}

/* Samples until the target exits, the duration ends, a stop signal comes
 * or sampling fails (said here; what was gathered is still written). */
static void record_loop(struct record_run *r)
{
    struct bts_session_stats st;
    double last_status = -1;
    unsigned notes_seen = 0;

    for (;;) {
        int timeout_ms = 100, ret;

        /* The RSS is read before the session may reap the target. */
        if (r->mem.rss)
            timeout_ms = bts_memory_poll_rss(r->mem.rss, timeout_ms);
        ret = bts_profiler_poll(r->s, timeout_ms);
        bts_profiler_stats(r->s, &st);
        print_python_note(&st, &notes_seen, r->tty);
        /* A child's faults are not the target's: say so when it had any. */
        if (r->mem.rss && !r->o.session.subprocesses && !r->mem.forked &&
            bts_rss_timeline_reads(r->mem.rss) % 10 == 1)
            r->mem.forked = bts_memory_has_children(bts_profiler_pid(r->s));
        if (r->tty && st.elapsed_s - last_status >= 0.25) {
            print_status(&st);
            last_status = st.elapsed_s;
        }
        if (ret < 0) {
            const char *why = NULL, *hint = NULL;

            if (r->tty)
                fputc('\n', stderr);
            /* Why it ended (e.g. the target changed credentials), said the
             * same way in-process and through bt-spyd. */
            bts_profiler_explain(r->s, &why, &hint);
            bts_cli_error("sampling failed: %s; writing what was gathered",
                          why && *why ? why : bts_cli_strerror(ret));
            if (hint && *hint)
                bts_cli_hint("%s", hint);
            return;
        }
        if (ret == 1)
            return;
        if (bts_cli_stop_requested) {
            r->stopped_by_user = true;
            return;
        }
        if (r->o.duration_s > 0 && st.elapsed_s >= r->o.duration_s)
            return;
    }
}

/* --memory: the timeline the writers take, once sampling stopped. */
static int finish_memory(struct record_run *r)
{
    uint64_t bucket_ns = 0;

    bts_rss_timeline_finish(r->mem.rss, (uint64_t)(bts_proc_now_ns() - r->mem_start_ns));
    bts_profiler_foreach_bucket(r->s, first_bucket, NULL, &bucket_ns);
    r->mem.tl = bts_memory_timeline(r->mem.rss, bucket_ns);
    if (!r->mem.tl) {
        bts_cli_error("cannot build the RSS timeline: %s", bts_cli_strerror(errno));
        return -1;
    }
    if (r->o.timeline_csv && write_timeline_csv(r->mem.tl, r->o.timeline_csv) < 0)
        return -1;
    return 0;
}

/* Writes the profile and says so. An exit code. */
static int record_write(struct record_run *r)
{
    struct bts_session_stats st;
    struct bts_output_file *of = r->of;
    int ret;

    bts_profiler_stats(r->s, &st);
    if (r->mem.rss && finish_memory(r))
        return BTS_EXIT_FAILURE;
    ret = write_profile(r->s, &r->o, r->format, r->target, bts_profiler_pid(r->s),
                        r->mem.rss ? &r->mem : NULL, bts_output_file_stream(of));
    if (ret && bts_output_file_error(of))
        ret = bts_output_file_error(of); /* -ENOSPC rather than the writer's -EIO */
    if (ret == -ENODATA) {
        bts_cli_error("no samples were collected; nothing written to '%s'",
                      bts_output_file_name(of));
        if (r->mem.rss)
            bts_cli_hint("the target faulted in no new memory while recorded (%s): try a lower "
                         "--fault-period or a longer run",
                         bts_memory_describe(&r->o.session, (char[64]){0}, 64));
        else
            bts_cli_hint(
                "the target may have been idle: try --idle, a higher --rate, or a longer run");
        return BTS_EXIT_FAILURE;
    }
    if (!ret)
        ret = bts_output_file_commit(of);
    if (ret) {
        bts_cli_error("cannot write '%s': %s", bts_output_file_name(of), bts_cli_strerror(ret));
        return BTS_EXIT_FAILURE;
    }
    fprintf(stderr, "bt-spy: wrote '%s': %llu samples, %llu lost, %u threads, %.1f s%s\n",
            bts_output_file_name(of), (unsigned long long)st.samples, (unsigned long long)st.lost,
            st.threads_seen, st.elapsed_s,
            r->stopped_by_user                     ? " (stopped by signal)"
            : st.target_exited && r->o.session.pid ? " (partial: target exited)"
                                                   : "");
    print_python_summary(&st, r->o.session.gil);
    if (r->mem.rss && r->o.session.argv && st.target_exited && WIFSIGNALED(st.exit_status))
        fprintf(stderr,
                "bt-spy: pid %d was killed by signal %d while recorded: the profile "
                "and timeline end there\n",
                (int)bts_profiler_pid(r->s), WTERMSIG(st.exit_status));
    if (r->mem.forked) {
        fprintf(stderr,
                "bt-spy: pid %d started child processes: their memory is not in the "
                "profile\n",
                (int)bts_profiler_pid(r->s));
        bts_cli_hint("add --subprocesses to charge each child's faults under its process");
    }
    print_native_summary(&st);
    if (r->o.session.gil || r->o.session.threads)
        print_gil_threads(r->s);
    /* A launched command runs to completion as if unprofiled: sampling
     * stopped early (duration, SIGTERM) leaves it running and we wait. */
    if (r->o.session.argv && !bts_cli_connect_path && !st.target_exited && !r->stopped_by_user) {
        int status;

        fprintf(stderr, "bt-spy: waiting for pid %d to exit\n", (int)bts_profiler_pid(r->s));
        while (waitpid(bts_profiler_pid(r->s), &status, 0) < 0 && errno == EINTR &&
               !bts_cli_stop_requested)
            ;
    }
    return BTS_EXIT_OK;
}

int bts_cmd_record(int argc, char **argv)
{
    struct record_run r = {
        .o = {.session =
                  {
                      .rate_hz = BTS_SESSION_DEFAULT_RATE_HZ,
                  },
              .status = true},
    };
    struct bts_session_stats st;
    int ret, rc = BTS_EXIT_FAILURE;

    ret = parse_args(argc, argv, &r.o);
    if (ret)
        return ret < 0 ? BTS_EXIT_OK : ret;
    r.format = r.o.format;
    if (r.format == BTS_FORMAT_AUTO && r.o.output)
        r.format = bts_format_from_path(r.o.output);
    if (!writable(r.format))
        r.format = BTS_FORMAT_SVG;
    r.tty = r.o.status && bts_cli_stderr_is_tty();

    ret = record_begin(&r);
    if (ret == 0)
        record_loop(&r);
    if (ret >= 0) {
        bts_profiler_stop(r.s);
        if (r.tty) {
            bts_profiler_stats(r.s, &st);
            print_status(&st), fputc('\n', stderr);
        }
        if (ret == 0)
            rc = record_write(&r);
    }
    bts_timeline_free(r.mem.tl);
    bts_rss_timeline_free(r.mem.rss);
    bts_output_file_free(r.of);
    bts_profiler_free(r.s);
    free(r.output);
    free(r.target);
    return rc;
}
