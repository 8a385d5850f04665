# SPDX-License-Identifier: MIT
# gen-line-tables: prints, for the running CPython, a C initializer with
# the raw line table of a known function and the line CPython itself gives
# every instruction offset (dis.findlinestarts before 3.10, co_lines()
# after). Run under each interpreter to refresh line-tables.h:
#   for py in python3.8 ... python3.13; do $py gen-line-tables.py; done
import dis
import sys

# Loops jump back (negative line steps), one statement spans lines, and a
# 300-line gap needs several table entries.
SOURCE = (
    "def sample(n):\n"
    "    total = 0\n"
    "    for i in range(n):\n"
    "        if i % 3 == 0:\n"
    "            total += (i *\n"
    "                      2)\n"
    "        else:\n"
    "            total -= 1\n"
    + "\n" * 300
    + "    x = [j for j in\n"
    "         range(n)]\n"
    "    try:\n"
    "        total //= len(x)\n"
    "    except ZeroDivisionError:\n"
    "        total = -1\n"
    "    return total\n"
)


def expected_lines(code):
    """(offset, line) for every code unit; -1 where CPython has no line."""
    size = len(code.co_code)
    if sys.version_info >= (3, 10):
        lines = {}
        for start, end, line in code.co_lines():
            for off in range(start, end, 2):
                lines[off] = -1 if line is None else line
        return [(off, lines.get(off, -1)) for off in range(0, size, 2)]
    starts = list(dis.findlinestarts(code))
    out = []
    for off in range(0, size, 2):
        line = code.co_firstlineno
        for start, start_line in starts:
            if start <= off:
                line = start_line
        out.append((off, line))
    return out


def main():
    namespace = {}
    exec(compile(SOURCE, "sample.py", "exec"), namespace)
    code = namespace["sample"].__code__
    table = code.co_lnotab if sys.version_info < (3, 10) else code.co_linetable
    tag = "%d%d" % sys.version_info[:2]
    print("/* CPython %s */" % sys.version.split()[0])
    print("static const uint8_t table_%s[] = {" % tag)
    for i in range(0, len(table), 12):
        print("    " + ", ".join("0x%02x" % b for b in table[i : i + 12]) + ",")
    print("};")
    print("static const struct expected_line lines_%s[] = {" % tag)
    pairs = expected_lines(code)
    for i in range(0, len(pairs), 6):
        print("    " + " ".join("{%d, %d}," % p for p in pairs[i : i + 6]))
    print("};")
    print(
        "#define FIRST_LINE_%s %d /* co_firstlineno */\n" % (tag, code.co_firstlineno)
    )


if __name__ == "__main__":
    main()
