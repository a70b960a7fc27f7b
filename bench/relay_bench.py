#!/usr/bin/env python3
"""relay_bench.py - relay throughput, mailwarden vs Postfix 3.7, in one run.

smtp-source, from 127.0.0.1 (in mynetworks), sends to recipients in 10
outside domains r0.test .. r9.test (10 smtp-source processes, one per
domain, one session each: 10 concurrent). Each server relays them by
transport_maps to its own smtp-sink, one per domain, on 127.0.0.11 ..
127.0.0.20, reusing connections. A message counts as delivered when a
sink has received it (smtp-sink -c counters). Printed: accepted/s,
delivered/s and server CPU per message for each server, and the ratio.

Run as root (smtp-sink drops to nobody; mailwarden to its own user):

    bench/relay_bench.py
    BENCH_MESSAGES=2000 bench/relay_bench.py          # quick

Knobs (environment, all optional):
  MAILWARDEN_BIN     mailwarden binary (default REPO/build-out/mailwarden)
  BENCH_MESSAGES     messages in all, split over the 10 domains (default 20000)
  BENCH_SIZE         smtp-source -l payload bytes (default 4096)
  BENCH_SOURCE_REUSE 1: smtp-source -d (several messages per inbound
                     session); default 0: one inbound connection per message
  BENCH_SERVERS      which to run and in what order (default "mailwarden postfix")
  BENCH_TIMEOUT      bound on one run, s (default 300)
  BENCH_TMPDIR       parent of the work directory (default /var/tmp)
  BENCH_KEEP=1       keep the work directory (configs, logs)
  BENCH_MW_EXTRA     extra mailwarden config lines ("\\n" separates)
  PORT_MAILWARDEN / PORT_POSTFIX / PORT_SINK   (2541 / 2542 / 2543)

Only loopback addresses are used. The system Postfix (/etc/postfix) is
never touched: Postfix runs as a private instance (`postfix -c DIR`) with
its own main.cf, master.cf, queue and log, as bench/tls_bench.py does.
"""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import benchlib
from benchlib import cleanups, log, port_open, tree_cpu, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ENV = os.environ

MW_BIN = ENV.get("MAILWARDEN_BIN") or os.path.join(REPO, "build-out", "mailwarden")
M = int(ENV.get("BENCH_MESSAGES") or 20000)
SIZE = int(ENV.get("BENCH_SIZE") or 4096)
REUSE = ENV.get("BENCH_SOURCE_REUSE", "0") not in ("", "0", "no")
SERVERS = (ENV.get("BENCH_SERVERS") or "mailwarden postfix").split()
TIMEOUT = float(ENV.get("BENCH_TIMEOUT") or 300)
KEEP = ENV.get("BENCH_KEEP", "") not in ("", "0", "no")
PORT_MW = int(ENV.get("PORT_MAILWARDEN") or 2541)
PORT_PF = int(ENV.get("PORT_POSTFIX") or 2542)
PORT_SINK = int(ENV.get("PORT_SINK") or 2543)
NDOM = 10
DOMAINS = ["r%d.test" % i for i in range(NDOM)]
SINK_IPS = ["127.0.0.%d" % (11 + i) for i in range(NDOM)]
SENDER = "sender@example.org"


def write_transport(path, fmt):
    with open(path, "w") as f:
        for dom, ip in zip(DOMAINS, SINK_IPS):
            f.write(fmt.format(dom=dom, ip=ip, port=PORT_SINK) + "\n")


# ---------------------------------------------------------------- smtp-sink

