#!/usr/bin/env python3
"""smtp_bench.py - mailwarden vs Postfix 3.7 vs smtp-sink, in one run.

Started by bench/smtp-bench.sh (as root, with a raised descriptor limit).
See bench/README.md. Environment knobs (all optional):

  MAILWARDEN_BIN      mailwarden binary (default: REPO/build-b/mailwarden)
  BENCH_MESSAGES      messages per smtp-source run (default 20000)
  BENCH_CONCURRENCY   session counts (default "1 10 50")
  BENCH_SIZE          smtp-source -l payload bytes (default 4096)
  BENCH_IDLE          idle sessions for the memory test (default 5000, 0 = skip)
  BENCH_IDLE_MESSAGES messages sent -s 10 with/without idle sessions (default 200)
  BENCH_IDLE_REPEAT   runs of those, median taken (default 3)
  BENCH_SERVERS       which to run, any of "postfix mailwarden sink" (default all)
  BENCH_STRACE_MESSAGES  messages sent under strace -c to count fsync/rename
                      calls per message (default 500, 0 = skip)
  BENCH_QUIET_WAIT    before each run wait up to this long for the host to be
                      under 15% busy and its disk under 50 writes/s (others share the
                      machine), s (default 30)
  BENCH_RUN_TIMEOUT   bound on one smtp-source run, s (default 300)
  BENCH_DELIVERY_TIMEOUT  bound on waiting for delivery after it, s (default 300)
  BENCH_STALL         give up waiting for delivery after this long without
                      progress, s (default 30)
  BENCH_DEADLINE      the whole bench stops starting new runs after this, s
                      (default 3000)
  BENCH_TMPDIR        parent of the work directory (default /var/tmp)
  BENCH_KEEP=1        keep the work directory (configs, logs, mailboxes)
  BENCH_JSON          also write the results as JSON to this file
  BENCH_MW_NOFILE     start mailwarden with this soft RLIMIT_NOFILE (default:
                      inherit the bench's raised one; 1024 = systemd's default)
  BENCH_MW_LABEL      free text printed with the binary's path (e.g. its commit)
  BENCH_MW_EXTRA      extra lines appended to the mailwarden config ("\\n" ok)
  PORT_MAILWARDEN / PORT_POSTFIX / PORT_SINK  (2525 / 2526 / 2527)
"""
import json
import os
import platform
import pwd
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import time

import benchlib
from benchlib import (CLK, cleanups, comm, envfloat, envint, host_busy, port_open, rss_kib, tail,
                      tree, tree_cpu)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ENV = os.environ

MW_BIN = ENV.get("MAILWARDEN_BIN") or os.path.join(REPO, "build-b", "mailwarden")
M = envint("BENCH_MESSAGES", 20000)
CONC = [int(x) for x in ENV.get("BENCH_CONCURRENCY", "1 10 50").split()]
SIZE = envint("BENCH_SIZE", 4096)
IDLE = envint("BENCH_IDLE", 5000)
IDLE_MSGS = envint("BENCH_IDLE_MESSAGES", 200)
IDLE_REPEAT = envint("BENCH_IDLE_REPEAT", 3)
QUIET_WAIT = envfloat("BENCH_QUIET_WAIT", 30)
STRACE_MSGS = envint("BENCH_STRACE_MESSAGES", 500)
SERVERS = ENV.get("BENCH_SERVERS", "postfix mailwarden sink").split()
RUN_TIMEOUT = envfloat("BENCH_RUN_TIMEOUT", 300)
DELIV_TIMEOUT = envfloat("BENCH_DELIVERY_TIMEOUT", 300)
STALL = envfloat("BENCH_STALL", 30)
DEADLINE = envfloat("BENCH_DEADLINE", 3000)
TMPPARENT = ENV.get("BENCH_TMPDIR", "/var/tmp")
KEEP = ENV.get("BENCH_KEEP", "") not in ("", "0", "no")
PORT_MW = envint("PORT_MAILWARDEN", 2525)
PORT_PF = envint("PORT_POSTFIX", 2526)
PORT_SINK = envint("PORT_SINK", 2527)
SENDER = "sender@example.org"
RCPT = "user@d1.example"
T0 = time.monotonic()
log = benchlib.elapsed_log(T0)
benchlib.set_log(log)


def time_left():
    return DEADLINE - (time.monotonic() - T0)


# ---------------------------------------------------------------- /proc


def disk_stat(path):
    """(write requests, flush requests) of the block device holding path,
    from /sys/dev/block/MAJ:MIN/stat (a partition: its disk). Device-wide:
    includes whatever else writes to that disk meanwhile."""
    try:
        st = os.stat(path)
        base = "/sys/dev/block/%d:%d" % (os.major(st.st_dev), os.minor(st.st_dev))
        fn = base + "/stat"
        if os.path.exists(base + "/partition"):
            fn = base + "/../stat"
        with open(fn) as f:
            v = [int(x) for x in f.read().split()]
        return v[4], (v[15] if len(v) > 15 else 0)
    except (OSError, ValueError, IndexError):
        return None


