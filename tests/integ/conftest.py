"""
Integration-test harness: starts the real mailwarden program on loopback
with a temporary config and gives the tests clients to drive it.

Fixtures
  server        a started Server with the default test config
  make_server   factory: make_server(extra=[...], vmailbox={...},
                valias={...}, listen=..., start=True) -> Server
                (every server made is stopped and checked at teardown)

A Server lives in its own directory (DIR):
  DIR/mailwarden.conf   the config
  DIR/vmailbox          texthash virtual_mailbox_maps
  DIR/valias            texthash virtual_alias_maps
  DIR/spool             queue_directory
  DIR/mail/<domain>/<user>/new/   delivered mail (virtual_mailbox_base)
  DIR/maillog           maillog_file
  DIR/stderr            the program's stdout+stderr (sanitizer reports)

The binary comes from $MAILWARDEN_BIN (default ./mailwarden).

Teardown closes the test's raw connections, sends SIGTERM, waits up to
12 s (then SIGKILL to the process
group) and fails the test when the program did not exit 0, printed a
sanitizer report, or logged "panic:"/"fatal:" that the test did not
declare expected (server.allow_fatal = True).
"""
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

BIN = os.path.abspath(os.environ.get("MAILWARDEN_BIN", "./mailwarden"))
HOSTNAME = "mx.test.example"
CLIENT_HELO = "client.test.example"

DEFAULT_VMAILBOX = {
    "alice@example.com": "example.com/alice/",
    "postmaster@example.com": "example.com/postmaster/",
    "bob@example.net": "example.net/bob/",
    "carol@example.net": "example.net/carol/",
}
DEFAULT_VALIAS = {
    "abuse@example.com": "postmaster@example.com",
    "info@example.net": "bob@example.net",
    "alice@example.net": "alice@example.com",
}

# SIGTERM drains: the program gives sessions in a mail transaction up to
# 10 s; allow a little more before calling it hung.
STOP_TIMEOUT = 12

SANITIZER_MARKS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",            # UBSan
    "SUMMARY: AddressSanitizer",
    "SUMMARY: UndefinedBehaviorSanitizer",
    "WARNING: ThreadSanitizer",
)


def free_port(host="127.0.0.1"):
    """A TCP port that is free on host right now."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def proc_stat(pid):
    """/proc/PID/stat split into fields numbered as in proc(5): [1] pid,
    [2] comm, [3] state, [4] ppid, [5] pgrp, [14] utime, [15] stime (clock
    ticks) ...; [0] is unused. None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return None
    i = st.rindex(")")
    return [None, st[:st.index(" (")], st[st.index("(") + 1:i]] + st[i + 2:].split()


def pids_with(field, value):
    """Live processes whose /proc/PID/stat field (proc(5) numbering) is value,
    sorted: pids_with(4, pid) its children, pids_with(5, pgid) its group."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(d)
            if st is not None and int(st[field]) == value:
                out.append(int(d))
    return sorted(out)


def proc_status(pid):
    """/proc/PID/status as a dict, {} when the process is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    except OSError:
        pass
    return out


def children_by_comm(pid):
    """{comm: child pid} of pid's children, by the names they give
    themselves (smtpd, qmgr, local, warden, firewall)."""
    out = {}
    for k in pids_with(4, pid):
        try:
            with open(f"/proc/{k}/comm") as f:
                out[f.read().strip()] = k
        except OSError:
            continue
    return out


def write_map(path, mapping):
    with open(path, "w") as f:
        for k, v in mapping.items():
            f.write(f"{k}\t{v}\n")
    os.chmod(path, 0o644)


def read_replies(sock, timeout=5.0, want=None):
    """Read SMTP replies from sock. Returns a list of complete replies
    (each a list of lines without CRLF). Stops after `want` replies, at
    EOF, or when nothing more arrives within `timeout` seconds (when
    want is None a short quiet period ends the read)."""
    buf = b""
    replies = []
    deadline = time.time() + timeout
    sock.settimeout(0.3 if want is None else 0.2)
    eof = False
    while True:
        # split complete replies out of buf
        while True:
            lines = []
            pos = 0
            done = False
            while True:
                i = buf.find(b"\n", pos)
                if i < 0:
                    break
                line = buf[pos:i].rstrip(b"\r").decode("utf-8", "replace")
                lines.append(line)
                pos = i + 1
                if len(line) < 4 or line[3] != "-":
                    done = True
                    break
            if not done:
                break
            replies.append(lines)
            buf = buf[pos:]
        if want is not None and len(replies) >= want:
            break
        if eof or time.time() > deadline:
            break
        try:
            d = sock.recv(65536)
        except socket.timeout:
            if want is None and (replies or buf):
                # quiet period after something arrived: done
                break
            continue
        except (ConnectionResetError, BrokenPipeError):
            eof = True
            continue
        if not d:
            eof = True
            continue
        buf += d
        if want is None:
            deadline = max(deadline, time.time() + 0.3)
    return replies


