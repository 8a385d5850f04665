/* SPDX-License-Identifier: MIT */
/* hot-lib: a shared library with one hot function, for replaced-lib. */

unsigned long fault_hot_spin(unsigned long n);

unsigned long fault_hot_spin(unsigned long n)
{
    volatile unsigned long acc = 0;

    for (unsigned long i = 0; i < n; i++)
        acc += i ^ (acc >> 3);
    return acc;
}
