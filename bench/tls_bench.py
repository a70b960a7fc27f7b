#!/usr/bin/env python3
"""tls_bench.py - TLS handshakes and AUTH under a password flood:
mailwarden vs a private Postfix 3.7 instance, in one run.

Run as root (bench/tls-bench.sh, or python3 bench/tls_bench.py). See
bench/README.md, section "TLS and AUTH". Environment knobs (all optional):

  MAILWARDEN_BIN        mailwarden binary (default REPO/build-tlsbench/mailwarden)
  BENCH_TLS_CLIENTS     client processes for the handshake runs; a list, one run
                        each (default "4 16": 4 is latency-bound, see README)
  BENCH_TLS_DURATION    seconds per handshake run (default 10)
  BENCH_FLOOD_RATE      wrong passwords per second, all attackers (default 500)
  BENCH_FLOOD_DURATION  seconds per flood run (default 30)
  BENCH_FLOOD_DELAYS    smtpd_sasl_failure_delay values, one flood run each
                        (default "0 1s")
  BENCH_FLOOD_MAX_SESSIONS  most attacker sessions (default 1000)
  BENCH_FLOOD_START_SESSIONS  attacker sessions at the start (default 20)
  BENCH_PARTS           which parts: any of "smtps starttls flood" (default all)
  BENCH_SERVERS         which servers for the handshake parts: "mailwarden postfix"
  BENCH_TMPDIR          parent of the work directory (default /var/tmp)
  BENCH_KEEP=1          keep the work directory (configs, certificates, logs)
  BENCH_MW_EXTRA        extra lines for the mailwarden config ("\\n" ok)
  PORT_MW_SMTP / PORT_MW_SMTPS / PORT_PF_SMTP / PORT_PF_SMTPS
                        (2545 / 2546 / 2547 / 2548)

Nothing is installed; the system Postfix (/etc/postfix) is never touched.
Both servers and the work directory are removed at the end, also on
Ctrl-C, SIGTERM or an error.
"""
import asyncio
import base64
import multiprocessing as mp
import os
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time

import benchlib
from benchlib import (cleanups, comm, envfloat, envint, host_busy, port_open, tail, tree,
                      tree_cpu, wait_port)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ENV = os.environ

MW_BIN = ENV.get("MAILWARDEN_BIN") or os.path.join(REPO, "build-tlsbench", "mailwarden")
CLIENTS = [int(x) for x in ENV.get("BENCH_TLS_CLIENTS", "4 16").split()]
DURATION = envfloat("BENCH_TLS_DURATION", 10)
FLOOD_RATE = envfloat("BENCH_FLOOD_RATE", 500)
FLOOD_DURATION = envfloat("BENCH_FLOOD_DURATION", 30)
FLOOD_DELAYS = ENV.get("BENCH_FLOOD_DELAYS", "0 1s").split()
FLOOD_MAX = envint("BENCH_FLOOD_MAX_SESSIONS", 1000)
FLOOD_START = envint("BENCH_FLOOD_START_SESSIONS", 20)
PARTS = ENV.get("BENCH_PARTS", "smtps starttls flood").split()
SERVERS = ENV.get("BENCH_SERVERS", "mailwarden postfix").split()
TMPPARENT = ENV.get("BENCH_TMPDIR", "/var/tmp")
KEEP = ENV.get("BENCH_KEEP", "") not in ("", "0", "no")
PORT_MW = envint("PORT_MW_SMTP", 2545)
PORT_MWS = envint("PORT_MW_SMTPS", 2546)
PORT_PF = envint("PORT_PF_SMTP", 2547)
PORT_PFS = envint("PORT_PF_SMTPS", 2548)
LEGIT_ADDR = "127.0.0.5"
ATTACK_ADDRS = ["127.0.%d.%d" % (a, b) for a in (1, 2, 3) for b in range(1, 255)]
USER = "legit@d1.example"
PASSWORD = "legit-secret-1"
T0 = time.monotonic()
log = benchlib.elapsed_log(T0)
benchlib.set_log(log)


# ---------------------------------------------------------------- SMTP client bits

