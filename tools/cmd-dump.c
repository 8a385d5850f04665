/* SPDX-License-Identifier: MIT */
/* cmd-dump: `bt-spy dump`, every thread's current stack once, as text or JSON;
 * in a CPython process each thread's Python stack, name, GIL state and
 * (--locals) local variables. */
#include "cli.h"
#include "json.h"
#include "profiler.h"
#include "thread-dump.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dump_opts {
    pid_t pid;
    bool json;
    bool lines;
    bool native;    /* one merged stack per Python thread */
    bool locals;    /* Python frames' local variables */
    bool no_python; /* native stacks only */
};

static void usage(FILE *out)
{
    fputs("usage: bt-spy dump --pid PID [--json] [--lines] [--native] [--locals] [--no-python]\n"
          "\n"
          "Print the current stack of every thread of a running process, leaf first,\n"
          "down to main or start_thread. Each thread is stopped with ptrace only long\n"
          "enough to copy its registers and stack; the process keeps running.\n"
          "\n"
          "In a CPython 3.8-3.13 process a thread shows its Python stack instead,\n"
          "'qualname (path:line)', read while its copy is taken, with the name the\n"
          "threading module gives it and its state: running (holds the GIL, or was\n"
          "running code), waiting for the GIL, or idle (sleeping, in I/O or another\n"
          "wait).\n"
          "\n"
          "options:\n"
          "  -p, --pid PID     the process to dump\n"
          "      --json        print a JSON array of {tid, name, state, frames, ...}\n"
          "      --lines       add (file:line) to native frames with debug info\n"
          "      --native      Python threads: one stack, each Python frame where the\n"
          "                    interpreter ran it among the native frames (extensions,\n"
          "                    libc, BLAS); read while the thread is stopped: exact\n"
          "      --locals      Python frames: local variables (int, float, str, bool,\n"
          "                    None, the length of list, tuple, dict and set; other\n"
          "                    types by name)\n"
          "      --no-python   native stacks only\n"
          "  -h, --help        show this help\n"
          "\n"
          "examples:\n"
          "  bt-spy dump --pid 1234\n"
          "  bt-spy dump --pid $(pgrep -n bt-engine) --json > stacks.json\n"
          "  bt-spy dump --pid $(pgrep -f backtest.py) --locals\n",
          out);
}

static const char *state_word(char state)
{
    switch (state) {
    case 'R':
        return "running";
    case 'S':
        return "sleeping";
    case 'D':
        return "disk sleep";
    case 'T':
        return "stopped";
    case 't':
        return "tracing stop";
    case 'Z':
        return "zombie";
    case 'I':
        return "idle";
    default:
        return "unknown";
    }
}

static const char *python_state_word(enum bts_thread_python_state state)
{
    switch (state) {
    case BTS_THREAD_PYTHON_RUNNING:
        return "running";
    case BTS_THREAD_PYTHON_WAITING:
        return "waiting for the GIL";
    case BTS_THREAD_PYTHON_IDLE:
        return "idle";
    default:
        return NULL;
    }
}

static const char *missing_stack(int err)
{
    return err == -EAGAIN ? "the thread did not stop in time" : "no stack could be read";
}

static void json_string(FILE *out, const char *str)
{
    bts_json_write_string(out, str, strlen(str));
}

/* A dump taken here or by bt-spyd, seen the same way. */
struct dump_view {
    pid_t pid;
    const char *command;
    const char *python; /* CPython version, NULL when none */
    bool native;        /* --native */
    size_t n;
    const struct bts_thread_stack **threads;
};

/* A Python frame as a stack line: "qualname (path:line)". */
static void python_frame_text(const struct bts_thread_python_frame *f, char *buf, size_t len)
{
    if (f->line > 0)
        snprintf(buf, len, "%s (%s:%d)", f->name, f->filename, f->line);
    else
        snprintf(buf, len, "%s (%s)", f->name, f->filename);
}

/* Whether a thread shows its native stack: non-Python threads, Python ones
 * with --native or without a single Python frame (in C code only). */
static bool shows_native(const struct dump_view *d, const struct bts_thread_stack *t)
{
    return d->native || !t->n_python_frames;
}

/* With --native, a Python thread whose stacks were merged shows that one
 * stack (its Python frames where they ran); one whose stacks do not line
 * up, or a dump by bt-spyd, shows them apart: Python, then native. */
static bool shows_merged(const struct dump_view *d, const struct bts_thread_stack *t)
{
    return d->native && t->merged;
}

