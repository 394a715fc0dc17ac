#!/usr/bin/env python3
"""Cuts a fuzz corpus to at most BUDGET files that keep the most edges.

usage: scripts/fuzz-corpus-cover.py TARGET BUDGET

Runs the built fuzz target (in $FUZZ_TARGET_DIR, default
~/.cache/pod-fuzz-target) over fuzz/corpus/TARGET with libFuzzer's merge on
edges only (-use_counters=0) to get each input's edges from the merge
control file, then keeps, one at a time, the input adding the most edges not
yet covered (the smaller one on a tie), and deletes the others. Run it after
`cargo fuzz cmin TARGET -- -use_counters=0`. See docs/FUZZING.md.
"""
import os
import subprocess
import sys
import tempfile

target, budget = sys.argv[1], int(sys.argv[2])
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
corpus = os.path.join(repo, "fuzz", "corpus", target)
target_dir = os.environ.get("FUZZ_TARGET_DIR", os.path.expanduser("~/.cache/pod-fuzz-target"))
binary = os.path.join(target_dir, "x86_64-unknown-linux-gnu", "release", target)

with tempfile.TemporaryDirectory() as scratch:
    control = os.path.join(scratch, "control")
    empty = os.path.join(scratch, "empty")
    os.mkdir(empty)
    subprocess.run(
        [binary, "-merge=1", "-use_counters=0", f"-merge_control_file={control}", empty, corpus],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
    )
    lines = open(control).read().split("\n")

count = int(lines[0])
files = lines[2 : 2 + count]
edges = {}
for line in lines[2 + count :]:
    parts = line.split()
    if len(parts) >= 2 and parts[0] == "COV":
        edges[int(parts[1])] = set(parts[2:])
every = set().union(*edges.values()) if edges else set()
left, keep = set(every), []
while left and len(keep) < budget:
    best = max(edges, key=lambda i: (len(edges[i] & left), -os.path.getsize(files[i])))
    if not edges[best] & left:
        break
    keep.append(best)
    left -= edges[best]
kept = {files[i] for i in keep}
for path in files:
    if path not in kept:
        os.remove(path)
print(f"{target}: {len(files)} -> {len(kept)} files covering {len(every) - len(left)} of {len(every)} edges")
