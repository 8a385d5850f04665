/* SPDX-License-Identifier: MIT */
/* bt-flamegraph: drop-in for flamegraph.pl (folded in, SVG/PNG/PDF out). */
#define _GNU_SOURCE
#include "output-file.h"
#include "render.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG            "bt-flamegraph"
#define MAX_SHOWN_DIAGS 20

enum { OPT_FORMAT = 1000, OPT_HELP, OPT_NAMED };

struct flamegraph_opts {
    struct bts_render_opts render;
    enum bts_render_format format;
    const char *output;
};

struct diag_state {
    uint64_t shown, total;
};

/* strerror, lowercased like every other message here. */
static const char *errstr(int err)
{
    static char buf[128];
    snprintf(buf, sizeof(buf), "%s", strerror(err));
    if (buf[0] >= 'A' && buf[0] <= 'Z')
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

static void usage(FILE *f)
{
    fputs("usage: " PROG " [options] [FILE...] > graph.svg\n"
          "\n"
          "Reads folded stacks (`a;b;c 42`, or `stack before after` for a differential\n"
          "graph) from FILE... (merged) or standard input and writes a flame graph.\n"
          "Takes flamegraph.pl's options, with the same meanings:\n"
          "\n",
          f);
    bts_render_options_write_help(f);
    fputs("  -f, --format FMT     svg (default), png or pdf\n"
          "  -o, --output FILE    write FILE instead of stdout: a regular file complete or\n"
          "                       not at all, a device or FIFO in place\n"
          "  --help               this message\n"
          "\n"
          "flamegraph.pl options that are rejected:",
          f);
    for (size_t i = 0; i < bts_render_option_count; i++)
        if (!bts_render_options[i].help)
            fprintf(f, " --%s", bts_render_options[i].name);
    fputs("\n"
          "Malformed lines are reported as FILE:LINE: reason and skipped; differential\n"
          "input is drawn with raw deltas unless --normalize.\n"
          "\n"
          "examples:\n"
          "  " PROG " out.folded > out.svg\n"
          "  stackcollapse-perf.pl out.perf | " PROG " --title 'backtest' > out.svg\n"
          "  " PROG " --colors kind --minwidth 0.5% -o out.png out.folded\n"
          "  difffolded.pl before.folded after.folded | " PROG " > diff.svg\n",
          f);
}

static void report(void *ctx, const char *file, uint64_t line, const char *reason)
{
    struct diag_state *d = ctx;

    if (line == 0) {
        fprintf(stderr, PROG ": %s in '%s'\n", reason, file);
        return;
    }
    d->total++;
    if (d->shown++ < MAX_SHOWN_DIAGS)
        fprintf(stderr, PROG ": %s:%" PRIu64 ": %s\n", file, line, reason);
}

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\ntry '" PROG " --help'\n", stderr);
    return 2;
}

static int parse_args(int argc, char **argv, struct flamegraph_opts *fo)
{
    struct option *longopts = calloc(bts_render_option_count + 4, sizeof(*longopts));
    size_t n = bts_render_option_count;
    int c, idx, ret = 0;

    if (!longopts) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        longopts[i].name = bts_render_options[i].name;
        longopts[i].has_arg = bts_render_options[i].arg ? required_argument : no_argument;
        longopts[i].val = OPT_NAMED + (int)i;
    }
    longopts[n] = (struct option){"format", required_argument, NULL, 'f'};
    longopts[n + 1] = (struct option){"output", required_argument, NULL, 'o'};
    longopts[n + 2] = (struct option){"help", no_argument, NULL, 'h'};

    opterr = 0;
    /* _only: flamegraph.pl (Getopt::Long) also takes -title, -width... */
    while (!ret && (c = getopt_long_only(argc, argv, ":f:o:h", longopts, &idx)) != -1) {
        const char *expected, *name;
        int err;
        switch (c) {
        case 'h':
            usage(stdout);
            ret = -1;
            break;
        case 'f':
            if (bts_render_format_parse(optarg, false, &fo->format))
                ret = usage_error("invalid --format: '%s' (expected svg, png or pdf)", optarg);
            break;
        case 'o':
            fo->output = optarg;
            break;
        case ':':
            ret = usage_error("option '%s' needs a value", argv[optind - 1]);
            break;
        case '?':
            ret = usage_error("unknown option '%s'", argv[optind - 1]);
            break;
        default:
            name = bts_render_options[c - OPT_NAMED].name;
            err = bts_render_opts_set(&fo->render, name, optarg, &expected);
            if (err == -ENOTSUP)
                ret = usage_error("--%s is not supported: %s", name, expected);
            else if (err)
                ret = usage_error("invalid --%s: '%s' (expected %s)", name, optarg, expected);
        }
    }
    free(longopts);
    return ret;
}

