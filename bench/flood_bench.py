#!/usr/bin/env python3
"""flood_bench.py - mailwarden under floods (issue 11, "Measured").

Run 1, below the stress point: 7,000 idle sessions held open, 500 AUTH
attempts/s with wrong passwords from 1,000 IPv6 addresses in one /48, and
meanwhile legitimate mail (`smtp-source -s 10`, compared with the same run
unloaded) and a legitimate user logging in again and again (AUTH -> 235
latency). Run 2, past the stress point: more slow clients than
default_process_limit; stress mode cuts them and a legitimate client is
served.

Started by bench/flood-bench.sh (root, raised descriptor limit); the
client processes are in flood_clients.py. See bench/README.md, section
"Floods". Environment knobs (all optional):

  MAILWARDEN_BIN        mailwarden binary (default: REPO/mailwarden)
  BENCH_RUNS            which runs: any of "1 2" (default both)
  BENCH_IDLE            run 1: idle sessions held open (default 7000)
  BENCH_FLOOD_RATE      run 1: AUTH attempts per second, all attackers (default 500)
  BENCH_FLOOD_ADDRS     run 1: attacking IPv6 addresses, one session each (default 1000)
  BENCH_FLOOD_NETS      run 1: /64s they are spread over, inside one /48 (default 100)
  BENCH_FLOOD_DURATION  run 1: seconds of flood (default 40)
  BENCH_MESSAGES        run 1: messages per smtp-source -s 10 run (default 3000)
  BENCH_SOURCE_AT       run 1: start the loaded smtp-source runs this long after
                        the flood, s (default 1)
  BENCH_REPEAT          run 1: smtp-source runs unloaded and loaded (back to back
                        during the flood), the median compared (default 3)
  BENCH_LEGIT_INTERVAL  run 1: seconds between two legitimate logins (default 0.2)
  BENCH_PROCESS_LIMIT   run 1: default_process_limit (default 10000)
  BENCH_AUTH_RATE_LIMIT run 1: smtpd_client_auth_rate_limit (default 0 = off,
                        mailwarden's default; see README for why)
  BENCH_QUIET_WAIT      before run 1, wait up to this long for the host to be under
                        30 % busy (others share the machine), s (default 30)
  BENCH_FAILURE_DELAY   smtpd_sasl_failure_delay (default: mailwarden's, 1s)
  BENCH_STRESS_LIMIT    run 2: default_process_limit (default 200)
  BENCH_SLOW            run 2: slow clients (default 400)
  BENCH_SLOW_EARLY      run 2: of those, started first, below the limit (default 20)
  BENCH_SLOW_EARLY_TIME run 2: how long before the others, s (default 12: more than
                        the stress smtpd_timeout, so they show it is not in force)
  BENCH_TRICKLE         run 2: seconds between two bytes of a slow client (default 2)
  BENCH_STRESS_DURATION run 2: longest wait for the slow clients to be cut, s (default 60)
  BENCH_PORT            the smtpd port (default 2550)
  BENCH_TMPDIR          parent of the work directory (default /var/tmp)
  BENCH_KEEP=1          keep the work directory (configs, maillogs)
  BENCH_MW_EXTRA        extra lines for the mailwarden config ("\\n" ok)

Network: two namespaces made here and removed at exit, joined by a veth
pair: the server's (mailwarden, smtp-source, the legitimate clients and the
idle sessions, all on its loopback; the ban engine's nft table) and the
attackers' (1,000 addresses of 2001:db8:bad::/48 on its loopback, routed
over the veth to the server's 2001:db8:1::25). The attackers cannot live on
the server's own loopback: mailwarden counts the host's addresses in
mynetworks (mynetworks_style = host) and the ban engine ignores them
(ignoreself), so they would be neither limited nor banned. Nothing on the
host changes; clean-up also on Ctrl-C, SIGTERM and errors.
"""
import ipaddress
import multiprocessing as mp
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

import benchlib
from benchlib import (cleanups, comm, envfloat, envint, host_busy, rss_kib, tree, tree_cpu,
                      wait_port)
from flood_clients import (PASSWORD, PORT, SERVER6, T0, USER, bump, flood_proc, legit_login,
                           legit_mail, legit_proc, netns_enter, slow_proc)
from smtp_bench import open_idle, still_open

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ENV = os.environ

