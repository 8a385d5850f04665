# SPDX-License-Identifier: MIT
# threads3: three Python threads in known states, for the dump and
# thread-option tests. The main thread (MainThread) and py-spinner burn CPU
# in their own functions, so at any moment one holds the GIL (running) and
# the other waits for it; py-sleeper sits in time.sleep inside nap (idle),
# whose frame holds planted locals: an int, a str and a 7-item list. The
# OS threads keep the interpreter's name (comm): only the Python names say
# which is which. Prints one JSON line with the pid, file and each thread's
# native id once all three run, then runs until killed or --seconds pass.
#
# usage: threads3.py [--seconds S]
import json
import os
import sys
import threading
import time

PLANTED_INT = 4242
PLANTED_STR = "planted-marker"


def spin_main(stop_at):
    x = 0
    while time.time() < stop_at:
        for i in range(2000):
            x = (x + i * 3) % 1000003
    return x


def spin_worker(stop_at):
    y = 1
    while time.time() < stop_at:
        for i in range(2000):
            y = (y * 7 + i) % 999983
    return y


def nap(stop_at, ready):
    planted_int = PLANTED_INT
    planted_str = PLANTED_STR
    planted_list = [3, 1, 4, 1, 5, 9, 2]
    ready.set()
    while time.time() < stop_at:
        time.sleep(0.25)
    return planted_int, planted_str, planted_list


def main():
    seconds = 3600.0
    if len(sys.argv) == 3 and sys.argv[1] == "--seconds":
        seconds = float(sys.argv[2])
    stop_at = time.time() + seconds
    ready = threading.Event()
    ids = {"MainThread": threading.get_native_id()}
    sleeper = threading.Thread(target=nap, args=(stop_at, ready), name="py-sleeper", daemon=True)
    spinner = threading.Thread(target=spin_worker, args=(stop_at,), name="py-spinner",
                               daemon=True)
    sleeper.start()
    spinner.start()
    ready.wait()
    ids["py-sleeper"] = sleeper.native_id
    ids["py-spinner"] = spinner.native_id
    print(json.dumps({"pid": os.getpid(), "file": os.path.abspath(__file__), "threads": ids}),
          flush=True)
    spin_main(stop_at)
    return 0


if __name__ == "__main__":
    sys.exit(main())
