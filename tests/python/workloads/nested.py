# SPDX-License-Identifier: MIT
# nested: a pure-Python workload for pystack-probe: the main thread spins in
# leaf_spin under Worker.middle, a second thread sleeps in sleeper. Lines
# the probe checks carry a "# probe:" marker.
import sys
import threading
import time


def leaf_spin(n):  # probe: leaf_spin first
    total = 0
    for i in range(n):
        total += i * i  # probe: leaf_spin body
    return total  # probe: leaf_spin body


class Worker:
    def middle(self):  # probe: middle first
        while True:
            leaf_spin(20000)  # probe: middle call


def sleeper():  # probe: sleeper first
    while True:
        time.sleep(0.2)  # probe: sleeper call


def main():
    threading.Thread(target=sleeper, name="sleeper", daemon=True).start()
    print("ready", flush=True)
    Worker().middle()  # probe: main call


if __name__ == "__main__":
    sys.exit(main())
