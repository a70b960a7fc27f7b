"""
dnsfix — a real DNS server (dnsmasq, Debian package dnsmasq-base) on a
loopback port, serving the test zones of the policy tests (issue 3).

    dns = DnsServer(extra_args=[...]).start()
    dns.port            UDP+TCP port on 127.0.0.1
    dns.conf_lines()    mailwarden config lines: dns_servers, dns_timeout, mynetworks
    dns.stop()

Everything under .test and the reverse zone 0.0.127.in-addr.arpa is
answered locally (--local: NXDOMAIN for names without data). Queries under
timeout.test and for 8.0.0.127.in-addr.arpa are forwarded to a UDP "black
hole" (a Python socket that never answers): those lookups time out, the
temporary-failure path.

Test clients (the tests bind their source address to 127.0.0.N):

  127.0.0.1   the only trusted client (mynetworks = 127.0.0.1/32)
  127.0.0.2   good.test         PTR + matching A (forward-confirmed)
  127.0.0.3   ptronly.test      PTR only; the name has no A (not confirmed)
  127.0.0.4   -                 no PTR
  127.0.0.5   -                 no PTR; listed in dnsbl.test (A 127.0.0.2,
                                TXT "listed for testing")
  127.0.0.6   mismatch.test     PTR; mismatch.test has A 127.0.0.99
  127.0.0.7   slow.timeout.test PTR; the forward lookup times out
  127.0.0.8   -                 the PTR lookup times out
  127.0.0.9   wl.test           confirmed; listed in dnswl.test (127.0.10.1)
  127.0.0.10  wlbl.test         confirmed; listed in dnswl.test AND dnsbl.test
  127.0.0.11  spamhost.test     confirmed; spamhost.test listed in rhsbl.test
  127.0.0.12  -                 no PTR (the cidr: access map rejects it)
  127.0.0.13  -                 no PTR; dnsbl.test A 127.0.0.2, no TXT
  127.0.0.14  -                 no PTR; listed in dnsbl.test and other.test
  127.0.0.15  -                 no PTR; listed in other.test only
  127.0.0.16  -                 no PTR; dnsbl.test answers 127.0.0.4
  127.0.0.17  host17.test  .. 127.0.0.20 host20.test: confirmed, unlisted

Names:
  mx.test         MX 10 mail.mx.test (mail.mx.test A 192.0.2.25), no A
  aonly.test      A 192.0.2.26, no MX
  nope.test       NXDOMAIN (so is every other unlisted name under .test)
  x.timeout.test  times out
  badhelo.test, spammer.test, spamhost.test  listed in rhsbl.test
  nohost.test     a HELO name that does not resolve
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
TTL = 300


def free_udp_tcp_port(host="127.0.0.1"):
    """A port free for both UDP and TCP on host."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = u.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                    t.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free UDP+TCP port")


class BlackHole:
    """A UDP socket that receives DNS queries and never answers."""

    def __init__(self, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]

    def queued(self):
        """Drain and count the queries received so far."""
        n = 0
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(4096)
                n += 1
        except BlockingIOError:
            pass
        return n

    def close(self):
        self.sock.close()


