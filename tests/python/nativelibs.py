#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""nativelibs: checks where the frames of given native libraries sit in a
`record --native` profile, for tests/python/18-*.sh and 19-*.sh.

A library group is named on the command line as NAME=PATH (PATH a shared
object, or a folder searched for *.so). A native frame belongs to a group
when bt-spy named it by one of the group's files (`libfoo.so+0x1f0`) or by
a function the files define (their dynamic symbols, from `nm -D`): the
frames are checked against the libraries' own files, not a list of names.

  nativelibs.py files NAME=PATH ...           each group's files and symbol count
  nativelibs.py callers FOLDED [options]      each group frame's nearest Python caller
  nativelibs.py threads FOLDED [options]      threads with group frames, Python or not

callers: a sample holding a group frame is right when every such frame's
nearest Python frame towards the root lies in a file under one of the
--caller-under folders or is one of the --caller functions, wrong when one
lies elsewhere (an unrelated stdlib function, say), and torn when a group
frame has no Python frame above it or its nearest is bt-spy's marker of a
frame it could not show. The import of a package's own extension module is
right as well: its init code runs under importlib's
_call_with_frames_removed, with the package's <module> frame (under a
--caller-under folder) further out. A group frame the garbage collector
reached (a named allocation or collection function of the interpreter,
e.g. _PyObject_GC_NewVar or PyType_GenericAlloc, between it and its Python
caller: an object's traverse or clear function) is not counted: the
collector runs wherever an allocation crosses its threshold, here in
importlib's _compile_bytecode or re's parser.
Exit 1 when fewer than --min-right percent are right or any is wrong.
"""

import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyprofile  # noqa: E402

# bt-spy's name for code in a file without a symbol for it: 'FILE+0xOFFSET'.
_FILE_OFFSET = re.compile(r"^(?P<file>[^;+ ]+)\+0x[0-9a-fA-F]+$")


class Group:
    __slots__ = ("name", "files", "basenames", "symbols")

    def __init__(self, spec):
        name, eq, path = spec.partition("=")
        if not eq or not name or not path:
            raise argparse.ArgumentTypeError("expected NAME=PATH, not '%s'" % spec)
        self.name = name
        self.files = []
        if os.path.isdir(path):
            for root, _, names in os.walk(path):
                self.files += [os.path.join(root, n) for n in sorted(names)
                               if n.endswith(".so") or ".so." in n]
        elif os.path.exists(path):
            self.files.append(path)
        if not self.files:
            raise argparse.ArgumentTypeError("%s: no shared object at %s" % (name, path))
        self.basenames = set()
        for f in self.files:
            self.basenames.add(os.path.basename(f))
            self.basenames.add(os.path.basename(os.path.realpath(f)))
        self.symbols = set()
        for f in self.files:
            self.symbols |= defined_symbols(f)


def defined_symbols(path):
    """The functions a shared object defines in its dynamic symbol table."""
    out = subprocess.run(["nm", "-D", "--defined-only", path], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, universal_newlines=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TtWwi":
            names.add(parts[2].split("@", 1)[0])
    names -= {"_init", "_fini"}
    return names


def group_of(frame, groups):
    """The group a native frame belongs to, or None."""
    m = _FILE_OFFSET.match(frame.text)
    for g in groups:
        if m and m.group("file") in g.basenames:
            return g
        if frame.text in g.symbols:
            return g
    return None


def under(path, folders):
    """True when a Python frame's file lies under one of the folders; a
    pseudo-file such as '<__array_function__ internals>' (code a package
    compiles itself) matches a folder given as that same '<...>' name."""
    if path.startswith("<"):
        return path in folders
    real = os.path.realpath(path)
    return any(real.startswith(d) for d in folders if not d.startswith("<"))


def importing(frames, at, folders):
    """True when frames[at] (a group frame's nearest Python caller) runs as
    part of an extension module's init, for a module whose nearest <module>
    frame further out is one of the allowed folders': the package importing
    its own extension. The init runs under importlib's
    _call_with_frames_removed, and the caller is that frame or one the
    init's own code calls back (numpy.random's module set-up calls a
    function that np.errstate decorates, so contextlib's wrapper sits
    between the two extensions' frames), with no other module's top-level
    code in between."""
    in_init = False
    for f in reversed(frames[:at + 1]):
        if not f.python:
            continue
        if f.name == "<module>":
            return in_init and under(f.path, folders)
        if f.name == "_call_with_frames_removed" and f.path.startswith("<frozen"):
            in_init = True
    return False


def cmd_files(a):
    for g in a.group:
        print("%s: %d files, %d functions (%s)" % (g.name, len(g.files), len(g.symbols),
                                                  ", ".join(sorted(g.basenames)[:4])))
    return 0


def cmd_callers(a):
    label = a.label + ": " if a.label else ""
    folders = [d if d.startswith("<") else os.path.realpath(d) + os.sep
               for d in a.caller_under or ()]
    names = set(a.caller or ())
    samples = pyprofile.read_folded(a.folded)
    if a.thread:
        samples = [s for s in samples if s.thread and s.thread[1] in a.thread]
    counts = {"right": 0, "wrong": 0, "torn": 0}
    seen = {g.name: 0 for g in a.group}
    wrong = {}
    examples = {}
    within = collected = 0
    for s in samples:
        verdict = None
        caller = None
        hit = set()
        collector = in_collector = False
        for i, f in enumerate(s.frames):
            if f.python:
                caller = i
                in_collector = False
                continue
            if pyprofile.COLLECTOR.match(f.text):
                in_collector = True
            if f.text.startswith("[python frame"):
                # bt-spy's marker of Python frames it could not show
                # ('[python frames torn]', '[python frame unknown]')
                caller = None
                continue
            g = group_of(f, a.group)
            if g is None:
                continue
            if in_collector:
                collector = True
                continue
            hit.add(g.name)
            key = (g.name, f.text)
            examples[key] = examples.get(key, 0) + s.count
            if caller is None:
                v = "torn"
            elif (under(s.frames[caller].path, folders) or s.frames[caller].name in names or
                  importing(s.frames, caller, folders)):
                v = "right"
            else:
                v = "wrong"
                why = "%s under %s" % (f.text, s.frames[caller].text)
                wrong[why] = wrong.get(why, 0) + s.count
            if verdict is None or v == "wrong" or (v == "torn" and verdict == "right"):
                verdict = v
        for name in hit:
            seen[name] += s.count
        if hit and a.within and any(f.python and f.name == a.within for f in s.frames):
            within += s.count
        if verdict:
            counts[verdict] += s.count
        elif collector:
            collected += s.count
    total = sum(counts.values())
    print("%s%d samples hold frames of %s: %d right, %d wrong, %d without a known Python caller"
          % (label, total, ", ".join("%s (%d)" % kv for kv in seen.items()), counts["right"],
             counts["wrong"], counts["torn"]))
    if collected:
        print("%s%d samples hold such frames only as the garbage collector's work: not counted"
              % (label, collected))
    for g in a.group:
        top = sorted(((n, t) for (name, t), n in examples.items() if name == g.name),
                     reverse=True)[:3]
        if top:
            print("%s  %s frames, e.g. %s" % (label, g.name,
                                             ", ".join("%s (%d)" % (t, n) for n, t in top)))
    for why, n in sorted(wrong.items(), key=lambda kv: -kv[1])[:5]:
        print("%s  wrong: %d x %s" % (label, n, why))
    failures = []
    if a.within:
        print("%s%d of them under %s" % (label, within, a.within))
        if not within:
            failures.append("no sample holds such frames under %s" % a.within)
    if total < a.min_samples:
        failures.append("only %d samples hold such frames (want >= %d)" % (total, a.min_samples))
    failures += ["no sample holds %s frames" % g for g in a.need if not seen.get(g)]
    if counts["wrong"]:
        failures.append("%d samples put library code under a wrong Python caller"
                        % counts["wrong"])
    if total and 100.0 * counts["right"] / total < a.min_right:
        failures.append("%.2f%% right, want >= %g%%" % (100.0 * counts["right"] / total,
                                                         a.min_right))
    for f in failures:
        print("FAIL: %s%s" % (label, f))
    return 1 if failures else 0


def cmd_threads(a):
    """Per thread root: samples, the share with a Python frame, the share with
    a frame of each group, and the group functions seen most. Checks that
    every --pool TID (a thread the program says runs no Python) holds group
    frames in at least --min-pool percent of its samples and never a Python
    frame, and that every --python TID holds Python frames."""
    label = a.label + ": " if a.label else ""
    per = {}
    for s in pyprofile.read_folded(a.folded):
        tid = s.thread[1] if s.thread else 0
        row = per.setdefault(tid, {"name": s.thread[0] if s.thread else "-", "n": 0, "py": 0,
                                   "groups": {}, "named": {}})
        row["n"] += s.count
        if any(f.python for f in s.frames):
            row["py"] += s.count
        hit = set()
        for f in s.frames:
            if f.python:
                continue
            g = group_of(f, a.group)
            if g is None:
                continue
            hit.add(g.name)
            if not _FILE_OFFSET.match(f.text):
                row["named"][f.text] = row["named"].get(f.text, 0) + s.count
        for name in hit:
            row["groups"][name] = row["groups"].get(name, 0) + s.count
    for tid, row in sorted(per.items()):
        named = sorted(row["named"].items(), key=lambda kv: -kv[1])[:3]
        print("%sthread %s (%d): %d samples, %.1f%% with Python frames%s%s" % (
            label, row["name"], tid, row["n"], 100.0 * row["py"] / row["n"],
            "".join(", %.1f%% with %s frames" % (100.0 * n / row["n"], g)
                    for g, n in sorted(row["groups"].items())),
            "; " + ", ".join("%s %d" % kv for kv in named) if named else ""))
    failures = []
    pools = a.pool or []
    for tid in a.python or []:
        row = per.get(tid)
        if not row or not row["py"]:
            failures.append("Python thread %d has no sample with a Python frame" % tid)
    shown = 0
    for tid in pools:
        row = per.get(tid)
        if not row or row["n"] < a.min_samples:
            continue
        shown += 1
        if row["py"]:
            failures.append("pool thread %d runs no Python, yet %d of its samples hold a "
                            "Python frame" % (tid, row["py"]))
        for g in a.need:
            share = 100.0 * row["groups"].get(g, 0) / row["n"]
            if share < a.min_pool:
                failures.append("pool thread %d: %.1f%% of its samples hold %s frames "
                                "(want >= %g%%)" % (tid, share, g, a.min_pool))
            if not any(group_of(pyprofile.Frame(t), [x for x in a.group if x.name == g])
                       for t in row["named"]):
                failures.append("pool thread %d: no %s frame is named by a function" % (tid, g))
    if pools and shown == 0:
        failures.append("none of the pool threads %s has %d samples" % (pools, a.min_samples))
    for f in failures:
        print("FAIL: %s%s" % (label, f))
    return 1 if failures else 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="nativelibs.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    f = sub.add_parser("files")
    f.add_argument("group", nargs="+", type=Group, help="NAME=PATH")
    c = sub.add_parser("callers")
    c.add_argument("folded")
    c.add_argument("--group", action="append", type=Group, required=True, help="NAME=PATH")
    c.add_argument("--caller-under", action="append",
                   help="a folder whose Python functions may call the groups' code")
    c.add_argument("--caller", action="append", help="a Python function that may call it")
    c.add_argument("--thread", action="append", type=int, help="count only this thread's samples")
    c.add_argument("--need", action="append", default=[], help="a group that must be seen")
    c.add_argument("--within", help="a Python function some of those samples must be under")
    c.add_argument("--min-right", type=float, default=99.0)
    c.add_argument("--min-samples", type=int, default=100)
    c.add_argument("--label", default="")
    t = sub.add_parser("threads")
    t.add_argument("folded")
    t.add_argument("--group", action="append", type=Group, required=True, help="NAME=PATH")
    t.add_argument("--pool", action="append", type=int, help="TID of a thread without Python")
    t.add_argument("--python", action="append", type=int, help="TID of a Python thread")
    t.add_argument("--need", action="append", default=[],
                   help="a group every pool thread shows")
    t.add_argument("--min-pool", type=float, default=80.0,
                   help="pct of a pool thread's samples holding each --need group")
    t.add_argument("--min-samples", type=int, default=20,
                   help="samples a pool thread needs to be judged")
    t.add_argument("--label", default="")
    f.set_defaults(run=cmd_files)
    c.set_defaults(run=cmd_callers)
    t.set_defaults(run=cmd_threads)
    a = p.parse_args(argv)
    if a.cmd == "callers" and not (a.caller_under or a.caller):
        p.error("callers needs --caller-under or --caller")
    return a.run(a) if a.cmd else p.error("name a command: files, callers or threads")


if __name__ == "__main__":
    sys.exit(main())
