/* SPDX-License-Identifier: MIT */
/* bt-spy diff: a differential flame graph of BEFORE and AFTER, coloured by
 * the change of each frame and by whether it is significant. */
#define _GNU_SOURCE
#include "cmd-diff.h"
#include "cli.h"
#include "output-file.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    OPT_MEASURE = 1300,
    OPT_PER,
    OPT_DURATION,
    OPT_RATE,
    OPT_CONFIDENCE,
    OPT_WIDTHS,
    OPT_RENDER = 1400, /* + index into bts_render_options */
};

const struct option bts_diff_compare_longopts[] = {
    {"measure", required_argument, NULL, OPT_MEASURE},
    {"per", required_argument, NULL, OPT_PER},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"rate", required_argument, NULL, OPT_RATE},
    {"confidence", required_argument, NULL, OPT_CONFIDENCE},
};
const size_t bts_diff_compare_longopt_count =
    sizeof(bts_diff_compare_longopts) / sizeof(bts_diff_compare_longopts[0]);

const char bts_diff_compare_help[] =
    "      --measure M        what to compare: auto (default: time when both profiles\n"
    "                         record their duration, else shares), shares (percent of\n"
    "                         the samples), time (share x duration, in seconds) or\n"
    "                         counts (raw samples)\n"
    "      --per UNIT=B,A     per unit of work: BEFORE did B units, AFTER did A\n"
    "                         (e.g. --per bars=1200000,1500000)\n"
    "      --duration B,A     the recordings' wall time in seconds, where the files\n"
    "                         do not say (folded)\n"
    "      --rate B,A         their sampling rates in Hz, where the files do not say\n"
    "      --confidence PCT   level for 'significant' (default 99)\n";

void bts_diff_inputs_free(struct bts_diff_inputs *d)
{
    free(d->work_unit);
    d->work_unit = NULL;
}

/* "B,A" -> two numbers in [min, max]. */
static int parse_pair(const char *arg, double min, double max, double out[2])
{
    const char *p = arg;

    for (int i = 0; i < 2; i++) {
        char *end;
        if (!(*p >= '0' && *p <= '9') && *p != '.')
            return -EINVAL;
        errno = 0;
        out[i] = strtod(p, &end);
        if (errno || end == p || !isfinite(out[i]) || out[i] < min || out[i] > max)
            return -EINVAL;
        if (i == 0 && *end != ',')
            return -EINVAL;
        if (i == 1 && *end)
            return -EINVAL;
        p = end + 1;
    }
    return 0;
}