def rev(ip):
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def standard_records(blackhole_port):
    """dnsmasq arguments for the zones described in the module docstring."""
    a = []
    confirmed = {
        "127.0.0.2": "good.test",
        "127.0.0.9": "wl.test",
        "127.0.0.10": "wlbl.test",
        "127.0.0.11": "spamhost.test",
        "127.0.0.17": "host17.test",
        "127.0.0.18": "host18.test",
        "127.0.0.19": "host19.test",
        "127.0.0.20": "host20.test",
    }
    for ip, name in confirmed.items():
        a.append(f"--host-record={name},{ip}")           # A + PTR
    a += [
        f"--ptr-record={rev('127.0.0.3')},ptronly.test",
        f"--ptr-record={rev('127.0.0.6')},mismatch.test",
        # --host-record, not --address: other types must be NODATA, not
        # NXDOMAIN (--local answers NXDOMAIN for types --address lacks)
        "--host-record=mismatch.test,127.0.0.99",
        f"--ptr-record={rev('127.0.0.7')},slow.timeout.test",
        # mail domains
        "--mx-host=mx.test,mail.mx.test,10",
        "--host-record=mail.mx.test,192.0.2.25",
        "--host-record=aonly.test,192.0.2.26",
    ]

    def listed(name, addr="127.0.0.2", txt=None):
        out = [f"--address=/{name}/{addr}"]
        if txt:
            out.append(f'--txt-record={name},{txt}')
        return out

    def q(ip, zone):
        return ".".join(reversed(ip.split("."))) + "." + zone

    a += listed(q("127.0.0.5", "dnsbl.test"), txt="listed for testing")
    a += listed(q("127.0.0.10", "dnsbl.test"))
    a += listed(q("127.0.0.13", "dnsbl.test"))
    a += listed(q("127.0.0.14", "dnsbl.test"))
    a += listed(q("127.0.0.16", "dnsbl.test"), addr="127.0.0.4")
    a += listed(q("127.0.0.14", "other.test"))
    a += listed(q("127.0.0.15", "other.test"))
    a += listed(q("127.0.0.9", "dnswl.test"), addr="127.0.10.1")
    a += listed(q("127.0.0.10", "dnswl.test"), addr="127.0.10.1")
    for d in ("badhelo.test", "spammer.test", "spamhost.test"):
        a += listed(f"{d}.rhsbl.test")
    # the test zones answer locally; NXDOMAIN for what is not listed
    a += ["--local=/test/", "--local=/0.0.127.in-addr.arpa/"]
    # ... except these, whose server never answers
    a += [f"--server=/timeout.test/127.0.0.1#{blackhole_port}",
          f"--server=/8.0.0.127.in-addr.arpa/127.0.0.1#{blackhole_port}"]
    return a


