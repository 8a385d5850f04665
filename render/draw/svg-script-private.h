/* SPDX-License-Identifier: MIT */
/* svg-script: the flame graph's embedded JavaScript, as one C string. */
#pragma once

/* Plain script text; contains no "]]>" so it fits in a CDATA section. */
extern const char svg_script[];

/* Added after svg_script in bt-spy diff's graphs: tooltips with both sides'
 * counts and values, the change and whether it is significant. */
extern const char svg_compare_script[];
