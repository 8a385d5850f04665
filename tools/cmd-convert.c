/* SPDX-License-Identifier: MIT */
/* bt-spy convert: folded <-> pprof <-> speedscope, and perf script -> any. */
#include "cli.h"
#include "output-file.h"
#include "pprof.h"
#include "format.h"
#include "report.h"
#include "speedscope.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHOWN_DIAGS 20

/* Shared with cmd-report.c: both read any format convert reads. */
struct bts_convert_input {
    struct bts_format_load_opts load;
    uint64_t diags;
};
int bts_convert_load(const char *path, struct bts_convert_input *in, struct bts_calltree *t);
int bts_convert_input_option(const char *cmd, int c, const char *arg, struct bts_convert_input *in);
struct option *bts_convert_longopts(const struct option *own, size_t n);

enum {
    OPT_FROM = 1000,
    OPT_SAMPLE_TYPE,
    OPT_EVENT,
    OPT_NO_COMM,
    OPT_KERNEL,
    OPT_PID,
    OPT_TID,
    OPT_PERIOD,
    OPT_STRICT,
    OPT_THREADS,
    OPT_EVENT_FILTER,
    OPT_JIT,
    OPT_ALL,
    OPT_ADDRS,
    OPT_PERF_CONVENTION,
    /* convert's own */
    OPT_TO = 1100,
    OPT_RATE,
    OPT_NAME,
};

static const struct option input_options[] = {
    {"from", required_argument, NULL, OPT_FROM},
    {"sample-type", required_argument, NULL, OPT_SAMPLE_TYPE},
    {"event", required_argument, NULL, OPT_EVENT},
    {"no-comm", no_argument, NULL, OPT_NO_COMM},
    {"pid", no_argument, NULL, OPT_PID},
    {"tid", no_argument, NULL, OPT_TID},
    {"kernel", no_argument, NULL, OPT_KERNEL},
    {"period", no_argument, NULL, OPT_PERIOD},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"threads", no_argument, NULL, OPT_THREADS},
    {"event-filter", required_argument, NULL, OPT_EVENT_FILTER},
    {"jit", no_argument, NULL, OPT_JIT},
    {"all", no_argument, NULL, OPT_ALL},
    {"addrs", no_argument, NULL, OPT_ADDRS},
    {"perf-convention", no_argument, NULL, OPT_PERF_CONVENTION},
};
#define N_INPUT_OPTIONS (sizeof(input_options) / sizeof(input_options[0]))

/* own[0..n) followed by the input options and the terminator; NULL when
 * out of memory. */
struct option *bts_convert_longopts(const struct option *own, size_t n)
{
    struct option *all = calloc(n + N_INPUT_OPTIONS + 1, sizeof(*all));

    if (!all)
        return NULL;
    memcpy(all, own, n * sizeof(*own));
    memcpy(all + n, input_options, sizeof(input_options));
    return all;
}

struct convert_opts {
    struct bts_convert_input in;
    const char *output;
    enum bts_format to;
    uint64_t rate;
    const char *name;
};

static void print_diag(void *ctx, const char *file, uint64_t line, const char *reason)
{
    struct bts_convert_input *in = ctx;

    if (in->diags++ < MAX_SHOWN_DIAGS)
        bts_cli_error("%s:%" PRIu64 ": %s", file, line, reason);
}

int bts_convert_load(const char *path, struct bts_convert_input *in, struct bts_calltree *t)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    enum bts_format used = BTS_FORMAT_AUTO;
    char err[512] = "";
    int ret;

    if (!f) {
        bts_cli_error("cannot open '%s': %s", path, bts_cli_strerror(-errno));
        return BTS_EXIT_FAILURE;
    }
    ret = bts_format_load(f, name, &in->load, t, print_diag, in, &used, err, sizeof(err));
    if (f != stdin)
        fclose(f);
    if (in->diags > MAX_SHOWN_DIAGS)
        bts_cli_error("%" PRIu64 " malformed lines in all (first %d shown)", in->diags,
                      MAX_SHOWN_DIAGS);
    if (ret == -EBADMSG && in->diags)
        return BTS_EXIT_FAILURE; /* --strict: the line is already reported */
    if (ret == -EMSGSIZE && in->diags) {
        /* FILE:LINE: a line over BTS_LINE_LIMIT_BYTES, already reported. */
        if (used == BTS_FORMAT_PERF_SCRIPT)
            bts_cli_hint("perf script input is text: 'perf script > out.txt'");
        else
            bts_cli_hint("folded input has one stack per line: 'main;f;g 42'");
        return BTS_EXIT_FAILURE;
    }
    if (ret == -EBADMSG || (ret == -ENOENT && err[0]) || (ret == -EFBIG && err[0])) {
        bts_cli_error("%s: %s", name, err[0] ? err : "malformed input");
        return BTS_EXIT_FAILURE;
    }
    if (ret) {
        bts_cli_error("cannot read '%s': %s", name, bts_cli_strerror(ret));
        return BTS_EXIT_FAILURE;
    }
    ret = bts_calltree_finish(t);
    if (ret) {
        bts_cli_error("cannot read '%s': %s", name, bts_cli_strerror(ret));
        return BTS_EXIT_FAILURE;
    }
    return BTS_EXIT_OK;
}

