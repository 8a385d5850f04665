/* SPDX-License-Identifier: MIT */
/* fixture-program: prints the address and line of a known function, then
 * waits for stdin to close so a test can symbolize it from outside. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* clang-format off */
__attribute__((noinline)) int fixture_program_work(int x) { volatile int acc = 0; for (int i = 0; i < x; i++) acc += i * x; return acc; }
/* clang-format on */
enum { WORK_LINE = __LINE__ - 2 };

int main(void)
{
    printf("work 0x%" PRIxPTR "\n", (uintptr_t)&fixture_program_work);
    printf("work_line %d\n", (int)WORK_LINE);
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0)
        ;
    return fixture_program_work(3) == 42;
}
