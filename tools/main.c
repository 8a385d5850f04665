/* SPDX-License-Identifier: MIT */
/* bt-spy: the command users type. The commands[] table drives both
 * dispatch and help. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct bts_cli_command commands[] = {
    {"record", "sample a process and write a flame graph or profile", bts_cmd_record},
    {"render", "turn folded stacks into an SVG, PNG or PDF flame graph", bts_cmd_render},
    {"diff", "differential flame graph of two profiles (red = grew)", bts_cmd_diff},
    {"convert", "convert between folded, pprof, speedscope and perf script", bts_cmd_convert},
    {"report", "table of the functions that cost the most (text, markdown, csv, json)",
     bts_cmd_report},
    {"top", "live view of where a process spends its time", bts_cmd_top},
    {"dump", "print every thread's current stack once", bts_cmd_dump},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    size_t i;

    fputs("usage: bt-spy [--connect SOCKET] COMMAND [OPTIONS]\n"
          "\n"
          "A sampling profiler for backtests, and a flame-graph renderer.\n"
          "\n"
          "commands:\n",
          out);
    for (i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Run 'bt-spy COMMAND --help' for a command's options.\n"
          "\n"
          "examples:\n"
          "  bt-spy record -o engine.svg -- bt-engine --seconds 5\n"
          "  bt-spy record --pid 1234 -d 10 -o profile.folded\n"
          "  bt-spy render profile.folded -o profile.svg\n"
          "  bt-spy --connect /run/bt-spy/bt-spy.sock record --pid 1234 -o run.svg\n",
          out);
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        usage(stderr);
        return BTS_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return BTS_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("bt-spy %s\n", BTS_VERSION);
        return BTS_EXIT_OK;
    }
    /* bt-spy --connect SOCKET COMMAND ...: the session runs in bt-spyd. */
    if (!strcmp(argv[1], "--connect")) {
        if (argc < 3 || !argv[2][0]) {
            bts_cli_error("--connect needs the daemon's socket path");
            fputs("try 'bt-spy --help'\n", stderr);
            return BTS_EXIT_USAGE;
        }
        bts_cli_connect_path = argv[2];
        argc -= 2;
        argv += 2;
        if (argc < 2) {
            usage(stderr);
            return BTS_EXIT_USAGE;
        }
    }
    for (i = 0; i < N_COMMANDS; i++) {
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    }
    bts_cli_error("unknown command '%s'", argv[1]);
    fputs("try 'bt-spy --help'\n", stderr);
    return BTS_EXIT_USAGE;
}