/* --jit and --addrs have no counterpart in perf's own folding. */
static int check_convention(const char *cmd, const struct bts_perf_script_opts *po)
{
    if (po->convention != BTS_PERF_SCRIPT_PERF || (!po->annotate_jit && !po->include_addrs))
        return 0;
    return bts_cli_usage_error(cmd,
                               "--%s folds by stackcollapse-perf.pl's rules; it cannot go "
                               "with --perf-convention",
                               po->annotate_jit ? "jit" : "addrs");
}

/* Input options both commands take; returns 1 when c is not one of them. */
int bts_convert_input_option(const char *cmd, int c, const char *arg, struct bts_convert_input *in)
{
    struct bts_perf_script_opts *po = &in->load.perf;

    switch (c) {
    case OPT_FROM:
        in->load.format = bts_format_from_name(arg);
        if ((in->load.format == BTS_FORMAT_AUTO && strcmp(arg, "auto")) ||
            bts_format_is_picture(in->load.format))
            return bts_cli_usage_error(cmd,
                                       "invalid --from: '%s' (expected folded, pprof, "
                                       "speedscope or perf-script)",
                                       arg);
        return 0;
    case OPT_SAMPLE_TYPE:
        in->load.sample_type = arg;
        return 0;
    case OPT_EVENT:
        po->event = arg;
        po->event_exact = false;
        return 0;
    case OPT_EVENT_FILTER:
        po->event = arg;
        po->event_exact = true;
        return 0;
    case OPT_JIT:
        po->annotate_jit = true;
        return check_convention(cmd, po);
    case OPT_ALL:
        po->annotate_kernel = po->annotate_jit = true;
        return check_convention(cmd, po);
    case OPT_ADDRS:
        po->include_addrs = true;
        return check_convention(cmd, po);
    case OPT_PERF_CONVENTION:
        po->convention = BTS_PERF_SCRIPT_PERF;
        return check_convention(cmd, po);
    case OPT_NO_COMM:
        po->no_comm = true;
        return 0;
    case OPT_KERNEL:
        po->annotate_kernel = true;
        return 0;
    case OPT_PID:
        po->include_pid = true;
        return 0;
    case OPT_TID:
        po->include_tid = true;
        return 0;
    case OPT_PERIOD:
        po->use_period = true;
        return 0;
    case OPT_STRICT:
        in->load.strict = true;
        return 0;
    case OPT_THREADS:
        po->thread_roots = true;
        return 0;
    default:
        return 1;
    }
}

static void usage(FILE *out)
{
    fputs("usage: bt-spy convert IN -o OUT [OPTIONS]\n"
          "\n"
          "Converts a profile between folded stacks, pprof and speedscope JSON, and\n"
          "folds `perf script` text. The input format is sniffed from the content, the\n"
          "output format follows OUT's extension: .folded .collapsed .txt (folded),\n"
          ".pb.gz .pprof .pb (pprof), .speedscope.json .json (speedscope). IN may be -\n"
          "for stdin and OUT - for stdout (then give --to).\n"
          "\n"
          "  -o, --output FILE      output file (default: - with --to)\n"
          "      --from FMT         input format: folded, pprof, speedscope, perf-script\n"
          "      --to FMT           output format: folded, pprof, speedscope\n"
          "      --sample-type T    pprof input: the value to read (default: the first)\n"
          "      --rate HZ          pprof output: sampling rate behind each sample, for\n"
          "                         cpu nanoseconds = samples * 1e9 / HZ (default 100)\n"
          "      --name NAME        speedscope output: profile name (default: IN's file name)\n"
          "      --strict           stop at the first malformed input line\n"
          "  -h, --help             this message\n"
          "\n"
          "perf script input, folded as FlameGraph's stackcollapse-perf.pl folds it:\n"
          "      --pid              root frame comm-PID\n"
          "      --tid              root frame comm-PID/TID (PID is ? when perf script\n"
          "                         printed no pid: add -F +pid)\n"
          "      --kernel           suffix kernel frames with _[k]\n"
          "      --jit              suffix frames from a /tmp/perf-PID.map with _[j]\n"
          "      --all              --kernel and --jit\n"
          "      --addrs            unresolved frames as [module <address>]\n"
          "      --event-filter EV  fold only event EV, as printed (default: the first)\n"
          "      --event NAME       the same, NAME also matching NAME:modifiers\n"
          "      --no-comm          no process-name root frame\n"
          "      --threads          root frame `thread COMM (TID)`\n"
          "      --perf-convention  fold as perf's own `perf script report stackcollapse`\n"
          "                         instead; there --pid and --tid each add their id\n"
          "      --period           with --perf-convention: weigh samples by their period\n"
          "\n"
          "By stackcollapse-perf.pl's rules a sample weighs the period its header\n"
          "prints (else 1); offsets (+0x1f), C++ argument lists and quotes are dropped;\n"
          "an unresolved frame is its module ([libc.so.6]); the first event is kept.\n"
          "perf's own convention counts samples, keeps argument lists and [unknown].\n"
          "A `thread NAME (TID)` root frame becomes pprof labels thread/tid and a\n"
          "speedscope profile of its own, and comes back when converting back.\n"
          "\n"
          "examples:\n"
          "  bt-spy convert profile.folded -o profile.pb.gz\n"
          "  go tool pprof -top profile.pb.gz\n"
          "  bt-spy convert profile.pb.gz -o profile.speedscope.json\n"
          "  perf script | bt-spy convert - -o perf.folded\n",
          out);
}

