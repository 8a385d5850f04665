# SPDX-License-Identifier: MIT
# blas_threads: a numpy matrix product on BLAS's own thread pool, beside a
# Python thread, the ground truth for non-Python threads under --native.
#   matmul_work  (main thread) a @ b on float64 matrices: numpy hands each
#                product to BLAS, which, when it is OpenBLAS, splits it over
#                its pool threads (C threads that never run Python)
#   count_work   (thread py-counter) a pure-Python loop
# Runs for --seconds, then prints one JSON line: the BLAS library numpy
# mapped ("blas": its path, from /proc/self/maps; "" when none is an
# OpenBLAS), the Python threads' native ids ("python") and every other
# thread of the process ("pool": OpenBLAS's pool, since nothing else starts
# threads here).
#
# usage: blas_threads.py [--seconds S] [--size N]
import json
import os
import sys
import threading
import time

import numpy


def count_work(stop):
    n = 0
    while not stop.is_set():
        for i in range(10000):
            n += i & 7
    return n


def matmul_work(a, b, seconds):
    end = time.monotonic() + seconds
    total = 0.0
    while time.monotonic() < end:
        total += float((a @ b)[0, 0])
    return total


def openblas_path():
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "openblas" in os.path.basename(path) and " r-xp " in line:
                return os.path.realpath(path)
    return ""


def main(argv):
    seconds, size = 3.0, 400
    args = list(argv)
    while args:
        opt = args.pop(0)
        if opt == "--seconds":
            seconds = float(args.pop(0))
        elif opt == "--size":
            size = int(args.pop(0))
        else:
            sys.exit("blas_threads.py: unknown option %s" % opt)
    rng = numpy.random.default_rng(7)
    a = rng.random((size, size))
    b = rng.random((size, size))
    stop = threading.Event()
    counter = threading.Thread(target=count_work, args=(stop,), name="py-counter")
    counter.start()
    matmul_work(a, b, seconds)
    python = [threading.main_thread().native_id, counter.native_id]
    pool = sorted(int(t) for t in os.listdir("/proc/self/task") if int(t) not in python)
    stop.set()
    counter.join()
    print(json.dumps({"blas": openblas_path(), "python": python, "pool": pool}))


if __name__ == "__main__":
    main(sys.argv[1:])