int main(int argc, char **argv)
{
    struct flamegraph_opts fo;
    struct diag_state diags = {0, 0};
    struct bts_render_input *in = NULL;
    struct bts_output_file *out = NULL;
    size_t nin = 0;
    int ret = 1, err;

    bts_render_opts_init(&fo.render);
    fo.render.normalize = false; /* flamegraph.pl draws raw deltas */
    fo.format = BTS_RENDER_SVG;
    fo.output = "-";
    fo.render.diag = report;
    fo.render.diag_ctx = &diags;
    err = parse_args(argc, argv, &fo);
    if (err)
        return err < 0 ? 0 : err;

    nin = optind < argc ? (size_t)(argc - optind) : 1;
    in = calloc(nin, sizeof(*in));
    if (!in) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if (optind >= argc) {
        in[0].file = stdin;
        in[0].name = "<stdin>";
    }
    for (int i = optind; i < argc; i++) {
        struct bts_render_input *x = &in[i - optind];
        x->name = argv[i];
        x->file = strcmp(argv[i], "-") ? fopen(argv[i], "r") : stdin;
        if (!x->file) {
            fprintf(stderr, PROG ": cannot open '%s': %s\n", argv[i], errstr(errno));
            goto out;
        }
    }
    if (isatty(1) && !strcmp(fo.output, "-") && fo.format != BTS_RENDER_SVG) {
        fprintf(stderr, PROG ": refusing to write binary output to a terminal\n");
        fprintf(stderr, "hint: use -o FILE or redirect standard output\n");
        goto out;
    }
    err = bts_output_file_open(fo.output, &out);
    if (err) {
        fprintf(stderr, PROG ": cannot write '%s': %s\n", fo.output, errstr(-err));
        goto out;
    }
    err = bts_render_folded_many(in, nin, &fo.render, fo.format, bts_output_file_stream(out));
    if (err && bts_output_file_error(out))
        err = bts_output_file_error(out); /* -ENOSPC rather than the writer's -EIO */
    if (diags.total > MAX_SHOWN_DIAGS)
        fprintf(stderr, PROG ": %" PRIu64 " malformed lines in all (%d shown)\n", diags.total,
                MAX_SHOWN_DIAGS);
    if (err == -EBADMSG) {
        fprintf(stderr, PROG ": stopped at the first malformed line (--strict)\n");
    } else if (err == -EMSGSIZE) {
        /* FILE:LINE was reported through the diag callback. */
        fprintf(stderr, "hint: folded input has one stack per line: 'main;f;g 42'\n");
    } else if (err == -ENODATA) {
        /* reported through the diag callback */
    } else if (err == -ENOMEM) {
        fprintf(stderr, PROG ": out of memory\n");
    } else if (err == -EFBIG) {
        fprintf(stderr, PROG ": image too large for PNG (at most 32767 px a side)\n");
    } else if (err && ferror(bts_output_file_stream(out))) {
        fprintf(stderr, PROG ": cannot write '%s': %s\n",
                strcmp(fo.output, "-") ? fo.output : "<stdout>", errstr(-err));
    } else if (err) {
        fprintf(stderr, PROG ": cannot render: %s\n", errstr(-err));
    }
    if (err)
        goto out;
    err = bts_output_file_commit(out);
    if (err) {
        fprintf(stderr, PROG ": cannot write '%s': %s\n",
                strcmp(fo.output, "-") ? fo.output : "<stdout>", errstr(-err));
        goto out;
    }
    ret = 0;
out:
    bts_output_file_free(out);
    for (size_t i = 0; i < nin; i++)
        if (in[i].file && in[i].file != stdin)
            fclose(in[i].file);
    free(in);
    return ret;
}