def tcp_mem_kib():
    """Kernel memory of all TCP sockets (/proc/net/sockstat "mem", pages)."""
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    v = line.split()
                    return int(v[v.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError):
        pass
    return None


def steal_s():
    """CPU time the hypervisor gave to others (/proc/stat steal), seconds."""
    with open("/proc/stat") as f:
        v = f.readline().split()
    return int(v[8]) / CLK if len(v) > 8 else 0.0


def port_socket_inodes(port):
    """Inodes of all TCP sockets (any state) whose local port is port."""
    out = set()
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                next(f)
                for line in f:
                    v = line.split()
                    if int(v[1].rsplit(":", 1)[1], 16) == port:
                        out.add(v[9])
        except OSError:
            pass
    return out


def fd_socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if t.startswith("socket:["):
                out.add(t[8:-1])
    except OSError:
        pass
    return out


def listen_backlog(port):
    """Backlog of the listening socket on port (Send-Q of `ss -ltn`)."""
    try:
        out = subprocess.run(["ss", "-Hltn", "sport = :%d" % port], capture_output=True,
                             text=True, timeout=10).stdout.split()
        return int(out[2])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def somaxconn():
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None



def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""



def proc_user(pid):
    try:
        return pwd.getpwuid(os.stat("/proc/%d" % pid).st_uid).pw_name
    except (OSError, KeyError):
        return "?"


# ---------------------------------------------------------------- helpers


def wait_banner(port, timeout=15):
    end = time.monotonic() + timeout
    last = ""
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                data = s.recv(512).decode(errors="replace")
                if data.startswith("220"):
                    s.sendall(b"QUIT\r\n")
                    return data.strip()
                last = data.strip()
        except OSError as e:
            last = str(e)
        time.sleep(0.2)
    raise RuntimeError("no 220 banner on port %d within %ds (%s)" % (port, timeout, last))


def count_dir(path):
    try:
        return len(os.listdir(path))
    except FileNotFoundError:
        return 0


def empty_dir(path):
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for n in names:
        try:
            os.unlink(os.path.join(path, n))
        except OSError:
            pass



def grep_problems(path, start_offset=0, limit=20):
    """Lines with warning/fatal/panic/error/reject from offset on, and count."""
    out, count = [], 0
    try:
        with open(path, errors="replace") as f:
            f.seek(start_offset)
            for line in f:
                low = line.lower()
                if any(w in low for w in ("warning", "fatal", "panic", "error", "reject", "deferred", "bounced")):
                    count += 1
                    if len(out) < limit:
                        out.append(line.rstrip())
    except OSError:
        pass
    return count, out


def fsize(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# ---------------------------------------------------------------- load runs

def smtp_source(port, sessions, messages, workdir, tag, newdir=None, cpu_root=None,
                run_timeout=None, quiet_wait=None):
    """Run smtp-source, measure accepted time, then time until `messages`
    files are in newdir. Returns a dict."""
    run_timeout = min(run_timeout or RUN_TIMEOUT, max(time_left(), 10))
    out = os.path.join(workdir, "smtp-source.%s.out" % tag)
    err = os.path.join(workdir, "smtp-source.%s.err" % tag)
    args = ["smtp-source", "-c", "-s", str(sessions), "-m", str(messages),
            "-l", str(SIZE), "-f", SENDER, "-t", RCPT, "127.0.0.1:%d" % port]
    if newdir:
        empty_dir(newdir)
    os.sync()
    # how busy is the host before we start? (others may share the machine)
    # Wait (bounded) for the host to be quiet, so a neighbour's build does
    # not land in one run and not the other; note what we saw.
    qw = QUIET_WAIT if quiet_wait is None else quiet_wait
    quiet_end = time.monotonic() + min(qw, max(time_left() - 60, 0))
    while True:
        h0, w0, d0 = host_busy(), time.monotonic(), disk_stat(workdir)
        time.sleep(1.0)
        el = time.monotonic() - w0
        busy_before = (host_busy() - h0) / el / os.cpu_count()
        d1 = disk_stat(workdir)
        disk_before = (d1[0] - d0[0]) / el if d0 and d1 else 0
        if (busy_before < 0.15 and disk_before < 50) or time.monotonic() > quiet_end:
            break
    cpu0 = tree_cpu(cpu_root)
    steal0 = steal_s()
    disk0 = disk_stat(workdir)
    host0 = host_busy()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(out, "wb") as fo, open(err, "wb") as fe:
        p = subprocess.Popen(args, stdout=fo, stderr=fe)
    t_acc = None
    t_del = None
    timed_out = False
    delivered = 0
    last_progress, last_count = t0, 0
    while True:
        now = time.monotonic()
        if t_acc is None:
            rc = p.poll()
            if rc is not None:
                t_acc = now
            elif now - t0 > run_timeout:
                p.kill()
                p.wait()
                t_acc = now
                timed_out = True
        if newdir and t_del is None:
            delivered = count_dir(newdir)
            if delivered != last_count:
                last_count, last_progress = delivered, now
            if delivered >= messages:
                t_del = now
        if t_acc is not None and (not newdir or t_del is not None):
            break
        if t_acc is not None and newdir:
            if now - last_progress > STALL or now - t_acc > DELIV_TIMEOUT:
                break
        # poll more often near the end, cheaply while far from it
        if newdir and t_del is None and delivered:
            rate = delivered / max(now - t0, 0.01)
            sleep = (messages - delivered) / rate / 4
            sleep = min(max(sleep, 0.02), 0.25)
        else:
            sleep = 0.05
        time.sleep(sleep)
    cpu1 = tree_cpu(cpu_root)
    steal1 = steal_s()
    disk1 = disk_stat(workdir)
    host1 = host_busy()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rc = p.returncode
    with open(out, "rb") as f:
        counters = f.read().replace(b"\n", b"\r").split(b"\r")
    acc_count = 0
    for c in reversed(counters):
        if c.strip().isdigit():
            acc_count = int(c.strip())
            break
    with open(err, errors="replace") as f:
        errtext = f.read().strip()
    r = {
        "sessions": sessions, "messages": messages,
        "accepted": acc_count, "accept_s": t_acc - t0,
        "accept_rate": acc_count / (t_acc - t0) if t_acc > t0 else 0.0,
        "rc": rc, "timed_out": timed_out, "host_busy_before": busy_before,
        "disk_writes_before": disk_before,
        "steal_share": (steal1 - steal0) / max(time.monotonic() - t0, 0.01) / os.cpu_count(),
        "errors": errtext.splitlines()[:5],
        "client_cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
    }
    if newdir:
        r["delivered"] = delivered if t_del is None else messages
        if t_del is None:
            # Not all arrived: report the rate up to the last file that did
            # (marked '*' in the table), so a few lost messages do not hide
            # the throughput; the notes say how many are missing.
            delivered = count_dir(newdir)
            r["delivered"] = delivered
            r["deliver_complete"] = False
            span = last_progress - t0
            r["deliver_s"] = span if delivered else None
            r["deliver_rate"] = delivered / span if delivered and span > 0 else None
        else:
            r["deliver_complete"] = True
            r["deliver_s"] = t_del - t0
            r["deliver_rate"] = messages / (t_del - t0)
    if cpu_root is not None:
        r["server_cpu_s"] = cpu1 - cpu0
        n = r.get("delivered", acc_count) or acc_count
        r["cpu_ms_per_msg"] = 1000.0 * (cpu1 - cpu0) / n if n else None
        r["host_cpu_ms_per_msg"] = 1000.0 * (host1 - host0) / n if n else None
        if disk0 and disk1 and n:
            r["disk_writes_per_msg"] = (disk1[0] - disk0[0]) / n
            r["disk_flushes_per_msg"] = (disk1[1] - disk0[1]) / n
    return r


def fmt_run(server, r):
    dr = r.get("deliver_rate")
    cpu = r.get("cpu_ms_per_msg")
    flags = []
    if r["timed_out"]:
        flags.append("TIMEOUT")
    if r["rc"]:
        flags.append("rc=%s" % r["rc"])
    if r.get("host_busy_before", 0) > 0.15:
        flags.append("host %.0f%% busy before run" % (100 * r["host_busy_before"]))
    if r.get("steal_share", 0) >= 0.03:
        flags.append("VM steal %.0f%% of CPU during run" % (100 * r["steal_share"]))
    if r.get("disk_writes_before", 0) >= 50:
        flags.append("disk busy before run (%.0f writes/s)" % r["disk_writes_before"])
    if r["accepted"] != r["messages"]:
        flags.append("accepted %d/%d" % (r["accepted"], r["messages"]))
    if "delivered" in r and r["delivered"] != r["messages"]:
        flags.append("delivered %d/%d" % (r["delivered"], r["messages"]))
        if r["delivered"] < r["accepted"]:
            flags.append("LOST? %d accepted but not in the Maildir after %.0f s without progress"
                         % (r["accepted"] - r["delivered"], STALL))
    hc = r.get("host_cpu_ms_per_msg")
    fl = r.get("disk_flushes_per_msg")
    return "%-11s %3d %7d %10.0f %9.2f %11s %9s %11s %9s %9s  %s" % (
        server, r["sessions"], r["messages"], r["accept_rate"], r["accept_s"],
        ("%.0f" % dr if dr else "-") + ("*" if r.get("deliver_complete") is False and dr else ""),
        "%.2f" % r["deliver_s"] if r.get("deliver_s") else "-",
        "%.2f" % cpu if cpu is not None else "-",
        "%.2f" % hc if hc is not None else "-",
        "%.2f" % fl if fl is not None else "-",
        " ".join(flags))


HEADER = "%-11s %3s %7s %10s %9s %11s %9s %11s %9s %9s  %s" % (
    "server", "C", "msgs", "accepted/s", "accept s", "delivered/s", "deliver s",
    "CPU ms/msg", "host ms", "flush/msg", "notes")


# ---------------------------------------------------------------- Postfix

PF_MASTER = ("# private benchmark instance: no chroot, smtpd on 127.0.0.1:{port}\n"
             "127.0.0.1:{port} inet n - n - - smtpd\n" + benchlib.pf_services(tlsmgr=False))

PF_MAIN = benchlib.pf_main(
    "# private benchmark instance; everything not set here is Postfix 3.7's\n"
    "# default (fsync of queue file and Maildir file included).\n",
    "pfbench.example", "postfix-bench", benchlib.pf_virtual("d1.example d2.example"))

VMAILBOX = "user@d1.example d1.example/user/\nuser@d2.example d2.example/user/\n"


class Postfix(benchlib.PrivatePostfix):
    subdirs = ("conf", "spool", "data", "mail")

    def __init__(self, work):
        super().__init__(work, [PORT_PF])
        self.newdir = os.path.join(self.d, "mail", "d1.example", "user", "new")

    def write_config(self):
        nobody = self.mail_owner()
        self.write_conf_file("main.cf", PF_MAIN.format(d=self.d, uid=nobody.pw_uid,
                                                       gid=nobody.pw_gid))
        self.write_conf_file("master.cf", PF_MASTER.format(port=PORT_PF))
        self.write_conf_file("vmailbox", VMAILBOX)
        p = subprocess.run(["postconf", "-c", self.conf, "-n"], capture_output=True, text=True)
        if p.returncode != 0 or "warning" in p.stderr:
            raise RuntimeError("postconf -n: %s" % (p.stderr.strip() or p.returncode))

    def ready(self):
        self.banner = wait_banner(PORT_PF)
        return ", %s" % self.banner


# ---------------------------------------------------------------- mailwarden

class Mailwarden:
    name = "mailwarden"

    def __init__(self, work):
        self.d = os.path.join(work, "mailwarden")
        self.confpath = os.path.join(self.d, "mailwarden.conf")
        self.newdir = os.path.join(self.d, "mail", "d1.example", "user", "new")
        self.maillog = os.path.join(self.d, "maillog")
        self.out = os.path.join(self.d, "stdout-stderr.log")
        self.proc = None
        self.master = None
        self.notes = []

    def write_conf(self, optional=True):
        d = self.d
        lines = [
            "# mailwarden benchmark config (bench/smtp_bench.py)",
            "smtpd_listen = 127.0.0.1:%d" % PORT_MW,
            "myhostname = bench.example",
            "mydestination = localhost",
            "queue_directory = %s/spool" % d,
            "virtual_mailbox_base = %s/mail" % d,
            "virtual_mailbox_domains = d1.example d2.example",
            "virtual_mailbox_maps = texthash:%s/vmailbox" % d,
            "maillog_file = %s" % self.maillog,
        ]
        if optional:
            lines.append("smtpd_error_sleep_time = 0")
        benchlib.write_mw_conf(self.confpath, lines)

    def start(self):
        benchlib.need_binary(MW_BIN, "build-b")
        if port_open(PORT_MW):
            raise RuntimeError("port %d already in use" % PORT_MW)
        d = self.d
        benchlib.mailwarden_dir(d, ("spool", "mail"), VMAILBOX)
        self.write_conf(True)
        p = benchlib.check_config(MW_BIN, self.confpath)
        if p.returncode != 0 and "smtpd_error_sleep_time" in (p.stdout + p.stderr):
            self.notes.append("check-config refused smtpd_error_sleep_time: %s; dropped it"
                              % (p.stdout + p.stderr).strip())
            log(self.notes[-1])
            self.write_conf(False)
            p = benchlib.check_config(MW_BIN, self.confpath)
        if p.returncode != 0:
            raise RuntimeError("mailwarden check-config failed (rc %d): %s" % (
                p.returncode, (p.stdout + p.stderr).strip()))
        cleanups.append(self.stop)
        fo = open(self.out, "ab")
        nofile = envint("BENCH_MW_NOFILE", 0)

        def limits():
            if nofile:      # e.g. 1024, systemd's default soft limit for services
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))
        self.proc = subprocess.Popen([MW_BIN, "-c", self.confpath], stdout=fo, stderr=fo,
                                     stdin=subprocess.DEVNULL, cwd=d, preexec_fn=limits)
        self.master = self.proc.pid
        try:
            self.banner = wait_banner(PORT_MW)
        except RuntimeError as e:
            raise RuntimeError("%s; exit=%s; output: %s; log: %s" % (
                e, self.proc.poll(), "".join(tail(self.out, 10)), "".join(tail(self.maillog, 10))))
        time.sleep(0.3)
        kids = ["%d:%s(%s,%s)" % (k, comm(k), proc_user(k), cmdline(k)) for k in tree(self.master)[1:]]
        log("mailwarden started: pid %d, %s; children %s" % (self.master, self.banner, kids))
        self.backlog = listen_backlog(PORT_MW)
        log("mailwarden listen backlog on port %d: %s (net.core.somaxconn %s)"
            % (PORT_MW, self.backlog, somaxconn()))

    def smtp_engine_pid(self):
        kids = tree(self.master)[1:]
        for k in kids:
            text = (comm(k) + " " + cmdline(k)).lower()
            if "smtp" in text.replace(self.d.lower(), ""):
                return k, "named '%s'" % cmdline(k)
        # no name: the child holding the most TCP sockets on our port
        inodes = port_socket_inodes(PORT_MW)
        best, bestn = None, 0
        for k in kids:
            n = len(fd_socket_inodes(k) & inodes)
            if n > bestn:
                best, bestn = k, n
        if best is not None:
            return best, "child holding %d sockets of port %d, comm '%s'" % (bestn, PORT_MW, comm(best))
        if kids:
            k = max(kids, key=rss_kib)
            return k, "largest child '%s'" % cmdline(k)
        return self.master, "no children: the parent itself"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        # Only ever the processes of our own instance: its tree as it is
        # now, each identified by pid and start time (others may run their
        # own mailwarden on this machine at the same time).
        ours = benchlib.tree_ids(p.pid)
        if benchlib.terminate(p, how="SIGKILL (noted as a finding)"):
            self.notes.append("did not exit within 15 s of SIGTERM")
        time.sleep(0.5)
        left = benchlib.leftovers(ours, p.pid)
        if left:
            self.notes.append("its children %s were still running after the parent exited" % left)
            log(self.notes[-1] + " - killing them")
            benchlib.kill_pids(left)
        log("mailwarden stopped (exit %s)" % p.returncode)


