#!/usr/bin/env python3
"""proc_sample.py - where do a server's processes wait while it is loaded?

Usage (root, server already running):
    bench/proc_sample.py MASTER_PID PORT [-s SESSIONS] [-m MESSAGES]

Runs `smtp-source -s SESSIONS -m MESSAGES -l 4096` against 127.0.0.1:PORT and
meanwhile samples every ~1 ms each process of MASTER_PID's tree: its state
(R running or runnable, S sleeping, D disk wait) and, when in D, its kernel
stack (/proc/PID/stack). Prints per process the state shares, CPU seconds
used, and the most frequent blocking stacks. A process that spends much of
the run in D inside syncfs/fsync is waiting for the disk; an event loop
that does so stalls every session it serves.
"""
import argparse
import collections
import os
import subprocess
import time


def stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    r = s[s.rindex(")") + 2:].split()
    return r[0], int(r[1]), (int(r[11]) + int(r[12])) / os.sysconf("SC_CLK_TCK")


def tree(root):
    kids = collections.defaultdict(list)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                kids[stat(int(d))[1]].append(int(d))
            except (OSError, ValueError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids[p])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pid", type=int)
    ap.add_argument("port", type=int)
    ap.add_argument("-s", type=int, default=10)
    ap.add_argument("-m", type=int, default=5000)
    a = ap.parse_args()
    pids = tree(a.pid)
    states = {p: collections.Counter() for p in pids}
    stacks = {p: collections.Counter() for p in pids}
    cpu0 = {p: stat(p)[2] for p in pids}
    t0 = time.monotonic()
    sp = subprocess.Popen(["smtp-source", "-s", str(a.s), "-m", str(a.m), "-l", "4096",
                           "-f", "sender@example.org", "-t", "user@d1.example",
                           "127.0.0.1:%d" % a.port])
    while sp.poll() is None:
        for p in pids:
            try:
                st = stat(p)[0]
            except OSError:
                continue
            states[p][st] += 1
            if st == "D":
                try:
                    with open("/proc/%d/stack" % p) as f:
                        fr = [ln.split()[1].split("+")[0] for ln in f if ln.strip()]
                    stacks[p][" < ".join(fr[:14])] += 1
                except (OSError, IndexError):
                    pass
        time.sleep(0.001)
    el = time.monotonic() - t0
    print("%d messages at -s %d in %.2f s: %.0f msgs/s" % (a.m, a.s, el, a.m / el))
    for p in pids:
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:70]
            cpu = stat(p)[2] - cpu0[p]
        except OSError:
            cmd, cpu = "(gone)", 0
        n = sum(states[p].values()) or 1
        share = " ".join("%s %.0f%%" % (k, 100 * v / n) for k, v in sorted(states[p].items()))
        print("pid %d  CPU %.2f s (%.0f%% of wall)  %s  %s" % (p, cpu, 100 * cpu / el, share, cmd))
        for k, v in stacks[p].most_common(4):
            print("    %4.0f%% of samples in D: %s" % (100 * v / n, k))


if __name__ == "__main__":
    main()