int bts_diff_compare_option(const char *cmd, int c, const char *arg, struct bts_diff_inputs *d)
{
    double v[2];

    switch (c) {
    case OPT_MEASURE:
        if (!strcmp(arg, "auto"))
            d->cmp.measure = BTS_COMPARE_AUTO;
        else if (!strcmp(arg, "shares") || !strcmp(arg, "share"))
            d->cmp.measure = BTS_COMPARE_SHARES;
        else if (!strcmp(arg, "time"))
            d->cmp.measure = BTS_COMPARE_TIME;
        else if (!strcmp(arg, "counts") || !strcmp(arg, "samples"))
            d->cmp.measure = BTS_COMPARE_COUNTS;
        else
            return bts_cli_usage_error(
                cmd, "invalid --measure: '%s' (expected auto, shares, time or counts)", arg);
        return 0;
    case OPT_PER: {
        const char *eq = strchr(arg, '=');
        if (!eq || eq == arg || eq - arg > 40 || parse_pair(eq + 1, 1e-300, 1e300, v) ||
            v[0] <= 0 || v[1] <= 0)
            return bts_cli_usage_error(
                cmd, "invalid --per: '%s' (expected UNIT=BEFORE,AFTER such as bars=1200,1500)",
                arg);
        free(d->work_unit);
        d->work_unit = strndup(arg, (size_t)(eq - arg));
        if (!d->work_unit) {
            bts_cli_error("out of memory");
            return BTS_EXIT_FAILURE;
        }
        d->cmp.work_unit = d->work_unit;
        d->cmp.side[0].work = v[0];
        d->cmp.side[1].work = v[1];
        return 0;
    }
    case OPT_DURATION:
        if (parse_pair(arg, 0.001, 1e9, v))
            return bts_cli_usage_error(
                cmd, "invalid --duration: '%s' (expected BEFORE,AFTER in seconds, e.g. 3,2.5)",
                arg);
        d->cmp.side[0].duration_s = v[0];
        d->cmp.side[1].duration_s = v[1];
        return 0;
    case OPT_RATE:
        if (parse_pair(arg, 0.001, 1e9, v))
            return bts_cli_usage_error(
                cmd, "invalid --rate: '%s' (expected BEFORE,AFTER in Hz, e.g. 499,499)", arg);
        d->cmp.side[0].rate_hz = v[0];
        d->cmp.side[1].rate_hz = v[1];
        return 0;
    case OPT_CONFIDENCE: {
        char *end;
        errno = 0;
        v[0] = strtod(arg, &end);
        if (*end == '%')
            end++;
        if (errno || end == arg || *end || !(v[0] >= 50 && v[0] <= 99.9999))
            return bts_cli_usage_error(
                cmd, "invalid --confidence: '%s' (expected a percentage, 50..99.9999)", arg);
        d->cmp.confidence = v[0] / 100;
        return 0;
    }
    default:
        return bts_convert_input_option(cmd, c, arg, &d->in);
    }
}

/* Adds every stack of finished tree `src` to `dst`, into column 0 or 1. */
static int add_tree(struct bts_calltree *dst, const struct bts_calltree *src, unsigned column)
{
    struct bts_calltree_walk w = {0};
    const char **names = NULL;
    size_t *lens = NULL, cap = 0;
    bts_calltree_node n;
    int err = bts_calltree_walk_init(&w, src);
    uint64_t root = bts_calltree_self(src, BTS_CALLTREE_ROOT, 0);

    if (!err && root) /* samples without frames */
        err = bts_calltree_add_stack(dst, "", 0, &root, 1, column ? BTS_CALLTREE_TO_COLUMN1 : 0);
    while (!err && (n = bts_calltree_walk_next(&w, src)) != BTS_CALLTREE_ROOT) {
        uint64_t self = bts_calltree_self(src, n, 0);
        size_t depth = w.sp - 1;
        if (!self)
            continue;
        if (depth > cap) {
            cap = depth * 2;
            free(names);
            free(lens);
            names = malloc(cap * sizeof(*names));
            lens = malloc(cap * sizeof(*lens));
            if (!names || !lens) {
                err = -ENOMEM;
                break;
            }
        }
        for (size_t i = 0; i < depth; i++)
            names[i] = bts_calltree_name(src, w.path[i + 1], &lens[i]);
        err = bts_calltree_add_frames(dst, names, lens, depth, &self, 1,
                                      column ? BTS_CALLTREE_TO_COLUMN1 : 0);
    }
    bts_calltree_walk_free(&w);
    free(names);
    free(lens);
    return err;
}

/* The file's base name, for titles. */
static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

int bts_diff_load(const char *cmd, char *const paths[2], struct bts_diff_inputs *d,
                  struct bts_calltree **tree, struct bts_compare **cmp)
{
    struct bts_calltree *side[2] = {NULL, NULL}, *t = NULL;
    const char *why;
    int ret = BTS_EXIT_FAILURE, err = 0;

