#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check-rooms: the code keeps to the room table in docs/DESIGN.md.

Fails (exit 1) when
  - a folder that builds a library is missing from the table, or the table
    names one that does not exist;
  - the table's dependencies have a cycle;
  - a room's meson.build depends on other rooms than the table says;
  - a file includes a header of a room its own room may not use;
  - a file includes another room's -private.h header;
  - a test includes a room's -private.h header that the meson.build of its
    folder does not name (tests that need internals say so at their target);
  - two modules (file stems) of the tree include each other, directly or
    through others (an include cycle).
Usage: scripts/check-rooms.py [SOURCE_DIR]
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), '..'))
DESIGN = os.path.join(ROOT, 'docs', 'DESIGN.md')
SOURCE_DIRS = ('daemon', 'render', 'engine', 'protos', 'tools')
errors = []


def fail(msg):
    errors.append(msg)


def read_table():
    """Rows of the table between the room-table markers in DESIGN.md."""
    rooms = {}
    inside = False
    with open(DESIGN, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            if '<!-- rooms:begin -->' in line:
                inside = True
                continue
            if '<!-- rooms:end -->' in line:
                break
            if not inside or not line.startswith('|'):
                continue
            cells = [c.strip().strip('`') for c in line.strip().strip('|').split('|')]
            if len(cells) < 3 or cells[0] in ('room', '') or set(cells[0]) <= set('-: '):
                continue
            uses = [u.strip().strip('`') for u in cells[2].split(',')]
            uses = [u for u in uses if u and u not in ('-', '—', 'nothing')]
            rooms[cells[0]] = {'lib': cells[1], 'uses': uses, 'line': lineno}
    if not rooms:
        fail('%s: no room table between <!-- rooms:begin --> and <!-- rooms:end -->' % DESIGN)
    return rooms


def library_rooms():
    """Folders whose meson.build builds a static library."""
    found = {}
    for top in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            if 'meson.build' not in files:
                continue
            text = open(os.path.join(dirpath, 'meson.build'), encoding='utf-8').read()
            m = re.search(r"static_library\(\s*'([^']+)'", text)
            if m:
                found[os.path.relpath(dirpath, ROOT)] = (m.group(1), text)
    return found


def find_cycle(graph):
    """A cycle in {node: set(nodes)} as a list, or None."""
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def main():
    table = read_table()
    libs = library_rooms()
    for room in sorted(set(libs) - set(table)):
        fail('%s builds library %s but is not in the room table of docs/DESIGN.md'
             % (room, libs[room][0]))
    for room in sorted(set(table) - set(libs)):
        fail('docs/DESIGN.md:%d: room %s builds no library' % (table[room]['line'], room))
    for room, row in sorted(table.items()):
        if room in libs and libs[room][0] != row['lib']:
            fail('docs/DESIGN.md:%d: %s builds %s, not %s'
                 % (row['line'], room, libs[room][0], row['lib']))
        for u in row['uses']:
            if u not in table:
                fail('docs/DESIGN.md:%d: %s uses unknown room %s' % (row['line'], room, u))
    cycle = find_cycle({r: set(v['uses']) for r, v in table.items()})
    if cycle:
        fail('the room table has a cycle: ' + ' -> '.join(cycle))

    # meson: which rooms' *_dep variables each room's library uses.
    dep_room = {}
    for room, (_, text) in libs.items():
        for m in re.finditer(r'^(\w+_dep)\s*=\s*declare_dependency', text, re.M):
            dep_room[m.group(1)] = room
    for room, (_, text) in sorted(libs.items()):
        used = set()
        for m in re.finditer(r'\b(\w+_dep)\b', text):
            r = dep_room.get(m.group(1))
            if r and r != room:
                used.add(r)
        want = set(table.get(room, {}).get('uses', ()))
        if room in table and used != want:
            fail('%s/meson.build uses rooms {%s}; docs/DESIGN.md says {%s}'
                 % (room, ', '.join(sorted(used)), ', '.join(sorted(want))))

    # Headers: which room owns each one.
    owner = {}
    for room in libs:
        for name in os.listdir(os.path.join(ROOT, room)):
            if name.endswith('.h'):
                if name in owner:
                    fail('header %s is in both %s and %s' % (name, owner[name], room))
                owner[name] = room
    include = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    module_graph = {}
    for room in sorted(libs):
        allowed = set(table.get(room, {}).get('uses', ()))
        for dirpath, _, files in os.walk(os.path.join(ROOT, room)):
            for name in sorted(files):
                if not name.endswith(('.c', '.h')):
                    continue
                path = os.path.join(dirpath, name)
                here = os.path.relpath(dirpath, ROOT)
                if here != room and here in libs:
                    continue  # a sub-room is checked on its own
                rel = os.path.relpath(path, ROOT)
                text = open(path, encoding='utf-8', errors='replace').read()
                mod = re.sub(r'(-private)?\.[ch]$', '', name)
                for m in include.finditer(text):
                    inc = os.path.basename(m.group(1))
                    if inc.endswith('.pb-c.h'):
                        target = 'protos'
                    else:
                        target = owner.get(inc)
                    if target is None or target == room:
                        if target == room:
                            dep = re.sub(r'(-private)?\.h$', '', inc)
                            if dep != mod:
                                module_graph.setdefault(room + '/' + mod, set()).add(
                                    room + '/' + dep)
                        continue
                    line = text.count('\n', 0, m.start(1)) + 1
                    if inc.endswith('-private.h'):
                        fail('%s:%d: includes %s, private to %s' % (rel, line, inc, target))
                    elif target not in allowed:
                        fail('%s:%d: %s includes %s from %s, which docs/DESIGN.md does not '
                             'let it use' % (rel, line, room, inc, target))
    cycle = find_cycle(module_graph)
    if cycle:
        fail('include cycle between modules: ' + ' -> '.join(cycle))

    # Tests may use a room's internals, but say so where they are built.
    for dirpath, _, files in sorted(os.walk(os.path.join(ROOT, 'tests'))):
        build_file = os.path.join(dirpath, 'meson.build')
        build = (open(build_file, encoding='utf-8').read()
                 if os.path.exists(build_file) else '')
        for name in sorted(files):
            if not name.endswith(('.c', '.h')):
                continue
            path = os.path.join(dirpath, name)
            text = open(path, encoding='utf-8', errors='replace').read()
            for m in include.finditer(text):
                inc = os.path.basename(m.group(1))
                if inc.endswith('-private.h') and inc in owner and inc not in build:
                    line = text.count('\n', 0, m.start(1)) + 1
                    fail('%s:%d: includes %s, private to %s, but %s does not say so'
                         % (os.path.relpath(path, ROOT), line, inc, owner[inc],
                            os.path.relpath(build_file, ROOT)))

    if errors:
        for e in errors:
            print('check-rooms: ' + e, file=sys.stderr)
        return 1
    print('rooms: %d libraries keep to docs/DESIGN.md; no include cycles' % len(libs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
