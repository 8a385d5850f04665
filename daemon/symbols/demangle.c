/* SPDX-License-Identifier: MIT */
/* demangle: C++ and Rust symbol names through libiberty. */
#include "demangle-private.h"

#include <libiberty/demangle.h>
#include <stddef.h>

char *bts_demangle(const char *name)
{
    /* Itanium C++ and Rust legacy names start with _Z (__Z on some
     * platforms), Rust v0 names with _R; nothing else is worth a try. */
    if (name[0] != '_' || !(name[1] == 'Z' || name[1] == 'R' || name[1] == '_'))
        return NULL;
    /* DMGL_AUTO tries Rust first (legacy Rust overlaps Itanium), then C++. */
    return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
}
