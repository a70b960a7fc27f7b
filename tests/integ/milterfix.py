"""
A test milter speaking the Sendmail milter wire protocol (version 6), for
the cases real milters do not produce on demand.

    m = ScriptMilter()                      # inet on 127.0.0.1, free port
    m = ScriptMilter(unix_path="/x/sock")   # or a unix socket
    m.spec                                # "inet:127.0.0.1:PORT" / "unix:PATH"
    m.script["rcpt"] = "reject"           # the reply to a stage
    m.script["mail"] = lambda arg: "hang" if b"slow" in arg else "continue"
    m.eom_mods = [("addheader", "X-Test", "yes"), ("replbody", b"new\\r\\n")]
    m.protocol = SMFIP_NOHELO | SMFIP_NR_HDR  # steps the milter asks to skip
    ...
    m.close()

Stages: connect helo mail rcpt data header eoh body eom unknown. Replies:
"continue", "accept", "reject", "tempfail", "discard", "skip" (body),
("replycode", "550 5.7.0 text"), "hang" (never answer), "close" (close the
connection), "garbage" (a bad packet), b"Xdata" (a raw packet: command
byte X and its data), ("progress", seconds, reply)
(SMFIR_PROGRESS every second, then the reply), ("sleep", seconds, reply).
What the milter saw is in m.seen: (stage, argument bytes, macros dict) in
order, over all connections; m.connections counts connections.
"""
import os
import socket
import struct
import threading
import time

SMFIP_NOCONNECT = 0x01
SMFIP_NOHELO = 0x02
SMFIP_NOMAIL = 0x04
SMFIP_NORCPT = 0x08
SMFIP_NOBODY = 0x10
SMFIP_NOHDRS = 0x20
SMFIP_NOEOH = 0x40
SMFIP_NR_HDR = 0x80
SMFIP_NOUNKNOWN = 0x100
SMFIP_NODATA = 0x200
SMFIP_SKIP = 0x400
SMFIP_NR_CONN = 0x1000
SMFIP_NR_HELO = 0x2000
SMFIP_NR_MAIL = 0x4000
SMFIP_NR_RCPT = 0x8000
SMFIP_NR_DATA = 0x10000
SMFIP_NR_UNKN = 0x20000
SMFIP_NR_EOH = 0x40000
SMFIP_NR_BODY = 0x80000
SMFIP_HDR_LEADSPC = 0x100000

STAGES = {b"C": "connect", b"H": "helo", b"M": "mail", b"R": "rcpt", b"T": "data",
          b"L": "header", b"N": "eoh", b"B": "body", b"E": "eom", b"U": "unknown"}
NOREPLY = {"connect": SMFIP_NR_CONN, "helo": SMFIP_NR_HELO, "mail": SMFIP_NR_MAIL,
           "rcpt": SMFIP_NR_RCPT, "data": SMFIP_NR_DATA, "header": SMFIP_NR_HDR,
           "eoh": SMFIP_NR_EOH, "body": SMFIP_NR_BODY, "unknown": SMFIP_NR_UNKN}
SIMPLE = {"continue": b"c", "accept": b"a", "reject": b"r", "tempfail": b"t",
          "discard": b"d", "skip": b"s"}


def packet(cmd, data=b""):
    return struct.pack("!I", len(data) + 1) + cmd + data


