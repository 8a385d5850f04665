/* SPDX-License-Identifier: MIT */
/* bt-spy render: folded stacks to an SVG, PNG or PDF flame graph (and diff's engine). */
#define _GNU_SOURCE
#include "cli.h"
#include "output-file.h"
#include "render.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SHOWN_DIAGS 20

/* Shared with cmd-diff.c, which is the same command with two inputs. */

enum { OPT_NAMED = 1000 };

struct render_cmd_opts {
    struct bts_render_opts render;
    const char *output;
    const char *format; /* NULL: from the output's extension */
};

struct diag_count {
    uint64_t total;
};

static void print_diag(void *ctx, const char *file, uint64_t line, const char *reason)
{
    struct diag_count *d = ctx;

    if (line == 0) {
        bts_cli_error("%s in '%s'", reason, file);
        return;
    }
    if (d->total++ < MAX_SHOWN_DIAGS)
        bts_cli_error("%s:%" PRIu64 ": %s", file, line, reason);
}

static void usage(FILE *out, bool diff)
{
    if (diff)
        fputs("usage: bt-spy diff BEFORE AFTER [-o OUT] [OPTIONS]\n"
              "\n"
              "Differential flame graph: frame widths come from AFTER; a frame is red where\n"
              "its own samples grew and blue where they shrank, the deeper the colour the\n"
              "larger the change. BEFORE is scaled to AFTER's total first (--no-normalize\n"
              "compares raw counts).\n"
              "\n",
              out);
    else
        fputs("usage: bt-spy render IN... [-o OUT] [OPTIONS]\n"
              "\n"
              "Turns folded stacks (`a;b;c 42`) into a flame graph. Several inputs are\n"
              "merged; a `stack before after` input gives a differential graph.\n"
              "\n",
              out);
    fputs("  -o, --output FILE    output (default: SVG on stdout); the format follows the\n"
          "                       extension: .svg .png .pdf\n"
          "  -f, --format FMT     svg, png or pdf, whatever the extension\n",
          out);
    bts_render_options_write_help(out);
    fputs("  -h, --help           this message\n"
          "\n"
          "Malformed input lines are reported as FILE:LINE: reason and skipped.\n"
          "\n"
          "examples:\n",
          out);
    if (diff)
        fputs("  bt-spy diff before.folded after.folded -o diff.svg\n"
              "  bt-spy diff --negate --no-normalize a.folded b.folded -o diff.png\n",
              out);
    else
        fputs("  bt-spy render profile.folded -o profile.svg\n"
              "  bt-spy render run1.folded run2.folded --title 'two runs' -o both.png\n"
              "  bt-spy render --colors kind --minwidth 0.5% --inverted p.folded -o icicle.pdf\n",
              out);
}

static int parse_args(int argc, char **argv, bool diff, struct render_cmd_opts *o)
{
    const char *cmd = diff ? "diff" : "render";
    size_t n = bts_render_option_count;
    struct option *longopts = calloc(n + 4, sizeof(*longopts));
    int c, ret = 0;

    if (!longopts) {
        bts_cli_error("out of memory");
        return BTS_EXIT_FAILURE;
    }
    for (size_t i = 0; i < n; i++) {
        longopts[i].name = bts_render_options[i].name;
        longopts[i].has_arg = bts_render_options[i].arg ? required_argument : no_argument;
        longopts[i].val = OPT_NAMED + (int)i;
    }
    longopts[n] = (struct option){"output", required_argument, NULL, 'o'};
    longopts[n + 1] = (struct option){"format", required_argument, NULL, 'f'};
    longopts[n + 2] = (struct option){"help", no_argument, NULL, 'h'};

    opterr = 0;
    optind = 1;
    while (!ret && (c = getopt_long(argc, argv, ":o:f:h", longopts, NULL)) != -1) {
        const char *expected, *name;
        int err;
        switch (c) {
        case 'h':
            usage(stdout, diff);
            ret = -1;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'f':
            o->format = optarg;
            break;
        case ':':
        case '?':
            ret = bts_cli_bad_option(cmd, c, argv);
            break;
        default:
            name = bts_render_options[c - OPT_NAMED].name;
            err = bts_render_opts_set(&o->render, name, optarg, &expected);
            if (err == -ENOTSUP)
                ret = bts_cli_usage_error(cmd, "--%s is not supported: %s", name, expected);
            else if (err)
                ret = bts_cli_usage_error(cmd, "invalid --%s: '%s' (expected %s)", name, optarg,
                                          expected);
        }
    }
    free(longopts);
    return ret;
}