class Conn:
    """Blocking SMTP client over a socket that may become TLS."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def reply(self):
        """(code, [lines]); code None on EOF."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                d = self.s.recv(4096)
                if not d:
                    return None, lines
                self.buf += d
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode(errors="replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                try:
                    return int(line[:3]), lines
                except ValueError:
                    return -1, lines

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        return self.reply()

    def expect(self, code, what):
        c, lines = self.reply()
        if c != code:
            raise RuntimeError("%s: expected %d, got %s %s" % (what, code, c, lines[-1:] or "EOF"))
        return lines

    def cmd_expect(self, text, code):
        self.s.sendall(text.encode() + b"\r\n")
        return self.expect(code, text.split()[0])


def client_ctx():
    # No verification (the client's cost stays small and the same for both
    # servers); a fresh SSL object per connection and no session= argument,
    # so no resumption.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def session_smtps(ctx, port, src=None, timeout=10):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                   source_address=(src, 0) if src else None)
    try:
        s = ctx.wrap_socket(raw)
        c = Conn(s)
        c.expect(220, "banner")
        c.cmd_expect("QUIT", 221)
        return s.version(), s.cipher()
    finally:
        raw.close()


def session_starttls(ctx, port, timeout=10):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c = Conn(raw)
        c.expect(220, "banner")
        c.cmd_expect("EHLO client.example", 250)
        c.cmd_expect("STARTTLS", 220)
        s = ctx.wrap_socket(raw)
        c = Conn(s)
        c.cmd_expect("EHLO client.example", 250)
        c.cmd_expect("QUIT", 221)
        return s.version(), s.cipher()
    finally:
        raw.close()


def hs_worker(kind, port, start_at, duration, q):
    ctx = client_ctx()
    fn = session_smtps if kind == "smtps" else session_starttls
    n, errs, first_err, lat = 0, 0, None, []
    while time.monotonic() < start_at:
        time.sleep(0.001)
    end = start_at + duration
    while time.monotonic() < end:
        t = time.monotonic()
        try:
            fn(ctx, port)
            n += 1
            lat.append(time.monotonic() - t)
        except Exception as e:  # noqa
            errs += 1
            first_err = first_err or repr(e)
            time.sleep(0.01)
    q.put((n, errs, first_err, time.monotonic(), lat))


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def handshake_run(kind, server, port, master, nclients):
    ctx = client_ctx()
    fn = session_smtps if kind == "smtps" else session_starttls
    try:
        ver, cipher = fn(ctx, port)
    except Exception as e:  # noqa
        log("%s %s probe failed: %r" % (server, kind, e))
        return {"server": server, "kind": kind, "error": repr(e), "clients": nclients}
    q = mp.Queue()
    start_at = time.monotonic() + 0.5
    procs = [mp.Process(target=hs_worker, args=(kind, port, start_at, DURATION, q))
             for _ in range(nclients)]
    for p in procs:
        p.start()
    while time.monotonic() < start_at:
        time.sleep(0.001)
    cpu0, host0 = tree_cpu(master), host_busy()
    res = [qget(q, procs[0], DURATION + 60) for _ in procs]
    cpu1, host1 = tree_cpu(master), host_busy()
    for p in procs:
        p.join(10)
    n = sum(r[0] for r in res)
    errs = sum(r[1] for r in res)
    el = max(r[3] for r in res) - start_at
    lat = [x for r in res for x in r[4]]
    r = {"server": server, "kind": kind, "clients": nclients, "sessions": n, "errors": errs,
         "first_error": next((x[2] for x in res if x[2]), None), "elapsed": el,
         "rate": n / el, "cpu_ms": (cpu1 - cpu0) * 1000 / n if n else None,
         "host_ms": (host1 - host0) * 1000 / n if n else None,
         "server_cores": (cpu1 - cpu0) / el,
         "lat_med": pct(lat, 50) * 1000, "lat_p95": pct(lat, 95) * 1000,
         "version": ver, "cipher": cipher}
    log("%-10s %-8s c=%-3d %6d sessions in %.1fs = %7.1f/s  server CPU %.2f ms/session "
        "(%.2f cores)  errors %d  [%s %s]" % (
            server, kind, nclients, n, el, r["rate"], r["cpu_ms"] or 0, r["server_cores"], errs,
            ver, cipher[0]))
    if errs:
        log("  first error: %s" % r["first_error"])
    return r


# ---------------------------------------------------------------- certificates, passwords

def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_material(d):
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    key, csr, crt, ext = (os.path.join(d, "mx." + x) for x in ("key", "csr", "crt", "ext"))
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
        "-out", ca, "-days", "30", "-subj", "/CN=mailwarden bench CA")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:mx.bench.example\n")
    run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
        "-out", csr, "-subj", "/CN=mx.bench.example")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
        "-CAcreateserial", "-out", crt, "-days", "30", "-extfile", ext)
    os.chmod(key, 0o600)
    chain = os.path.join(d, "mx.chain.crt")     # server cert + CA, for both servers
    with open(chain, "w") as out:
        for p in (crt, ca):
            out.write(open(p).read())
    passwd = os.path.join(d, "passwd")
    h = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", PASSWORD], check=True,
                       capture_output=True, text=True).stdout.strip()
    with open(passwd, "w") as f:
        f.write("%s:%s\n" % (USER, h))
    os.chmod(passwd, 0o600)
    return chain, key, passwd, h

