/* SPDX-License-Identifier: MIT */
/* array: growth of the dynamic arrays render/ keeps (nodes, frames, ...). */
#pragma once

#include <stddef.h>

/* Makes *p (an array of *cap elements of `elem` bytes) hold at least `need`
 * elements, doubling from 64. 0, or -ENOMEM (the array is left as it was,
 * also when the size would overflow). */
int bts_array_grow(void **p, size_t *cap, size_t need, size_t elem);
