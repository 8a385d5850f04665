/* SPDX-License-Identifier: MIT */
/* bt-spy report: the functions that cost the most, or (--compare) what
 * changed between two profiles, as text, markdown, CSV or JSON. */
#define _GNU_SOURCE
#include "cli.h"
#include "cmd-diff.h"
#include "format.h"
#include "memory-report.h"
#include "output-file.h"
#include "pprof.h"
#include "python-collapse.h"
#include "report.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_BY = 1200, OPT_COMPARE, OPT_MEMORY, OPT_TIMELINE_CSV, OPT_STACKS, OPT_COLLAPSE_NATIVE };

static void usage(FILE *out)
{
    fputs("usage: bt-spy report IN [--top N] [--by self|total] [--format FMT] [-o OUT]\n"
          "       bt-spy report --compare BEFORE AFTER [--top N] [--format FMT] [-o OUT]\n"
          "\n"
          "Lists the functions of a profile with their share of the samples: rank,\n"
          "function, self % (samples where it is the leaf), total % (samples where it\n"
          "is anywhere on the stack; a recursive function counts once per sample),\n"
          "self samples and total samples. IN is any format convert reads (folded,\n"
          "pprof, speedscope, perf script), sniffed from its content; - is stdin.\n"
          "\n"
          "  -n, --top N            rows to show (default 20; 0 = all)\n"
          "      --by self|total    sort by self (default) or total samples\n"
          "  -f, --format FMT       text (default), markdown, csv or json\n"
          "  -o, --output FILE      write here instead of stdout\n"
          "      --from FMT         input format, when sniffing is not wanted\n"
          "      --sample-type T    pprof input: the value to read (default: the first)\n"
          "      --event NAME       perf script input: event to keep (default: the first)\n"
          "      --strict           stop at the first malformed input line\n"
          "      --collapse-native  count the native frames under a Python frame (record\n"
          "                         --native) as that Python function's self time\n"
          "  -h, --help             this message\n"
          "\n"
          "`thread NAME (TID)` and `process NAME (PID)` root frames are not functions and\n"
          "are left out. The markdown table pastes into a code review as it is.\n"
          "\n"
          "With --compare, lists the functions whose value changed most between BEFORE\n"
          "and AFTER: before, after, the change with its interval, whether it is\n"
          "significant, and a one-line summary first. --format markdown -o FILE.md also\n"
          "writes the diff picture as FILE.svg and FILE.png and links them.\n"
          "\n"
          "      --compare          BEFORE AFTER instead of IN\n",
          out);
    fputs(bts_diff_compare_help, out);
    fputs("\n"
          "With --memory, IN is a memory profile (record --memory): the functions by\n"
          "bytes faulted in (self and total), the peak RSS and when, and the biggest\n"
          "RSS jumps, each with the stacks that faulted memory in during it. The\n"
          "timeline and the stacks per jump travel inside pprof; speedscope carries the\n"
          "timeline; folded input gives the table only. --format markdown -o FILE.md\n"
          "also writes the flame graph with its memory chart as FILE.svg and FILE.png.\n"
          "\n"
          "      --memory           report a memory profile (IN must be a file, not -)\n"
          "      --stacks N         stacks listed under each jump (default 3)\n"
          "      --timeline-csv F   also write the RSS timeline as CSV to F\n",
          out);
    fputs("\n"
          "examples:\n"
          "  bt-spy report profile.folded\n"
          "  bt-spy report --by total --top 10 --format markdown profile.pb.gz\n"
          "  perf script | bt-spy report --format csv - > functions.csv\n"
          "  bt-spy report --compare before.pb.gz after.pb.gz\n"
          "  bt-spy report --compare --format markdown -o review.md a.folded b.folded\n"
          "  bt-spy report --memory mem.pb.gz\n"
          "  bt-spy report --memory --timeline-csv rss.csv --format markdown -o mem.md mem.pb.gz\n",
          out);
}