static void json_python(const struct dump_view *d, const struct bts_thread_stack *t, FILE *out)
{
    fputs(", \"python\": ", out);
    json_string(out, d->python ? d->python : "");
    fputs(", \"comm\": ", out);
    json_string(out, t->name);
    fputs(", \"python_state\": ", out);
    json_string(out, python_state_word(t->python_state));
    fprintf(out, ", \"holds_gil\": %s, \"python_frames\": [", t->holds_gil ? "true" : "false");
    for (size_t k = 0; k < t->n_python_frames; k++) {
        const struct bts_thread_python_frame *f = &t->python_frames[k];
        fputs(k ? ", {\"name\": " : "{\"name\": ", out);
        json_string(out, f->name);
        fputs(", \"file\": ", out);
        json_string(out, f->filename);
        fprintf(out, ", \"line\": %d", f->line);
        if (f->nlocals) {
            fputs(", \"locals\": [", out);
            for (size_t j = 0; j < f->nlocals; j++) {
                fputs(j ? ", {\"name\": " : "{\"name\": ", out);
                json_string(out, f->locals[j].name);
                fputs(", \"value\": ", out);
                json_string(out, f->locals[j].value);
                fputc('}', out);
            }
            fputc(']', out);
        }
        fputc('}', out);
    }
    fputs("], \"native_frames\": [", out);
    for (size_t k = 0; k < t->nframes; k++) {
        fputs(k ? ", " : "", out);
        json_string(out, t->frames[k]);
    }
    fputc(']', out);
}

/* One object per thread. "frames" holds the lines the text shows (Python
 * frames, then native ones where those show); a Python thread also has
 * its Python name, state and structured frames. */
static void print_json(const struct dump_view *d, FILE *out)
{
    size_t n = d->n;
    char line[8192];
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        const struct bts_thread_stack *t = d->threads[i];
        char state[2] = {t->state, '\0'};
        bool python = t->python_state != BTS_THREAD_PYTHON_NONE;
        size_t shown = 0;
        fprintf(out, "%s\n  {\"pid\": %d, \"tid\": %d, \"name\": ", i ? "," : "", (int)d->pid,
                (int)t->tid);
        json_string(out, python && t->python_name ? t->python_name : t->name);
        fputs(", \"state\": ", out);
        json_string(out, state);
        if (t->error) {
            fputs(", \"error\": ", out);
            json_string(out, missing_stack(t->error));
        }
        if (python)
            json_python(d, t, out);
        fputs(", \"frames\": [", out);
        for (size_t k = 0; shows_merged(d, t) && k < t->n_merged; k++, shown++) {
            fputs(shown ? ", " : "", out);
            json_string(out, t->merged[k]);
        }
        for (size_t k = 0; !shows_merged(d, t) && k < t->n_python_frames; k++, shown++) {
            python_frame_text(&t->python_frames[k], line, sizeof(line));
            fputs(shown ? ", " : "", out);
            json_string(out, line);
        }
        for (size_t k = 0; !shows_merged(d, t) && shows_native(d, t) && k < t->nframes;
             k++, shown++) {
            fputs(shown ? ", " : "", out);
            json_string(out, t->frames[k]);
        }
        fputs("]}", out);
    }
    fputs(n ? "\n]\n" : "]\n", out);
}

/* Text from the target on one line: control bytes as \xNN, so a thread
 * or variable name cannot start a line of its own. */