    *tree = NULL;
    *cmp = NULL;
    for (int i = 0; i < 2; i++) {
        d->cmp.side[i].name = strcmp(paths[i], "-") ? base_name(paths[i]) : "<stdin>";
        side[i] = bts_calltree_new();
        if (!side[i]) {
            bts_cli_error("out of memory");
            goto out;
        }
        d->in.load.meta = &d->meta[i];
        err = bts_convert_load(paths[i], &d->in, side[i]);
        d->in.load.meta = NULL;
        if (err)
            goto out;
        /* What the command line says wins over what the file says. */
        if (d->cmp.side[i].duration_s == 0)
            d->cmp.side[i].duration_s = d->meta[i].duration_s;
        if (d->cmp.side[i].rate_hz == 0)
            d->cmp.side[i].rate_hz = d->meta[i].rate_hz;
        d->cmp.side[i].start_unix_s = d->meta[i].start_unix_s;
        d->cmp.side[i].command = d->meta[i].comment[0] ? d->meta[i].comment : NULL;
        if (bts_calltree_total(side[i], BTS_CALLTREE_ROOT, 0) == 0) {
            bts_cli_error("no samples in '%s'", paths[i]);
            bts_cli_hint("record a profile first: bt-spy record -o %s -- PROGRAM", paths[i]);
            goto out;
        }
    }
    why = bts_compare_check(&d->cmp);
    if (why) {
        ret = bts_cli_usage_error(cmd, "%s", why);
        goto out;
    }
    t = bts_calltree_new();
    if (!t) {
        bts_cli_error("out of memory");
        goto out;
    }
    err = add_tree(t, side[0], 0);
    if (!err)
        err = add_tree(t, side[1], 1);
    if (!err)
        err = bts_calltree_finish(t);
    if (err) {
        bts_cli_error("cannot merge the profiles: %s", bts_cli_strerror(err));
        goto out;
    }
    *cmp = bts_compare_new(t, &d->cmp);
    if (!*cmp) {
        bts_cli_error("cannot compare the profiles: %s", bts_cli_strerror(errno));
        goto out;
    }
    *tree = t;
    t = NULL;
    ret = BTS_EXIT_OK;
out:
    bts_calltree_free(side[0]);
    bts_calltree_free(side[1]);
    bts_calltree_free(t);
    return ret;
}

int bts_diff_draw(const struct bts_calltree *t, const struct bts_compare *cmp,
                  const struct bts_render_opts *ro, enum bts_render_widths widths,
                  enum bts_render_format fmt, FILE *out)
{
    size_t n = bts_calltree_node_count(t);
    bool *sig = malloc(n ? n : 1);
    struct bts_render_compare rc = {
        .widths = widths,
        .scale = {bts_compare_scale(cmp, 0), bts_compare_scale(cmp, 1)},
        .unit = bts_compare_unit(cmp),
        .change_unit = bts_compare_change_unit(cmp),
        .confidence = bts_compare_confidence(cmp),
    };
    struct bts_render_opts o = *ro;
    char sub[1200], before[512], after[512], notes[512];
    int err;

    if (!sig)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        struct bts_compare_value v;
        bts_compare_node(cmp, (bts_calltree_node)i, &v);
        sig[i] = v.significant;
    }
    rc.significant = sig;
    o.compare = &rc;
    if (!o.subtitle) {
        bts_compare_describe_side(cmp, 0, before, sizeof(before));
        bts_compare_describe_side(cmp, 1, after, sizeof(after));
        snprintf(sub, sizeof(sub), "before: %s \xc2\xb7 after: %s", before, after);
        o.subtitle = sub;
    }
    if (!o.notes) {
        snprintf(notes, sizeof(notes),
                 "colour: change in %s (red grew, blue shrank; pale: not significant at %g%%) "
                 "| widths: %s",
                 bts_compare_measure_used(cmp) == BTS_COMPARE_SHARES ? "share of samples"
                 : bts_compare_measure_used(cmp) == BTS_COMPARE_TIME ? "time"
                                                                     : "samples",
                 100 * bts_compare_confidence(cmp),
                 widths == BTS_RENDER_WIDTHS_AFTER ? "AFTER" : "the larger of BEFORE and AFTER");
        o.notes = notes;
    }
    err = bts_render_tree(t, &o, fmt, out);
    free(sig);
    return err;
}

