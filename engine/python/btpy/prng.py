# SPDX-License-Identifier: MIT
"""prng: splitmix64 and xoshiro256** on Python ints, bit-for-bit the engine's streams."""

import math

MASK64 = (1 << 64) - 1
_TWO_PI = 6.283185307179586
_INV_2_53 = 1.0 / 9007199254740992.0


def splitmix64(x):
    """One splitmix64 step of x; seeds streams and hashes (seed, symbol, bar) keys."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


class Rng:
    """xoshiro256** with a cached second Box-Muller normal, as engine-private.h has it."""

    __slots__ = ("s0", "s1", "s2", "s3", "spare", "has_spare")

    def __init__(self, seed):
        x = splitmix64(seed & MASK64)
        self.s0 = x
        x = splitmix64(x)
        self.s1 = x
        x = splitmix64(x)
        self.s2 = x
        x = splitmix64(x)
        self.s3 = x
        self.spare = 0.0
        self.has_spare = False

    def next_u64(self):
        s0, s1, s2, s3 = self.s0, self.s1, self.s2, self.s3
        x = (s1 * 5) & MASK64
        result = ((((x << 7) | (x >> 57)) & MASK64) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        self.s0, self.s1, self.s2 = s0, s1, s2
        self.s3 = ((s3 << 45) | (s3 >> 19)) & MASK64
        return result

    def uniform(self):
        """Uniform in (0, 1): the top 53 bits plus a half, so never 0 or 1."""
        return ((self.next_u64() >> 11) + 0.5) * _INV_2_53

    def normal(self):
        if self.has_spare:
            self.has_spare = False
            return self.spare
        u = self.uniform()
        v = self.uniform()
        radius = math.sqrt(-2.0 * math.log(u))
        angle = _TWO_PI * v
        self.spare = radius * math.sin(angle)
        self.has_spare = True
        return radius * math.cos(angle)
