/* SPDX-License-Identifier: MIT */
/* process-tree: a process's descendants and names, read from /proc. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Writes up to `max` pids of the live descendants of `root` (children,
 * their children, ...; not root itself) into out, in increasing pid order,
 * and returns how many there are in all (which may exceed max), or -errno
 * when /proc cannot be read. */
int bts_process_tree_descendants(pid_t root, pid_t *out, size_t max);
