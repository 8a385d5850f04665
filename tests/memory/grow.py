# SPDX-License-Identifier: MIT
# grow.py: memory ground truth for Python. grow_a builds lists holding about
# A MiB, then the program works (no new memory), then grow_b builds B MiB.
# usage: python3 grow.py [A_MIB [B_MIB [WORK_MS]]]   (default 120 40 300)
import sys
import time

MIB = 1 << 20
# A list of N distinct floats costs N * (8 bytes slot + 24 bytes float), plus
# the list's over-allocation and pymalloc's arenas: RSS grows by about 1.25
# times the MiB asked (CPython 3.11: 150.6 and 50.2 MiB for 120 and 40), the
# same factor for both, so A's share of the growth is A / (A + B).
BYTES_PER_ITEM = 32

kept = []


def build(mib):
    n = mib * MIB // BYTES_PER_ITEM
    return [float(i) for i in range(n)]


def grow_a(mib):
    kept.append(build(mib))


def grow_b(mib):
    kept.append(build(mib))


def work(ms):
    end = time.monotonic() + ms / 1000.0
    x = 0
    while time.monotonic() < end:
        for i in range(1000):
            x = (x * 31 + i) & 0xFFFFFFFF
    return x


def number(s, hi):
    try:
        v = int(s)
    except ValueError:
        v = -1
    if not 0 <= v <= hi:
        sys.stderr.write("grow.py: invalid number '%s' (expected 0..%d)\n" % (s, hi))
        sys.exit(2)
    return v


def main(argv):
    if len(argv) > 3 or argv[:1] == ["-h"]:
        sys.stdout.write("usage: grow.py [A_MIB [B_MIB [WORK_MS]]]\n")
        return 0 if argv[:1] == ["-h"] else 2
    a = number(argv[0], 1 << 20) if len(argv) > 0 else 120
    b = number(argv[1], 1 << 20) if len(argv) > 1 else 40
    ms = number(argv[2], 600000) if len(argv) > 2 else 300
    work(ms)
    grow_a(a)
    work(ms)
    grow_b(b)
    work(ms)
    sys.stdout.write("grow.py: A %d MiB, B %d MiB\n" % (a, b))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
