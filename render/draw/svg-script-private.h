/* SPDX-License-Identifier: MIT */
/* svg-script: the flame graph's embedded JavaScript, as one C string. */
#pragma once

/* Plain script text; contains no "]]>" so it fits in a CDATA section. */
extern const char svg_script[];
