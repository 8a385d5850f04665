# SPDX-License-Identifier: MIT
# two-growths: checks that report --memory's jumps (JSON) show a program's two
# growths, A then B MiB, with `work` between them (tests/memory/grow*).
# A growth starved of CPU on a loaded machine can pause past the 100 ms that
# ends a jump and show as two; jumps less than 300 ms apart are one growth
# here (the programs work 600 ms between growths).
# usage: two-growths.py REPORT.json A_MIB B_MIB (PCT | shareN)
#   PCT: each growth within PCT% of its MiB; shareN: A's share of the two
#   within N percentage points of A / (A + B).
import json
import sys

report, a, b, how = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
jumps = sorted(json.load(open(report))["jumps"], key=lambda j: j["from_s"])
merged = []
for j in jumps:
    if merged and j["from_s"] - merged[-1]["to_s"] < 0.3:
        merged[-1]["to_s"] = j["to_s"]
        merged[-1]["growth_bytes"] += j["growth_bytes"]
    else:
        merged.append(dict(j))
big = sorted(sorted(merged, key=lambda j: -j["growth_bytes"])[:2], key=lambda j: j["from_s"])
got = [j["growth_bytes"] / 2**20 for j in big]
print("growths: " + ", ".join("%.1f MiB at %.2f-%.2f s" % (g, j["from_s"], j["to_s"])
                              for g, j in zip(got, big)))
if len(big) != 2:
    sys.exit(1)
if how.startswith("share"):
    share = 100 * got[0] / (got[0] + got[1])
    sys.exit(0 if abs(share - 100 * a / (a + b)) <= float(how[5:]) else 1)
pct = float(how)
sys.exit(0 if all(abs(g - w) <= pct / 100 * w for g, w in zip(got, (a, b))) else 1)
