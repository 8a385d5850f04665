/* SPDX-License-Identifier: MIT */
/* ptrace-backend-private: constructor of the ptrace sampler backend (for
 * hosts without perf_event), used by sessions and the thread dump. */
#pragma once

#include "backend-private.h"

/* Seizes every thread of cfg->pid on start; stops one thread at a time to
 * copy registers and stack. cfg->stack_size may be up to 8 MiB (copies are
 * clamped to the stack mapping). NULL + errno. */
struct bts_sampler_backend *bts_ptrace_backend_new(void);

/* Lets go of the threads a stop() of this thread's backends could not
 * detach in time (see ptrace-backend.c), each at its next stop. Every
 * start, poll and stop does this too; a long-lived tracer calls it while
 * no backend runs. Returns how many are still waited for. */
size_t bts_ptrace_release_stragglers(void);