# ---------------------------------------------------------------- smtp-sink

class Sink:
    name = "smtp-sink"

    def __init__(self, work):
        self.d = work
        self.proc = None
        self.master = None

    def start(self):
        if port_open(PORT_SINK):
            raise RuntimeError("port %d already in use" % PORT_SINK)
        self.proc = subprocess.Popen(["smtp-sink", "-u", "nobody", "-c",
                                      "127.0.0.1:%d" % PORT_SINK, "1000"],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.d, "smtp-sink.err"), "wb"))
        self.master = self.proc.pid
        cleanups.append(self.stop)
        wait_banner(PORT_SINK)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# ---------------------------------------------------------------- idle sessions

def open_idle(n, port, timeout=120):
    """Open n TCP sessions that read the 220 banner and then sit idle.
    Client addresses are spread over 127.1.0.1-250 (20 per address by
    default) so no per-client connection limit decides the result."""
    sel = selectors.DefaultSelector()
    socks, ok, refused, other = [], [], 0, []
    pending = {}
    per_addr = max(1, -(-n // 250))
    end = time.monotonic() + timeout
    i = 0
    while (i < n or pending) and time.monotonic() < end:
        # keep at most 500 handshakes in flight
        while i < n and len(pending) < 500:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            a = i // per_addr
            try:
                s.bind(("127.1.%d.%d" % (a // 250, a % 250 + 1), 0))
            except OSError:
                pass
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            except OSError as e:
                refused += 1
                other.append(str(e))
                s.close()
                i += 1
                continue
            pending[s] = b""
            sel.register(s, selectors.EVENT_READ)
            socks.append(s)
            i += 1
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(512)
            except BlockingIOError:
                continue
            except OSError as e:
                data = b""
                other.append(str(e))
            if not data:
                refused += 1
                sel.unregister(s)
                del pending[s]
                continue
            pending[s] += data
            if b"\n" in pending[s]:
                sel.unregister(s)
                banner = pending.pop(s)
                if banner.startswith(b"220"):
                    ok.append(s)
                else:
                    other.append(banner.decode(errors="replace").strip()[:80])
    for s in list(pending):
        other.append("no banner within %ds" % timeout)
        sel.unregister(s)
    sel.close()
    return socks, ok, refused, other


def still_open(socks):
    n = 0
    for s in socks:
        try:
            d = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            if d:          # server said something (timeout 421?) but still connected
                n += 1
        except BlockingIOError:
            n += 1
        except OSError:
            pass
    return n


def idle_load(mw, work, tag):
    """IDLE_MSGS messages at -s 10, IDLE_REPEAT times: the run with the
    median delivered rate (a 200-message run lasts a fraction of a second,
    so one run alone is noisy)."""
    runs = [smtp_source(PORT_MW, 10, IDLE_MSGS, work, "%s-%d" % (tag, i), mw.newdir, mw.master,
                        run_timeout=120, quiet_wait=5) for i in range(IDLE_REPEAT)]
    runs.sort(key=lambda r: r.get("deliver_rate") or r["accept_rate"])
    r = dict(runs[len(runs) // 2])
    r["all_rates"] = ["%.0f/%s" % (x["accept_rate"], "%.0f" % x["deliver_rate"]
                                   if x.get("deliver_rate") else "-") for x in runs]
    log("%s: accepted/delivered per s of %d runs: %s" % (tag, len(runs), r["all_rates"]))
    return r


def idle_test(mw, work):
    res = {"sessions_wanted": IDLE}
    log("idle test: baseline %d messages -s 10 without idle sessions" % IDLE_MSGS)
    base = idle_load(mw, work, "mw-idle-base")
    res["baseline"] = base
    time.sleep(1)
    kids = tree(mw.master)
    rss0 = {k: rss_kib(k) for k in kids}
    before_all = sum(rss0.values())
    eng0, how0 = mw.smtp_engine_pid()
    log("before: smtp engine guess pid %d (%s): RSS %d KiB; all processes %d KiB %s"
        % (eng0, how0, rss0.get(eng0, 0), before_all, rss0))
    tcp0 = tcp_mem_kib()
    t = time.monotonic()
    socks, ok, refused, other = open_idle(IDLE, PORT_MW)
    res["open_s"] = time.monotonic() - t
    res["established"] = len(ok)
    res["refused_or_closed"] = refused
    res["other"] = other[:5]
    res["other_count"] = len(other)
    log("idle sessions: %d with banner, %d refused/closed, %d other (%s) in %.1f s"
        % (len(ok), refused, len(other), other[:3], res["open_s"]))
    time.sleep(2)
    # with the sessions open the engine is unambiguous (it holds them)
    eng, how = mw.smtp_engine_pid()
    res["engine_pid"], res["engine_how"] = eng, how
    if eng not in rss0:
        res["engine_changed"] = "smtp engine pid %d was not there before the idle sessions (restarted?)" % eng
        log(res["engine_changed"])
    before = rss0.get(eng, 0)
    kids = tree(mw.master)
    after = rss_kib(eng)
    after_all = sum(rss_kib(k) for k in kids)
    tcp1 = tcp_mem_kib()
    res["kernel_tcp_kib"] = (tcp0, tcp1)
    res["rss_before_kib"], res["rss_all_before_kib"] = before, before_all
    res["rss_after_kib"], res["rss_all_after_kib"] = after, after_all
    n = max(len(ok), 1)
    res["kib_per_session"] = (after - before) / n
    res["kib_per_session_all"] = (after_all - before_all) / n
    try:
        res["engine_fds"] = len(os.listdir("/proc/%d/fd" % eng))
    except OSError:
        res["engine_fds"] = None
    log("with idle sessions: engine pid %d (%s) RSS %d -> %d KiB (+%.1f KiB/session), all %d KiB (+%.1f KiB/session), engine fds %s"
        % (eng, how, before, after, res["kib_per_session"], after_all, res["kib_per_session_all"], res["engine_fds"]))
    log("idle test: %d messages -s 10 with the idle sessions open" % IDLE_MSGS)
    loaded = idle_load(mw, work, "mw-idle-loaded")
    res["loaded"] = loaded
    res["still_open"] = still_open(ok)
    log("idle sessions still open after the load: %d of %d" % (res["still_open"], len(ok)))
    for s in socks:
        s.close()
    time.sleep(2)
    res["rss_after_close_kib"] = rss_kib(eng)
    return res


# ---------------------------------------------------------------- durability

SYNC_CALLS = "fsync,fdatasync,syncfs,sync,sync_file_range,rename,renameat,renameat2,link,linkat"


def durability_check(srv, port, work, n=500):
    """Count the sync and rename system calls the server makes per message
    (strace -c -f attached to every process of the server): fsync-class
    calls per message show whether, and how much, a server batches them."""
    if not shutil.which("strace") or STRACE_MSGS <= 0:
        return None
    n = STRACE_MSGS
    pids = tree(srv.master)
    out = os.path.join(work, "strace.%s.txt" % srv.name)
    args = ["strace", "-f", "-c", "-qq", "-o", out, "-e", "trace=" + SYNC_CALLS]
    for p in pids:
        args += ["-p", str(p)]
    st = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    r = smtp_source(port, 10, n, work, "%s-strace" % srv.name, srv.newdir, None, run_timeout=120)
    time.sleep(0.5)
    st.send_signal(signal.SIGINT)
    try:
        st.wait(20)
    except subprocess.TimeoutExpired:
        st.kill()
        st.wait()
    calls = {}
    try:
        with open(out) as f:
            for line in f:
                v = line.split()
                if len(v) >= 5 and v[-1] in SYNC_CALLS.split(",") and v[3].isdigit():
                    calls[v[-1]] = int(v[3])
    except OSError:
        pass
    done = r.get("delivered") or r["accepted"] or 1
    per = {k: v / done for k, v in calls.items()}
    log("%s under strace, %d messages -s 10 (%d delivered): per message %s"
        % (srv.name, n, done, ", ".join("%s %.2f" % kv for kv in sorted(per.items()))))
    return {"messages": n, "delivered": done, "calls": calls, "per_message": per}


# ---------------------------------------------------------------- main

def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return "%d cores (%s), %d MiB RAM, kernel %s" % (os.cpu_count(), cpu, mem, platform.release())


def run_server(srv, work, results, deliver=True):
    try:
        srv.start()
    except Exception as e:
        log("%s: NOT RUN: %s" % (srv.name, e))
        results[srv.name] = {"error": str(e)}
        srv_stop = getattr(srv, "stop", None)
        if srv_stop:
            srv_stop()
        return
    runs = []
    results[srv.name] = {"runs": runs}
    logstart = fsize(getattr(srv, "maillog", "")) if deliver else 0
    for c in CONC:
        if time_left() < 30:
            log("deadline reached: skipping %s C=%d" % (srv.name, c))
            continue
        if isinstance(srv, Mailwarden) and not srv.alive():
            log("mailwarden is not running any more (exit %s): skipping" % srv.proc.poll())
            results[srv.name]["died"] = True
            break
        log("%s: smtp-source -s %d -m %d -l %d" % (srv.name, c, M, SIZE))
        r = smtp_source({"postfix": PORT_PF, "mailwarden": PORT_MW, "smtp-sink": PORT_SINK}[srv.name],
                        c, M, work, "%s-%d" % (srv.name, c), srv.newdir if deliver else None,
                        srv.master)
        runs.append(r)
        print(HEADER)
        print(fmt_run(srv.name, r), flush=True)
        if r["errors"]:
            log("smtp-source said: %s" % r["errors"])
        time.sleep(2)
    if deliver:
        cnt, lines = grep_problems(srv.maillog, logstart)
        results[srv.name]["log_problems"] = cnt
        results[srv.name]["log_problem_lines"] = lines
        if cnt:
            log("%s log: %d warning/error/reject lines, first: %s" % (srv.name, cnt, lines[:5]))
    if deliver and time_left() > 60 and (not isinstance(srv, Mailwarden) or srv.alive()):
        try:
            results[srv.name]["sync_calls"] = durability_check(
                srv, {"postfix": PORT_PF, "mailwarden": PORT_MW}[srv.name], work)
        except Exception as e:
            log("strace check failed: %s" % e)
    if isinstance(srv, Mailwarden):
        if IDLE > 0 and srv.alive() and time_left() > 60:
            try:
                results[srv.name]["idle"] = idle_test(srv, work)
            except Exception as e:
                log("idle test failed: %s" % e)
                results[srv.name]["idle"] = {"error": str(e)}
        results[srv.name]["notes"] = srv.notes
        results[srv.name]["backlog"] = getattr(srv, "backlog", None)
        lim = []
        for pid in tree(srv.master) if srv.alive() else []:
            try:
                with open("/proc/%d/limits" % pid) as f:
                    for line in f:
                        if line.startswith("Max open files"):
                            lim.append("pid %d: %s" % (pid, " ".join(line.split()[3:5])))
            except OSError:
                pass
        results[srv.name]["nofile"] = "; ".join(lim)
    srv.stop()


def report(results, work):
    print()
    print("=" * 100)
    print("mailwarden benchmark  %s" % time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    print("machine: %s" % machine())
    print("load: smtp-source -s C -m %d -l %d -f %s -t %s (one connection per message)"
          % (M, SIZE, SENDER, RCPT))
    try:
        rev = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        mt = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(MW_BIN)))
    except (OSError, subprocess.SubprocessError):
        rev, dirty, mt = "?", "", "?"
    if os.path.abspath(MW_BIN).startswith(REPO + os.sep):
        what = "tree at %s%s" % (rev or "?", " + uncommitted src changes" if dirty else "")
    else:
        what = "outside this tree"
    if ENV.get("BENCH_MW_LABEL"):
        what += "; " + ENV["BENCH_MW_LABEL"]
    print("mailwarden binary: %s (built %s; %s)" % (MW_BIN, mt, what))
    print("work directory: %s%s" % (work, "" if KEEP else " (removed; BENCH_KEEP=1 keeps it)"))
    print()
    print(HEADER)
    for name in ("postfix", "mailwarden", "smtp-sink"):
        r = results.get(name)
        if r is None:
            continue
        if "error" in r:
            print("%-11s NOT RUN: %s" % (name, r["error"][:300]))
            continue
        for run in r["runs"]:
            print(fmt_run(name, run))
    print()
    pf = {r["sessions"]: r for r in results.get("postfix", {}).get("runs", [])}
    mw = {r["sessions"]: r for r in results.get("mailwarden", {}).get("runs", [])}
    sk = {r["sessions"]: r for r in results.get("smtp-sink", {}).get("runs", [])}

    def ratio(a, b):
        return "%.2fx" % (a / b) if a and b else "-"
    print("%-4s %18s %18s %22s %22s" % ("C", "accepted mw/pf", "delivered mw/pf",
                                         "smtp-sink accepted/s", "mw delivered/ceiling"))
    for c in CONC:
        p, m, s = pf.get(c), mw.get(c), sk.get(c)
        print("%-4d %18s %18s %22s %22s" % (
            c,
            ratio(m and m["accept_rate"], p and p["accept_rate"]),
            ratio(m and m.get("deliver_rate"), p and p.get("deliver_rate")),
            "%.0f" % s["accept_rate"] if s else "-",
            ratio(m and m.get("deliver_rate"), s and s["accept_rate"])))
    print()
    if any(r.get("deliver_complete") is False for d in (pf, mw) for r in d.values()):
        print("* not every accepted message was delivered: rate of those that were, up to the last one")
    print("targets (issue 2): mailwarden delivered >= 2x Postfix at C=10 and C=50; "
          "CPU < 1 ms/msg; idle session < 64 KiB")
    for c in (10, 50):
        p, m = pf.get(c), mw.get(c)
        if p and m and p.get("deliver_rate") and m.get("deliver_rate"):
            rr = m["deliver_rate"] / p["deliver_rate"]
            print("  C=%-3d delivered %.0f/s vs Postfix %.0f/s = %.2fx  -> %s"
                  % (c, m["deliver_rate"], p["deliver_rate"], rr, "MET" if rr >= 2 else "NOT MET"))
    if mw:
        cpus = [r["cpu_ms_per_msg"] for r in mw.values() if r.get("cpu_ms_per_msg") is not None]
        if cpus:
            print("  CPU ms/msg: %s -> %s" % (", ".join("%.2f" % x for x in cpus),
                                              "MET" if max(cpus) < 1 else "NOT MET"))
    idle = results.get("mailwarden", {}).get("idle")
    if idle and "error" not in idle:
        print()
        print("idle sessions (mailwarden): %d requested, %d got a 220 banner, %d refused/closed, "
              "%d other%s" % (idle["sessions_wanted"], idle["established"], idle["refused_or_closed"],
                               idle["other_count"], " (%s)" % idle["other"][:2] if idle["other"] else ""))
        print("  smtp engine pid %d (%s)" % (idle["engine_pid"], idle["engine_how"]))
        print("  smtp engine RSS %d -> %d KiB: %.1f KiB per idle session  -> %s"
              % (idle["rss_before_kib"], idle["rss_after_kib"], idle["kib_per_session"],
                 "MET" if idle["kib_per_session"] < 64 and idle["established"] else "NOT MET"))
        print("  all mailwarden processes RSS %d -> %d KiB: %.1f KiB per idle session"
              % (idle["rss_all_before_kib"], idle["rss_all_after_kib"], idle["kib_per_session_all"]))
        print("  engine RSS after closing them: %d KiB; engine open fds with sessions: %s"
              % (idle["rss_after_close_kib"], idle["engine_fds"]))
        k0, k1 = idle.get("kernel_tcp_kib") or (None, None)
        if k0 is not None and k1 is not None:
            print("  kernel TCP memory, both ends, not in any RSS: %d -> %d KiB" % (k0, k1))
        b, l = idle["baseline"], idle["loaded"]
        print("  %d msgs -s 10 without idle sessions: accepted %.0f/s, delivered %s/s (%d/%d delivered)"
              % (IDLE_MSGS, b["accept_rate"], "%.0f" % b["deliver_rate"] if b.get("deliver_rate") else "-",
                 b.get("delivered", 0), IDLE_MSGS))
        print("  %d msgs -s 10 with %d idle sessions: accepted %.0f/s, delivered %s/s (%d/%d delivered; %s of baseline)"
              % (IDLE_MSGS, idle["established"], l["accept_rate"],
                 "%.0f" % l["deliver_rate"] if l.get("deliver_rate") else "-",
                 l.get("delivered", 0), IDLE_MSGS,
                 ratio(l.get("deliver_rate") or l["accept_rate"],
                       b.get("deliver_rate") or b["accept_rate"])))
        print("  idle sessions still open after that load: %d" % idle["still_open"])
    elif idle:
        print("idle test: %s" % idle["error"])
    sc = [(n, results.get(n, {}).get("sync_calls")) for n in ("postfix", "mailwarden")]
    if any(v for _, v in sc):
        print()
        print("durable-write system calls per delivered message (strace -f -c, %d msgs at -s 10):"
              % STRACE_MSGS)
        for name, v in sc:
            if v:
                print("  %-11s %s" % (name, ", ".join("%s %.2f" % kv for kv in sorted(v["per_message"].items()))
                                      or "none seen"))
    for name in ("postfix", "mailwarden"):
        r = results.get(name, {})
        if r.get("log_problems"):
            print("%s log: %d warning/error/reject lines, e.g. %s" % (
                name, r["log_problems"], r["log_problem_lines"][:3]))
        for n in r.get("notes", []):
            print("%s: %s" % (name, n))
    if results.get("mailwarden", {}).get("backlog") is not None:
        b = results["mailwarden"]["backlog"]
        print("mailwarden listen backlog: %s (net.core.somaxconn %s) -> %s"
              % (b, somaxconn(), "MET" if b >= (somaxconn() or 0) else "NOT the system maximum"))
    if results.get("mailwarden", {}).get("nofile"):
        print("mailwarden RLIMIT_NOFILE (soft hard): %s" % results["mailwarden"]["nofile"])
    print("total bench time %.0f s" % (time.monotonic() - T0))


def main():
    if os.geteuid() != 0:
        sys.exit("smtp_bench.py: run as root (use bench/smtp-bench.sh)")
    work = benchlib.work_dir("mwbench.", TMPPARENT)
    benchlib.interrupt_on(signal.SIGTERM, signal.SIGHUP)
    results = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(),
               "messages": M, "size": SIZE, "mailwarden_bin": MW_BIN}
    log("work directory %s; %d messages per run; C = %s; servers %s"
        % (work, M, CONC, SERVERS))
    try:
        if "postfix" in SERVERS:
            run_server(Postfix(work), work, results)
        if "mailwarden" in SERVERS:
            run_server(Mailwarden(work), work, results)
        if "sink" in SERVERS:
            run_server(Sink(work), work, results, deliver=False)
    except KeyboardInterrupt as e:
        log("interrupted: %s" % e)
    finally:
        benchlib.run_cleanups()
    report(results, work)
    if ENV.get("BENCH_JSON"):
        with open(ENV["BENCH_JSON"], "w") as f:
            json.dump(results, f, indent=1, default=str)
    if not KEEP:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
