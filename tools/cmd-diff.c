/* SPDX-License-Identifier: MIT */
/* bt-spy diff: differential flame graph of BEFORE and AFTER (red = grew). */
#include "cli.h"

#include <stdbool.h>

/* In cmd-render.c: diff is render with two inputs and the diff help. */

int bts_cmd_diff(int argc, char **argv)
{
    return bts_render_run(argc, argv, true);
}
