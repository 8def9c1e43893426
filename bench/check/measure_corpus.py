#!/usr/bin/env python3
"""Times `cutover check FILE` on every template of a corpus, one whole process per template.

usage: measure_corpus.py CUTOVER CORPUS_DIR RUNS
Each template is checked RUNS times (after one warm-up run of the first template); its time is
the median of its runs. Prints the distribution of the per-template times, the slowest
templates with their size, and then one process checking every template at once (the time per
template when `check --all`-style runs amortise the start-up). Templates cutover cannot read as
CloudFormation (Rain modules, test events: exit 2) are timed too and counted apart. Also counts
findings by rule over the corpus, from the JSON output of the all-at-once run.
"""
import json
import os
import statistics
import subprocess
import sys
import time

EXTENSIONS = (".yaml", ".yml", ".json", ".template")


def once(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return (time.perf_counter() - start) * 1000, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    cutover, corpus, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    files = sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(corpus)
        for name in names
        if name.endswith(EXTENSIONS) and "/.git" not in root
    )
    once([cutover, "check", files[0]])
    timed, unreadable, exits = [], [], {}
    for path in files:
        walls, peaks, code = [], [], None
        for _ in range(runs):
            wall, peak, code = once([cutover, "check", path, "--output", "json"])
            walls.append(wall)
            peaks.append(peak)
        exits[code] = exits.get(code, 0) + 1
        entry = (statistics.median(walls), max(peaks), os.path.getsize(path), os.path.relpath(path, corpus))
        (unreadable if code == 2 else timed).append(entry)
    walls = [entry[0] for entry in timed]
    print(f"templates: {len(files)} files, {len(timed)} checked, {len(unreadable)} not CloudFormation as written (exit 2)")
    print(f"exit codes: {dict(sorted(exits.items()))} (0 clean, 1 findings at error, 2 unreadable)")
    print(
        "per template, one process each (median of %d runs): median %.1f ms, p90 %.1f ms, max %.1f ms, total %.2f s"
        % (runs, statistics.median(walls), percentile(walls, 0.9), max(walls), sum(walls) / 1000)
    )
    print("peak RSS per process: median %.1f MiB, max %.1f MiB" % (
        statistics.median(entry[1] for entry in timed) / 1024, max(entry[1] for entry in timed) / 1024))
    print("slowest:")
    for wall, _, size, name in sorted(timed, reverse=True)[:5]:
        print(f"  {wall:7.1f} ms  {size / 1024:7.1f} KiB  {name}")

    readable = [os.path.join(corpus, entry[3]) for entry in timed]
    start = time.perf_counter()
    proc = subprocess.run([cutover, "check", *readable, "--output", "json"], capture_output=True)
    whole = (time.perf_counter() - start) * 1000
    print(
        "all %d in one process: %.0f ms, %.2f ms per template (exit %d)"
        % (len(readable), whole, whole / len(readable), proc.returncode)
    )
    by_rule = {}
    report = json.loads(proc.stdout)
    for subject in report["reports"]:
        for finding in subject["findings"]:
            if finding.get("silenced") is None:
                by_rule[finding["rule"]] = by_rule.get(finding["rule"], 0) + 1
    failing = sum(
        1 for subject in report["reports"]
        if any(f["severity"] == "error" and f.get("silenced") is None for f in subject["findings"])
    )
    print(f"findings by rule: {dict(sorted(by_rule.items()))}")
    print(f"templates with an error (cannot be a release stack as written): {failing} of {len(readable)}")


if __name__ == "__main__":
    main()
