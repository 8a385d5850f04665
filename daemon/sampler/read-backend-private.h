/* SPDX-License-Identifier: MIT */
/* read-backend-private: constructor of the read backend, which samples
 * with no event and no stop in the target; its samples carry no native
 * stack, only the thread, for the sink to read its Python stack. */
#pragma once

#include "backend-private.h"

/* NULL + errno. cfg->memory is refused at start (-EINVAL). */
struct bts_sampler_backend *bts_read_backend_new(void);