static void usage(FILE *out)
{
    fputs("usage: bt-spy diff BEFORE AFTER [-o OUT] [OPTIONS]\n"
          "\n"
          "Differential flame graph. Each frame is as wide as the larger of its BEFORE\n"
          "and AFTER values, so what shrank or vanished stays visible; its colour is the\n"
          "change: red grew, blue shrank, deeper for larger changes, pale where the\n"
          "change is not significant. Hovering shows both counts, both values and the\n"
          "change. BEFORE and AFTER are any format convert reads (folded, pprof,\n"
          "speedscope, perf script), sniffed from the content.\n"
          "\n"
          "  -o, --output FILE      output (default: SVG on stdout); the format follows\n"
          "                         the extension: .svg .png .pdf\n"
          "  -f, --format FMT       svg, png or pdf, whatever the extension\n"
          "      --widths W         larger (default) or after (flamegraph.pl's: frames as\n"
          "                         wide as in AFTER)\n",
          out);
    fputs(bts_diff_compare_help, out);
    fputs("      --from FMT         input format: folded, pprof, speedscope, perf-script\n"
          "      --sample-type T    pprof input: the value to read (default: the first)\n"
          "      --event NAME       perf script input: event to keep (default: the first)\n"
          "      --strict           stop at the first malformed input line\n",
          out);
    bts_render_options_write_help(out);
    fputs("  -h, --help             this message\n"
          "\n"
          "--no-normalize is --measure counts; --normalize is --measure shares.\n"
          "\n"
          "examples:\n"
          "  bt-spy diff before.folded after.folded -o diff.svg\n"
          "  bt-spy diff before.pb.gz after.pb.gz --measure time -o diff.png\n"
          "  bt-spy diff --per bars=1200000,1500000 a.folded b.folded -o per-bar.svg\n"
          "  bt-spy diff --widths after --negate a.folded b.folded -o classic.svg\n",
          out);
}