# ---------------------------------------------------------------- Postfix

PF_MASTER = ("# private benchmark instance: no chroot\n"
             "127.0.0.1:{port} inet n - n - - smtpd\n"
             "127.0.0.1:{sport} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes "
             "-o smtpd_sasl_auth_enable=no\n" + benchlib.pf_services())

PF_MAIN = benchlib.pf_main(
    "# private TLS benchmark instance; everything not set here is Postfix 3.7's default\n",
    "pfbench.example", "postfix-tlsbench", benchlib.pf_virtual("d1.example"),
    "smtpd_tls_cert_file = {cert}\n"
    "smtpd_tls_key_file = {key}\n"
    "smtpd_tls_security_level = may\n")

VMAILBOX = "legit@d1.example d1.example/legit/\n"


class Postfix(benchlib.PrivatePostfix):
    subdirs = ("conf", "spool", "data", "mail")

    def __init__(self, work, cert, key):
        super().__init__(work, [PORT_PF, PORT_PFS])
        self.cert, self.key = cert, key

    def write_config(self):
        nobody = self.mail_owner()
        self.write_conf_file("main.cf", PF_MAIN.format(d=self.d, uid=nobody.pw_uid,
                                                       gid=nobody.pw_gid, cert=self.cert,
                                                       key=self.key))
        self.write_conf_file("master.cf", PF_MASTER.format(port=PORT_PF, sport=PORT_PFS))
        self.write_conf_file("vmailbox", VMAILBOX)

    def ready(self):
        super().ready()
        return ", smtpd on %d, smtps on %d" % (PORT_PF, PORT_PFS)


# ---------------------------------------------------------------- mailwarden

class Mailwarden:
    name = "mailwarden"

    def __init__(self, work, tag, cert, key, passwd, extra=()):
        self.d = os.path.join(work, "mailwarden-" + tag)
        self.confpath = os.path.join(self.d, "mailwarden.conf")
        self.maillog = os.path.join(self.d, "maillog")
        self.out = os.path.join(self.d, "stdout-stderr.log")
        self.cert, self.key, self.passwd, self.extra = cert, key, passwd, list(extra)
        self.proc = None
        self.master = None

    def start(self):
        benchlib.need_binary(MW_BIN, "build-tlsbench")
        for p in (PORT_MW, PORT_MWS):
            if port_open(p):
                raise RuntimeError("port %d already in use" % p)
        d = self.d
        benchlib.mailwarden_dir(d, ("spool", "mail"), VMAILBOX)
        self.conf_lines = benchlib.write_mw_conf(self.confpath, [
            "# mailwarden TLS benchmark config (bench/tls_bench.py)",
            "smtpd_listen = 127.0.0.1:%d" % PORT_MW,
            "smtps_listen = 127.0.0.1:%d" % PORT_MWS,
            "myhostname = mwbench.example",
            "mydestination = localhost",
            "queue_directory = %s/spool" % d,
            "virtual_mailbox_base = %s/mail" % d,
            "virtual_mailbox_domains = d1.example",
            "virtual_mailbox_maps = texthash:%s/vmailbox" % d,
            "maillog_file = %s" % self.maillog,
            "dns_servers = 127.0.0.1:9",
            "smtpd_tls_cert_file = %s" % self.cert,
            "smtpd_tls_key_file = %s" % self.key,
            "smtpd_tls_security_level = may",
            "smtpd_sasl_auth_enable = yes",
            "smtpd_sasl_type = passwd-file",
            "smtpd_sasl_path = %s" % self.passwd,
        ] + self.extra)
        p = benchlib.check_config(MW_BIN, self.confpath)
        if p.returncode != 0:
            raise RuntimeError("mailwarden check-config failed (rc %d): %s" % (
                p.returncode, (p.stdout + p.stderr).strip()))
        cleanups.append(self.stop)
        fo = open(self.out, "ab")
        self.proc = subprocess.Popen([MW_BIN, "-c", self.confpath], stdout=fo, stderr=fo,
                                     stdin=subprocess.DEVNULL, cwd=d)
        self.master = self.proc.pid
        try:
            wait_port(PORT_MW)
            wait_port(PORT_MWS)
        except RuntimeError as e:
            raise RuntimeError("%s; exit=%s; output: %s; log: %s" % (
                e, self.proc.poll(), "".join(tail(self.out, 10)), "".join(tail(self.maillog, 10))))
        time.sleep(0.3)
        kids = ["%d:%s" % (k, comm(k, "?")) for k in tree(self.master)[1:]]
        log("mailwarden started: pid %d, children %s, smtpd on %d, smtps on %d%s" % (
            self.master, kids, PORT_MW, PORT_MWS,
            (" (" + ", ".join(self.extra) + ")") if self.extra else ""))

    def stop(self):
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        ours = benchlib.tree_ids(p.pid)
        benchlib.terminate(p)
        time.sleep(0.3)
        for pid in benchlib.leftovers(ours, p.pid):
            log("mailwarden child %d still running after the parent exited: SIGKILL" % pid)
            benchlib.kill_pids([pid])
        log("mailwarden stopped (exit %s)" % p.returncode)


