/* SPDX-License-Identifier: MIT */
/* array: growth of the dynamic arrays render/ keeps (nodes, frames, ...). */
#include "array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int bts_array_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 64;
    void *q;

    if (need <= *cap)
        return 0;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return -ENOMEM;
        n *= 2;
    }
    q = realloc(*p, n * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}
