/* SPDX-License-Identifier: MIT */
/* python-collapse: a profile's native frames folded into their Python
 * caller (record --native stacks read as "self time in native code under
 * this Python function"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "calltree.h"

/* Whether a frame name is a Python frame as bt-spy and py-spy write them:
 * "qualname (path:line)" or "qualname (path)", the path a .py/.pyw/.pyx
 * file or a pseudo-file such as "<frozen importlib._bootstrap>". Native
 * frames with --lines ("f (file.c:12)") and the "thread NAME (TID)" and
 * "process NAME (PID)" roots are not. */
bool bts_python_frame_name(const char *name, size_t len);

/* A new finished tree in which every stack ends at its innermost Python
 * frame: the native frames under it (its C calls, an extension's code,
 * BLAS) are left out and their samples count as that frame's self.
 * Stacks without a Python frame stay as they are. Both columns of a
 * differential tree are kept. NULL + errno (ENOMEM). */
struct bts_calltree *bts_calltree_collapse_native(const struct bts_calltree *t);