class DnsServer:
    def __init__(self, extra_args=(), standard=True, log_queries=False):
        self.dir = tempfile.mkdtemp(prefix="mw-dns-")
        os.chmod(self.dir, 0o755)
        self.blackhole = BlackHole()
        self.port = free_udp_tcp_port()
        self.logfile = os.path.join(self.dir, "dnsmasq.log")
        self.args = [
            DNSMASQ, "--no-daemon", "--no-resolv", "--no-hosts",
            "--conf-file=/dev/null", "--pid-file=",
            "--listen-address=127.0.0.1", "--bind-interfaces",
            f"--port={self.port}", f"--local-ttl={TTL}", f"--neg-ttl={TTL}",
            "--cache-size=1000", f"--log-facility={self.logfile}",
        ]
        if log_queries:
            self.args.append("--log-queries")
        if standard:
            self.args += standard_records(self.blackhole.port)
        self.args += list(extra_args)
        self.proc = None

    def start(self, timeout=10.0):
        self.stderr_f = open(os.path.join(self.dir, "stderr"), "ab")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr_f, stderr=self.stderr_f,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited {self.proc.returncode}: "
                                   f"{self.stderr()}")
            if self.query("good.test", "A", timeout=0.3) == ["127.0.0.2"]:
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dnsmasq did not answer on port {self.port}: {self.stderr()}")

    def stderr(self):
        out = ""
        for f in ("stderr", "dnsmasq.log"):
            try:
                with open(os.path.join(self.dir, f), errors="replace") as fh:
                    out += fh.read()
            except FileNotFoundError:
                pass
        return out[-4000:]

    def conf_lines(self, timeout="2s"):
        return [f"dns_servers = 127.0.0.1:{self.port}",
                f"dns_timeout = {timeout}",
                "mynetworks = 127.0.0.1/32"]

    # -- a minimal DNS client, for checking the fixture itself ------------
    TYPES = {"A": 1, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}

    def query(self, name, qtype="A", timeout=2.0):
        """Answers as text (A: dotted quad, PTR: name, MX: "pref host",
        TXT: string), [] for NODATA, "NXDOMAIN", or None on timeout/error."""
        import random
        import struct
        qid = random.randrange(65536)
        qt = self.TYPES[qtype]
        pkt = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        for label in name.rstrip(".").split("."):
            pkt += bytes([len(label)]) + label.encode()
        pkt += b"\0" + struct.pack(">HH", qt, 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            try:
                s.sendto(pkt, ("127.0.0.1", self.port))
                data, _ = s.recvfrom(4096)
            except (socket.timeout, OSError):
                return None
        rid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
        rcode = flags & 0xF
        if rcode == 3:
            return "NXDOMAIN"
        if rcode != 0:
            return None

        def rname(off):
            labels = []
            jumped = False
            end = off
            while True:
                ln = data[off]
                if ln & 0xC0 == 0xC0:
                    if not jumped:
                        end = off + 2
                    off = ((ln & 0x3F) << 8) | data[off + 1]
                    jumped = True
                    continue
                if ln == 0:
                    if not jumped:
                        end = off + 1
                    break
                labels.append(data[off + 1:off + 1 + ln].decode())
                off += 1 + ln
            return ".".join(labels), end

        off = 12
        for _ in range(qd):
            _, off = rname(off)
            off += 4
        out = []
        for _ in range(an):
            _, off = rname(off)
            t, _, _, rdlen = struct.unpack(">HHIH", data[off:off + 10])
            off += 10
            rd = data[off:off + rdlen]
            if t == 1:
                out.append(socket.inet_ntoa(rd))
            elif t == 12:
                out.append(rname(off)[0])
            elif t == 15:
                out.append(f"{struct.unpack('>H', rd[:2])[0]} {rname(off + 2)[0]}")
            elif t == 16:   # the strings of one record joined (RFC 6376 3.6.2.2)
                parts, i = [], 0
                while i < len(rd):
                    parts.append(rd[i + 1:i + 1 + rd[i]].decode())
                    i += 1 + rd[i]
                out.append("".join(parts))
            off += rdlen
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            self.stderr_f.close()
        except Exception:
            pass
        self.blackhole.close()
        if not os.environ.get("MW_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


# ---- helpers shared by the policy tests ----------------------------------

RCPT = "alice@example.com"          # a valid virtual mailbox of conftest


def policy_extra(dns, *lines, timeout="2s"):
    """Config lines for a server that uses the test DNS server, trusts
    only 127.0.0.1 and logs as postfix. The pregreet wait is off (0s)
    unless the lines set postscreen_greet_wait: the tests of restrictions
    should not sit out a 6 s teaser per new client."""
    out = dns.conf_lines(timeout) + ["syslog_name = postfix"]
    if not any(l.startswith("postscreen_greet_wait") for l in lines):
        out.append("postscreen_greet_wait = 0s")
    return out + list(lines)


def tx(server, source, helo="good.test", sender="a@b.test", rcpt=RCPT,
       ehlo=True, timeout=15.0, quit=True):
    """One SMTP transaction up to RCPT from source address `source`.
    Returns a dict of replies: banner, helo, mail, rcpt (and elapsed)."""
    import time as _t
    t0 = _t.monotonic()
    c = server.conn(source=source, timeout=timeout)
    r = {"banner": c.banner}
    r["helo"] = c.cmd(f"{'EHLO' if ehlo else 'HELO'} {helo}", timeout) if helo is not None else None
    r["mail"] = c.cmd(f"MAIL FROM:<{sender}>", timeout) if sender is not None else None
    r["rcpt"] = c.cmd(f"RCPT TO:<{rcpt}>", timeout) if rcpt is not None else None
    r["elapsed"] = _t.monotonic() - t0
    if quit:
        try:
            c.cmd("QUIT", 5)
        except OSError:
            pass
        c.close()
    else:
        r["conn"] = c
    return r


def last_line(reply):
    """The last line of a (possibly multi-line) reply."""
    return reply.split("\n")[-1] if reply else reply


def log_tail(server, n=3000):
    return "\n--- maillog tail:\n" + server.log()[-n:]
