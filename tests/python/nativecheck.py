#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""nativecheck: checks a `record --native` profile of workloads/mixed.py: every
native frame of the three native workloads must sit under the right Python
caller (the closest Python frame towards the root).

  hash   OpenSSL's libcrypto or the _hashlib module     -> hash_work
  json   the _json module's encoder                     -> encode_doc, with json_work
                                                           further out
  sort   list.sort's C code (list_sort*, its merges and  -> sort_work or keyed_work
         compares; only where the interpreter has symbols)

Samples taken in an import (importlib's _find_and_load above them) are not
counted: the imported modules' set-up runs such code too (OpenSSL's tables
when _hashlib loads, the sort in dir() when os builds its __all__), and the
workloads run only after every import. Deallocators (encoder_dealloc) are not
workload code: they run wherever the last reference goes. Nor is the
encoder's constructor (encoder_new): it runs once, at module level, where
ENCODER is built. Nor is what the
garbage collector calls (a frame under `collect` or an allocation that ran
it: the _json module's _jsonmodule_traverse, in a full collection during the
module-level list comprehension that builds DOC): it runs wherever an
allocation crosses its threshold.

Counts samples holding such a frame: right (every such frame under its
caller), wrong (one under another Python frame), none (no Python frame above
it before a '[python frame...' marker: a torn merge shown native, or a partial
one whose inner Python frames are torn). Exit 1 when fewer than --min-right percent are
right or any is wrong.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyprofile  # noqa: E402

_SORT = re.compile(r"^(list_sort|unsafe_\w+_compare|safe_object_compare|count_run|binarysort|"
                   r"merge_(at|lo|hi|collapse|force_collapse)|gallop_(left|right)|"
                   r"reverse_sortslice|sortslice_\w+)")


def kind_of(text):
    """Which workload's native code a native frame is, or None. A
    deallocator is not: it runs wherever the last reference goes. Nor is the
    encoder's constructor, which runs once, where mixed.py builds ENCODER."""
    if re.match(r"^\w+_dealloc\b", text) or text.startswith("encoder_new"):
        return None
    if "libcrypto" in text or "_hashlib" in text or text.startswith(("SHA256", "sha256_")):
        return "hash"
    if "_json" in text or text.startswith(("encoder_", "py_encode_basestring")):
        return "json"
    if _SORT.match(text):
        return "sort"
    return None


def importing(frames_above):
    """Whether the sample ran in an import (importlib's _find_and_load above
    it): such native code is the imported module's set-up (OpenSSL's tables
    when _hashlib loads, the sort in dir() when os builds its __all__), not
    the workload's, which runs after every import. Not counted."""
    return any(f.python and f.name == "_find_and_load" for f in frames_above)


def expected(kind, caller, frames_above):
    names = [f.name for f in frames_above if f.python]
    if kind == "hash":
        return caller.name == "hash_work"
    if kind == "json":
        return caller.name == "encode_doc" and "json_work" in names
    return caller.name in ("sort_work", "keyed_work")


def check(samples, label):
    right = wrong = none = imports = 0
    kinds = {}
    bad = {}
    for s in samples:
        verdict = None
        if importing(s.frames):
            imports += s.count
            continue
        for i, f in enumerate(s.frames):
            if f.python:
                continue
            if re.match(r"^\w+_dealloc\b", f.text) or pyprofile.COLLECTOR.match(f.text):
                break  # what a deallocator or the collector calls is its work too
            k = kind_of(f.text)
            if not k:
                continue
            kinds[k] = kinds.get(k, 0) + s.count
            caller = None
            for j in range(i - 1, -1, -1):
                if s.frames[j].text.startswith("[python frame"):
                    break  # bt-spy's marker of Python frames it could not show
                if s.frames[j].python:
                    caller = s.frames[j]
                    break
            if caller is None:
                v = "none"
            elif expected(k, caller, s.frames[:i]):
                v = "right"
            else:
                v = "wrong"
                key = "%s under %s" % (k, caller.text)
                bad[key] = bad.get(key, 0) + s.count
            # a sample is as good as its worst frame
            if verdict is None or (v == "wrong") or (v == "none" and verdict == "right"):
                verdict = v
        if verdict == "right":
            right += s.count
        elif verdict == "wrong":
            wrong += s.count
        elif verdict == "none":
            none += s.count
    total = right + wrong + none
    print("%s: %d samples hold native workload frames (%s): %d right, %d wrong, %d without a "
          "Python caller; %d samples in imports not counted" %
          (label, total, ", ".join("%s %d" % kv for kv in sorted(kinds.items())), right, wrong,
           none, imports))
    for key, n in sorted(bad.items(), key=lambda kv: -kv[1])[:5]:
        print("  wrong: %d x %s" % (n, key))
    return right, wrong, none, kinds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folded")
    p.add_argument("--label", default="profile")
    p.add_argument("--min-right", type=float, default=99.0)
    p.add_argument("--min-samples", type=int, default=100)
    p.add_argument("--need", action="append", default=[],
                   help="a kind (hash, json, sort) that must be seen")
    a = p.parse_args(argv)
    samples = pyprofile.read_folded(a.folded)
    right, wrong, none, kinds = check(samples, a.label)
    total = right + wrong + none
    ok = True
    if total < a.min_samples:
        print("FAIL: %s: only %d samples hold native workload frames (want %d)" %
              (a.label, total, a.min_samples))
        ok = False
    for k in a.need:
        if not kinds.get(k):
            print("FAIL: %s: no sample holds %s frames" % (a.label, k))
            ok = False
    if wrong:
        print("FAIL: %s: %d samples put native code under a wrong Python caller" % (a.label, wrong))
        ok = False
    if total and 100.0 * right / total < a.min_right:
        print("FAIL: %s: %.2f%% right, want >= %.1f%%" % (a.label, 100.0 * right / total,
                                                            a.min_right))
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
