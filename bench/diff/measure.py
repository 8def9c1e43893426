#!/usr/bin/env python3
"""Measure whole-process wall time and peak RSS of commands, side by side.

Usage: measure.py RUNS LABEL -- CMD... [--- LABEL -- CMD...]...
Prints one JSON object: {label: {"wall_ms": [...], "rss_kib": [...], "median_wall_ms": x,
"median_rss_kib": y, "exit": code}}. Peak RSS is the child's own ru_maxrss from wait4(2)
(per process, unlike getrusage(RUSAGE_CHILDREN), which keeps the maximum over all children).
stdout of the commands goes to /dev/null; one warm-up run per command is not counted.
"""
import json
import os
import statistics
import subprocess
import sys
import time


def once(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss, proc.returncode


def main():
    args = sys.argv[1:]
    runs = int(args.pop(0))
    groups, current = [], None
    for arg in args:
        if arg == "---":
            current = None
        elif current is None:
            current = [arg, None, []]
            groups.append(current)
        elif arg == "--" and current[1] is None:
            current[1] = True
        else:
            current[2].append(arg)
    results = {}
    for label, _, cmd in groups:
        once(cmd)
        walls, rss, codes = [], [], set()
        for _ in range(runs):
            wall, peak, code = once(cmd)
            walls.append(round(wall, 1))
            rss.append(peak)
            codes.add(code)
        results[label] = {
            "wall_ms": walls,
            "rss_kib": rss,
            "median_wall_ms": statistics.median(walls),
            "median_rss_kib": statistics.median(rss),
            "exit": sorted(codes),
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