class Sinks:
    """One smtp-sink per domain; mesg counters read from their -c output."""

    def __init__(self, work):
        self.work = work
        self.procs = []
        self.outs = []

    def start(self):
        for ip in SINK_IPS:
            if port_open(PORT_SINK, ip):
                raise RuntimeError("%s:%d already in use" % (ip, PORT_SINK))
        for i, ip in enumerate(SINK_IPS):
            out = os.path.join(self.work, "sink%d.out" % i)
            fo = open(out, "wb")
            p = subprocess.Popen(["smtp-sink", "-c", "-u", "nobody", "%s:%d" % (ip, PORT_SINK),
                                  "1000"], stdout=fo, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
            self.procs.append(p)
            self.outs.append(out)
        cleanups.append(self.stop)
        for ip in SINK_IPS:
            wait_port(PORT_SINK, ip)

    def count(self):
        n = 0
        for out in self.outs:
            try:
                with open(out, "rb") as f:
                    f.seek(max(0, os.path.getsize(out) - 200))
                    last = f.read().replace(b"\r", b"\n").split(b"\n")
            except OSError:
                continue
            for line in reversed(last):
                if b"mesg=" in line:
                    try:
                        n += int(line.rsplit(b"mesg=", 1)[1].split()[0])
                        break
                    except (ValueError, IndexError):
                        continue
        return n

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


# ---------------------------------------------------------------- Postfix

PF_MASTER = ("# private relay benchmark instance: no chroot\n"
             "127.0.0.1:{port} inet n - n - - smtpd\n" + benchlib.pf_services())

PF_MAIN = benchlib.pf_main(
    "# private relay benchmark instance; everything not set here is Postfix 3.7's default\n",
    "pfrelay.example", "postfix-relaybench",
    "transport_maps = texthash:{d}/conf/transport\n")


class Postfix(benchlib.PrivatePostfix):
    def __init__(self, work):
        super().__init__(work, [PORT_PF])
        self.port = PORT_PF

    def write_config(self):
        self.write_conf_file("main.cf", PF_MAIN.format(d=self.d))
        self.write_conf_file("master.cf", PF_MASTER.format(port=PORT_PF))
        write_transport(os.path.join(self.conf, "transport"), "{dom} smtp:[{ip}]:{port}")

    def ready(self):
        wait_port(PORT_PF)
        return " on %d" % PORT_PF


# ---------------------------------------------------------------- mailwarden

class Mailwarden:
    name = "mailwarden"

    def __init__(self, work):
        self.d = os.path.join(work, "mailwarden")
        self.confpath = os.path.join(self.d, "mailwarden.conf")
        self.proc = None
        self.master = None
        self.port = PORT_MW

    def start(self):
        benchlib.need_binary(MW_BIN, "build-out")
        if port_open(PORT_MW):
            raise RuntimeError("port %d already in use" % PORT_MW)
        d = self.d
        benchlib.mailwarden_dir(d, ("spool",))
        transport = os.path.join(d, "transport")
        write_transport(transport, "{dom} smtp:[{ip}]:{port}")
        benchlib.write_mw_conf(self.confpath, [
            "# mailwarden relay benchmark config (bench/relay_bench.py)",
            "smtpd_listen = 127.0.0.1:%d" % PORT_MW,
            "myhostname = mwrelay.example",
            "mydestination = localhost",
            "mynetworks = 127.0.0.0/8",
            "queue_directory = %s/spool" % d,
            "maillog_file = %s/maillog" % d,
            "dns_servers = 127.0.0.1:9",
            "transport_maps = texthash:%s" % transport,
            "smtpd_error_sleep_time = 0",
        ])
        p = benchlib.check_config(MW_BIN, self.confpath)
        if p.returncode != 0:
            raise RuntimeError("mailwarden check-config failed: %s" % (p.stdout + p.stderr))
        cleanups.append(self.stop)
        fo = open(os.path.join(d, "stdout-stderr.log"), "ab")
        self.proc = subprocess.Popen([MW_BIN, "-c", self.confpath], stdout=fo, stderr=fo,
                                     stdin=subprocess.DEVNULL, cwd=d)
        self.master = self.proc.pid
        wait_port(PORT_MW)
        log("mailwarden started: pid %d on %d (%s)" % (self.master, PORT_MW, MW_BIN))

    def stop(self):
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        benchlib.terminate(p)
        log("mailwarden stopped (exit %s)" % p.returncode)


# ---------------------------------------------------------------- one run

def run_one(server, work):
    sinks = Sinks(os.path.join(work, "sinks-" + server.name))
    os.makedirs(sinks.work, exist_ok=True)
    sinks.start()
    server.start()
    time.sleep(0.5)
    per = M // NDOM
    total = per * NDOM
    cpu0 = tree_cpu(server.master)
    t0 = time.monotonic()
    srcs = []
    for dom in DOMAINS:
        args = ["smtp-source", "-s", "1", "-m", str(per), "-l", str(SIZE), "-f", SENDER,
                "-t", "user@" + dom]
        if REUSE:
            args.append("-d")
        args.append("127.0.0.1:%d" % server.port)
        srcs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE))
    errs = []

    def reap():
        for p in srcs:
            _, e = p.communicate()
            if p.returncode != 0 or e.strip():
                errs.append(e.decode(errors="replace").strip()[:300])
    th = threading.Thread(target=reap)
    th.start()
    t_acc = None
    n = 0
    while time.monotonic() - t0 < TIMEOUT:
        n = sinks.count()
        if t_acc is None and not th.is_alive():
            t_acc = time.monotonic() - t0
        if n >= total and t_acc is not None:
            break
        time.sleep(0.02)
    t_del = time.monotonic() - t0
    th.join(10)
    if t_acc is None:
        t_acc = t_del
    cpu = tree_cpu(server.master) - cpu0
    server.stop()
    sinks.stop()
    res = {"server": server.name, "messages": total, "delivered": n,
           "accepted_per_s": total / t_acc, "delivered_per_s": n / t_del,
           "cpu_ms_per_msg": 1000 * cpu / max(n, 1), "errors": errs}
    log("%s: %d/%d delivered in %.2fs (smtp-source done after %.2fs)%s" % (
        server.name, n, total, t_del, t_acc, "; smtp-source errors: %s" % errs[:2] if errs else ""))
    return res


