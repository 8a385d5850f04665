/* SPDX-License-Identifier: MIT */
/* cmd-dump: `bt-spy dump`, every thread's current stack once, as text or JSON. */
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
};

static void usage(FILE *out)
{
    fputs("usage: bt-spy dump --pid PID [--json] [--lines]\n"
          "\n"
          "Print the current stack of every thread of a running process, leaf first,\n"
          "down to main or start_thread. Each thread is stopped with ptrace only long\n"
          "enough to copy its registers and stack; the process keeps running.\n"
          "\n"
          "options:\n"
          "  -p, --pid PID   the process to dump\n"
          "      --json      print a JSON array of {tid, name, state, frames}\n"
          "      --lines     add (file:line) to frames with debug info\n"
          "  -h, --help      show this help\n"
          "\n"
          "examples:\n"
          "  bt-spy dump --pid 1234\n"
          "  bt-spy dump --pid $(pgrep -n bt-engine) --json > stacks.json\n",
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
    size_t n;
    const struct bts_thread_stack **threads;
};

static void print_json(const struct dump_view *d, FILE *out)
{
    size_t n = d->n;
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        const struct bts_thread_stack *t = d->threads[i];
        char state[2] = {t->state, '\0'};
        fprintf(out, "%s\n  {\"pid\": %d, \"tid\": %d, \"name\": ", i ? "," : "", (int)d->pid,
                (int)t->tid);
        json_string(out, t->name);
        fputs(", \"state\": ", out);
        json_string(out, state);
        if (t->error) {
            fputs(", \"error\": ", out);
            json_string(out, missing_stack(t->error));
        }
        fputs(", \"frames\": [", out);
        for (size_t k = 0; k < t->nframes; k++) {
            fputs(k ? ", " : "", out);
            json_string(out, t->frames[k]);
        }
        fputs("]}", out);
    }
    fputs(n ? "\n]\n" : "]\n", out);
}

static void print_text(const struct dump_view *d, FILE *out)
{
    fprintf(out, "Process %d: %s\n", (int)d->pid, d->command);
    for (size_t i = 0; i < d->n; i++) {
        const struct bts_thread_stack *t = d->threads[i];
        fprintf(out, "\nThread %d (%s): \"%s\"\n", (int)t->tid, state_word(t->state), t->name);
        if (t->error)
            fprintf(out, "    (%s)\n", missing_stack(t->error));
        for (size_t k = 0; k < t->nframes; k++)
            fprintf(out, "    %s\n", t->frames[k]);
    }
}

static int parse_args(int argc, char **argv, struct dump_opts *o)
{
    enum { OPT_JSON = 256, OPT_LINES };
    static const struct option longopts[] = {
        {"pid", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, OPT_JSON},
        {"lines", no_argument, NULL, OPT_LINES},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
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
    return 0;
}

int bts_cmd_dump(int argc, char **argv)
{
    struct dump_opts o = {.pid = 0, .json = false, .lines = false};
    struct bts_profiler_dump *d = NULL;
    struct dump_view v = {0};
    char why[256] = "", hint[256] = "";
    int rc = BTS_EXIT_FAILURE, err;
    int r = parse_args(argc, argv, &o);
    if (r != 0)
        return r < 0 ? BTS_EXIT_OK : r;
    err = bts_profiler_dump(bts_cli_connect_path, o.pid, o.lines, &d, why, sizeof(why), hint,
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