class Conn:
    """A raw SMTP connection for byte-exact tests."""

    def __init__(self, host, port, source=None, timeout=10.0, family=None):
        fam = family or (socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.banner = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self, timeout=10.0):
        """One complete reply as a string "CODE text" (multi-line replies
        joined with \\n), or "" at EOF/timeout."""
        r = read_replies(self.sock, timeout=timeout, want=1)
        return "\n".join(r[0]) if r else ""

    def cmd(self, line, timeout=10.0):
        """Send one command line (CRLF added) and return its reply."""
        self.send(line.encode() + b"\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply(timeout)

    def replies(self, n, timeout=10.0):
        return ["\n".join(r) for r in read_replies(self.sock, timeout=timeout, want=n)]

    def is_closed(self, timeout=3.0):
        """True when the server closed the connection (EOF or reset)."""
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
            return d == b""
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Server:
    """One mailwarden instance in its own temporary directory."""

    def __init__(self, extra=(), vmailbox=None, valias=None, listen=None,
                 host="127.0.0.1"):
        self.dir = tempfile.mkdtemp(prefix="mw-integ-")
        # The program may drop root privileges to user mailwarden: it must
        # be able to traverse and read its instance directory.
        os.chmod(self.dir, 0o755)
        self.host = host
        self.port = free_port(host)
        self.listen = listen or (f"[{host}]:{self.port}" if ":" in host
                                 else f"{host}:{self.port}")
        self.conf = os.path.join(self.dir, "mailwarden.conf")
        self.maillog = os.path.join(self.dir, "maillog")
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.vmailbox_path = os.path.join(self.dir, "vmailbox")
        self.valias_path = os.path.join(self.dir, "valias")
        self.spool = os.path.join(self.dir, "spool")
        self.mailbase = os.path.join(self.dir, "mail")
        self.vmailbox = dict(DEFAULT_VMAILBOX if vmailbox is None else vmailbox)
        self.valias = dict(DEFAULT_VALIAS if valias is None else valias)
        self.extra = list(extra)
        self.proc = None
        self.allow_fatal = False
        self.allow_seccomp = False  # a system call outside a seccomp list fails the test
        self.problems = []          # found by kill/restart cycles
        self.conns = []             # raw connections, closed before SIGTERM
        write_map(self.vmailbox_path, self.vmailbox)
        write_map(self.valias_path, self.valias)
        self.write_config()

    # -- config -----------------------------------------------------------
    def config_text(self):
        lines = [
            "# written by tests/integ/conftest.py",
            f"smtpd_listen = {self.listen}",
            f"queue_directory = {self.spool}",
            # the ban engine's state: per instance, never the host's /var/lib
            f"data_directory = {self.dir}/data",
            f"virtual_mailbox_base = {self.mailbase}",
            f"maillog_file = {self.maillog}",
            f"myhostname = {HOSTNAME}",
            "mydestination = localhost",
            "virtual_mailbox_domains = example.com example.net",
            f"virtual_mailbox_maps = texthash:{self.vmailbox_path}",
            f"virtual_alias_maps = texthash:{self.valias_path}",
            "smtpd_error_sleep_time = 0",
            # No test traffic to the machine's own resolver: by default DNS
            # goes to a closed loopback port (instant temporary failure);
            # the DNS tests point dns_servers at their own server.
            "dns_servers = 127.0.0.1:9",
            "dns_timeout = 2s",
        ]
        return "\n".join(lines + self.extra) + "\n"

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write(self.config_text())
        os.chmod(self.conf, 0o644)

    # -- process ----------------------------------------------------------
    def start(self, timeout=10.0):
        assert os.path.exists(BIN), f"mailwarden binary not found: {BIN} (set MAILWARDEN_BIN)"
        self.stderr_f = open(self.stderr_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        # start_new_session: the program and all its children form one
        # process group that killpg() can take down at once.
        self.proc = subprocess.Popen([BIN, "-c", self.conf], cwd=self.dir,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.stderr_f, stderr=self.stderr_f,
                                     start_new_session=True, env=env)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=10.0):
        """Wait until the port accepts and sends a 220 banner."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"mailwarden exited with status {self.proc.returncode} "
                            f"during start-up:\n{self.stderr()}\n--- maillog:\n{self.log()}")
            try:
                fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
                with socket.socket(fam, socket.SOCK_STREAM) as s:
                    s.settimeout(2)
                    s.connect((self.host, self.port))
                    data = b""
                    while b"\n" not in data:
                        d = s.recv(4096)
                        if not d:
                            break
                        data += d
                    if data.startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        return
                    last = data
            except OSError as e:
                last = e
            time.sleep(0.05)
        pytest.fail(f"mailwarden did not send a 220 banner on {self.host}:{self.port} "
                    f"within {timeout}s (last: {last!r})\n{self.stderr()}")

    def pgid(self):
        return self.proc.pid  # start_new_session: pgid == pid of the parent

    def kill9(self):
        """SIGKILL the whole process group at once."""
        try:
            os.killpg(self.pgid(), signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._wait_group_gone()

    def _wait_group_gone(self, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                os.killpg(self.pgid(), 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass
            time.sleep(0.02)
        return False

    def restart(self, timeout=10.0):
        self.start(timeout)

    def sighup(self):
        os.kill(self.proc.pid, signal.SIGHUP)

    def stop(self):
        """SIGTERM, wait up to 10 s, then SIGKILL. Returns a list of
        problems (empty when the program stopped cleanly)."""
        problems = list(self.problems)
        if self.proc is None:
            return problems
        # clients a failed test left open would hold up the drain
        for c in self.conns:
            c.close()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append(f"did not exit within {STOP_TIMEOUT} s of SIGTERM "
                                "(killed with SIGKILL)")
                try:
                    os.killpg(self.pgid(), signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
            else:
                if self.proc.returncode != 0:
                    problems.append(f"exit status {self.proc.returncode} after SIGTERM")
        else:
            problems.append(f"process died before teardown with status {self.proc.returncode}")
        if not self._wait_group_gone():
            problems.append("children still alive 5 s after the parent exited")
            try:
                os.killpg(self.pgid(), signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.stderr_f.close()
        except Exception:
            pass
        err = self.stderr()
        for mark in SANITIZER_MARKS:
            if mark in err:
                problems.append(f"sanitizer report ({mark}):\n{err[-6000:]}")
                break
        if not self.allow_fatal:
            for line in self.log().splitlines():
                if re.search(r"\b(panic|fatal): ", line):
                    problems.append(f"log has: {line}")
        if not self.allow_seccomp:
            for line in (self.log() + "\n" + err).splitlines():
                if "seccomp violation" in line:
                    problems.append(f"log has: {line}")
        return problems

    # -- clients ----------------------------------------------------------
    def smtp(self, source=None, timeout=10):
        """smtplib.SMTP connected to the server (banner read)."""
        s = smtplib.SMTP(local_hostname=CLIENT_HELO, timeout=timeout,
                         source_address=(source, 0) if source else None)
        s.connect(self.host, self.port)
        return s

    def conn(self, source=None, timeout=10.0):
        """A raw Conn (banner already read into .banner)."""
        c = Conn(self.host, self.port, source=source, timeout=timeout)
        self.conns.append(c)
        return c

    def raw(self, data, timeout=5.0, source=None):
        """Send bytes (or a list of byte strings, concatenated: pipelined)
        after the banner; return the list of replies, each a string
        (multi-line replies joined with \\n). Reading stops at EOF or when
        the server has been quiet for a moment."""
        if isinstance(data, (list, tuple)):
            data = b"".join(x.encode() if isinstance(x, str) else x for x in data)
        elif isinstance(data, str):
            data = data.encode()
        c = self.conn(source=source)
        try:
            c.send(data)
            return ["\n".join(r) for r in read_replies(c.sock, timeout=timeout)]
        finally:
            c.close()

    def send_mail(self, rcpts, body, sender="sender@example.org", source=None):
        """Send one message over a fresh connection; return the DATA reply
        text ("250 2.0.0 Ok: queued as ID"). Raises smtplib errors."""
        if isinstance(rcpts, str):
            rcpts = [rcpts]
        s = self.smtp(source=source)
        try:
            s.ehlo(CLIENT_HELO)
            code, msg = s.mail(sender)
            assert code == 250, (code, msg)
            for r in rcpts:
                code, msg = s.rcpt(r)
                assert code == 250, (r, code, msg)
            code, msg = s.data(body)
            assert code == 250, (code, msg)
            return f"{code} {msg.decode()}"
        finally:
            try:
                s.quit()
            except Exception:
                s.close()

    # -- results ----------------------------------------------------------
    def mailbox(self, addr):
        """DIR/mail/<domain>/<user>/new for an address."""
        user, dom = addr.split("@")
        return os.path.join(self.mailbase, dom, user, "new")

    def wait_delivered(self, path, n, timeout=10.0):
        """Wait until the directory `path` (or the mailbox of an address)
        holds at least n files; return their paths (sorted). Fails the
        test on timeout."""
        if "@" in path and not path.startswith("/"):
            path = self.mailbox(path)
        deadline = time.time() + timeout
        files = []
        while time.time() < deadline:
            files = list_files(path)
            if len(files) >= n:
                return files
            time.sleep(0.05)
        pytest.fail(f"{path}: {len(files)} message(s) after {timeout}s, wanted {n}\n"
                    f"--- maillog:\n{self.log()[-4000:]}")

    def messages(self, addr):
        """Contents (bytes) of every message in addr's new/ directory."""
        out = []
        for p in list_files(self.mailbox(addr)):
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def log(self):
        try:
            with open(self.maillog, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10.0, count=1):
        """Wait until the log has `count` lines matching regex pattern;
        return the matches."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        found = []
        while time.time() < deadline:
            found = [l for l in self.log().splitlines() if rx.search(l)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        pytest.fail(f"log: {len(found)} line(s) matching {pattern!r} after {timeout}s, "
                    f"wanted {count}\n--- maillog:\n{self.log()[-4000:]}")

    def stderr(self):
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def spool_files(self):
        """Queue files still in the spool (any sub-directory except the
        public/ sockets)."""
        out = []
        for root, dirs, files in os.walk(self.spool):
            if os.path.relpath(root, self.spool).split(os.sep)[0] in ("public", "private", "pid"):
                continue
            for f in files:
                p = os.path.join(root, f)
                if os.path.isfile(p) and not os.path.islink(p):
                    out.append(p)
        return out


def list_files(path):
    try:
        return sorted(os.path.join(path, f) for f in os.listdir(path)
                      if not f.startswith("."))
    except FileNotFoundError:
        return []


def make_message(subject="test", body="Hello.\r\n", msgid=None, frm="sender@example.org",
                 to="alice@example.com"):
    msgid = msgid or f"<{time.time_ns()}.{os.getpid()}@client.test.example>"
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: {msgid}\r\n\r\n{body}")


@pytest.fixture(autouse=True)
def traversable_tmp(request):
    """The ban engine runs as warden_owner (mwwarden), not root: it must be
    able to reach the logs a test writes under tmp_path, whose pytest-made
    parents are 0700. Let others traverse them (not list them)."""
    if os.geteuid() != 0 or "tmp_path" not in request.fixturenames:
        return
    p = request.getfixturevalue("tmp_path")
    for d in [p] + list(p.parents):
        if str(d) in ("/", "/tmp"):
            break
        st = os.stat(d)
        if st.st_uid == 0 and not st.st_mode & 0o001:
            os.chmod(d, (st.st_mode & 0o7777) | 0o011)


@pytest.fixture
def make_server(request):
    servers = []

    def factory(extra=(), vmailbox=None, valias=None, listen=None, host="127.0.0.1",
                start=True):
        s = Server(extra=extra, vmailbox=vmailbox, valias=valias, listen=listen, host=host)
        servers.append(s)
        if start:
            s.start()
        return s

    yield factory
    problems = []
    for s in servers:
        for p in s.stop():
            problems.append(f"[{s.dir}] {p}")
    failed = getattr(request.node, "rep_call", None)
    for s in servers:
        if not problems and not (failed and failed.failed) and not os.environ.get("MW_KEEP"):
            shutil.rmtree(s.dir, ignore_errors=True)
    if problems:
        pytest.fail("mailwarden teardown:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def server(make_server):
    return make_server()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# ---- issue 3 (policy): a real DNS server and a real policy service -------
# Added for tests/integ/test_policy_*.py and test_pregreet.py; see dnsfix.py.

@pytest.fixture(scope="module")
def dns():
    """dnsmasq serving the test zones of dnsfix.py on a loopback port
    (one per test module)."""
    import dnsfix
    d = dnsfix.DnsServer().start()
    yield d
    d.stop()


@pytest.fixture
def postgrey():
    """A real postgrey (Debian package) on a loopback port, --delay=1.
    Yields "inet:127.0.0.1:PORT"."""
    import pwd
    exe = shutil.which("postgrey") or "/usr/sbin/postgrey"
    if not os.path.exists(exe):
        pytest.skip("postgrey not installed")
    d = tempfile.mkdtemp(prefix="mw-postgrey-")
    port = free_port()
    args = [exe, f"--inet=127.0.0.1:{port}", f"--dbdir={d}", "--delay=1",
            "--whitelist-clients=/dev/null", "--whitelist-recipients=/dev/null"]
    if os.geteuid() == 0:
        # as root, Net::Server switches to --user/--group: the db
        # directory must belong to that user
        try:
            pw = pwd.getpwnam("postgrey")
            os.chown(d, pw.pw_uid, pw.pw_gid)
            args += ["--user=postgrey", "--group=postgrey"]
        except KeyError:
            os.chown(d, 65534, 65534)
            args += ["--user=nobody", "--group=nogroup"]
    log = open(os.path.join(d, "log"), "ab")
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("postgrey did not start")
    if proc.poll() is not None:
        pytest.fail(f"postgrey exited {proc.returncode}: {open(os.path.join(d, 'log')).read()}")
    yield f"inet:127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    shutil.rmtree(d, ignore_errors=True)