def z(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


class ScriptMilter:
    def __init__(self, host="127.0.0.1", unix_path=None):
        self.script = {}
        self.eom_mods = []
        self.protocol = 0
        self.actions = 0x1FF
        self.optneg_macros = {}     # SMFIM stage number -> "i {rcpt_addr}"
        self.seen = []
        self.connections = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.socks = []
        if unix_path:
            if os.path.exists(unix_path):
                os.unlink(unix_path)
            self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.lsock.bind(unix_path)
            os.chmod(unix_path, 0o777)
            self.spec = f"unix:{unix_path}"
        else:
            self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.lsock.bind((host, 0))
            self.port = self.lsock.getsockname()[1]
            self.spec = f"inet:{host}:{self.port}"
        self.lsock.listen(64)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    # -- what the tests read -------------------------------------------------
    def stages(self):
        with self.lock:
            return [s for s, _, _ in self.seen]

    def args(self, stage):
        with self.lock:
            return [a for s, a, _ in self.seen if s == stage]

    def macros(self, stage):
        """The macros sent with the last event of a stage."""
        with self.lock:
            for s, _, m in reversed(self.seen):
                if s == stage:
                    return m
        return {}

    def all_macros(self, stage):
        """The macros sent with each event of a stage, in order."""
        with self.lock:
            return [m for s, _, m in self.seen if s == stage]

    def close(self):
        self.stopping = True
        try:
            self.lsock.close()
        except OSError:
            pass
        for s in list(self.socks):
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    # -- the protocol --------------------------------------------------------
    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            self.socks.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _read(self, c, n):
        b = b""
        while len(b) < n:
            d = c.recv(n - len(b))
            if not d:
                raise EOFError
            b += d
        return b

    def _serve(self, c):
        macros = {}
        try:
            while True:
                (n,) = struct.unpack("!I", self._read(c, 4))
                body = self._read(c, n)
                cmd, data = body[:1], body[1:]
                if cmd == b"O":
                    ver, act, proto = struct.unpack("!III", data[:12])
                    extra = b"".join(struct.pack("!I", st) + z(lst)
                                     for st, lst in self.optneg_macros.items())
                    c.sendall(packet(b"O", struct.pack("!III", 6, self.actions & act,
                                                       self.protocol & proto) + extra))
                elif cmd == b"D":
                    parts = data[1:].split(b"\0")
                    macros = {parts[i].decode(): parts[i + 1].decode()
                              for i in range(0, len(parts) - 1, 2)}
                elif cmd in (b"A",):
                    with self.lock:
                        self.seen.append(("abort", b"", {}))
                    macros = {}
                elif cmd in (b"Q", b"K"):
                    with self.lock:
                        self.seen.append(("quit", b"", {}))
                    return
                elif cmd in STAGES:
                    stage = STAGES[cmd]
                    with self.lock:
                        self.seen.append((stage, data, macros))
                    macros = {}
                    if stage != "eom" and self.protocol & NOREPLY.get(stage, 0):
                        continue
                    if not self._answer(c, stage, data):
                        return
        except (EOFError, OSError):
            return
        finally:
            try:
                c.close()
            except OSError:
                pass

    def _answer(self, c, stage, data):
        what = self.script.get(stage, "continue")
        if callable(what):
            what = what(data)
        if stage == "eom" and what in ("continue", "accept") or \
                isinstance(what, tuple) and what[0] in ("sleep", "progress") and stage == "eom":
            for m in self.eom_mods:
                c.sendall(self._mod(m))
        return self._send_reply(c, what)

    def _send_reply(self, c, what):
        if isinstance(what, tuple):
            if what[0] == "replycode":
                c.sendall(packet(b"y", z(what[1])))
                return True
            if what[0] == "sleep":
                time.sleep(what[1])
                return self._send_reply(c, what[2])
            if what[0] == "progress":
                for _ in range(int(what[1])):
                    time.sleep(1)
                    c.sendall(packet(b"p"))
                return self._send_reply(c, what[2])
        if what == "hang":
            while not self.stopping:
                time.sleep(0.1)
            return False
        if what == "close":
            c.close()
            return False
        if isinstance(what, bytes):       # a raw packet: command byte and data
            c.sendall(packet(what[:1], what[1:]))
            return True
        if what == "garbage":
            c.sendall(b"\xff\xff\xff\xffjunk")
            return True
        c.sendall(packet(SIMPLE[what]))
        return True

    def _mod(self, m):
        kind = m[0]
        if kind == "addheader":
            return packet(b"h", z(m[1]) + z(m[2]))
        if kind == "insheader":
            return packet(b"i", struct.pack("!I", m[1]) + z(m[2]) + z(m[3]))
        if kind == "chgheader":
            return packet(b"m", struct.pack("!I", m[1]) + z(m[2]) + z(m[3]))
        if kind == "replbody":
            return packet(b"b", m[1])
        if kind == "addrcpt":
            return packet(b"+", z(m[1]))
        if kind == "delrcpt":
            return packet(b"-", z(m[1]))
        if kind == "chgfrom":
            return packet(b"e", z(m[1]))
        if kind == "quarantine":
            return packet(b"q", z(m[1]))
        raise ValueError(kind)


class _Daemon:
    """What the real-milter fixtures share: a private directory self.dir
    (removed at stop unless MW_KEEP is set) and a log file self.log."""

    def logtext(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-4000:]
        except FileNotFoundError:
            return ""


class OpenDkim(_Daemon):
    """Debian's OpenDKIM as a signing milter (mode "s") for domain, selector
    "test", with a fresh 1024-bit key (or key, a file), listening on
    sock_path: a unix socket path (UMask 000: the unprivileged engine
    connects) or "inet:PORT@127.0.0.1". mode "v" verifies, looking keys up
    at nameserver ("127.0.0.1@PORT"). .txt is the key's DNS TXT record;
    .stop() ends it."""

    EXE = "/usr/sbin/opendkim"

    def __init__(self, sock_path, domain="example.com", internal="192.0.2.1", mode="s",
                 nameserver=None, key=None):
        import subprocess
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="mw-opendkim-")
        os.chmod(self.dir, 0o755)
        self.key = key or os.path.join(self.dir, "test.private")
        if key is None:
            subprocess.run(["openssl", "genrsa", "-out", self.key, "1024"], check=True,
                           capture_output=True)
        der = subprocess.run(["openssl", "rsa", "-in", self.key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        import base64
        self.txt = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
        self.sock_path = sock_path
        self.conf = os.path.join(self.dir, "opendkim.conf")
        self.log = os.path.join(self.dir, "log")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "Syslog no", "Background no", f"Mode {mode}", f"Domain {domain}",
                "Selector test", "AuthservID mx.test.example",
                # verify mode: keys from the test's DNS server (unbound's addr@port)
                *([f"Nameservers {nameserver}"] if nameserver else []),
                f"KeyFile {self.key}", "UMask 000",
                f"Socket {sock_path if sock_path.startswith('inet:') else 'local:' + sock_path}",
                "Canonicalization relaxed/simple", "RequireSafeKeys no",
                # Only authenticated senders are signed: the test client's
                # address is not internal, so the {auth_authen} macro decides.
                f"InternalHosts {internal}", "LogWhy yes",
                f"PidFile {self.dir}/pid", ""]))
        self.proc = None

    def start(self, timeout=10.0):
        import subprocess
        inet = self.sock_path.startswith("inet:")
        if not inet and os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.EXE, "-f", "-x", self.conf, "-l"],
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"opendkim exited {self.proc.returncode}: {self.logtext()}")
            if inet:
                port = int(self.sock_path[5:].split("@")[0])
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    return self
                except OSError:
                    pass
            elif os.path.exists(self.sock_path):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"opendkim made no socket: {self.logtext()}")


    def stop(self):
        _stop_proc(self.proc)
        _rmdir(self.dir)


