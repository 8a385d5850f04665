# SPDX-License-Identifier: MIT
# phases: a pure-Python workload in three self-timed phases, the ground truth
# for the record tests and benchmarks. Each phase burns CPU in its own
# function, with no Python callees: phase_alpha (integer arithmetic),
# phase_beta (string building) and Mixer.phase_gamma (float arithmetic; a
# method, so its co_qualname differs from its co_name). Rounds of
# alpha:beta:gamma work in the ratio of --weights repeat until --seconds have
# passed. The CPU time of every phase call is read with time.thread_time()
# right before and after it, and the end prints one JSON line: each phase's
# share of the CPU time in phases (what a CPU-clock sampler sees), and of the
# wall time.
#
# usage: phases.py [--seconds S] [--weights A,B,G] [--unit N]
import json
import os
import platform
import sys
import time


def phase_alpha(n):
    total = 0
    for i in range(n):
        total += (i * i) % 7
    return total


def phase_beta(n):
    parts = []
    for i in range(n // 4):
        parts.append(str(i))
    size = len("".join(parts))
    # Freed here, inside the phase: CPython frees a frame's locals after it
    # has popped the frame, so a sampler would see the freeing of thousands
    # of strings in the caller, while this phase's own timing counts it.
    parts.clear()
    return size


class Mixer:
    def phase_gamma(self, n):
        x = 0.5
        for i in range(n):
            x = x * 0.999 + 0.25
        return x


PHASES = (("alpha", "phase_alpha"), ("beta", "phase_beta"), ("gamma", "Mixer.phase_gamma"))


def parse_args(argv):
    opts = {"seconds": 3.0, "weights": (3, 6, 3), "unit": 4000}
    i = 0
    while i < len(argv):
        key = argv[i]
        if key in ("--seconds", "--weights", "--unit") and i + 1 < len(argv):
            value = argv[i + 1]
            if key == "--seconds":
                opts["seconds"] = float(value)
            elif key == "--weights":
                opts["weights"] = tuple(int(w) for w in value.split(","))
            else:
                opts["unit"] = int(value)
            i += 2
        else:
            sys.stderr.write("phases.py: unknown argument '%s'\n" % key)
            sys.exit(2)
    if len(opts["weights"]) != 3 or min(opts["weights"]) < 1:
        sys.stderr.write("phases.py: --weights needs three positive integers\n")
        sys.exit(2)
    return opts


def run(opts):
    cpu = time.thread_time
    wall = time.perf_counter
    mixer = Mixer()
    unit = opts["unit"]
    n_alpha, n_beta, n_gamma = (w * unit for w in opts["weights"])
    cpu_s = [0.0, 0.0, 0.0]
    wall_s = [0.0, 0.0, 0.0]
    rounds = 0
    start = wall()
    deadline = start + opts["seconds"]
    while wall() < deadline:
        w0, c0 = wall(), cpu()
        phase_alpha(n_alpha)
        w1, c1 = wall(), cpu()
        phase_beta(n_beta)
        w2, c2 = wall(), cpu()
        mixer.phase_gamma(n_gamma)
        w3, c3 = wall(), cpu()
        cpu_s[0] += c1 - c0
        cpu_s[1] += c2 - c1
        cpu_s[2] += c3 - c2
        wall_s[0] += w1 - w0
        wall_s[1] += w2 - w1
        wall_s[2] += w3 - w2
        rounds += 1
    return rounds, wall() - start, cpu_s, wall_s


def shares(seconds):
    total = sum(seconds)
    return {key: round(100.0 * s / total, 3) if total > 0 else 0.0
            for (key, _), s in zip(PHASES, seconds)}


def main():
    opts = parse_args(sys.argv[1:])
    rounds, elapsed, cpu_s, wall_s = run(opts)
    print(json.dumps({
        "python": platform.python_version(),
        "pid": os.getpid(),
        "file": os.path.abspath(__file__),
        "rounds": rounds,
        "elapsed_s": round(elapsed, 6),
        "functions": {key: name for key, name in PHASES},
        "phase_cpu_s": {key: round(s, 6) for (key, _), s in zip(PHASES, cpu_s)},
        "phase_times": shares(cpu_s),
        "phase_wall_times": shares(wall_s),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