int bts_cmd_convert(int argc, char **argv)
{
    static const struct option own[] = {
        {"output", required_argument, NULL, 'o'},
        {"to", required_argument, NULL, OPT_TO},
        {"rate", required_argument, NULL, OPT_RATE},
        {"name", required_argument, NULL, OPT_NAME},
        {"help", no_argument, NULL, 'h'},
    };
    struct option *longopts = bts_convert_longopts(own, sizeof(own) / sizeof(own[0]));
    struct convert_opts o = {.rate = 100};
    struct bts_calltree *t = NULL;
    struct bts_output_file *of = NULL;
    const char *input;
    int c, ret = 0, err;

    if (!longopts) {
        bts_cli_error("out of memory");
        return BTS_EXIT_FAILURE;
    }
    opterr = 0;
    optind = 1;
    while (!ret && (c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o.output = optarg;
            break;
        case OPT_TO:
            o.to = bts_format_from_name(optarg);
            if (o.to == BTS_FORMAT_AUTO || o.to == BTS_FORMAT_PERF_SCRIPT ||
                bts_format_is_picture(o.to))
                ret = bts_cli_usage_error(
                    "convert", "invalid --to: '%s' (expected folded, pprof or speedscope)", optarg);
            break;
        case OPT_RATE:
            if (bts_cli_parse_u64("rate", optarg, 1, 1000000000, &o.rate))
                ret = BTS_EXIT_USAGE;
            break;
        case OPT_NAME:
            o.name = optarg;
            break;
        case 'h':
            usage(stdout);
            ret = -1;
            break;
        case ':':
        case '?':
            ret = bts_cli_bad_option("convert", c, argv);
            break;
        default:
            ret = bts_convert_input_option("convert", c, optarg, &o.in);
        }
    }
    free(longopts);
    if (ret)
        return ret < 0 ? BTS_EXIT_OK : ret;
    if (optind >= argc)
        return bts_cli_usage_error("convert", "missing input file");
    if (optind + 1 < argc)
        return bts_cli_usage_error("convert", "one input file expected, got %d", argc - optind);
    input = argv[optind];
    if (!o.output)
        o.output = "-";
    if (o.to == BTS_FORMAT_AUTO) {
        o.to = strcmp(o.output, "-") ? bts_format_from_path(o.output) : BTS_FORMAT_AUTO;
        if (o.to == BTS_FORMAT_AUTO || o.to == BTS_FORMAT_PERF_SCRIPT ||
            bts_format_is_picture(o.to)) {
            ret = bts_cli_usage_error("convert", "cannot tell the output format of '%s'", o.output);
            bts_cli_hint("use an extension (.folded, .pb.gz, .speedscope.json) or --to");
            return ret;
        }
    }

    t = bts_calltree_new();
    if (!t) {
        bts_cli_error("out of memory");
        return BTS_EXIT_FAILURE;
    }
    ret = bts_convert_load(input, &o.in, t);
    if (ret)
        goto out;
    if (bts_calltree_is_differential(t) && o.to != BTS_FORMAT_FOLDED) {
        bts_cli_error("'%s' is a differential profile (two counts per line); only folded "
                      "output can hold it",
                      input);
        ret = BTS_EXIT_FAILURE;
        goto out;
    }
    err = bts_output_file_open(o.output, &of);
    if (err) {
        bts_cli_error("cannot write '%s': %s", o.output, bts_cli_strerror(err));
        ret = BTS_EXIT_FAILURE;
        goto out;
    }
    FILE *out = bts_output_file_stream(of);
    switch (o.to) {
    case BTS_FORMAT_PPROF: {
        struct bts_pprof_opts po = {.period_ns = 1000000000ull / o.rate};
        err = bts_pprof_write_calltree(t, &po, out);
        break;
    }
    case BTS_FORMAT_SPEEDSCOPE:
        if (!o.name)
            o.name = strrchr(input, '/') ? strrchr(input, '/') + 1 : input;
        err = bts_speedscope_write_calltree(t, o.name, NULL, out);
        break;
    default:
        err = bts_calltree_write_folded(t, out);
        break;
    }
    if (err && bts_output_file_error(of))
        err = bts_output_file_error(of); /* -ENOSPC rather than the writer's -EIO */
    if (!err)
        err = bts_output_file_commit(of);
    if (err) {
        bts_cli_error("cannot write '%s': %s", o.output, bts_cli_strerror(err));
        ret = BTS_EXIT_FAILURE;
    }
out:
    bts_output_file_free(of);
    bts_calltree_free(t);
    return ret;
}
