/* SPDX-License-Identifier: MIT */
/* fixture-shifted: a shared library with one known function for check-symbols. */
int fixture_shifted_entry(int x);

__attribute__((noinline)) int fixture_shifted_entry(int x)
{
    volatile int acc = 0;
    for (int i = 0; i < x; i++)
        acc += i ^ x;
    return acc;
}
