/* SPDX-License-Identifier: MIT */
/* bt-spy report: the functions that cost the most, as text, markdown, CSV or JSON. */
#include "cli.h"
#include "output-file.h"
#include "format.h"
#include "report.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From cmd-convert.c: the input side both commands share. */
struct bts_convert_input {
    struct bts_format_load_opts load;
    uint64_t diags;
};
int bts_convert_load(const char *path, struct bts_convert_input *in, struct bts_calltree *t);
int bts_convert_input_option(const char *cmd, int c, const char *arg, struct bts_convert_input *in);
struct option *bts_convert_longopts(const struct option *own, size_t n);

enum { OPT_BY = 1200 };

static void usage(FILE *out)
{
    fputs("usage: bt-spy report IN [--top N] [--by self|total] [--format FMT] [-o OUT]\n"
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
          "  -h, --help             this message\n"
          "\n"
          "`thread NAME (TID)` and `process NAME (PID)` root frames are not functions and\n"
          "are left out. The markdown table pastes into a code review as it is.\n"
          "\n"
          "examples:\n"
          "  bt-spy report profile.folded\n"
          "  bt-spy report --by total --top 10 --format markdown profile.pb.gz\n"
          "  perf script | bt-spy report --format csv - > functions.csv\n",
          out);
}

int bts_cmd_report(int argc, char **argv)
{
    static const struct option own[] = {
        {"top", required_argument, NULL, 'n'},    {"by", required_argument, NULL, OPT_BY},
        {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
    };
    struct option *longopts = bts_convert_longopts(own, sizeof(own) / sizeof(own[0]));
    struct bts_report_opts ro = {.top = 20, .by = BTS_REPORT_BY_SELF, .style = BTS_REPORT_TEXT};
    struct bts_convert_input in = {0};
    struct bts_calltree *t = NULL;
    struct bts_output_file *of = NULL;
    const char *output = "-";
    uint64_t top;
    int c, ret = 0, err;

    if (!longopts) {
        bts_cli_error("out of memory");
        return BTS_EXIT_FAILURE;
    }
    opterr = 0;
    optind = 1;
    while (!ret && (c = getopt_long(argc, argv, ":n:f:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            ret = -1;
            break;
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
        case ':':
        case '?':
            ret = bts_cli_bad_option("report", c, argv);
            break;
        default:
            ret = bts_convert_input_option("report", c, optarg, &in);
        }
    }
    free(longopts);
    if (ret)
        return ret < 0 ? BTS_EXIT_OK : ret;
    if (optind >= argc)
        return bts_cli_usage_error("report", "missing input file");
    if (optind + 1 < argc)
        return bts_cli_usage_error("report", "one input file expected, got %d", argc - optind);

    t = bts_calltree_new();
    if (!t) {
        bts_cli_error("out of memory");
        return BTS_EXIT_FAILURE;
    }
    ret = bts_convert_load(argv[optind], &in, t);
    if (ret)
        goto out;
    err = bts_output_file_open(output, &of);
    if (!err)
        err = bts_report_write(t, &ro, bts_output_file_stream(of));
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