def _wait_port(proc, port, what, logtext, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode}: {logtext()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port}: {logtext()}")


def _stop_proc(proc, grace=0.5):
    """SIGTERM, then SIGKILL after grace seconds: libmilter's daemons wait
    about 5 s on SIGTERM for their sessions, which is only a test's time."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except Exception:
            proc.kill()
            proc.wait()


def _rmdir(d):
    import shutil
    if not os.environ.get("MW_KEEP"):
        shutil.rmtree(d, ignore_errors=True)


class Dns53Forwarder:
    """A UDP DNS forwarder on port 53 of a spare loopback address
    (127.0.53.N), passing queries to the test's dnsmasq (dnsfix.DnsServer,
    whose port is not 53): for programs that only read /etc/resolv.conf,
    such as OpenDMARC (no name-server setting). .resolv_conf is a file
    with "nameserver 127.0.53.N" for a bind mount; .close() ends it."""

    def __init__(self, upstream_port, tmpdir):
        self.upstream = ("127.0.0.1", upstream_port)
        self.sock = None
        for n in range(1, 250):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((f"127.0.53.{n}", 53))
            except OSError:
                s.close()
                continue
            self.sock, self.addr = s, f"127.0.53.{n}"
            break
        if self.sock is None:
            raise RuntimeError("no free 127.0.53.N:53")
        self.resolv_conf = os.path.join(tmpdir, "resolv.conf")
        with open(self.resolv_conf, "w") as f:
            f.write(f"nameserver {self.addr}\noptions timeout:2 attempts:1\n")
        self.stopping = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.stopping:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            threading.Thread(target=self._one, args=(q, peer), daemon=True).start()

    def _one(self, q, peer):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(3)
            try:
                u.sendto(q, self.upstream)
                a, _ = u.recvfrom(4096)
                self.sock.sendto(a, peer)
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.sock.close()


class OpenDmarc(_Daemon):
    """Debian's OpenDMARC as an inbound milter on "inet:PORT@127.0.0.1":
    RejectFailures, Debian's public suffix list, SPF checked by itself,
    DKIM results read from the Authentication-Results header of
    authserv-id trusted (OpenDKIM's). It reads DNS from /etc/resolv.conf
    only, so it runs in its own mount namespace (unshare -m) where
    resolv.conf is bind-mounted to a Dns53Forwarder in front of the test's
    dnsmasq (dns_port). 127.0.0.1 is not ignored (the default
    IgnoreHosts): the test clients connect from there."""

    EXE = "/usr/sbin/opendmarc"
    PSL = "/usr/share/publicsuffix/public_suffix_list.dat"

    def __init__(self, port, dns_port, authserv_id="mx.test.example",
                 trusted="mx.test.example"):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="mw-opendmarc-")
        os.chmod(self.dir, 0o755)
        self.port = port
        self.fwd = Dns53Forwarder(dns_port, self.dir)
        self.conf = os.path.join(self.dir, "opendmarc.conf")
        self.log = os.path.join(self.dir, "log")
        ignore = os.path.join(self.dir, "ignore")
        with open(ignore, "w") as f:
            f.write("192.0.2.99\n")
        with open(self.conf, "w") as f:
            f.write("\n".join([
                "Syslog false", "Background false", f"Socket inet:{port}@127.0.0.1",
                f"AuthservID {authserv_id}", f"TrustedAuthservIDs {trusted}",
                "RejectFailures true", f"PublicSuffixList {self.PSL}",
                "SPFSelfValidate true", f"IgnoreHosts {ignore}",
                "FailureReports false", "DNSTimeout 3",
                f"PidFile {self.dir}/pid", ""]))
        self.proc = None

    def start(self, timeout=10.0):
        import subprocess
        logf = open(self.log, "ab")
        script = (f"mount --bind {self.fwd.resolv_conf} /etc/resolv.conf && "
                  f"exec {self.EXE} -f -v -c {self.conf}")
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private",
                                      "sh", "-c", script],
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                     start_new_session=True)
        try:
            _wait_port(self.proc, self.port, "opendmarc", self.logtext, timeout)
        except RuntimeError:
            self.stop()
            raise
        return self


    def stop(self):
        _stop_proc(self.proc)
        self.fwd.close()
        _rmdir(self.dir)


GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


class SpamAssassin(_Daemon):
    """Debian's spamd (local tests only: no network rules) on a loopback
    port and spamass-milter in front of it on "inet:PORT@127.0.0.1",
    rejecting at score >= reject (GTUBE scores 1000) with its reply.
    .stop() ends both."""

    SPAMD = "/usr/sbin/spamd"
    MILTER = "/usr/sbin/spamass-milter"

    def __init__(self, spamd_port, milter_port, reject=5):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="mw-spamass-")
        os.chmod(self.dir, 0o755)
        self.spamd_port, self.milter_port, self.reject = spamd_port, milter_port, reject
        self.log = os.path.join(self.dir, "log")
        self.spamd = self.milter = None

    def start(self, timeout=60.0):
        import subprocess
        logf = open(self.log, "ab")
        self.spamd = subprocess.Popen(
            [self.SPAMD, "--local", f"--listen=127.0.0.1:{self.spamd_port}",
             "--username=nobody", "--nouser-config", "--max-children=2",
             f"--pidfile={self.dir}/spamd.pid", "--syslog=stderr"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)
        try:
            _wait_port(self.spamd, self.spamd_port, "spamd", self.logtext, timeout)
            self.milter = subprocess.Popen(
                [self.MILTER, "-p", f"inet:{self.milter_port}@127.0.0.1",
                 "-r", str(self.reject), "-P", f"{self.dir}/milter.pid",
                 "--", "-d", "127.0.0.1", "-p", str(self.spamd_port)],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)
            _wait_port(self.milter, self.milter_port, "spamass-milter", self.logtext, 10)
        except RuntimeError:
            self.stop()
            raise
        return self


    def stop(self):
        _stop_proc(self.milter)
        _stop_proc(self.spamd)
        _rmdir(self.dir)