static void put_clean(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

static void print_text(const struct dump_view *d, FILE *out)
{
    char line[8192];
    fprintf(out, "Process %d: %s\n", (int)d->pid, d->command);
    if (d->python)
        fprintf(out, "Python %s\n", d->python);
    for (size_t i = 0; i < d->n; i++) {
        const struct bts_thread_stack *t = d->threads[i];
        const char *py_state = python_state_word(t->python_state);
        fprintf(out, "\nThread %d (%s): \"", (int)t->tid,
                py_state ? py_state : state_word(t->state));
        put_clean(out, py_state && t->python_name ? t->python_name : t->name);
        fputc('"', out);
        /* the OS name, where the Python name hides it */
        if (py_state && t->python_name && strcmp(t->python_name, t->name) != 0) {
            fputs(" [", out);
            put_clean(out, t->name);
            fputc(']', out);
        }
        fputc('\n', out);
        if (t->error)
            fprintf(out, "    (%s)\n", missing_stack(t->error));
        if (shows_merged(d, t)) {
            for (size_t k = 0; k < t->n_merged; k++) {
                fputs("    ", out);
                put_clean(out, t->merged[k]);
                fputc('\n', out);
            }
            continue;
        }
        for (size_t k = 0; k < t->n_python_frames; k++) {
            const struct bts_thread_python_frame *f = &t->python_frames[k];
            python_frame_text(f, line, sizeof(line));
            fputs("    ", out);
            put_clean(out, line);
            fputc('\n', out);
            for (size_t j = 0; j < f->nlocals; j++) {
                fputs("        ", out);
                put_clean(out, f->locals[j].name);
                fputs(" = ", out);
                put_clean(out, f->locals[j].value);
                fputc('\n', out);
            }
        }
        if (!shows_native(d, t))
            continue;
        if (t->n_python_frames && t->nframes)
            fputs("    native:\n", out);
        for (size_t k = 0; k < t->nframes; k++)
            fprintf(out, "    %s\n", t->frames[k]);
    }
}

static int parse_args(int argc, char **argv, struct dump_opts *o)
{
    enum { OPT_JSON = 256, OPT_LINES, OPT_NATIVE, OPT_LOCALS, OPT_NO_PYTHON };
    static const struct option longopts[] = {
        {"pid", required_argument, NULL, 'p'},     {"json", no_argument, NULL, OPT_JSON},
        {"lines", no_argument, NULL, OPT_LINES},   {"native", no_argument, NULL, OPT_NATIVE},
        {"locals", no_argument, NULL, OPT_LOCALS}, {"no-python", no_argument, NULL, OPT_NO_PYTHON},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int c;
    uint64_t v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (bts_cli_parse_u64("pid", optarg, 1, 4194304, &v) < 0)
                return BTS_EXIT_USAGE;
            o->pid = (pid_t)v;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_LINES:
            o->lines = true;
            break;
        case OPT_NATIVE:
            o->native = true;
            break;
        case OPT_LOCALS:
            o->locals = true;
            break;
        case OPT_NO_PYTHON:
            o->no_python = true;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            return bts_cli_bad_option("dump", c, argv);
        }
    }
    if (optind < argc)
        return bts_cli_usage_error("dump", "unexpected argument '%s'", argv[optind]);
    if (!o->pid)
        return bts_cli_usage_error("dump", "--pid is required");
    if (o->no_python && (o->locals || o->native))
        return bts_cli_usage_error("dump", "--%s needs Python frames: drop --no-python",
                                   o->locals ? "locals" : "native");
    return 0;
}

int bts_cmd_dump(int argc, char **argv)
{
    struct dump_opts o = {.pid = 0};
    struct bts_thread_dump_opts dopts;
    struct bts_profiler_dump *d = NULL;
    struct dump_view v = {0};
    char why[256] = "", hint[256] = "";
    int rc = BTS_EXIT_FAILURE, err;
    int r = parse_args(argc, argv, &o);
    if (r != 0)
        return r < 0 ? BTS_EXIT_OK : r;
    dopts.lines = o.lines;
    dopts.python = !o.no_python;
    dopts.locals = o.locals;
    dopts.native = o.native;
    err = bts_profiler_dump(bts_cli_connect_path, o.pid, &dopts, &d, why, sizeof(why), hint,
                            sizeof(hint));
    if (err < 0) {
        /* The reason (bt-spyd's, or the local explanation of the errno:
         * "pid 7 is a zombie ...") is the error, as in record. */
        bts_cli_error("cannot dump pid %d: %s", (int)o.pid, why[0] ? why : bts_cli_strerror(err));
        if (hint[0])
            bts_cli_hint("%s", hint);
        goto out;
    }
    v.pid = bts_profiler_dump_pid(d);
    v.command = bts_profiler_dump_command(d);
    if (!v.command)
        v.command = "";
    v.python = bts_profiler_dump_python(d);
    v.native = o.native;
    if (bts_profiler_dump_python_note(d))
        fprintf(stderr, "bt-spy: %s\n", bts_profiler_dump_python_note(d));
    v.n = bts_profiler_dump_count(d);
    v.threads = calloc(v.n ? v.n : 1, sizeof(*v.threads));
    if (!v.threads) {
        bts_cli_error("cannot print the dump: %s", bts_cli_strerror(-ENOMEM));
        goto out;
    }
    for (size_t i = 0; i < v.n; i++)
        v.threads[i] = bts_profiler_dump_thread(d, i);
    if (o.json)
        print_json(&v, stdout);
    else
        print_text(&v, stdout);
    if (fflush(stdout) != 0) {
        bts_cli_error("cannot write the dump: %s", bts_cli_strerror(-errno));
        goto out;
    }
    rc = BTS_EXIT_OK;
out:
    free(v.threads);
    bts_profiler_dump_free(d);
    return rc;
}
