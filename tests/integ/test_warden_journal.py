"""
The journal source (backend = systemd) end to end, with a REAL
systemd-journald: not the host's (this machine runs none), but one started
by the test in private namespaces, so that the host is untouched:

  unshare --user --map-root-user --mount --propagation private sh -c RUNNER

RUNNER mounts tmpfs on /run/systemd, /run/log and /var/log/journal (only
in that mount namespace), writes a journald.conf drop-in there
(Storage=volatile, no kmsg, no forwarding to syslog/kmsg/console/wall)
and execs /lib/systemd/systemd-journald, which, not socket-activated,
binds its own sockets in /run/systemd/journal. /etc/machine-id is the
host's (read only).

Why a user namespace too: journald 252, started as root of the initial
user namespace, joins the audit multicast group and sends AUDIT_SET
enabled=1 ("Failed to issue audit enable call" in the binary), which
would turn on auditing in the host's kernel. In a child user namespace
the kernel refuses both (journald logs it and goes on). The mount
namespace belongs to that user namespace; root of the initial namespace
may still enter it, so mailwarden, its CLI and systemd-cat run there with
`nsenter --mount=/proc/JOURNALD/ns/mnt` (no fork: the process is
mailwarden itself, in the host's PID and network namespaces) and see that
journal and only it. When journald and mailwarden have exited, the
namespace and its mounts are gone.

Shown: a jail `backend = systemd`, `journalmatch = SYSLOG_IDENTIFIER=sshd`,
fail2ban's sshd filter, maxretry = 2 bans on the second failure written
with `systemd-cat -t sshd` (status shows "Journal matches:" and the
address); an entry of before the start and the same line from another
identifier are not counted; two entries written at once after a start on
a journal without a matching entry are both counted; a restart and a
reload do not read the old entries again (a failure stored before is
replayed once from the store, not counted a second time from the
journal); journalmatch terms ANDed and "+" alternatives (systemd-cat and
`logger --journald` entries); journald started after mailwarden (no
/run/log/journal when the journal is opened); /var/log/journal created
while running (opened again after the last entry read, nothing twice).
"""
import grp
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BIN, Server
from test_warden import ACTION, read, wait_for

JOURNALD = "/lib/systemd/systemd-journald"
MATCH = "SYSLOG_IDENTIFIER=sshd"

# Runs as root of a new user namespace, in a new mount namespace.
RUNNER = r"""
set -e
mount -t tmpfs -o mode=0755,size=64m mw-journal /run/systemd
mount -t tmpfs -o mode=0755,size=64m mw-journal /run/log
if [ -n "$3" ]; then
    # no /var/log/journal at all (the test creates it later)
    mount -t tmpfs -o mode=0755,size=64m mw-journal /var/log
else
    mount -t tmpfs -o mode=0755,size=64m mw-journal /var/log/journal
fi
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d
cat > /run/systemd/journald.conf.d/mailwarden-test.conf <<'EOF'
[Journal]
Storage=volatile
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
RateLimitBurst=0
EOF
# a late start: wait for the test's go file ($2)
while [ -n "$2" ] && [ ! -e "$2" ]; do sleep 0.02; done
# journald's own messages to stderr (the test's file), not to kmsg
export SYSTEMD_LOG_TARGET=console
exec "$1"
"""

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(JOURNALD)
    or not all(shutil.which(t) for t in ("unshare", "nsenter", "systemd-cat")),
    reason="needs root, systemd-journald, unshare, nsenter and systemd-cat")


