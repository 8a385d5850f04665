/* SPDX-License-Identifier: MIT */
/* fixture-lines: functions with known lines and unsized symbols, linked
 * into check-symbols for the in-process tests. */
#include "fixture-lines.h"

/* clang-format off */
__attribute__((noinline)) int fixture_lines_target(int x) { volatile int acc = x; for (int i = 0; i < x; i++) acc += i; return acc; }
/* clang-format on */
const int fixture_lines_target_line = __LINE__ - 2;

/* Two functions without .size, as hand-written assembly often has: the
 * first must extend up to the second. */
__asm__(".text\n"
        ".globl fixture_unsized_a\n"
        ".type fixture_unsized_a, @function\n"
        "fixture_unsized_a:\n"
        "  nop\n  nop\n  nop\n  nop\n  nop\n  nop\n  nop\n  ret\n"
        ".globl fixture_unsized_b\n"
        ".type fixture_unsized_b, @function\n"
        "fixture_unsized_b:\n"
        "  nop\n  nop\n  nop\n  ret\n");
