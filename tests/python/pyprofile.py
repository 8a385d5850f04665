#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pyprofile: checks folded profiles and dumps of Python programs against the
programs' own source and timing, for tests/python/1N-*.sh and bench/python-*.sh.

A Python frame reads `qualname (path:line)` (or `qualname (path)` with
--function): co_qualname from 3.11, co_name before. Line ranges and names come
from parsing the source with ast, never from a hard-coded table. Runs on the
standard library of any CPython 3.8 or newer.

  pyprofile.py has-python FOLDED            exit 0 if any sample holds a Python frame
  pyprofile.py check FOLDED [options]       samples, lines and phase shares (see --help)
  pyprofile.py processes FOLDED [options]   per 'process NAME (PID)' root
  pyprofile.py threads FOLDED               per 'thread NAME (TID)' root
  pyprofile.py dump TEXT JSON LOCALS ...    a dump of workloads/threads3.py
  pyprofile.py austin2folded [FILE]         austin -a output to folded, one count per sample
"""

import argparse
import ast
import json
import os
import re
import sys

_LINE_FRAME = re.compile(r"^(?P<name>.+) \((?P<path>[^()]+):(?P<line>-?[0-9]+)\)$")
_FUNC_FRAME = re.compile(r"^(?P<name>.+) \((?P<path>[^()]+)\)$")
_CONTEXT = re.compile(r"^(?P<kind>process|thread) (?P<name>.*) \((?P<id>[0-9]+)\)$")
# The interpreter's functions that run its garbage collector: allocation
# crossing the threshold, the collection itself (their names; a stripped
# build keeps the exported ones). What they call (an object's traverse or
# clear function, in whatever module defines the type) is the collector's
# work, not a call of the Python frame it happens under.
COLLECTOR = re.compile(r"^(_?PyObject_GC_\w+|PyType_GenericAlloc|PyGC_Collect|_PyGC_\w+|"
                       r"gc_\w+|collect(_\w+)?)$")


class Frame:
    __slots__ = ("text", "name", "path", "line")

    def __init__(self, text, name=None, path=None, line=None):
        self.text = text
        self.name = name
        self.path = path
        self.line = line

    @property
    def python(self):
        return self.path is not None


def _is_python_path(path):
    return path.endswith(".py") or (path.startswith("<") and path.endswith(">"))


def parse_frame(text):
    """A Frame; .path is None for native frames."""
    m = _LINE_FRAME.match(text)
    if m and _is_python_path(m.group("path")):
        return Frame(text, m.group("name"), m.group("path"), int(m.group("line")))
    m = _FUNC_FRAME.match(text)
    if m and _is_python_path(m.group("path")):
        return Frame(text, m.group("name"), m.group("path"), None)
    return Frame(text)


class Sample:
    """One folded line: its context roots (process, thread), its frames root
    first, and its count."""

    __slots__ = ("process", "thread", "frames", "count")


def read_folded(path):
    samples = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            stack, _, count = raw.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            s = Sample()
            s.process = s.thread = None
            s.count = int(count)
            texts = stack.split(";")
            while texts:
                m = _CONTEXT.match(texts[0])
                if not m:
                    break
                if m.group("kind") == "process":
                    s.process = (m.group("name"), int(m.group("id")))
                else:
                    s.thread = (m.group("name"), int(m.group("id")))
                texts.pop(0)
            s.frames = [parse_frame(t) for t in texts]
            samples.append(s)
    return samples


# ---- the source's code objects -------------------------------------------------


class Code:
    __slots__ = ("qualname", "co_name", "first", "last")

    def __init__(self, qualname, co_name, first, last):
        self.qualname = qualname
        self.co_name = co_name
        self.first = first
        self.last = last

    def name_for(self, version):
        return self.qualname if version >= (3, 11) else self.co_name


def source_codes(path):
    """Every code object the file compiles to that can run a frame: the
    module, classes, functions, lambdas and comprehensions, with their
    qualnames and line ranges (decorators included)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    tree = ast.parse(text, path)
    codes = [Code("<module>", "<module>", 1, max(1, len(text.splitlines())))]
    comp_names = {ast.ListComp: "<listcomp>", ast.SetComp: "<setcomp>",
                  ast.DictComp: "<dictcomp>", ast.GeneratorExp: "<genexpr>",
                  ast.Lambda: "<lambda>"}

    def visit(node, prefix, in_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = child.name
                qual = prefix + name
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                codes.append(Code(qual, name, first, child.end_lineno))
                is_func = not isinstance(child, ast.ClassDef)
                visit(child, qual + (".<locals>." if is_func else "."), is_func)
            elif type(child) in comp_names:
                name = comp_names[type(child)]
                qual = prefix + name
                codes.append(Code(qual, name, child.lineno, child.end_lineno))
                visit(child, qual + ".<locals>.", True)
            else:
                visit(child, prefix, in_function)

    visit(tree, "", False)
    return codes


class SourceTable:
    """Name and line checks of frames against their files' code objects."""

    def __init__(self, version, paths=(), under=()):
        self.version = version
        self.paths = {os.path.realpath(p) for p in paths}
        self.under = [os.path.realpath(d) + os.sep for d in under]
        self.cache = {}

    def covers(self, path):
        real = os.path.realpath(path) if not path.startswith("<") else path
        return real in self.paths or any(real.startswith(d) for d in self.under)

    def codes(self, path):
        real = os.path.realpath(path)
        if real not in self.cache:
            self.cache[real] = source_codes(real)
        return self.cache[real]

    def on_def_line(self, frame):
        """True when the frame's line is the first line of every code object
        of its name: the line a sampler reports when it gives co_firstlineno
        instead of the executing line."""
        named = [c for c in self.codes(frame.path) if c.name_for(self.version) == frame.name]
        return bool(named) and all(frame.line == c.first for c in named)

    def check(self, frame):
        """None when the frame's name is a code object of its file on this
        version and its line lies in that code's range; else the reason."""
        codes = self.codes(frame.path)
        named = [c for c in codes if c.name_for(self.version) == frame.name]
        if not named:
            other = [c for c in codes if frame.name in (c.qualname, c.co_name)]
            if other:
                want = "co_qualname" if self.version >= (3, 11) else "co_name"
                return "'%s' is not the %s (%s) on %d.%d" % (
                    frame.name, want, other[0].name_for(self.version), *self.version)
            return "no function '%s' in %s" % (frame.name, frame.path)
        if frame.line is None:
            return None
        if any(c.first <= frame.line <= c.last for c in named):
            return None
        ranges = ", ".join("%d-%d" % (c.first, c.last) for c in named)
        return "line %d outside %s (lines %s)" % (frame.line, frame.name, ranges)


def parse_version(text):
    m = re.match(r"([0-9]+)\.([0-9]+)", text)
    if not m:
        raise argparse.ArgumentTypeError("expected a version such as 3.11, not '%s'" % text)
    return (int(m.group(1)), int(m.group(2)))


# ---- check ---------------------------------------------------------------------


def phase_of(sample, table, phases):
    """The key of the innermost frame that is one of `phases` (key -> name)
    in a file the table covers, or None."""
    for fr in reversed(sample.frames):
        if fr.python and fr.name in phases and table.covers(fr.path):
            return phases[fr.name]
    return None


def cmd_check(a):
    samples = read_folded(a.folded)
    table = SourceTable(a.version, a.source, a.under)
    failures = []
    label = a.label + ": " if a.label else ""
    total = sum(s.count for s in samples)
    if total == 0:
        print("%sno samples" % label)
        return 1
    python = sum(s.count for s in samples if any(f.python for f in s.frames))
    own = sum(s.count for s in samples
              if any(f.python and table.covers(f.path) for f in s.frames))
    print("%s%d samples, %.2f%% hold a Python frame, %.2f%% a frame of the program"
          % (label, total, 100.0 * python / total, 100.0 * own / total))
    if a.min_python is not None and 100.0 * python / total < a.min_python:
        failures.append("only %.2f%% of samples hold a Python frame (want >= %g%%)"
                        % (100.0 * python / total, a.min_python))
    if a.min_own is not None and 100.0 * own / total < a.min_own:
        failures.append("only %.2f%% of samples hold a frame of the program (want >= %g%%)"
                        % (100.0 * own / total, a.min_own))
    # Every frame of the program's files: its name and line.
    checked = bad = on_def = 0
    examples = {}
    for s in samples:
        for fr in s.frames:
            if not (fr.python and table.covers(fr.path)):
                continue
            if a.function_mode and fr.line is not None:
                why = "a line number (%s) with --function" % fr.text
            elif not a.function_mode and fr.line is None:
                why = "no line number (%s)" % fr.text
            else:
                why = table.check(fr)
            checked += s.count
            if why:
                bad += s.count
                examples[why] = examples.get(why, 0) + s.count
            elif fr.line is not None and table.on_def_line(fr):
                on_def += s.count
    if checked:
        print("%sframes of the program: %d, right name and line range: %.2f%%"
              % (label, checked, 100.0 * (checked - bad) / checked))
        for why, n in sorted(examples.items(), key=lambda kv: -kv[1])[:5]:
            print("%s  %d x %s" % (label, n, why))
    if checked and not a.function_mode:
        print("%sframes on their function's first (def) line: %.2f%%"
              % (label, 100.0 * on_def / checked))
        if a.max_def_line is not None and 100.0 * on_def / checked > a.max_def_line:
            failures.append("%.2f%% of the program's frames sit on their function's def line "
                            "(at most %g%%): co_firstlineno, not the executing line?"
                            % (100.0 * on_def / checked, a.max_def_line))
    if checked and 100.0 * bad / checked > a.max_bad:
        failures.append("%.2f%% of the program's frames have a wrong name or line (at most %g%%)"
                        % (100.0 * bad / checked, a.max_bad))
    if a.phase:
        phases = {}
        for spec in a.phase:
            key, _, qualname = spec.partition("=")
            name = qualname if a.version >= (3, 11) else qualname.rsplit(".", 1)[-1]
            phases[name] = key
        counts = {key: 0 for key in phases.values()}
        for s in samples:
            key = phase_of(s, table, phases)
            if key is not None:
                counts[key] += s.count
        in_phase = sum(counts.values())
        expect = {}
        if a.expect_json:
            with open(a.expect_json) as f:
                doc = json.loads(f.read().strip().splitlines()[-1])
            expect = {k: float(v) for k, v in doc[a.expect_key].items()}
        for spec in a.expect or ():
            key, _, value = spec.partition("=")
            expect[key] = float(value)
        print("%s%d samples in phases (%.2f%%)"
              % (label, in_phase, 100.0 * in_phase / total))
        worst = 0.0
        for key in sorted(counts, key=lambda k: list(phases.values()).index(k)):
            share = 100.0 * counts[key] / in_phase if in_phase else 0.0
            if key in expect:
                diff = abs(share - expect[key])
                worst = max(worst, diff)
                print("%s  phase %-12s profile %6.2f%%  own timing %6.2f%%  diff %5.2f pp"
                      % (label, key, share, expect[key], diff))
            else:
                print("%s  phase %-12s profile %6.2f%%" % (label, key, share))
        if expect:
            print("%smax phase diff %.2f pp" % (label, worst))
        if in_phase == 0:
            failures.append("no sample lies in a phase function")
        elif a.tolerance is not None and expect and worst > a.tolerance:
            failures.append("a phase share is %.2f pp off its own timing (at most %g pp)"
                            % (worst, a.tolerance))
    for f in failures:
        print("FAIL: %s%s" % (label, f))
    return 1 if failures else 0


def cmd_has_python(a):
    for s in read_folded(a.folded):
        if any(f.python for f in s.frames):
            return 0
    return 1


# ---- processes and threads -----------------------------------------------------


def cmd_processes(a):
    samples = read_folded(a.folded)
    per = {}
    for s in samples:
        key = s.process if s.process else ("(no process root)", 0)
        row = per.setdefault(key, [0, 0, 0])
        row[0] += s.count
        if any(f.python for f in s.frames):
            row[1] += s.count
        if a.function and any(f.python and f.name == a.function for f in s.frames):
            row[2] += s.count
    failures = []
    for (name, pid), (n, py, fn) in sorted(per.items(), key=lambda kv: kv[0][1]):
        line = "process %s (%d): %d samples, %.1f%% with Python frames" % (
            name, pid, n, 100.0 * py / n)
        if a.function:
            line += ", %.1f%% under %s" % (100.0 * fn / n, a.function)
        print(line)
    for pid in a.pid or ():
        rows = [(k, v) for k, v in per.items() if k[1] == pid]
        if not rows:
            failures.append("worker %d has no samples under a 'process NAME (%d)' root"
                            % (pid, pid))
            continue
        (name, _), (n, py, fn) = rows[0]
        if n < a.min_samples:
            failures.append("worker %d has %d samples (want >= %d)" % (pid, n, a.min_samples))
        if 100.0 * py / n < a.min_python:
            failures.append("worker %d: %.1f%% of its samples hold Python frames (want >= %g%%)"
                            % (pid, 100.0 * py / n, a.min_python))
        if a.function and 100.0 * fn / n < a.min_function:
            failures.append("worker %d: %.1f%% of its samples are under %s (want >= %g%%)"
                            % (pid, 100.0 * fn / n, a.function, a.min_function))
    for f in failures:
        print("FAIL: %s" % f)
    return 1 if failures else 0


def cmd_threads(a):
    """One line per thread root: ROLE NAME TID SAMPLES PYTHON_PCT LEAF_PCT LEAF,
    tab-separated. LEAF is the thread's most frequent innermost Python frame;
    ROLE is the --role KEY=FUNCTION whose function is on most of the
    thread's samples ('-' for none), so a thread is known by what it runs
    even when its root names it wrongly."""
    roles = [spec.partition("=")[::2] for spec in a.role or ()]
    per = {}
    for s in read_folded(a.folded):
        key = s.thread if s.thread else ("-", 0)
        row = per.setdefault(key, {"n": 0, "py": 0, "leaf": {}, "role": {}})
        row["n"] += s.count
        py = [f for f in s.frames if f.python]
        if py:
            row["py"] += s.count
            row["leaf"][py[-1].text] = row["leaf"].get(py[-1].text, 0) + s.count
        for role, func in roles:
            if any(f.name == func for f in py):
                row["role"][role] = row["role"].get(role, 0) + s.count
    for (name, tid), row in sorted(per.items(), key=lambda kv: kv[0][1]):
        leaf, n_leaf = max(row["leaf"].items(), key=lambda kv: kv[1]) if row["leaf"] else ("-", 0)
        role = max(row["role"].items(), key=lambda kv: kv[1])[0] if row["role"] else "-"
        print("%s\t%s\t%d\t%d\t%.1f\t%.1f\t%s" % (role, name, tid, row["n"],
                                                 100.0 * row["py"] / row["n"],
                                                 100.0 * n_leaf / row["n"], leaf))
    return 0


# ---- dump of threads3.py ---------------------------------------------------------

STATES = ("running", "waiting for the GIL", "idle")


def _frame_text(fr):
    if isinstance(fr, str):
        return fr
    if isinstance(fr, dict):
        name = fr.get("name") or fr.get("function") or fr.get("qualname")
        path = fr.get("file") or fr.get("filename") or fr.get("path")
        line = fr.get("line") or fr.get("lineno")
        if name and path and line:
            return "%s (%s:%s)" % (name, path, line)
        if name and path:
            return "%s (%s)" % (name, path)
        return str(name)
    return str(fr)


def parse_dump_text(text):
    """[(header line, [frame lines])] of a `bt-spy dump` text."""
    blocks = []
    for line in text.splitlines():
        if line.startswith("Thread "):
            blocks.append((line, []))
        elif blocks and line.strip():
            blocks[-1][1].append(line.strip())
    return blocks


def _sleep_line(path):
    """The line of the time.sleep call in nap, from the source."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "nap":
            for sub in ast.walk(node):
                if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)
                        and sub.func.attr == "sleep"):
                    return sub.lineno
    raise SystemExit("pyprofile: no time.sleep call in nap() of %s" % path)


def cmd_dump(a):
    """Checks a text dump, a --json dump and a --locals dump of threads3.py."""
    failures = []
    table = SourceTable(a.version, [a.source])
    sleep_line = _sleep_line(a.source)
    roles = {"MainThread": "spin_main", "py-spinner": "spin_worker", "py-sleeper": "nap"}
    with open(a.text) as f:
        blocks = parse_dump_text(f.read())

    def role_of(frames):
        for fr in frames:
            p = parse_frame(fr)
            if p.python and table.covers(p.path):
                for thread, func in roles.items():
                    if p.name == func:
                        return thread
        return None

    seen = {}
    for header, frames in blocks:
        role = role_of(frames)
        if role is None:
            continue
        seen[role] = (header, frames)
    print("text dump: %d threads, program threads found: %s"
          % (len(blocks), ", ".join(sorted(seen)) or "none"))
    running = 0
    for thread in roles:
        if thread not in seen:
            failures.append("text: no thread runs %s()" % roles[thread])
            continue
        header, frames = seen[thread]
        state = next((s for s in STATES if "(%s)" % s in header), None)
        print("  %-12s %s" % (thread, header))
        if '"%s"' % thread not in header and " %s " % thread not in header:
            failures.append("text: the thread running %s() is not named '%s': %s"
                            % (roles[thread], thread, header))
        if state is None:
            failures.append("text: no state among %s in '%s'" % ("/".join(STATES), header))
        elif thread == "py-sleeper" and state != "idle":
            failures.append("text: the sleeper's state is '%s', not idle" % state)
        elif thread != "py-sleeper" and state == "idle":
            failures.append("text: spinning thread %s reads idle" % thread)
        running += state == "running"
        for fr in frames:
            p = parse_frame(fr)
            if p.python and table.covers(p.path):
                why = table.check(p)
                if why or p.line is None:
                    failures.append("text: %s: %s" % (thread, why or "no line: " + fr))
        py = [parse_frame(fr) for fr in frames if parse_frame(fr).python]
        if thread == "py-sleeper":
            top = py[0] if py else None
            if not top or top.name != "nap" or top.line != sleep_line:
                failures.append("text: the sleeper's innermost Python frame is %s, not "
                                "nap at line %d (time.sleep)" % (top.text if top else "none",
                                                                  sleep_line))
    if running > 1:
        failures.append("text: %d threads read running; only the GIL holder does" % running)

    with open(a.json) as f:
        try:
            doc = json.load(f)
        except ValueError as e:
            doc = None
            failures.append("json: does not parse: %s" % e)
    if doc is not None:
        threads = doc if isinstance(doc, list) else doc.get("threads", [])
        found = {}
        for t in threads:
            frames = [_frame_text(fr) for fr in t.get("frames", t.get("stack", []))]
            role = role_of(frames)
            if role:
                found[role] = t
        print("json dump: %d threads, program threads found: %s"
              % (len(threads), ", ".join(sorted(found)) or "none"))
        for thread in roles:
            t = found.get(thread)
            if t is None:
                failures.append("json: no thread runs %s()" % roles[thread])
                continue
            states = [v for k, v in t.items() if "state" in k and isinstance(v, str)]
            if thread == "py-sleeper" and "idle" not in states:
                failures.append("json: the sleeper's states are %s, not idle" % states)
            if thread != "py-sleeper" and not any(s in STATES[:2] for s in states):
                failures.append("json: %s's states %s are neither running nor waiting for "
                                "the GIL" % (thread, states))
            if t.get("name") != thread:
                failures.append("json: thread %s is named %r" % (thread, t.get("name")))

    with open(a.locals) as f:
        loc = parse_dump_text(f.read())
    nap_block = next((fr for _, fr in loc if role_of(fr) == "py-sleeper"), None)
    if nap_block is None:
        failures.append("--locals: no sleeper thread")
    else:
        text = "\n".join(nap_block)
        want = {"planted_int": r"\b4242\b", "planted_str": r"planted-marker",
                "planted_list": r"\b7\b"}
        for var, value in want.items():
            lines = [ln for ln in nap_block if re.search(r"\b%s\b" % var, ln)]
            if not lines or not any(re.search(value, ln) for ln in lines):
                failures.append("--locals: no line shows %s with %s" % (var, value))
        print("locals of nap():\n    " + "\n    ".join(
            ln for ln in text.splitlines() if "planted_" in ln))
    for f in failures:
        print("FAIL: %s" % f)
    return 1 if failures else 0


# ---- austin ----------------------------------------------------------------------

_AUSTIN_PROCESS = re.compile(r"^(?:Process |P)([0-9]+)$")
_AUSTIN_THREAD = re.compile(r"^(?:Thread |T)([0-9a-fx:]+)$")
_AUSTIN_LINE = re.compile(r" \(([^()]+):-?[0-9]+\)$")


def cmd_austin2folded(a):
    """austin -a writes one line per sample, `[Process PID;]Thread ID;func
    (file:line);... METRIC`, root first; the metric is time, so each line
    counts once. --processes keeps 'process python (PID)' roots, --threads
    'thread ID (0)' roots (austin knows no names or tids), --function drops
    the lines and --native stands for --no-python (one native frame)."""
    src = open(a.file) if a.file else sys.stdin
    counts = {}
    for raw in src:
        raw = raw.rstrip("\n")
        stack, _, metric = raw.rpartition(" ")
        if not stack or not metric.lstrip("-").isdigit():
            continue
        roots, frames = [], []
        for f in stack.split(";"):
            mp, mt = _AUSTIN_PROCESS.match(f), _AUSTIN_THREAD.match(f)
            if mp:
                if a.processes:
                    roots.append("process python (%s)" % mp.group(1))
            elif mt:
                if a.threads:
                    roots.append("thread %s (0)" % mt.group(1))
            elif f:
                frames.append(_AUSTIN_LINE.sub(r" (\1)", f) if a.function else f)
        if a.native or not frames:
            frames = ["[native]"]
        key = ";".join(roots + frames)
        counts[key] = counts.get(key, 0) + 1
    for key, n in counts.items():
        print("%s %d" % (key, n))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="pyprofile.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd")
    c = sub.add_parser("check", help="samples, names, lines and phase shares")
    c.add_argument("folded")
    c.add_argument("--version", type=parse_version, required=True,
                   help="the target's Python version (X.Y): qualname from 3.11")
    c.add_argument("--source", action="append", default=[], help="a file of the program")
    c.add_argument("--under", action="append", default=[], help="a folder of the program")
    c.add_argument("--label", default="")
    c.add_argument("--min-python", type=float, help="pct of samples with a Python frame")
    c.add_argument("--min-own", type=float, help="pct of samples with a frame of the program")
    c.add_argument("--max-bad", type=float, default=0.0,
                   help="pct of the program's frames allowed a wrong name or line (0)")
    c.add_argument("--max-def-line", type=float,
                   help="pct of the program's frames allowed on their def line")
    c.add_argument("--function-mode", action="store_true",
                   help="frames are 'qualname (path)' (record --function)")
    c.add_argument("--phase", action="append", help="KEY=QUALNAME of a phase function")
    c.add_argument("--expect", action="append", help="KEY=PCT, a phase's own share")
    c.add_argument("--expect-json", help="a JSON line with the phases' own shares")
    c.add_argument("--expect-key", default="phase_times")
    c.add_argument("--tolerance", type=float, help="pp a phase share may be off")
    h = sub.add_parser("has-python")
    h.add_argument("folded")
    pr = sub.add_parser("processes")
    pr.add_argument("folded")
    pr.add_argument("--pid", type=int, action="append", help="a worker that must be there")
    pr.add_argument("--min-python", type=float, default=0.0)
    pr.add_argument("--min-samples", type=int, default=1)
    pr.add_argument("--function", help="a Python function the workers run under")
    pr.add_argument("--min-function", type=float, default=0.0)
    th = sub.add_parser("threads")
    th.add_argument("folded")
    th.add_argument("--role", action="append", help="KEY=FUNCTION a thread runs")
    d = sub.add_parser("dump")
    d.add_argument("text")
    d.add_argument("json")
    d.add_argument("locals")
    d.add_argument("--source", required=True)
    d.add_argument("--version", type=parse_version, required=True)
    au = sub.add_parser("austin2folded")
    au.add_argument("file", nargs="?")
    au.add_argument("--processes", action="store_true")
    au.add_argument("--threads", action="store_true")
    au.add_argument("--function", action="store_true")
    au.add_argument("--native", action="store_true")
    a = p.parse_args(argv)
    cmds = {"check": cmd_check, "has-python": cmd_has_python, "processes": cmd_processes,
            "threads": cmd_threads, "dump": cmd_dump, "austin2folded": cmd_austin2folded}
    if a.cmd not in cmds:
        p.print_help()
        return 2
    return cmds[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