class Journald:
    """A systemd-journald in its own user + mount namespace."""

    def __init__(self, d):
        self.dir = d
        self.log_path = os.path.join(d, "journald.log")
        self.proc = None
        self.started = False

    def start(self, late=False, no_var=False):
        """late: mount, but start journald only at go(). no_var: without
        a /var/log/journal directory."""
        self.go_path = os.path.join(self.dir, "go") if late else ""
        log = open(self.log_path, "ab")
        try:
            # unshare and sh exec: self.proc.pid is journald's pid
            self.proc = subprocess.Popen(
                ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private",
                 "sh", "-c", RUNNER, "runner", JOURNALD, self.go_path,
                 "no-var" if no_var else ""],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"})
        finally:
            log.close()
        self.wait(lambda root: os.path.exists(
            root + "/run/systemd/journald.conf.d/mailwarden-test.conf"), "the mounts",
            skip=True)
        # the host saw none of it
        assert not os.path.exists("/run/systemd/journald.conf.d/mailwarden-test.conf")
        return self if late else self.go()

    def wait(self, fn, what, skip=False):
        root = f"/proc/{self.proc.pid}/root"
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                why = read(self.log_path).strip()
                if skip:
                    # unshare or a tmpfs mount refused: no isolated journal
                    pytest.skip("cannot set up a private user + mount namespace with tmpfs "
                                f"on /run/systemd, /run/log, /var/log/journal: {why}")
                pytest.fail(f"systemd-journald exited with {self.proc.returncode}: {why}")
            # /proc/PID/root: paths resolved in journald's mount namespace
            try:
                if fn(root):
                    return
            except OSError:
                pass
            time.sleep(0.02)
        pytest.fail(f"systemd-journald: no {what} after 10 s:\n{read(self.log_path)}")

    def go(self):
        """Start journald (late) and wait for its sockets and journal file."""
        if self.started:
            return self
        self.started = True
        self.journal_group()
        if self.go_path:
            open(self.go_path, "w").close()
        self.wait(lambda root: (
            os.readlink(f"/proc/{self.proc.pid}/exe").endswith("systemd-journald")
            and os.path.exists(root + "/run/systemd/journal/stdout")
            and os.path.exists(root + "/run/systemd/journal/socket")
            and any(f.endswith(".journal")
                    for _, _, fs in os.walk(root + "/run/log/journal") for f in fs)),
            "sockets and journal file")
        assert not os.path.exists("/run/systemd/journal/stdout")
        return self

    def journal_group(self):
        """As Debian's tmpfiles.d/systemd.conf: /run/log/journal belongs to
        group systemd-journal with the setgid bit, so journald's files
        (0640) and per-machine directory inherit that group; the ban
        engine's user (warden_owner) is in it. journald in its user
        namespace cannot chown to that group itself (unmapped)."""
        gid = grp.getgrnam("systemd-journal").gr_gid
        p = f"/proc/{self.proc.pid}/root/run/log/journal"
        os.makedirs(p, exist_ok=True)
        os.chown(p, 0, gid)
        os.chmod(p, 0o2755)

    def ns(self, *cmd):
        """cmd run in journald's mount namespace (nsenter execs it: no fork)."""
        return ["nsenter", f"--mount=/proc/{self.proc.pid}/ns/mnt", *cmd]

    def run(self, *cmd, input=None, check=True):
        r = subprocess.run(self.ns(*cmd), input=input, capture_output=True, text=True,
                           timeout=10)
        if check:
            assert r.returncode == 0, (cmd, r.stdout, r.stderr)
        return r

    def cat(self, ident, *messages, priority="info"):
        """Write messages as one systemd-cat stream (journald's stdout socket,
        _TRANSPORT=stdout)."""
        self.run("systemd-cat", "-t", ident, "-p", priority,
                 input="".join(m + "\n" for m in messages))

    def send(self, **fields):
        """One entry through the native protocol (_TRANSPORT=journal)."""
        self.run("logger", "--journald", input="".join(f"{k}={v}\n" for k, v in fields.items()))

    def entries(self, ident):
        r = self.run("journalctl", "--no-pager", "-q", "-o", "cat", f"SYSLOG_IDENTIFIER={ident}")
        return r.stdout.splitlines()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)    # journald, or the waiting runner
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class JournalServer(Server):
    """A mailwarden started in the journald's mount namespace."""

    def __init__(self, jd, extra):
        self.jd = jd
        super().__init__(extra=extra)

    def start(self, timeout=10.0):
        started = read(self.wlog).count("Jail 'sshd' started")
        self.stderr_f = open(self.stderr_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.proc = subprocess.Popen(self.jd.ns(BIN, "-c", self.conf), cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=self.stderr_f,
                                     stderr=self.stderr_f, start_new_session=True, env=env)
        self.wait_ready(timeout)
        # this start's jail (not the one before a restart) and control socket
        wait_for(lambda: read(self.wlog).count("Jail 'sshd' started") > started
                 and self.cli("status", "sshd", check=False).returncode == 0,
                 what="the jail started")
        return self

    def cli(self, *args, check=True):
        r = self.jd.run(BIN, "-c", self.conf, *args, check=False)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    def status(self):
        return self.cli("status", "sshd").stdout


def fail_line(ip, user="root", port=22):
    return f"Failed password for {user} from {ip} port {port} ssh2"


def journal_servers(tmp_path, no_var=False):
    """make(maxretry, match, journald) -> a started JournalServer; make.jd
    is the Journald, mounted but started only by go() or make()."""
    os.chmod(tmp_path, 0o755)
    jd = Journald(str(tmp_path)).start(late=True, no_var=no_var)
    servers = []

    def make(maxretry=2, match=MATCH, journald=True, findtime="10m"):
        if journald:
            jd.go()
        adir = tmp_path / "action.d"
        adir.mkdir(exist_ok=True)
        (adir / "testlog.conf").write_text(ACTION)
        out, wlog = tmp_path / "actions.out", tmp_path / "warden.log"
        s = JournalServer(jd, [
            f"warden_action_path = {adir}",
            f"warden_logtarget = {wlog}",
            "[sshd]",
            "enabled = true",
            "filter = sshd",
            "backend = systemd",
            f"journalmatch = {match}",
            f"maxretry = {maxretry}",
            f"findtime = {findtime}",
            "bantime = 1h",
            f"action = testlog[out={out}]",
        ])
        s.out, s.wlog = str(out), str(wlog)
        servers.append(s)
        return s.start()

    make.jd = jd
    try:
        yield make
    finally:
        problems = []
        for s in servers:
            problems += s.stop()
        jd.stop()
        jlog = read(jd.log_path)
    for s in servers:
        if not problems:
            shutil.rmtree(s.dir, ignore_errors=True)
    assert not problems, problems
    assert "Assertion" not in jlog, jlog


@pytest.fixture
def jserver(tmp_path):
    yield from journal_servers(tmp_path)


@pytest.fixture
def jserver_novar(tmp_path):
    """The same without a /var/log/journal directory."""
    yield from journal_servers(tmp_path, no_var=True)


def test_ban_from_the_journal_after_maxretry(jserver):
    jd = jserver.jd.go()
    st = ("Status for the jail: sshd\n"
          "|- Filter\n"
          "|  |- Currently failed:\t1\n"
          "|  |- Total failed:\t1\n"
          f"|  `- Journal matches:\t{MATCH}\n"
          "`- Actions\n"
          "   |- Currently banned:\t0\n"
          "   |- Total banned:\t0\n"
          "   `- Banned IP list:\t\n")
    # An entry of before the start, within findtime, is read (fail2ban
    # starts its journal reading at now - findtime).
    jd.cat("sshd", fail_line("192.0.2.99"))
    wait_for(lambda: jd.entries("sshd"), what="the entry in the journal")
    s = jserver()
    wait_for(lambda: "Total failed:\t1\n" in s.status(), what="the entry of before the start")
    assert s.status() == st
    # Another identifier with the same text: not the jail's (journalmatch).
    jd.cat("sshd-other", fail_line("192.0.2.5"), fail_line("192.0.2.5"), fail_line("192.0.2.5"))
    # First failure: counted, no ban.
    jd.cat("sshd", fail_line("192.0.2.5"))
    wait_for(lambda: "Total failed:\t2\n" in s.status(), what="the first failure counted")
    time.sleep(0.3)
    st = s.status()
    assert "Currently failed:\t2\n" in st and "Currently banned:\t0\n" in st, st
    # The second one is maxretry: banned.
    jd.cat("sshd", fail_line("192.0.2.5", user="admin"))
    wait_for(lambda: "Banned IP list:\t192.0.2.5\n" in s.status(), what="the ban")
    st = s.status()
    assert "Total failed:\t3\n" in st and "Currently banned:\t1\n" in st, st
    wait_for(lambda: "ban 192.0.2.5 sshd 2 3600" in read(s.out), what="actionban")
    # the entries really are in that journal, the other identifier's too
    assert jd.entries("sshd") == [fail_line("192.0.2.99"), fail_line("192.0.2.5"),
                                  fail_line("192.0.2.5", user="admin")]
    assert len(jd.entries("sshd-other")) == 3
    log = read(s.wlog)
    assert len(re.findall(r"\[sshd\] Found 192\.0\.2\.5 - ", log)) == 2, log
    assert len(re.findall(r"\[sshd\] Ban 192\.0\.2\.5$", log, re.M)) == 1, log
    why = s.cli("why", "192.0.2.5").stdout.splitlines()
    assert len(why) == 2 and all("\tsshd\tjournal\t" in l for l in why), why
    # the journal line as the filter saw it: syslog layout, sshd[PID]
    assert all(re.search(r"\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ sshd\[\d+\]: Failed password for "
                         r"(root|admin) from 192\.0\.2\.5 port 22 ssh2", l) for l in why), why


def test_entries_older_than_findtime_are_not_read(jserver):
    jd = jserver.jd.go()
    jd.cat("sshd", fail_line("192.0.2.98"))
    wait_for(lambda: jd.entries("sshd"), what="the entry in the journal")
    time.sleep(2.5)
    s = jserver(findtime="2s")
    jd.cat("sshd", fail_line("192.0.2.97"))
    wait_for(lambda: "Total failed:\t1\n" in s.status(), what="the new entry")
    time.sleep(0.3)
    assert "192.0.2.98" not in read(s.wlog)


def test_entries_written_while_down_are_read_after_the_restart(jserver):
    """The position (the last entry's time) is kept in the database: what
    arrived while mailwarden was down is read once at the next start."""
    s = jserver(maxretry=3)
    jd = jserver.jd
    jd.cat("sshd", fail_line("192.0.2.60"))
    wait_for(lambda: "Total failed:\t1\n" in s.status(), what="the first failure")
    assert s.stop() == []
    jd.cat("sshd", fail_line("192.0.2.60", user="a"), fail_line("192.0.2.60", user="b"))
    wait_for(lambda: len(jd.entries("sshd")) == 3, what="the entries while down")
    s.start()
    wait_for(lambda: "Banned IP list:\t192.0.2.60\n" in s.status(), what="the ban after the restart")
    log = read(s.wlog)
    assert len(re.findall(r"\[sshd\] Found 192\.0\.2\.60 - ", log)) == 3, log


def test_two_entries_at_once_on_a_journal_without_a_match(jserver):
    """Started when no entry matches journalmatch (only journald's own),
    then two failures arrive together: both count. (sd_journal_seek_tail
    + sd_journal_previous finding nothing leaves the journal at its tail,
    and libsystemd 252's sd_journal_next from there returns the LAST entry
    of the batch, skipping the ones before it.)"""
    s = jserver()
    jd = jserver.jd
    jd.cat("sshd", fail_line("198.51.100.20"), fail_line("198.51.100.20", user="guest"))
    deadline = time.time() + 5
    while "Banned IP list:\t198.51.100.20\n" not in s.status() and time.time() < deadline:
        time.sleep(0.05)
    st = s.status()
    assert "Total failed:\t2\n" in st and "Banned IP list:\t198.51.100.20\n" in st, (
        st, read(s.wlog))


def test_restart_does_not_count_old_entries_again(jserver):
    s = jserver()
    jd = jserver.jd
    # banned before the restart
    jd.cat("sshd", fail_line("192.0.2.7"), fail_line("192.0.2.7"))
    wait_for(lambda: "Banned IP list:\t192.0.2.7\n" in s.status(), what="the ban")
    # one failure (of maxretry 2) for another address
    jd.cat("sshd", fail_line("203.0.113.9"))
    wait_for(lambda: "Total failed:\t3\n" in s.status(), what="the third failure")
    assert s.stop() == []
    # while it is down: nothing is written. Start again.
    s.start()
    wait_for(lambda: "Banned IP list:\t192.0.2.7\n" in s.status(), what="the restored ban")
    time.sleep(0.5)        # time to (wrongly) read the journal's old entries
    st = s.status()
    # the old entries were not read again: 203.0.113.9 has its one stored
    # failure (replayed from the store), not two, so it is not banned
    assert "Currently failed:\t1\n" in st and "Banned IP list:\t192.0.2.7\n" in st, st
    log = read(s.wlog)
    assert len(re.findall(r"\[sshd\] Found ", log)) == 3, log
    assert re.search(r"\[sshd\] Restore Ban 192\.0\.2\.7$", log, re.M), log
    # a new entry is read, and with the replayed failure it is maxretry
    jd.cat("sshd", fail_line("203.0.113.9", user="oracle"))
    wait_for(lambda: "203.0.113.9" in s.status(), what="the ban after the restart")
    st = s.status()
    assert "Banned IP list:\t192.0.2.7 203.0.113.9\n" in st, st
    log = read(s.wlog)
    assert len(re.findall(r"\[sshd\] Found ", log)) == 4, log
    assert len(re.findall(r"\[sshd\] Ban 192\.0\.2\.7$", log, re.M)) == 1, log
    assert len(re.findall(r"\[sshd\] Ban 203\.0\.113\.9$", log, re.M)) == 1, log


def test_journalmatch_terms_and_alternatives(jserver):
    """Terms ANDed, "+" starts an alternative, on a real journal."""
    match = ("_TRANSPORT=journal SYSLOG_IDENTIFIER=sshd"
             " + _TRANSPORT=stdout SYSLOG_IDENTIFIER=sshd PRIORITY=3")
    s = jserver(match=match)
    jd = jserver.jd
    assert f"|  `- Journal matches:\t{match}\n" in s.status()
    jd.cat("sshd", fail_line("192.0.2.40"))                      # stdout, priority 6: no
    jd.send(SYSLOG_IDENTIFIER="sshd-other", MESSAGE=fail_line("192.0.2.40"))   # no
    jd.cat("sshd-other", fail_line("192.0.2.40"), priority="err")  # no
    jd.send(SYSLOG_IDENTIFIER="sshd", MESSAGE=fail_line("192.0.2.40"))   # first alternative
    wait_for(lambda: "Total failed:\t1\n" in s.status(), what="the native entry")
    jd.cat("sshd", fail_line("192.0.2.40", user="bin"), priority="err")  # the second one
    wait_for(lambda: "Banned IP list:\t192.0.2.40\n" in s.status(), what="the ban")
    assert "Total failed:\t2\n" in s.status()
    assert len(jd.entries("sshd")) == 3 and len(jd.entries("sshd-other")) == 2


def test_reload_does_not_read_old_entries_again(jserver):
    s = jserver(maxretry=3)
    jd = jserver.jd
    jd.cat("sshd", fail_line("192.0.2.50"), fail_line("192.0.2.50"))
    wait_for(lambda: "Total failed:\t2\n" in s.status(), what="two failures")
    assert s.cli("reload").stdout == "OK\n"
    wait_for(lambda: read(s.wlog).count("Jail 'sshd' started") == 2, what="the jail restarted")
    time.sleep(0.5)
    st = s.status()
    assert "Currently failed:\t1\n" in st and "Currently banned:\t0\n" in st, st
    assert len(re.findall(r"\[sshd\] Found ", read(s.wlog))) == 2
    jd.cat("sshd", fail_line("192.0.2.50"))
    wait_for(lambda: "Banned IP list:\t192.0.2.50\n" in s.status(), what="the third failure")
    assert len(re.findall(r"\[sshd\] Found ", read(s.wlog))) == 3


def test_journald_started_after_mailwarden(jserver):
    """mailwarden first, on a machine without /run/log/journal: libsystemd
    watches only the journal directories that exist when it opens the
    journal; the directory journald creates later is picked up (looked
    for every second) and its entries read."""
    s = jserver(journald=False)
    jd = jserver.jd
    time.sleep(0.3)
    jd.go()
    jd.cat("sshd", fail_line("192.0.2.60"), fail_line("192.0.2.60", user="test"))
    wait_for(lambda: "Banned IP list:\t192.0.2.60\n" in s.status(), timeout=5,
             what="the ban from a journal that appeared after the start")
    assert "Total failed:\t2\n" in s.status()
    jd.cat("sshd", fail_line("192.0.2.61"))
    wait_for(lambda: "Total failed:\t3\n" in s.status(), what="a later entry")


def test_journal_directory_created_later_resumes_after_the_last_entry(jserver_novar):
    """/var/log/journal created while mailwarden reads /run/log/journal:
    the journal is opened again after the last entry read (its cursor),
    nothing is read twice."""
    s = jserver_novar(maxretry=3)
    jd = jserver_novar.jd
    assert not os.path.exists(f"/proc/{jd.proc.pid}/root/var/log/journal")
    jd.cat("sshd", fail_line("192.0.2.70"))
    wait_for(lambda: "Total failed:\t1\n" in s.status(), what="the first failure")
    jd.run("mkdir", "/var/log/journal")
    s.wait_log(r"journal: /var/log/journal appeared; journal opened again", timeout=5)
    time.sleep(0.3)
    jd.cat("sshd", fail_line("192.0.2.70", user="x"))
    wait_for(lambda: "Total failed:\t2\n" in s.status(), what="the second failure")
    time.sleep(0.3)
    st = s.status()
    assert "Total failed:\t2\n" in st and "Currently banned:\t0\n" in st, st
    jd.cat("sshd", fail_line("192.0.2.70", user="y"))
    wait_for(lambda: "Banned IP list:\t192.0.2.70\n" in s.status(), what="the ban")
    assert len(re.findall(r"\[sshd\] Found ", read(s.wlog))) == 3
