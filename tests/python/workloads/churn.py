# SPDX-License-Identifier: MIT
# churn: a workload whose stacks change under the reader: code objects
# compiled and freed all the time (their addresses reused), threads that
# come and go, recursion deeper than the reader keeps, generators. Each
# compiled function is named dyn_N with N counting up, so a reader that
# shows a stale code object shows an N smaller than one it showed before.
import sys
import threading
import time

sys.setrecursionlimit(5000)


def deep(n):
    if n == 0:
        end = time.time() + 0.002
        while time.time() < end:
            pass
        return 0
    return deep(n - 1) + 1


def numbers():
    for i in range(2000):
        yield i


def short_worker():
    for _ in range(20):
        sum(numbers())


def compile_loop():
    n = 0
    while True:
        name = "dyn_%d" % n
        source = "def %s():\n    x = 0\n    for j in range(2000):\n        x += j\n    return x\n"
        namespace = {}
        exec(compile(source % name, "<dyn>", "exec"), namespace)
        namespace[name]()
        n += 1


def main():
    threading.Thread(target=compile_loop, daemon=True).start()
    print("ready", flush=True)
    while True:
        workers = [threading.Thread(target=short_worker) for _ in range(3)]
        for w in workers:
            w.start()
        deep(600)
        for w in workers:
            w.join()


if __name__ == "__main__":
    sys.exit(main())
