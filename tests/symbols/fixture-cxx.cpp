/* SPDX-License-Identifier: MIT */
/* fixture-cxx: a C++ program whose known function has a mangled name
 * (_ZN2ns5KlassIiE6methodEi); prints its address and waits for stdin. */
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <unistd.h>

namespace ns
{
template <class T> struct Klass {
    __attribute__((noinline)) static T method(T x)
    {
        volatile T acc = 0;
        for (T i = 0; i < x; i++)
            acc = acc + i;
        return acc;
    }
};
} // namespace ns

template struct ns::Klass<int>;

int main()
{
    std::printf("method 0x%" PRIxPTR "\n", (uintptr_t)&ns::Klass<int>::method);
    std::printf("ready\n");
    std::fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0)
        ;
    return ns::Klass<int>::method(3) == 42;
}