# ---------------------------------------------------------------- AUTH flood

def b64(s):
    return base64.b64encode(s.encode()).decode()


AUTH_BAD = ("AUTH PLAIN " + b64("\0%s\0wrong-password" % USER) + "\r\n").encode()


async def a_reply(r):
    """Read one (possibly multi-line) reply: code, or None on EOF."""
    while True:
        line = await r.readline()
        if not line:
            return None
        if len(line) < 4 or line[3:4] != b"-":
            try:
                return int(line[:3])
            except ValueError:
                return -1


class Pacer:
    """Token bucket without burst: one token every 1/rate s; unused slots
    are lost (a shortfall shows as a lower achieved rate)."""

    def __init__(self, rate):
        self.gap = 1.0 / rate
        self.next = time.monotonic()
        self.waiting = 0

    async def take(self):
        now = time.monotonic()
        t = max(now, self.next)
        self.next = t + self.gap
        if t > now:
            self.waiting += 1
            try:
                await asyncio.sleep(t - now)
            finally:
                self.waiting -= 1


async def attacker(i, port, pacer, st, stop):
    src = ATTACK_ADDRS[i % len(ATTACK_ADDRS)]
    ctx = client_ctx()
    while not stop.is_set():
        w = None
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", port, ssl=ctx, local_addr=(src, 0), server_hostname=None,
                limit=65536), 30)
            st["connects"] += 1
            code = await asyncio.wait_for(a_reply(r), 30)
            if code != 220:
                st["banner_" + str(code)] = st.get("banner_" + str(code), 0) + 1
                await asyncio.sleep(0.5)
                continue
            w.write(b"EHLO attacker.example\r\n")
            code = await asyncio.wait_for(a_reply(r), 30)
            if code != 250:
                st["ehlo_" + str(code)] = st.get("ehlo_" + str(code), 0) + 1
                continue
            while not stop.is_set():
                await pacer.take()
                if stop.is_set():
                    break
                w.write(AUTH_BAD)
                st["sent"] += 1
                code = await asyncio.wait_for(a_reply(r), 120)
                now = time.monotonic()
                if code == 535:
                    st["535"] += 1
                    sec = int(now - st["t0"])
                    st["per_sec"][sec] = st["per_sec"].get(sec, 0) + 1
                    continue
                key = "EOF" if code is None else str(code)
                st["other"][key] = st["other"].get(key, 0) + 1
                break       # 421 (too many errors) or anything else: reconnect
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa
            k = type(e).__name__
            st["errors"][k] = st["errors"].get(k, 0) + 1
            await asyncio.sleep(0.2)
        finally:
            if w is not None:
                try:
                    w.transport.abort()
                except Exception:  # noqa
                    pass