int bts_render_run(int argc, char **argv, bool diff)
{
    const char *cmd = diff ? "diff" : "render";
    struct render_cmd_opts o = {.output = "-"};
    struct diag_count diags = {0};
    struct bts_render_input *in = NULL;
    struct bts_output_file *of = NULL;
    enum bts_render_format fmt = BTS_RENDER_SVG;
    size_t nin;
    int ret, err;

    bts_render_opts_init(&o.render);
    o.render.diag = print_diag;
    o.render.diag_ctx = &diags;
    ret = parse_args(argc, argv, diff, &o);
    if (ret)
        return ret < 0 ? BTS_EXIT_OK : ret;
    nin = (size_t)(argc - optind);
    if (diff && nin != 2)
        return bts_cli_usage_error(cmd, "expected BEFORE and AFTER, got %zu input%s", nin,
                                   nin == 1 ? "" : "s");
    if (nin == 0)
        return bts_cli_usage_error(cmd, "no input (give a folded file, or - for stdin)");
    if (o.format) {
        if (bts_render_format_parse(o.format, false, &fmt))
            return bts_cli_usage_error(cmd, "invalid --format: '%s' (expected svg, png or pdf)",
                                       o.format);
    } else if (strcmp(o.output, "-") && bts_render_format_parse(o.output, true, &fmt)) {
        return bts_cli_usage_error(cmd, "cannot tell the format of '%s' from its extension",
                                   o.output);
    }
    if (fmt != BTS_RENDER_SVG && !strcmp(o.output, "-") && isatty(STDOUT_FILENO)) {
        bts_cli_error("refusing to write %s to a terminal", fmt == BTS_RENDER_PNG ? "PNG" : "PDF");
        bts_cli_hint("add -o FILE");
        return BTS_EXIT_USAGE;
    }

    ret = BTS_EXIT_FAILURE;
    in = calloc(nin, sizeof(*in));
    if (!in) {
        bts_cli_error("out of memory");
        goto out;
    }
    for (size_t i = 0; i < nin; i++) {
        const char *path = argv[optind + (int)i];
        in[i].name = strcmp(path, "-") ? path : "<stdin>";
        in[i].file = strcmp(path, "-") ? fopen(path, "r") : stdin;
        if (!in[i].file) {
            bts_cli_error("cannot open '%s': %s", path, bts_cli_strerror(errno));
            goto out;
        }
    }
    err = bts_output_file_open(o.output, &of);
    if (err) {
        bts_cli_error("cannot write '%s': %s", o.output, bts_cli_strerror(err));
        goto out;
    }
    if (diff)
        err = bts_render_diff(&in[0], &in[1], &o.render, fmt, bts_output_file_stream(of));
    else
        err = bts_render_folded_many(in, nin, &o.render, fmt, bts_output_file_stream(of));
    if (err && bts_output_file_error(of))
        err = bts_output_file_error(of); /* -ENOSPC rather than the writer's -EIO */
    if (diags.total > MAX_SHOWN_DIAGS)
        bts_cli_error("%" PRIu64 " malformed lines in all (first %d shown)", diags.total,
                      MAX_SHOWN_DIAGS);
    if (err == -ENODATA) {
        bts_cli_hint("folded input has one stack per line: 'main;f;g 42'");
        goto out;
    } else if (err == -EBADMSG) {
        bts_cli_error("stopped at the first malformed line (--strict)");
        goto out;
    } else if (err == -EMSGSIZE) {
        /* FILE:LINE was reported through print_diag. */
        bts_cli_hint("folded input has one stack per line: 'main;f;g 42'");
        goto out;
    } else if (err && ferror(bts_output_file_stream(of))) {
        bts_cli_error("cannot write '%s': %s", o.output, bts_cli_strerror(err));
        goto out;
    } else if (err == -EFBIG) {
        bts_cli_error("image too large for PNG (at most 32767 px a side)");
        bts_cli_hint("lower --width or --height, or write .svg or .pdf");
        goto out;
    } else if (err) {
        bts_cli_error("cannot render: %s", bts_cli_strerror(err));
        goto out;
    }
    err = bts_output_file_commit(of);
    if (err) {
        bts_cli_error("cannot write '%s': %s", o.output, bts_cli_strerror(err));
        goto out;
    }
    ret = BTS_EXIT_OK;
out:
    bts_output_file_free(of);
    if (in)
        for (size_t i = 0; i < nin; i++)
            if (in[i].file && in[i].file != stdin)
                fclose(in[i].file);
    free(in);
    return ret;
}

int bts_cmd_render(int argc, char **argv)
{
    return bts_render_run(argc, argv, false);
}
