# SPDX-License-Identifier: MIT
# mixed: Python functions that each spend their time in their own native
# code, the ground truth for merged Python + native stacks (--native).
#   sort_work    list.sort() of floats: the interpreter's own C code
#   hash_work    hashlib.sha256: OpenSSL's libcrypto (through _hashlib)
#   json_work    the _json extension module's encoder, called through
#                encode_doc. One encoder serves every round, as json.dumps
#                would not: json.dumps frees its encoder when iterencode's
#                frame is cleared, after the frame has been unlinked, so that
#                deallocator runs under JSONEncoder.encode, and where _json is
#                stripped (Debian) nothing tells it apart from the encoder.
#   keyed_work   list.sort(key=neg_key): native code between two Python
#                frames (the sort calls the Python key function back)
# Rounds of the four repeat until --seconds have passed, or --rounds times
# (a fixed amount of work, for overhead benchmarks). The CPU time of each
# call is read with time.thread_time() around it, and the end prints one
# JSON line: each function's share of the CPU time spent in them; with
# --rounds also "elapsed: S", the wall time of the rounds.
#
# usage: mixed.py [--seconds S | --rounds N] [--only NAME[,NAME...]] [--threads N]
import hashlib
import json
import random
import sys
import threading
import time

rng = random.Random(1234)
FLOATS = [rng.random() for _ in range(60000)]
BLOB = bytes(rng.getrandbits(8) for _ in range(1 << 16)) * 16  # 1 MiB
DOC = [{"id": i, "name": "item%d" % i, "tags": ["a", "b", "c"], "price": i * 0.25,
        "ok": i % 3 == 0} for i in range(6000)]


def sort_work(rounds):  # probe: sort_work first
    total = 0.0
    for _ in range(rounds):
        values = FLOATS[:]
        values.sort()
        total += values[0]
    return total  # probe: sort_work last


def hash_work(rounds):  # probe: hash_work first
    digest = b""
    for _ in range(rounds):
        digest = hashlib.sha256(BLOB).digest()
    return digest[0]  # probe: hash_work last


ENCODER = json.encoder.c_make_encoder(None, None, json.encoder.encode_basestring_ascii, None,
                                      ": ", ", ", False, False, True)


def encode_doc(doc):  # probe: encode_doc first
    return ENCODER(doc, 0)  # probe: encode_doc last


def json_work(rounds):  # probe: json_work first
    size = 0
    for _ in range(rounds):
        size += len("".join(encode_doc(DOC)))
    return size  # probe: json_work last


def neg_key(x):  # probe: neg_key first
    return -x  # probe: neg_key last


def keyed_work(rounds):  # probe: keyed_work first
    total = 0.0
    for _ in range(rounds):
        values = FLOATS[:20000]
        values.sort(key=neg_key)
        total += values[0]
    return total  # probe: keyed_work last


WORK = (("sort_work", sort_work, 1), ("hash_work", hash_work, 12), ("json_work", json_work, 1),
        ("keyed_work", keyed_work, 1))


def parse_args(argv):
    opts = {"seconds": 3.0, "rounds": 0, "only": None, "threads": 1}
    i = 0
    while i < len(argv):
        key = argv[i]
        if key in ("--seconds", "--rounds", "--only", "--threads") and i + 1 < len(argv):
            value = argv[i + 1]
            if key == "--seconds":
                opts["seconds"] = float(value)
            elif key == "--rounds":
                opts["rounds"] = int(value)
            elif key == "--only":
                opts["only"] = set(value.split(","))
            else:
                opts["threads"] = int(value)
            i += 2
        else:
            sys.exit("usage: mixed.py [--seconds S | --rounds N] [--only NAME[,NAME...]] "
                     "[--threads N]")
    return opts


def run(opts, cpu):
    work = [w for w in WORK if opts["only"] is None or w[0] in opts["only"]]
    end = time.monotonic() + opts["seconds"]
    done = 0
    while (done < opts["rounds"]) if opts["rounds"] else (time.monotonic() < end):
        done += 1
        for name, fn, rounds in work:
            t0 = time.thread_time()
            fn(rounds)
            cpu[name] = cpu.get(name, 0.0) + time.thread_time() - t0


def main():
    opts = parse_args(sys.argv[1:])
    cpus = [{} for _ in range(opts["threads"])]
    t0 = time.monotonic()
    threads = [threading.Thread(target=run, args=(opts, cpus[i]), name="mixed-%d" % i)
               for i in range(1, opts["threads"])]
    for t in threads:
        t.start()
    run(opts, cpus[0])
    for t in threads:
        t.join()
    cpu = {}
    for c in cpus:
        for name, seconds in c.items():
            cpu[name] = cpu.get(name, 0.0) + seconds
    total = sum(cpu.values()) or 1.0
    print(json.dumps({"cpu_share": {k: round(v / total, 4) for k, v in sorted(cpu.items())},
                      "cpu_seconds": round(total, 3)}))
    if opts["rounds"]:
        print("elapsed: %.6f" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