async def flood_main(port, rate, duration, max_sessions, start_sessions, q):
    st = {"sent": 0, "535": 0, "connects": 0, "other": {}, "errors": {}, "per_sec": {},
          "t0": time.monotonic()}
    stop = asyncio.Event()
    pacer = Pacer(rate)
    tasks = []

    def add(n):
        for _ in range(n):
            tasks.append(asyncio.ensure_future(attacker(len(tasks), port, pacer, st, stop)))
    add(min(start_sessions, max_sessions))
    trace = []
    end = st["t0"] + duration
    hist = [(time.monotonic(), 0)]
    while time.monotonic() < end:
        await asyncio.sleep(0.5)
        now = time.monotonic()
        hist.append((now, st["sent"]))
        t_old, n_old = next(h for h in hist if h[0] >= now - 1.05)
        achieved = (st["sent"] - n_old) / max(now - t_old, 0.1)
        # the attempts of the last second short of the target (the sessions
        # are all busy waiting for replies): more sessions, up to the cap
        if achieved < 0.95 * rate and now - st["t0"] > 0.9 and len(tasks) < max_sessions:
            add(min(max_sessions - len(tasks), max(20, len(tasks) // 2)))
        trace.append((round(now - st["t0"], 1), len(tasks), st["535"]))
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    st["sessions"] = len(tasks)
    st["trace"] = trace
    q.put(st)


def flood_proc(port, rate, duration, max_sessions, start_sessions, q):
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    except (OSError, ValueError):
        pass
    asyncio.run(flood_main(port, rate, duration, max_sessions, start_sessions, q))


def legit_proc(port, start_at, end_at, q):
    """Once per second: fresh TLS session from 127.0.0.5, EHLO, AUTH PLAIN
    with the right password; latency = AUTH sent -> 235 received."""
    ctx = client_ctx()
    auth = "AUTH PLAIN " + b64("\0%s\0%s" % (USER, PASSWORD))
    out = []
    nxt = start_at
    while nxt < end_at:
        while time.monotonic() < nxt:
            time.sleep(max(0.0, min(0.01, nxt - time.monotonic())))
        t_conn = time.monotonic()
        rec = {"t": t_conn}
        raw = None
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=30,
                                           source_address=(LEGIT_ADDR, 0))
            s = ctx.wrap_socket(raw)
            c = Conn(s)
            c.expect(220, "banner")
            c.cmd_expect("EHLO legit.example", 250)
            rec["connect_ms"] = (time.monotonic() - t_conn) * 1000
            t = time.monotonic()
            code, lines = c.cmd(auth)
            rec["auth_ms"] = (time.monotonic() - t) * 1000
            rec["code"] = code
            if code != 235:
                rec["reply"] = lines[-1:] if lines else "EOF"
            c.cmd("QUIT")
        except Exception as e:  # noqa
            rec["error"] = repr(e)
            rec["auth_ms"] = None
        finally:
            if raw is not None:
                raw.close()
        out.append(rec)
        nxt += 1.0
    q.put(out)


def qget(q, proc, timeout):
    """The result a child puts on q; an error at once if the child died."""
    end = time.monotonic() + timeout
    while True:
        try:
            return q.get(timeout=0.5)
        except Exception:  # noqa  (queue.Empty)
            if not proc.is_alive():
                raise RuntimeError("client process %s died (exit %s)" % (proc.name, proc.exitcode))
            if time.monotonic() > end:
                raise RuntimeError("client process %s: no result after %.0f s" % (proc.name, timeout))


def flood_run(work, material, delay):
    cert, key, passwd = material
    mw = Mailwarden(work, "flood-" + delay.replace(".", "_"), cert, key, passwd,
                    ["smtpd_sasl_failure_delay = %s" % delay])
    mw.start()
    res = {"delay": delay}
    try:
        # one clean login first: the legit user's record and the worker pool
        # are warm, and it must work at all
        lq = mp.Queue()
        t = time.monotonic()
        legit_proc(PORT_MWS, t, t + 0.5, lq)
        pre = lq.get(timeout=30)
        res["quiet_ms"] = pre[0].get("auth_ms")
        if pre[0].get("code") != 235:
            raise RuntimeError("legit login without flood failed: %s" % pre[0])
        log("legit login without flood: %.1f ms" % pre[0]["auth_ms"])
        fq, lq = mp.Queue(), mp.Queue()
        t0 = time.monotonic()
        fp = mp.Process(target=flood_proc, args=(PORT_MWS, FLOOD_RATE, FLOOD_DURATION,
                                                 FLOOD_MAX, FLOOD_START, fq))
        fp.start()
        lp = mp.Process(target=legit_proc, args=(PORT_MWS, t0 + 2, t0 + FLOOD_DURATION, lq))
        lp.start()
        cpu0, host0 = tree_cpu(mw.master), host_busy()
        legit = qget(lq, lp, FLOOD_DURATION + 60)
        st = qget(fq, fp, FLOOD_DURATION + 60)
        el = time.monotonic() - t0
        cpu1, host1 = tree_cpu(mw.master), host_busy()
        fp.join(10)
        lp.join(10)
        res.update(st=st, legit=legit, server_cores=(cpu1 - cpu0) / el,
                   host_cores=(host1 - host0) / el, alive=mw.proc.poll() is None)
    finally:
        mw.stop()
    return res


def report_flood(res):
    st, legit = res["st"], res["legit"]
    d = FLOOD_DURATION
    steady_from = min(10, d / 3)
    steady = sum(v for k, v in st["per_sec"].items() if steady_from <= k < d)
    lat = [r["auth_ms"] for r in legit if r.get("code") == 235 and r.get("auth_ms") is not None]
    bad = [r for r in legit if r.get("code") != 235]
    print()
    print("AUTH flood, smtpd_sasl_failure_delay = %s (mailwarden only, smtps port, "
          "target %.0f wrong passwords/s, %.0f s)" % (res["delay"], FLOOD_RATE, d))
    print("  attackers: %d sessions at the end (from %d source addresses), %d TLS connects, "
          "%d AUTH sent = %.0f/s" % (st["sessions"], min(st["sessions"], len(ATTACK_ADDRS)),
                                      st["connects"], st["sent"], st["sent"] / d))
    print("  attackers: 535 replies %d = %.0f/s over the run, %.0f/s from %.0f s on"
          % (st["535"], st["535"] / d, steady / (d - steady_from), steady_from))
    other = ", ".join("%s %d" % kv for kv in sorted(st["other"].items())) or "none"
    errs = ", ".join("%s %d" % kv for kv in sorted(st["errors"].items())) or "none"
    extra = ", ".join("%s %d" % (k, v) for k, v in st.items()
                      if k.startswith(("banner_", "ehlo_"))) or "none"
    print("  attackers: other replies to AUTH: %s; client errors/timeouts: %s; "
          "bad banner/EHLO: %s" % (other, errs, extra))
    tr = st["trace"]
    pts = [tr[i] for i in range(0, len(tr), max(1, len(tr) // 8))] + tr[-1:]
    print("  ramp (t s, sessions, 535s so far): " + "  ".join("%s/%d/%d" % p for p in pts))
    print("  server CPU %.2f cores, whole host %.2f cores (of %d); server alive after: %s"
          % (res["server_cores"], res["host_cores"], os.cpu_count(), res["alive"]))
    print("  legit login without flood: %.1f ms" % (res["quiet_ms"] or float("nan")))
    if lat:
        print("  legit logins under flood: %d of %d got 235; AUTH->235 ms: min %.1f  median %.1f  "
              "p95 %.1f  max %.1f" % (len(lat), len(legit), min(lat), statistics.median(lat),
                                      pct(lat, 95), max(lat)))
        conn = [r["connect_ms"] for r in legit if r.get("connect_ms") is not None]
        print("  legit connect+TLS+banner+EHLO ms: median %.1f  p95 %.1f  max %.1f"
              % (statistics.median(conn), pct(conn, 95), max(conn)))
        p95 = pct(lat, 95)
        print("  legit login under flood: p95 %.0f ms (target < 1000 ms) -> %s"
              % (p95, "met" if p95 < 1000 and not bad else "NOT MET"))
    else:
        print("  legit login under flood: no successful login at all -> NOT MET")
    for r in bad[:5]:
        print("  legit failure: %s" % {k: v for k, v in r.items() if k != "t"})


# ---------------------------------------------------------------- main

def main():
    if os.geteuid() != 0:
        sys.exit("tls_bench.py: run as root (private Postfix instance, mailwarden privilege drop)")
    for t in ("postfix", "postconf", "openssl", "doveadm", "script"):
        if shutil.which(t) is None:
            sys.exit("tls_bench.py: %s not found" % t)
    try:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    except (OSError, ValueError):
        pass
    mp.set_start_method("fork")
    work = benchlib.work_dir("mwtlsbench.", TMPPARENT)
    benchlib.interrupt_on(signal.SIGTERM, signal.SIGHUP)
    hs = []
    floods = []
    try:
        log("work directory %s; mailwarden %s; %s client processes x %.0f s per handshake "
            "run; flood %.0f/s for %.0f s, delays %s, up to %d sessions" % (
                work, MW_BIN, CLIENTS, DURATION, FLOOD_RATE, FLOOD_DURATION,
                FLOOD_DELAYS, FLOOD_MAX))
        cert, key, passwd, h = make_material(work)
        log("RSA 2048 certificate %s, key %s; passwd-file %s (%s:%s...)" % (
            cert, key, passwd, USER, h[:24]))
        if "smtps" in PARTS or "starttls" in PARTS:
            servers = []
            if "mailwarden" in SERVERS:
                mw = Mailwarden(work, "hs", cert, key, passwd)
                mw.start()
                servers.append(("mailwarden", mw, PORT_MW, PORT_MWS))
            if "postfix" in SERVERS:
                pf = Postfix(work, cert, key)
                pf.start()
                servers.append(("postfix", pf, PORT_PF, PORT_PFS))
            for kind in ("smtps", "starttls"):
                if kind not in PARTS:
                    continue
                for nc in CLIENTS:
                    for name, srv, port, sport in servers:
                        hs.append(handshake_run(kind, name, sport if kind == "smtps" else port,
                                                srv.master, nc))
            for name, srv, _, _ in servers:
                srv.stop()
        if "flood" in PARTS:
            for delay in FLOOD_DELAYS:
                log("AUTH flood with smtpd_sasl_failure_delay = %s" % delay)
                floods.append(flood_run(work, (cert, key, passwd), delay))
    except KeyboardInterrupt as e:
        log("interrupted: %s" % e)
    except Exception as e:  # noqa
        log("ERROR: %r" % e)
    finally:
        benchlib.run_cleanups()
        for p in mp.active_children():
            p.terminate()
            p.join(5)
        if not KEEP:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log("kept %s" % work)

    print()
    print("=== TLS handshakes (%s client processes, %.0f s each, no session resumption, "
          "RSA 2048 certificate, TLS defaults of both servers) ===" % (CLIENTS, DURATION))
    print("%-10s %-9s %3s %9s %10s %12s %9s %9s %7s %7s  %s" % (
        "server", "test", "C", "sessions", "sessions/s", "srv CPU ms", "srv cores", "host ms",
        "med ms", "p95 ms", "negotiated"))
    for r in hs:
        if "error" in r:
            print("%-10s %-9s FAILED: %s" % (r["server"], r["kind"], r["error"]))
            continue
        print("%-10s %-9s %3d %9d %10.1f %12.2f %9.2f %9.2f %7.1f %7.1f  %s %s%s" % (
            r["server"], r["kind"], r["clients"], r["sessions"], r["rate"], r["cpu_ms"] or 0,
            r["server_cores"], r["host_ms"] or 0, r["lat_med"], r["lat_p95"],
            r["version"], r["cipher"][0],
            ("  errors %d (%s)" % (r["errors"], r["first_error"])) if r["errors"] else ""))
    for kind in ("smtps", "starttls"):
        for nc in CLIENTS:
            a = next((r for r in hs if r["server"] == "mailwarden" and r["kind"] == kind
                      and r.get("clients") == nc and "rate" in r), None)
            b = next((r for r in hs if r["server"] == "postfix" and r["kind"] == kind
                      and r.get("clients") == nc and "rate" in r), None)
            if a and b:
                print("%-9s C=%-3d mailwarden/postfix: %.2fx sessions/s, %.2fx server CPU per "
                      "session, median latency %.0f vs %.0f ms" % (
                          kind, nc, a["rate"] / b["rate"], (a["cpu_ms"] or 0) / (b["cpu_ms"] or 1),
                          a["lat_med"], b["lat_med"]))
    for f in floods:
        report_flood(f)
    print()
    print("host: %d CPUs, %s; total bench time %.0f s" % (
        os.cpu_count(), ssl.OPENSSL_VERSION, time.monotonic() - T0))


if __name__ == "__main__":
    main()
