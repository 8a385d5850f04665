/* SPDX-License-Identifier: MIT */
/* fixture-child: starts a fixture program, reads the "key value" lines it
 * prints up to "ready", and stops it again. */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define FIXTURE_CHILD_MAX_LINES 16

struct fixture_child {
    pid_t pid;
    int to_child;
    FILE *from_child;
    char keys[FIXTURE_CHILD_MAX_LINES][32];
    uint64_t values[FIXTURE_CHILD_MAX_LINES];
    int count;
};

/* Full path of a fixture built next to the tests, in a static buffer. */
const char *fixture_path(const char *name);

/* Starts FIXTURE_DIR/name and waits until it printed "ready". 0 or -1. */
int fixture_child_start(struct fixture_child *c, const char *name);

/* The value printed for `key` (hex with 0x, or decimal); 0 when absent. */
uint64_t fixture_child_value(const struct fixture_child *c, const char *key);

/* Closes the child's stdin so it exits, and reaps it. */
void fixture_child_stop(struct fixture_child *c);