int bts_cmd_diff(int argc, char **argv)
{
    size_t nr = bts_render_option_count, nc = bts_diff_compare_longopt_count;
    struct option *own = calloc(nr + nc + 4, sizeof(*own)), *longopts = NULL;
    struct bts_diff_inputs d = {0};
    struct bts_render_opts ro;
    struct bts_calltree *t = NULL;
    struct bts_compare *cmp = NULL;
    struct bts_output_file *of = NULL;
    enum bts_render_widths widths = BTS_RENDER_WIDTHS_LARGER;
    enum bts_render_format fmt = BTS_RENDER_SVG;
    const char *output = "-", *format = NULL, *expected;
    size_t k = 0;
    int c, ret = 0, err;

    bts_render_opts_init(&ro);
    if (!own) {
        bts_cli_error("out of memory");
        return BTS_EXIT_FAILURE;
    }
    for (size_t i = 0; i < nr; i++) {
        if (!strcmp(bts_render_options[i].name, "strict"))
            continue; /* the input option of the same name */
        own[k].name = bts_render_options[i].name;
        own[k].has_arg = bts_render_options[i].arg ? required_argument : no_argument;
        own[k].val = OPT_RENDER + (int)i;
        k++;
    }
    memcpy(own + k, bts_diff_compare_longopts, nc * sizeof(*own));
    k += nc;
    own[k++] = (struct option){"output", required_argument, NULL, 'o'};
    own[k++] = (struct option){"format", required_argument, NULL, 'f'};
    own[k++] = (struct option){"widths", required_argument, NULL, OPT_WIDTHS};
    own[k++] = (struct option){"help", no_argument, NULL, 'h'};
    longopts = bts_convert_longopts(own, k);
    free(own);
    if (!longopts) {
        bts_cli_error("out of memory");
        return BTS_EXIT_FAILURE;
    }

    opterr = 0;
    optind = 1;
    while (!ret && (c = getopt_long(argc, argv, ":o:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            output = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case OPT_WIDTHS:
            if (!strcmp(optarg, "larger"))
                widths = BTS_RENDER_WIDTHS_LARGER;
            else if (!strcmp(optarg, "after"))
                widths = BTS_RENDER_WIDTHS_AFTER;
            else
                ret = bts_cli_usage_error(
                    "diff", "invalid --widths: '%s' (expected larger or after)", optarg);
            break;
        case 'h':
            usage(stdout);
            ret = -1;
            break;
        case ':':
        case '?':
            ret = bts_cli_bad_option("diff", c, argv);
            break;
        default:
            if (c >= OPT_RENDER) {
                const char *name = bts_render_options[c - OPT_RENDER].name;
                if (!strcmp(name, "normalize")) {
                    d.cmp.measure = BTS_COMPARE_SHARES;
                    break;
                }
                if (!strcmp(name, "no-normalize")) {
                    d.cmp.measure = BTS_COMPARE_COUNTS;
                    break;
                }
                err = bts_render_opts_set(&ro, name, optarg, &expected);
                if (err == -ENOTSUP)
                    ret = bts_cli_usage_error("diff", "--%s is not supported: %s", name, expected);
                else if (err)
                    ret = bts_cli_usage_error("diff", "invalid --%s: '%s' (expected %s)", name,
                                              optarg, expected);
                break;
            }
            ret = bts_diff_compare_option("diff", c, optarg, &d);
        }
    }
    free(longopts);
    if (ret)
        goto done;
    if (argc - optind != 2) {
        ret = bts_cli_usage_error("diff", "expected BEFORE and AFTER, got %d input%s",
                                  argc - optind, argc - optind == 1 ? "" : "s");
        goto done;
    }
    if (!strcmp(argv[optind], "-") && !strcmp(argv[optind + 1], "-")) {
        ret = bts_cli_usage_error("diff", "BEFORE and AFTER cannot both be stdin");
        goto done;
    }
    if (format) {
        if (bts_render_format_parse(format, false, &fmt)) {
            ret = bts_cli_usage_error("diff", "invalid --format: '%s' (expected svg, png or pdf)",
                                      format);
            goto done;
        }
    } else if (strcmp(output, "-") && bts_render_format_parse(output, true, &fmt)) {
        ret = bts_cli_usage_error("diff", "cannot tell the format of '%s' from its extension",
                                  output);
        goto done;
    }
    if (fmt != BTS_RENDER_SVG && !strcmp(output, "-") && isatty(STDOUT_FILENO)) {
        bts_cli_error("refusing to write %s to a terminal", fmt == BTS_RENDER_PNG ? "PNG" : "PDF");
        bts_cli_hint("add -o FILE");
        ret = BTS_EXIT_USAGE;
        goto done;
    }

    ret = bts_diff_load("diff", argv + optind, &d, &t, &cmp);
    if (ret)
        goto done;
    ret = BTS_EXIT_FAILURE;
    err = bts_output_file_open(output, &of);
    if (!err)
        err = bts_diff_draw(t, cmp, &ro, widths, fmt, bts_output_file_stream(of));
    if (err && of && bts_output_file_error(of))
        err = bts_output_file_error(of); /* -ENOSPC rather than the writer's -EIO */
    if (err == -EFBIG) {
        bts_cli_error("image too large for PNG (at most 32767 px a side)");
        bts_cli_hint("lower --width or --height, or write .svg or .pdf");
        goto done;
    }
    if (!err)
        err = bts_output_file_commit(of);
    if (err) {
        bts_cli_error("cannot write '%s': %s", output, bts_cli_strerror(err));
        goto done;
    }
    ret = BTS_EXIT_OK;
done:
    bts_output_file_free(of);
    bts_compare_free(cmp);
    bts_calltree_free(t);
    bts_diff_inputs_free(&d);
    return ret < 0 ? BTS_EXIT_OK : ret;
}