MW_BIN = os.path.abspath(ENV.get("MAILWARDEN_BIN") or os.path.join(REPO, "mailwarden"))
RUNS = ENV.get("BENCH_RUNS", "1 2").split()
IDLE = envint("BENCH_IDLE", 7000)
FLOOD_RATE = envfloat("BENCH_FLOOD_RATE", 500)
FLOOD_ADDRS = envint("BENCH_FLOOD_ADDRS", 1000)
FLOOD_NETS = envint("BENCH_FLOOD_NETS", 100)
FLOOD_DURATION = envfloat("BENCH_FLOOD_DURATION", 40)
MESSAGES = envint("BENCH_MESSAGES", 3000)
SOURCE_AT = envfloat("BENCH_SOURCE_AT", 1)
REPEAT = envint("BENCH_REPEAT", 3)
QUIET_WAIT = envfloat("BENCH_QUIET_WAIT", 30)
LEGIT_INTERVAL = envfloat("BENCH_LEGIT_INTERVAL", 0.2)
PROCESS_LIMIT = envint("BENCH_PROCESS_LIMIT", 10000)
AUTH_RATE_LIMIT = envint("BENCH_AUTH_RATE_LIMIT", 0)
FAILURE_DELAY = ENV.get("BENCH_FAILURE_DELAY", "")
STRESS_LIMIT = envint("BENCH_STRESS_LIMIT", 200)
SLOW = envint("BENCH_SLOW", 400)
TRICKLE = envfloat("BENCH_TRICKLE", 2)
STRESS_DURATION = envfloat("BENCH_STRESS_DURATION", 60)
EARLY = envint("BENCH_SLOW_EARLY", 20)
EARLY_S = envfloat("BENCH_SLOW_EARLY_TIME", 12)
TMPPARENT = ENV.get("BENCH_TMPDIR", "/var/tmp")
KEEP = ENV.get("BENCH_KEEP", "") not in ("", "0", "no")

ATTACK48 = "2001:db8:bad"
VMAILBOX = "user@d1.example d1.example/user/\nlegit@d2.example d2.example/legit/\n"
log = benchlib.elapsed_log(T0)
benchlib.set_log(log)


def attack_addrs():
    """FLOOD_ADDRS addresses, round robin over FLOOD_NETS /64s of the /48."""
    return ["%s:%x::%x" % (ATTACK48, i % FLOOD_NETS, 1 + i // FLOOD_NETS)
            for i in range(FLOOD_ADDRS)]


def net64(addr):
    """The /64 of an IPv6 address, as mailwarden writes it."""
    return str(ipaddress.ip_network(addr + "/64", strict=False))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


# ---------------------------------------------------------------- namespaces

def sh(*args):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError("%s: %s" % (" ".join(args[:6]), p.stderr.strip()))
    return p.stdout


class Net:
    """Server and attacker namespaces joined by a veth pair, IPv6 routed
    through fixed link-local next hops (no neighbour entry per attacker)."""

    def __init__(self):
        tag = os.getpid() % 100000
        self.srv, self.atk = "mwflsrv%d" % tag, "mwflatk%d" % tag
        self.made = []

    def create(self, addrs):
        for ns in (self.srv, self.atk):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "mwfl0", "netns", self.srv, "type", "veth",
           "peer", "name", "mwfl1", "netns", self.atk)
        for ns, dev, ll in ((self.srv, "mwfl0", "fe80::1"), (self.atk, "mwfl1", "fe80::2")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "-6", "addr", "add", ll + "/64", "dev", dev, "nodad")
        sh("ip", "-n", self.srv, "-6", "addr", "add", SERVER6 + "/128", "dev", "lo", "nodad")
        sh("ip", "-n", self.srv, "-6", "route", "add", ATTACK48 + "::/48", "via", "fe80::2",
           "dev", "mwfl0")
        sh("ip", "-n", self.atk, "-6", "route", "add", SERVER6 + "/128", "via", "fe80::1",
           "dev", "mwfl1")
        batch = "".join("address add %s/128 dev lo nodad\n" % a for a in addrs)
        p = subprocess.run(["ip", "-n", self.atk, "-batch", "-"], input=batch, text=True,
                           capture_output=True)
        if p.returncode:
            raise RuntimeError("adding the attackers' addresses: %s" % p.stderr.strip()[:300])
        log("namespaces %s (server) and %s (%d attacking addresses in %d /64s of %s::/48)"
            % (self.srv, self.atk, len(addrs), len({net64(a) for a in addrs}), ATTACK48))
        return self

    def destroy(self):
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made = []


# ---------------------------------------------------------------- mailwarden