def main():
    if os.geteuid() != 0:
        sys.exit("relay_bench.py: run as root (smtp-sink -u nobody, postfix -c DIR start)")
    for t in ("smtp-source", "smtp-sink", "postfix", "postconf", "script"):
        if shutil.which(t) is None and not os.path.exists("/usr/sbin/" + t):
            sys.exit("relay_bench.py: %s not found (Debian package postfix)" % t)
    parent = ENV.get("BENCH_TMPDIR") or "/var/tmp"
    work = benchlib.work_dir("mw-relaybench-", parent)
    benchlib.interrupt_on(signal.SIGTERM)
    results = []
    try:
        log("work directory %s; %d messages of %d bytes to %d domains, 10 concurrent%s" % (
            work, M // NDOM * NDOM, SIZE, NDOM, ", inbound sessions reused (-d)" if REUSE else ""))
        for name in SERVERS:
            srv = Mailwarden(work) if name == "mailwarden" else Postfix(work)
            results.append(run_one(srv, work))
    finally:
        benchlib.run_cleanups()
        if KEEP:
            log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("%-11s %9s %11s %12s %10s" % ("server", "messages", "accepted/s", "delivered/s",
                                        "cpu ms/msg"))
    for r in results:
        star = "" if r["delivered"] >= r["messages"] else "*"
        print("%-11s %9d %11.0f %11.0f%1s %10.3f" % (r["server"], r["delivered"],
                                                     r["accepted_per_s"], r["delivered_per_s"],
                                                     star, r["cpu_ms_per_msg"]))
    by = {r["server"]: r for r in results}
    if "mailwarden" in by and "postfix" in by and by["postfix"]["delivered_per_s"] > 0:
        print("mailwarden/postfix delivered/s: %.2fx" % (
            by["mailwarden"]["delivered_per_s"] / by["postfix"]["delivered_per_s"]))
    if any(r["delivered"] < r["messages"] for r in results):
        print("* not every message reached a sink within BENCH_TIMEOUT")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
