/* SPDX-License-Identifier: MIT */
/* cmd-dump: `bt-spy dump`, every thread's current stack once, as text or JSON. */
#include "cli.h"
#include "client.h"
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

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned cp;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1fu;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0fu;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07u;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

/* Frame and thread names come from the target: escape '"', '\\' and control
 * characters, and replace invalid UTF-8 with U+FFFD. */
static void json_string(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    putc('"', out);
    for (size_t i = 0; i < n;) {
        size_t len;
        if (s[i] == '"' || s[i] == '\\') {
            putc('\\', out);
            putc(s[i++], out);
        } else if (s[i] < 0x20 || s[i] == 0x7f) {
            fprintf(out, "\\u%04x", s[i++]);
        } else if (s[i] < 0x80) {
            putc(s[i++], out);
        } else if ((len = utf8_valid(s + i, n - i)) > 0) {
            fwrite(s + i, 1, len, out);
            i += len;
        } else {
            fputs("\xef\xbf\xbd", out);
            i++;
        }
    }
    putc('"', out);
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
    struct bts_thread_dump *d = NULL;
    struct bts_client_dump *cd = NULL;
    struct dump_view v = {0};
    char why[256] = "", hint[256] = "";
    int rc = BTS_EXIT_FAILURE, err;
    int r = parse_args(argc, argv, &o);
    if (r != 0)
        return r < 0 ? BTS_EXIT_OK : r;
    if (bts_cli_connect_path) {
        err = bts_client_dump(bts_cli_connect_path, o.pid, o.lines, &cd, why, sizeof(why), hint,
                              sizeof(hint));
    } else {
        err = bts_thread_dump(o.pid, o.lines, &d);
        if (err < 0)
            bts_thread_dump_explain(o.pid, err, why, sizeof(why), hint, sizeof(hint));
    }
    if (err < 0) {
        bts_cli_error("cannot dump pid %d: %s", (int)o.pid,
                      why[0] && bts_cli_connect_path ? why : bts_cli_strerror(err));
        if (why[0] && err != -ESRCH && !bts_cli_connect_path)
            bts_cli_hint("%s", why);
        if (hint[0])
            bts_cli_hint("%s", hint);
        goto out;
    }
    if (cd) {
        v.pid = cd->pid;
        v.command = cd->command ? cd->command : "";
        v.n = cd->nthreads;
    } else {
        v.pid = bts_thread_dump_pid(d);
        v.command = bts_thread_dump_command(d);
        v.n = bts_thread_dump_count(d);
    }
    v.threads = calloc(v.n ? v.n : 1, sizeof(*v.threads));
    if (!v.threads) {
        bts_cli_error("cannot print the dump: %s", bts_cli_strerror(-ENOMEM));
        goto out;
    }
    for (size_t i = 0; i < v.n; i++)
        v.threads[i] = cd ? &cd->threads[i] : bts_thread_dump_thread(d, i);
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
    bts_thread_dump_free(d);
    bts_client_dump_free(cd);
    return rc;
}