/* "review.md" -> "review.svg" (and .png), or NULL when out of memory. */
static char *sibling(const char *path, const char *ext)
{
    size_t n = strlen(path);
    char *s;

    if (n > 3 && !strcmp(path + n - 3, ".md"))
        n -= 3;
    else if (n > 9 && !strcmp(path + n - 9, ".markdown"))
        n -= 9;
    if (asprintf(&s, "%.*s%s", (int)n, path, ext) < 0)
        return NULL;
    return s;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

/* Writes the diff picture to path; prints its own error. */
static int write_picture(const struct bts_calltree *t, const struct bts_compare *cmp,
                         const char *path, enum bts_render_format fmt)
{
    struct bts_output_file *of = NULL;
    struct bts_render_opts ro;
    int err;

    bts_render_opts_init(&ro);
    err = bts_output_file_open(path, &of);
    if (!err)
        err = bts_diff_draw(t, cmp, &ro, BTS_RENDER_WIDTHS_LARGER, fmt, bts_output_file_stream(of));
    if (err && of && bts_output_file_error(of))
        err = bts_output_file_error(of);
    if (!err)
        err = bts_output_file_commit(of);
    bts_output_file_free(of);
    if (err == -EFBIG)
        bts_cli_error("cannot write '%s': the graph is too tall for PNG", path);
    else if (err)
        bts_cli_error("cannot write '%s': %s", path, bts_cli_strerror(err));
    return err ? BTS_EXIT_FAILURE : 0;
}

static int report_compare(int nin, char **paths, struct bts_diff_inputs *d,
                          const struct bts_report_opts *ro, const char *output)
{
    struct bts_compare_report_opts co = {.top = ro->top, .style = ro->style};
    struct bts_calltree *t = NULL;
    struct bts_compare *cmp = NULL;
    struct bts_output_file *of = NULL;
    char *svg = NULL, *png = NULL;
    bool pictures = ro->style == BTS_REPORT_MARKDOWN && strcmp(output, "-");
    int ret, err;

    if (nin != 2)
        return bts_cli_usage_error("report", "--compare expects BEFORE and AFTER, got %d input%s",
                                   nin, nin == 1 ? "" : "s");
    if (!strcmp(paths[0], "-") && !strcmp(paths[1], "-"))
        return bts_cli_usage_error("report", "BEFORE and AFTER cannot both be stdin");
    ret = bts_diff_load("report", paths, d, &t, &cmp);
    if (ret)
        goto out;
    ret = BTS_EXIT_FAILURE;
    if (pictures) {
        svg = sibling(output, ".svg");
        png = sibling(output, ".png");
        if (!svg || !png) {
            bts_cli_error("out of memory");
            goto out;
        }
        if (write_picture(t, cmp, svg, BTS_RENDER_SVG) ||
            write_picture(t, cmp, png, BTS_RENDER_PNG))
            goto out;
        co.svg_link = base_name(svg);
        co.png_link = base_name(png);
    }
    err = bts_output_file_open(output, &of);
    if (!err)
        err = bts_compare_write(cmp, &co, bts_output_file_stream(of));
    if (err && bts_output_file_error(of))
        err = bts_output_file_error(of);
    if (!err)
        err = bts_output_file_commit(of);
    if (err) {
        bts_cli_error("cannot write '%s': %s", output, bts_cli_strerror(err));
        goto out;
    }
    ret = BTS_EXIT_OK;
out:
    bts_output_file_free(of);
    bts_compare_free(cmp);
    bts_calltree_free(t);
    free(svg);
    free(png);
    return ret;
}

/* What report --memory takes besides the common options. */
struct memory_args {
    bool on;
    const char *timeline_csv;
    uint64_t stacks;
};

/* The whole file, for one read per jump. NULL after printing the error. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    *len = 0;
    if (!f) {
        bts_cli_error("cannot open '%s': %s", path, bts_cli_strerror(-errno));
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap ? cap * 2 : 1 << 16);
            if (!nb) {
                bts_cli_error("out of memory");
                goto fail;
            }
            buf = nb;
            cap = cap ? cap * 2 : 1 << 16;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (!got)
            break;
    }
    if (ferror(f)) {
        bts_cli_error("cannot read '%s': %s", path, bts_cli_strerror(-EIO));
        goto fail;
    }
    fclose(f);
    *len = n;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

/* One tree per jump of tl: the samples whose time label falls in it.
 * *have is false when the input is not pprof (only pprof has the labels). */
static int jump_trees(const char *path, const char *sample_type, const struct bts_timeline *tl,
                      struct bts_calltree **trees, bool *have)
{
    size_t len;
    char *buf = slurp(path, &len), err[256] = "";
    int ret = 0;

    if (!buf)
        return BTS_EXIT_FAILURE;
    *have = bts_format_sniff(buf, len) == BTS_FORMAT_PPROF;
    for (size_t i = 0; *have && !ret && i < tl->njumps; i++) {
        struct bts_pprof_read_opts o = {.sample_type = sample_type, .window = true};
        int rc;
        bts_timeline_jump_buckets(tl, &tl->jumps[i], &o.from_ms, &o.to_ms);
        trees[i] = bts_calltree_new();
        rc = trees[i] ? bts_pprof_read_ex(buf, len, &o, trees[i], NULL, err, sizeof(err)) : -ENOMEM;
        if (!rc)
            rc = bts_calltree_finish(trees[i]);
        if (rc) {
            bts_cli_error("cannot read '%s': %s", path, err[0] ? err : bts_cli_strerror(rc));
            ret = BTS_EXIT_FAILURE;
        }
    }
    free(buf);
    return ret;
}

/* Writes path with write(out, ctx) through an output file (committed only
 * when everything went well); prints its own error. 0 or BTS_EXIT_FAILURE. */
static int write_output(const char *path, int (*write)(FILE *out, const void *ctx), const void *ctx)
{
    struct bts_output_file *of = NULL;
    int err = bts_output_file_open(path, &of);

    if (!err)
        err = write(bts_output_file_stream(of), ctx);
    if (err && of && bts_output_file_error(of))
        err = bts_output_file_error(of); /* -ENOSPC rather than the writer's -EIO */
    if (!err)
        err = bts_output_file_commit(of);
    bts_output_file_free(of);
    if (err == -EFBIG)
        bts_cli_error("cannot write '%s': the graph is too tall for PNG", path);
    else if (err == -ENODATA)
        bts_cli_error("cannot write '%s': the profile has no bytes", path);
    else if (err)
        bts_cli_error("cannot write '%s': %s", path, bts_cli_strerror(err));
    return err ? BTS_EXIT_FAILURE : 0;
}

/* What report --memory writes, for write_output. */
struct memory_out {
    const struct bts_calltree *t;
    const struct bts_timeline *tl;
    struct bts_calltree *const *trees; /* per jump, or NULL */
    size_t ntrees;
    const struct bts_memory_report_opts *mo;
    enum bts_render_format fmt;
    const char *svg, *png; /* pictures to link from markdown, or NULL */
};

/* The flame graph with its memory chart, for the markdown report. */
static int write_memory_picture(FILE *out, const void *ctx)
{
    const struct memory_out *m = ctx;
    struct bts_render_opts ro;

    bts_render_opts_init(&ro);
    ro.title = "Memory: what made the process grow";
    ro.countname = "bytes";
    ro.palette = BTS_PALETTE_MEM;
    ro.timeline = m->tl;
    return bts_render_tree(m->t, &ro, m->fmt, out);
}

static int write_timeline_csv(FILE *out, const void *ctx)
{
    return bts_timeline_write_csv(((const struct memory_out *)ctx)->tl, out);
}

static int write_memory_report(FILE *out, const void *ctx)
{
    const struct memory_out *m = ctx;
    int err = bts_memory_report_write(m->t, m->tl, m->trees, m->ntrees, m->mo, out);

    if (!err && m->svg && m->png)
        fprintf(out, "\n![flame graph with the RSS chart](%s) ([PNG](%s))\n", base_name(m->svg),
                base_name(m->png));
    return err;
}

static int report_memory(const char *path, struct bts_convert_input *in,
                         const struct bts_report_opts *ro, const struct memory_args *m,
                         const char *output)
{
    struct bts_memory_report_opts mo = {
        .top = ro->top, .by = ro->by, .style = ro->style, .stacks_per_jump = (size_t)m->stacks};
    struct bts_profile_meta meta;
    struct bts_timeline *tl = NULL;
    struct bts_calltree *t = bts_calltree_new(), **trees = NULL;
    struct memory_out mout = {.mo = &mo};
    char *svg = NULL, *png = NULL;
    bool by_time;
    int ret = BTS_EXIT_FAILURE;

    if (!strcmp(path, "-")) {
        bts_cli_error("report --memory reads its input once per jump: it needs a file");
        bts_cli_hint("save the profile first: ... > mem.pb.gz; bt-spy report --memory mem.pb.gz");
        ret = BTS_EXIT_USAGE;
        goto out;
    }
    if (!t) {
        bts_cli_error("out of memory");
        goto out;
    }
    in->load.meta = &meta;
    in->load.timeline = &tl;
    ret = bts_convert_load(path, in, t);
    in->load.meta = NULL;
    in->load.timeline = NULL;
    if (ret)
        goto out;
    ret = BTS_EXIT_FAILURE;
    if (meta.unit[0] && strcmp(meta.unit, "bytes")) {
        bts_cli_error("'%s' is not a memory profile: its values are %s", path, meta.unit);
        bts_cli_hint("record one with bt-spy record --memory, or pick a bytes value with "
                     "--sample-type");
        goto out;
    }
    by_time = tl && tl->njumps && tl->bucket_ns;
    if (by_time) {
        trees = calloc(tl->njumps, sizeof(*trees));
        if (!trees) {
            bts_cli_error("out of memory");
            goto out;
        }
        if (jump_trees(path, in->load.sample_type, tl, trees, &by_time))
            goto out;
    }
    mout.t = t;
    mout.tl = tl;
    mout.trees = by_time ? trees : NULL;
    mout.ntrees = by_time ? tl->njumps : 0;
    if (m->timeline_csv) {
        if (!tl) {
            bts_cli_error("'%s' has no RSS timeline to write to '%s'", path, m->timeline_csv);
            bts_cli_hint("record --memory writes one into pprof and speedscope output");
            goto out;
        }
        if (write_output(m->timeline_csv, write_timeline_csv, &mout))
            goto out;
    }
    if (ro->style == BTS_REPORT_MARKDOWN && strcmp(output, "-")) {
        svg = sibling(output, ".svg");
        png = sibling(output, ".png");
        if (!svg || !png) {
            bts_cli_error("out of memory");
            goto out;
        }
        mout.fmt = BTS_RENDER_SVG;
        if (write_output(svg, write_memory_picture, &mout))
            goto out;
        mout.fmt = BTS_RENDER_PNG;
        if (write_output(png, write_memory_picture, &mout))
            goto out;
        mout.svg = svg;
        mout.png = png;
    }
    if (write_output(output, write_memory_report, &mout))
        goto out;
    ret = BTS_EXIT_OK;
out:
    for (size_t i = 0; trees && tl && i < tl->njumps; i++)
        bts_calltree_free(trees[i]);
    free(trees);
    bts_timeline_free(tl);
    bts_calltree_free(t);
    free(svg);
    free(png);
    return ret;
}

int bts_cmd_report(int argc, char **argv)
{
    static const struct option base[] = {
        {"top", required_argument, NULL, 'n'},
        {"by", required_argument, NULL, OPT_BY},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"compare", no_argument, NULL, OPT_COMPARE},
        {"memory", no_argument, NULL, OPT_MEMORY},
        {"timeline-csv", required_argument, NULL, OPT_TIMELINE_CSV},
        {"stacks", required_argument, NULL, OPT_STACKS},
        {"collapse-native", no_argument, NULL, OPT_COLLAPSE_NATIVE},
    };
    size_t nb = sizeof(base) / sizeof(base[0]), nc = bts_diff_compare_longopt_count;
    struct option own[sizeof(base) / sizeof(base[0]) + 8];
    struct option *longopts;
    struct bts_report_opts ro = {.top = 20, .by = BTS_REPORT_BY_SELF, .style = BTS_REPORT_TEXT};
    struct bts_diff_inputs d = {0};
    struct bts_convert_input *in = &d.in;
    bool compare = false, collapse_native = false;
    struct memory_args mem = {.stacks = 3};
    struct bts_calltree *t = NULL;
    struct bts_output_file *of = NULL;
    const char *output = "-";
    uint64_t top;
    int c, ret = 0, err;

    if (nc > sizeof(own) / sizeof(own[0]) - nb)
        nc = sizeof(own) / sizeof(own[0]) - nb;
    memcpy(own, base, sizeof(base));
    memcpy(own + nb, bts_diff_compare_longopts, nc * sizeof(*own));
    longopts = bts_convert_longopts(own, nb + nc);

    if (!longopts) {
        bts_cli_error("out of memory");
        return BTS_EXIT_FAILURE;
    }
    opterr = 0;
    optind = 1;
    while (!ret && (c = getopt_long(argc, argv, ":n:f:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (bts_cli_parse_u64("top", optarg, 0, 1000000000, &top))
                ret = BTS_EXIT_USAGE;
            ro.top = (size_t)top;
            break;
        case OPT_BY:
            if (!strcmp(optarg, "self"))
                ro.by = BTS_REPORT_BY_SELF;
            else if (!strcmp(optarg, "total"))
                ro.by = BTS_REPORT_BY_TOTAL;
            else
                ret = bts_cli_usage_error("report", "invalid --by: '%s' (expected self or total)",
                                          optarg);
            break;
        case 'f':
            if (!strcmp(optarg, "text"))
                ro.style = BTS_REPORT_TEXT;
            else if (!strcmp(optarg, "markdown") || !strcmp(optarg, "md"))
                ro.style = BTS_REPORT_MARKDOWN;
            else if (!strcmp(optarg, "csv"))
                ro.style = BTS_REPORT_CSV;
            else if (!strcmp(optarg, "json"))
                ro.style = BTS_REPORT_JSON;
            else
                ret = bts_cli_usage_error(
                    "report", "invalid --format: '%s' (expected text, markdown, csv or json)",
                    optarg);
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_COMPARE:
            compare = true;
            break;
        case OPT_MEMORY:
            mem.on = true;
            break;
        case OPT_TIMELINE_CSV:
            mem.timeline_csv = optarg;
            break;
        case OPT_STACKS:
            if (bts_cli_parse_u64("stacks", optarg, 1, 1000, &mem.stacks))
                ret = BTS_EXIT_USAGE;
            break;
        case OPT_COLLAPSE_NATIVE:
            collapse_native = true;
            break;
        case 'h':
            usage(stdout);
            ret = -1;
            break;
        case ':':
        case '?':
            ret = bts_cli_bad_option("report", c, argv);
            break;
        default:
            ret = bts_diff_compare_option("report", c, optarg, &d);
        }
    }
    free(longopts);
    if (!ret && compare && mem.on)
        ret = bts_cli_usage_error("report", "--compare and --memory do not go together");
    else if (!ret && collapse_native && (compare || mem.on))
        ret = bts_cli_usage_error("report", "--collapse-native goes with a plain report, not "
                                            "--compare or --memory");
    else if (!ret && !mem.on && (mem.timeline_csv || mem.stacks != 3))
        ret = bts_cli_usage_error("report", "--timeline-csv and --stacks go with --memory");
    if (!ret && compare)
        ret = report_compare(argc - optind, argv + optind, &d, &ro, output);
    else if (!ret && (d.cmp.measure || d.cmp.work_unit || d.cmp.confidence ||
                      d.cmp.side[0].duration_s || d.cmp.side[0].rate_hz))
        ret = bts_cli_usage_error("report", "--measure, --per, --duration, --rate and "
                                            "--confidence go with --compare");
    bts_diff_inputs_free(&d);
    if (ret || compare)
        return ret < 0 ? BTS_EXIT_OK : ret;
    if (optind >= argc)
        return bts_cli_usage_error("report", "missing input file");
    if (optind + 1 < argc)
        return bts_cli_usage_error("report", "one input file expected, got %d", argc - optind);
    if (mem.on)
        return report_memory(argv[optind], in, &ro, &mem, output);

    t = bts_calltree_new();
    if (!t) {
        bts_cli_error("out of memory");
        return BTS_EXIT_FAILURE;
    }
    ret = bts_convert_load(argv[optind], in, t);
    if (ret)
        goto out;
    if (collapse_native) {
        struct bts_calltree *collapsed = bts_calltree_collapse_native(t);
        if (!collapsed) {
            bts_cli_error("out of memory");
            ret = BTS_EXIT_FAILURE;
            goto out;
        }
        bts_calltree_free(t);
        t = collapsed;
    }
    err = bts_output_file_open(output, &of);
    if (!err)
        err = bts_report_write(t, &ro, bts_output_file_stream(of));
    if (err && bts_output_file_error(of))
        err = bts_output_file_error(of); /* -ENOSPC rather than the writer's -EIO */
    if (!err)
        err = bts_output_file_commit(of);
    if (err) {
        bts_cli_error("cannot write '%s': %s", output, bts_cli_strerror(err));
        ret = BTS_EXIT_FAILURE;
    }
out:
    bts_output_file_free(of);
    bts_calltree_free(t);
    return ret;
}