class Mailwarden:
    """One instance in WORK/TAG with its own queue, data directory, mail,
    maillog and password file; the smtpd listener takes AUTH without TLS
    (as tests/integ/test_netns_ban.py); the classic postfix-sasl jail
    (the warden feeds it from the engine's events, its logpath being the
    maillog) bans with nft in the server namespace."""

    def __init__(self, work, tag, settings):
        self.d = os.path.join(work, tag)
        self.conf = os.path.join(self.d, "mailwarden.conf")
        self.maillog = os.path.join(self.d, "maillog")
        self.newdir = os.path.join(self.d, "mail", "d1.example", "user", "new")
        self.settings = settings
        self.proc = None
        self.master = None

    def start(self):
        d = self.d
        benchlib.mailwarden_dir(d, ("mail",), VMAILBOX)
        pw = subprocess.run([MW_BIN, "passwd", USER], input=PASSWORD + "\n", text=True,
                            capture_output=True, check=True).stdout.strip()
        with open(os.path.join(d, "passwd"), "w") as f:
            f.write(pw + "\n")
        os.chmod(os.path.join(d, "passwd"), 0o600)
        self.lines = benchlib.write_mw_conf(self.conf, [
            "# bench/flood_bench.py",
            "smtpd_listen = 127.0.0.1:%d, [%s]:%d" % (PORT, SERVER6, PORT),
            "myhostname = flood.example",
            "mydestination = localhost",
            "queue_directory = %s/spool" % d,
            "data_directory = %s/data" % d,
            "virtual_mailbox_base = %s/mail" % d,
            "virtual_mailbox_domains = d1.example d2.example",
            "virtual_mailbox_maps = texthash:%s/vmailbox" % d,
            "maillog_file = %s" % self.maillog,
            "dns_servers = 127.0.0.1:9",
            "smtpd_sasl_auth_enable = yes",
            "smtpd_sasl_type = passwd-file",
            "smtpd_sasl_path = %s/passwd" % d,
            "smtpd_tls_auth_only = no",
        ] + (["smtpd_sasl_failure_delay = %s" % FAILURE_DELAY] if FAILURE_DELAY else [])
          + self.settings + [
            "[postfix-sasl]",
            "enabled  = true",
            "filter   = postfix[mode=auth]",
            "logpath  = %s" % self.maillog,
            "port     = %d" % PORT,
            "maxretry = 2",
            "findtime = 1d",
            "bantime  = 1w",
        ])
        p = benchlib.check_config(MW_BIN, self.conf)
        if p.returncode != 0:
            raise RuntimeError("check-config: %s" % (p.stdout + p.stderr).strip())
        cleanups.append(self.stop)
        out = open(os.path.join(d, "stdout-stderr.log"), "ab")
        self.proc = subprocess.Popen([MW_BIN, "-c", self.conf], stdout=out, stderr=out,
                                     stdin=subprocess.DEVNULL, cwd=d)
        self.master = self.proc.pid
        wait_port(PORT)
        end = time.monotonic() + 15
        while self.cli("status").returncode != 0:
            if time.monotonic() > end:
                raise RuntimeError("the ban engine does not answer: %s"
                                   % "".join(benchlib.tail(self.maillog, 8)))
            time.sleep(0.2)
        log("mailwarden %s started: pid %d, children %s" % (
            os.path.basename(d), self.master,
            " ".join("%d:%s" % (k, comm(k, "?")) for k in tree(self.master)[1:])))

    def cli(self, *args):
        return subprocess.run([MW_BIN, "-c", self.conf] + list(args), capture_output=True,
                              text=True, timeout=30)

    def rss(self):
        """[(comm, pid, RSS KiB)] of every process of the instance."""
        return [(comm(p, "?"), p, rss_kib(p)) for p in tree(self.master)]

    def log_text(self):
        with open(self.maillog, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        ours = benchlib.tree_ids(p.pid)
        benchlib.terminate(p)
        time.sleep(0.3)
        left = benchlib.leftovers(ours, p.pid)
        if left:
            log("mailwarden children %s still running after the parent exited: SIGKILL" % left)
            benchlib.kill_pids(left)
        log("mailwarden %s stopped (exit %s)" % (os.path.basename(self.d), p.returncode))


# ---------------------------------------------------------------- legitimate traffic

def count_files(path):
    try:
        return len(os.listdir(path))
    except FileNotFoundError:
        return 0


def smtp_source(mw, tag, others=(), stall=20):
    """smtp-source -s 10 -m MESSAGES from 127.0.0.1: delivered rate =
    messages / time from its start until the last one is in the mailbox.
    CPU in cores over that time: the whole host, mailwarden's processes,
    smtp-source, and the bench's client processes `others` (name, pid)."""
    base = count_files(mw.newdir)
    args = ["smtp-source", "-s", "10", "-m", str(MESSAGES), "-l", "4096",
            "-f", "sender@example.org", "-t", "user@d1.example", "127.0.0.1:%d" % PORT]
    err = open(os.path.join(mw.d, "smtp-source.%s.err" % tag), "wb")
    cpu0 = [host_busy(), tree_cpu(mw.master)] + [tree_cpu(pid) for _, pid in others]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
    last, t_last = base, t0
    while True:
        now = time.monotonic()
        n = count_files(mw.newdir)
        if n != last:
            last, t_last = n, now
        if n - base >= MESSAGES or now - t_last > stall:
            break
        time.sleep(0.02)
    if p.poll() is None:
        p.kill()
    p.wait()
    el = time.monotonic() - t0
    cpu1 = [host_busy(), tree_cpu(mw.master)] + [tree_cpu(pid) for _, pid in others]
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = last - base
    cores = [("host", (cpu1[0] - cpu0[0]) / el), ("mailwarden", (cpu1[1] - cpu0[1]) / el),
             ("smtp-source", (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / el)]
    cores += [(name, (b - a) / el) for (name, _), a, b in zip(others, cpu0[2:], cpu1[2:])]
    cores.append(("rest of the host", cores[0][1] - sum(c for _, c in cores[1:])))
    r = {"tag": tag, "delivered": done, "rc": p.returncode, "span_s": t_last - t0,
         "rate": done / (t_last - t0) if done else 0.0, "complete": done >= MESSAGES,
         "t_start": t0 - T0, "cores": cores}
    log("smtp-source %s: %d of %d delivered in %.2f s = %.0f/s%s; cores %s" % (
        tag, done, MESSAGES, r["span_s"], r["rate"], "" if r["complete"] else " (INCOMPLETE)",
        " ".join("%s %.2f" % c for c in cores)))
    return r


def median_run(runs):
    """The run with the median delivered rate, and every rate."""
    r = dict(sorted(runs, key=lambda x: x["rate"])[len(runs) // 2])
    r["rates"] = [x["rate"] for x in runs]
    r["runs"] = runs
    r["complete"] = all(x["complete"] for x in runs)
    return r


def qget(q, proc, timeout):
    end = time.monotonic() + timeout
    while True:
        try:
            return q.get(timeout=0.5)
        except Exception:  # noqa: BLE001 (queue.Empty)
            if not proc.is_alive() or time.monotonic() > end:
                raise RuntimeError("client process %s gave no result (exit %s)"
                                   % (proc.name, proc.exitcode))


# ---------------------------------------------------------------- run 1

def parse_run1(text, nets):
    """From the maillog: SASL failures of the attackers (each one a password
    hashed, except the 'too many authentications in progress' answers that
    never reached a worker), per /64; whether a /64 still had passwords
    hashed after its Ban line; refusals at accept; rate-limit hits."""
    fails, after_ban, banned_at = {}, {}, {}
    tempfail = rate_limited = rate_limited_other = refused = stress = legit_fail = 0
    seccomp = []
    ban_re = re.compile(r"\[postfix-sasl\] the ban of \S+ covers (%s:[0-9a-f:]*/64)" % ATTACK48)
    fail_re = re.compile(r"\[(%s:[0-9a-f:]+)\]: SASL \w+ authentication failed: (.*)" % ATTACK48)
    for i, line in enumerate(text.splitlines()):
        m = ban_re.search(line)
        if m:
            banned_at.setdefault(m.group(1), i)
            continue
        m = fail_re.search(line)
        if m:
            if m.group(2).startswith("too many authentications"):
                tempfail += 1
                continue
            n = net64(m.group(1))
            bump(fails, n)
            if n in banned_at:
                bump(after_ban, n)
            continue
        if "banned by the ban engine" in line:
            refused += 1
        elif "AUTH command rate limit exceeded" in line:
            if "[%s:" % ATTACK48 in line:
                rate_limited += 1
            else:
                rate_limited_other += 1
        elif "has reached its process limit" in line:
            stress += 1
        elif "seccomp violation" in line:
            seccomp.append(line.split(": ", 1)[-1])
        elif "[127.0.0.1]: SASL" in line:
            legit_fail += 1
    return {"hashed": sum(fails.values()), "hashed_per_net": fails, "after_ban": after_ban,
            "ban_lines": len(banned_at), "nets_used": len(nets), "tempfail": tempfail,
            "rate_limited": rate_limited, "rate_limited_other": rate_limited_other,
            "refused_at_accept": refused,
            "stress_lines": stress, "legit_fail_lines": legit_fail, "seccomp": seccomp}


def wait_quiet():
    """Wait (bounded) for the host to be under 30 % busy; its busy share."""
    end = time.monotonic() + QUIET_WAIT
    while True:
        h0, t0 = host_busy(), time.monotonic()
        time.sleep(1)
        busy = (host_busy() - h0) / (time.monotonic() - t0) / os.cpu_count()
        if busy < 0.3 or time.monotonic() > end:
            log("host %.0f %% busy before the run" % (100 * busy))
            return busy


def run1(work, net, addrs):
    settings = ["default_process_limit = %d" % PROCESS_LIMIT]
    if AUTH_RATE_LIMIT:
        settings.append("smtpd_client_auth_rate_limit = %d" % AUTH_RATE_LIMIT)
    mw = Mailwarden(work, "run1", settings)
    busy = wait_quiet()
    mw.start()
    res = {"config": [x for x in mw.lines if not x.startswith("#") and work not in x],
           "busy_before": busy}
    res["rss_start"] = mw.rss()
    first = legit_login()
    if first.get("code") != 235:
        raise RuntimeError("the legitimate login fails without load: %s" % first)
    res["unloaded"] = median_run([smtp_source(mw, "unloaded-%d" % i) for i in range(REPEAT)])
    res["quiet_logins"] = [legit_login() for _ in range(10)]
    log("opening %d idle sessions" % IDLE)
    t = time.monotonic()
    socks, ok, refused, other = open_idle(IDLE, PORT)
    res["idle"] = {"wanted": IDLE, "ok": len(ok), "refused": refused, "other": other[:3],
                   "open_s": time.monotonic() - t}
    log("idle sessions: %d with a banner, %d refused, %d other, in %.1f s"
        % (len(ok), refused, len(other), res["idle"]["open_s"]))
    res["rss_idle"] = mw.rss()
    res["idle_only"] = smtp_source(mw, "idle-only")
    fq, lq = mp.Queue(), mp.Queue()
    t0 = time.monotonic()
    cpu0 = tree_cpu(mw.master)
    fp = mp.Process(target=flood_proc, name="flood", daemon=True,
                    args=(net.atk, addrs, FLOOD_RATE, FLOOD_DURATION, fq))
    lp = mp.Process(target=legit_proc, name="legit", daemon=True,
                    args=(t0 + FLOOD_DURATION, LEGIT_INTERVAL, lq))
    fp.start()
    lp.start()
    res["flood_t0"] = t0 - T0
    log("flood started: %.0f attempts/s from %d addresses for %.0f s; legitimate logins "
        "every %.2f s" % (FLOOD_RATE, len(addrs), FLOOD_DURATION, LEGIT_INTERVAL))
    time.sleep(SOURCE_AT)
    res["loaded"] = median_run([smtp_source(mw, "loaded-%d" % i, (
        ("flood client", fp.pid), ("login client", lp.pid))) for i in range(REPEAT)])
    res["legit"] = qget(lq, lp, FLOOD_DURATION + 60)
    res["flood"] = qget(fq, fp, FLOOD_DURATION + 60)
    fp.join(10)
    lp.join(10)
    res["server_cores"] = (tree_cpu(mw.master) - cpu0) / (time.monotonic() - t0)
    res["rss_end"] = mw.rss()
    res["idle"]["still_open"] = still_open(ok)
    banned = mw.cli("banned").stdout.split("\n")
    res["banned"] = sorted({b.split("\t")[1] for b in banned if "\t" in b})
    res["status"] = mw.cli("status", "postfix-sasl").stdout
    for s in socks:
        s.close()
    time.sleep(1)
    res["rss_closed"] = mw.rss()
    res["unloaded_after"] = smtp_source(mw, "unloaded-after")
    res["alive"] = mw.proc.poll() is None
    mw.stop()
    res["log"] = parse_run1(mw.log_text(), {net64(a) for a in addrs})
    return res


def print_rss(res, keys):
    procs = {}
    for k in keys:
        for name, pid, kib in res[k]:
            procs.setdefault((name, pid), {})[k] = kib
    print("  RSS KiB per process     " + "".join("%12s" % k.replace("rss_", "") for k in keys))
    for (name, pid), v in sorted(procs.items(), key=lambda kv: kv[0][1]):
        print("    %-10s pid %-7d" % (name, pid)
              + "".join("%12s" % (v.get(k, "-")) for k in keys))
    print("    %-22s" % "all" + "".join("%12d" % sum(x[2] for x in res[k]) for k in keys))


def print_seccomp(lines):
    """A process killed by its seccomp filter (the master restarts it) is
    a finding, not a figure: shown with the call."""
    if lines:
        print("  SECCOMP: %d violation(s) in the maillog, e.g. %s" % (len(lines), lines[0][:120]))


def report1(res):
    fl, lg, u, ld = res["flood"], res["log"], res["unloaded"], res["loaded"]
    print()
    print("RUN 1: below the stress point (default_process_limit %d; host %.0f %% busy before it)"
          % (PROCESS_LIMIT, 100 * res["busy_before"]))
    print("  config (paths left out): %s" % "; ".join(res["config"]))
    print("  %d idle sessions requested, %d got a 220 and were held (%.1f s to open); "
          "%d still open at the end" % (res["idle"]["wanted"], res["idle"]["ok"],
                                        res["idle"]["open_s"], res["idle"]["still_open"]))
    dur = FLOOD_DURATION
    print("  flood: %d attempts in %.0f s = %.0f/s from %d addresses in %d /64s of %s::/48"
          % (fl["attempts"], dur, fl["attempts"] / dur, FLOOD_ADDRS, lg["nets_used"], ATTACK48))
    print("    sessions that got a banner and EHLO: %d; AUTH commands sent: %d" %
          (fl["sessions"], fl["auth_sent"]))
    print("    replies to AUTH: %s" % (", ".join("%s %d" % kv for kv in sorted(
        fl["replies"].items(), key=str)) or "none"))
    print("    attempts stopped before AUTH: %s" % (", ".join("%s %d" % kv for kv in sorted(
        fl["blocked"].items())) or "none"))
    secs = sorted(fl["tries_per_s"])
    print("    per second (s: attempts/AUTH sent/535): " + " ".join(
        "%d:%d/%d/%d" % (s, fl["tries_per_s"][s], fl["sent_per_s"].get(s, 0),
                         fl["fail_per_s"].get(s, 0)) for s in secs[:12])
        + (" ..." if len(secs) > 12 else ""))
    print("  password hashing (maillog): %d attacker failures hashed (no counter of hashings "
          "exists; each 'authentication failure' line of an existing user is one), %d answered "
          "'too many authentications in progress' (not hashed), %d refused by "
          "smtpd_client_auth_rate_limit, %d connections refused at accept as banned"
          % (lg["hashed"], lg["tempfail"], lg["rate_limited"], lg["refused_at_accept"]))
    if lg["rate_limited_other"]:
        print("    smtpd_client_auth_rate_limit also refused %d AUTH commands of OTHER clients "
              "(127.0.0.1 is in smtpd_client_event_limit_exceptions)" % lg["rate_limited_other"])
    per = sorted(lg["hashed_per_net"].values())
    if per:
        print("    hashed per /64: min %d, median %d, max %d (maxretry 2)%s" % (
            per[0], statistics.median(per), per[-1],
            "; rate limit %d per /64 per anvil_rate_time_unit" % AUTH_RATE_LIMIT
            if AUTH_RATE_LIMIT else ""))
    ab = lg["after_ban"]
    print("    logged after their /64's Ban line: %d failures in %d /64s (requests already "
          "with the workers when the ban came)" % (sum(ab.values()), len(ab)))
    used = {net64("%s:%x::" % (ATTACK48, i)) for i in range(FLOOD_NETS)}
    b64s = [b for b in res["banned"] if b in used]
    other = [b for b in res["banned"] if b not in used]
    print("  bans: %d of %d flooding /64s banned (`mailwarden banned`)%s; %d Ban lines in the log"
          % (len(b64s), len(used), "; other bans: %s" % other[:5] if other else "",
             lg["ban_lines"]))
    print("  stress-mode warnings during run 1: %d (expected 0)" % lg["stress_lines"])
    ratio = ld["rate"] / u["rate"] if u["rate"] else 0
    print("  legitimate mail, smtp-source -s 10 -m %d -l 4096 from 127.0.0.1 (CPU in cores "
          "over each run):" % MESSAGES)
    for r, what in ((u, "nothing else"), (res["idle_only"], "%d idle sessions" % res["idle"]["ok"]),
                    (ld, "idle sessions + flood"),
                    (res["unloaded_after"], "nothing else, after the flood")):
        print("    %-16s %5.0f/s%s (%d/%d in %.1f s; %s)" % (
            r["tag"], r["rate"], " (median of %s)" % "/".join("%.0f" % x for x in r["rates"])
            if "rates" in r else "", r["delivered"], MESSAGES, r["span_s"], what))
        print("      cores: %s" % ", ".join("%s %.2f" % c for c in r["cores"]))
    # which part of the flood each loaded run saw: the passwords hashed
    # (535 replies) while it ran
    for r in ld["runs"]:
        t1 = r["t_start"] - res["flood_t0"]
        t2 = t1 + r["span_s"]
        hashed = sum(n for sec, n in fl["fail_per_s"].items() if t1 - 1 < sec < t2)
        print("    %-16s %5.0f/s = %3.0f%% of unloaded; %.1f-%.1f s into the flood, attackers "
              "got about %d 535 replies meanwhile" % (r["tag"], r["rate"],
                                                     100 * r["rate"] / u["rate"], t1, t2, hashed))
    print("    loaded/unloaded (medians) = %.0f%%  (target >= 80%%) -> %s"
          % (100 * ratio, "MET" if ratio >= 0.8 and ld["complete"] else "NOT MET"))
    q = [r["auth_ms"] for r in res["quiet_logins"] if r.get("code") == 235]
    lat = [r["auth_ms"] for r in res["legit"] if r.get("code") == 235]
    bad = [r for r in res["legit"] if r.get("code") != 235]
    print("  legitimate logins from 127.0.0.1 (AUTH PLAIN sent -> 235):")
    if q:
        print("    unloaded: %d, p50 %.1f ms, p95 %.1f ms" % (len(q), pct(q, 50), pct(q, 95)))
    if lat:
        print("    loaded:   %d of %d got 235; p50 %.1f ms, p95 %.1f ms, max %.1f ms"
              % (len(lat), len(res["legit"]), pct(lat, 50), pct(lat, 95), max(lat)))
        tot = [r["total_ms"] for r in res["legit"] if r.get("code") == 235]
        print("    whole session (connect .. 235): p50 %.1f ms, p95 %.1f ms"
              % (pct(tot, 50), pct(tot, 95)))
        print("    p95 < 100 ms -> %s" % ("MET" if pct(lat, 95) < 100 and not bad else "NOT MET"))
    for r in bad[:5]:
        print("    failed login: %s" % r)
    print("  server CPU during the flood: %.2f cores (of %d); alive at the end: %s"
          % (res["server_cores"], os.cpu_count(), res["alive"]))
    print_seccomp(lg["seccomp"])
    print_rss(res, ("rss_start", "rss_idle", "rss_end", "rss_closed"))
    print("    (start: before any load; idle: %d idle sessions; end: after the flood, idle "
          "sessions still open; closed: 1 s after closing them)" % res["idle"]["ok"])


# ---------------------------------------------------------------- run 2

def wait_log(mw, pattern, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if re.search(pattern, mw.log_text()):
            return time.monotonic() - T0
        time.sleep(0.1)
    return None


def slow_group(n, first, duration):
    q = mp.Queue()
    p = mp.Process(target=slow_proc, name="slow", daemon=True,
                   args=(n, first, TRICKLE, duration, q))
    p.start()
    return p, q


def run2(work):
    mw = Mailwarden(work, "run2", ["default_process_limit = %d" % STRESS_LIMIT])
    mw.start()
    res = {"rss_start": mw.rss()}
    early = min(EARLY, STRESS_LIMIT // 2)
    # the control: slow clients below the limit are not cut (each byte
    # restarts smtpd_timeout, 300s)
    ep, eq = slow_group(early, 0, EARLY_S + STRESS_DURATION)
    res["early_t0"] = time.monotonic() - T0
    log("%d slow clients (one byte every %.0f s), below default_process_limit %d, for %.0f s"
        % (early, TRICKLE, STRESS_LIMIT, EARLY_S))
    time.sleep(EARLY_S)
    sp, sq = slow_group(SLOW - early, early, STRESS_DURATION)
    res["slow_t0"] = time.monotonic() - T0
    log("%d more slow clients" % (SLOW - early))
    res["t_stress"] = wait_log(mw, r'service "smtp" \(\d+\) has reached its process limit', 15)
    time.sleep(1)
    log("legitimate client connects")
    res["legit"] = legit_mail()
    log("legitimate client: %s" % res["legit"])
    res["rss_stress"] = mw.rss()
    res["slow"] = qget(sq, sp, STRESS_DURATION + 30)
    res["early"] = qget(eq, ep, EARLY_S + STRESS_DURATION + 30)
    sp.join(10)
    ep.join(10)
    text = mw.log_text()
    res["log"] = {k: len(re.findall(p, text)) for k, p in (
        ("limit", r'has reached its process limit'),
        ("stress_on", r"stress mode: smtpd_timeout 10s"),
        ("stress_off", r"stress mode ends"),
        ("timeout", r"timeout after"))}
    res["log_lines"] = [ln for ln in text.splitlines()
                        if "process limit" in ln or "stress mode" in ln][:5]
    res["rss_end"] = mw.rss()
    res["alive"] = mw.proc.poll() is None
    mw.stop()
    res["seccomp"] = [ln.split(": ", 1)[-1] for ln in mw.log_text().splitlines()
                      if "seccomp violation" in ln]
    return res


def report2(res):
    print()
    print("RUN 2: past the stress point (default_process_limit %d, %d slow clients, one byte "
          "every %.0f s)" % (STRESS_LIMIT, SLOW, TRICKLE))
    ts = res["t_stress"]
    print("  process-limit warning: %s" % ("%.1f s after the last %d slow clients started" % (
        ts - res["slow_t0"], SLOW - len(res["early"])) if ts else "NOT SEEN"))
    for ln in res["log_lines"]:
        print("    " + ln[:160])
    print("  log: %(limit)d process-limit warnings, %(stress_on)d stress mode starts, "
          "%(stress_off)d ends, %(timeout)d 'timeout after' lines" % res["log"])
    ts = ts or float("inf")
    ea = res["early"]
    before = [c for c in ea if c["t_cut"] is not None and c["t_cut"] < ts]
    after = [c["t_cut"] - ts for c in ea if c["t_cut"] is not None and c["t_cut"] >= ts]
    print("  %d slow clients below the limit for %.0f s: %d cut before stress mode; after it "
          "began, %d cut within %.1f s, %d never" % (
              len(ea), EARLY_S, len(before), len(after), max(after) if after else 0,
              len(ea) - len(before) - len(after)))
    sl = res["slow"]
    got = [c for c in sl if c["t220"] is not None]
    cut = [c for c in got if c["t_cut"] is not None]
    print("  %d more slow clients: %d got a 220, %d of those were cut, %d clients still open "
          "at the end" % (len(sl), len(got), len(cut), sum(1 for c in sl if c["t_cut"] is None)))
    life = [c["t_cut"] - c["t220"] for c in cut]
    if life:
        print("    from 220 to cut: min %.1f s, p50 %.1f s, max %.1f s; last cut %.1f s after "
              "stress mode began" % (min(life), pct(life, 50), max(life),
                                     max(c["t_cut"] for c in cut) - ts))
        print("    last words to a cut client: %s" % sorted({c["last"][:60] for c in cut})[:3])
    lg = res["legit"]
    if "t250" in lg:
        print("  legitimate client, connected %.1f s after stress mode began: 220 after %.2f s, "
              "message accepted after %.2f s (%s)" % (lg["t"] - ts, lg["t220"], lg["t250"],
                                                      lg["reply"].strip()[:50]))
    else:
        print("  legitimate client: NOT SERVED: %s" % lg)
    print("  alive at the end: %s" % res["alive"])
    print_seccomp(res["seccomp"])
    print_rss(res, ("rss_start", "rss_stress", "rss_end"))


# ---------------------------------------------------------------- main

def main():
    if os.geteuid() != 0:
        sys.exit("flood_bench.py: run as root (network namespaces, nft, privilege drop)")
    benchlib.need_binary(MW_BIN, "build")
    for t in ("smtp-source", "ip"):
        if not shutil.which(t):
            sys.exit("flood_bench.py: %s not found" % t)
    work = benchlib.work_dir("mwflood.", TMPPARENT)
    benchlib.interrupt_on(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    addrs = attack_addrs()
    net = Net()
    cleanups.append(net.destroy)
    results = {}
    try:
        net.create(addrs)
        netns_enter(net.srv)    # this process and all it starts, but the flood
        if "1" in RUNS:
            results["run1"] = run1(work, net, addrs)
        if "2" in RUNS:
            # run 1's bans stay in the kernel after it stopped; run 2 starts
            # without them (its own data directory has none either)
            subprocess.run(["nft", "delete", "table", "inet", "mailwarden"], capture_output=True)
            results["run2"] = run2(work)
    except KeyboardInterrupt as e:
        log("interrupted: %s" % e)
    finally:
        benchlib.run_cleanups()
        del cleanups[:]
    print()
    print("=" * 100)
    print("mailwarden flood bench  %s  binary %s" % (time.strftime("%Y-%m-%d %H:%M:%S %Z"), MW_BIN))
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    print("machine: %d cores, load average %s" % (os.cpu_count(), load))
    if "run1" in results:
        report1(results["run1"])
    if "run2" in results:
        report2(results["run2"])
    print("work directory: %s%s" % (work, "" if KEEP else " (removed; BENCH_KEEP=1 keeps it)"))
    print("total %.0f s" % (time.monotonic() - T0))
    if not KEEP:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
