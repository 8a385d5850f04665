# SPDX-License-Identifier: MIT
# nested: a pure-Python workload for pystack-probe: the main thread spins in
# leaf_spin under Worker.middle, a second thread sleeps in sleeper. Each
# function's first and last lines carry a "# probe: NAME first|last" marker;
# the probe checks that every line it reads for NAME lies between them.
import os
import sys
import threading
import time

# A second, never initialised interpreter in the same process, as an
# extension linked against another libpython brings: the reader must
# still pick the one that runs.
if os.environ.get("PYSTACK_PRELOAD"):
    import ctypes

    ctypes.CDLL(os.environ["PYSTACK_PRELOAD"])


def leaf_spin(n):  # probe: leaf_spin first
    total = 0
    for i in range(n):
        total += i * i
    return total  # probe: leaf_spin last


class Worker:
    def middle(self):  # probe: middle first
        while True:
            leaf_spin(20000)  # probe: middle last


def sleeper():  # probe: sleeper first
    while True:
        time.sleep(0.2)  # probe: sleeper last


def main():  # probe: main first
    threading.Thread(target=sleeper, name="sleeper", daemon=True).start()
    print("ready", flush=True)
    Worker().middle()  # probe: main last


if __name__ == "__main__":
    sys.exit(main())
