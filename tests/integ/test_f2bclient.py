"""`mailwarden fail2ban-client` against fail2ban-client itself: the same
command sequence is given to Debian's fail2ban-client talking to a private
fail2ban-server (its own config dir, socket, pid file, log and an
in-memory database, in the test's directory; never the system one) and to
`mailwarden fail2ban-client` talking to a mailwarden with the same two
jails; stdout, stderr and the exit code must agree line for line.

Normalised, because they must differ: each side's own directory (log
paths, sockets) becomes DIR; on stderr the time stamp and pid of
fail2ban's log line prefix; in `get JAIL banip --with-time` the ban's
start and end times (the two servers ban a few milliseconds apart).
Nothing else."""
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import BIN
from test_warden import wait_for

F2B_CLIENT = shutil.which("fail2ban-client")
pytestmark = pytest.mark.skipif(F2B_CLIENT is None, reason="fail2ban is not installed")

ACTION = """\
[Definition]
actionstart = echo start <name> >> <out>
actionstop = echo stop <name> >> <out>
actioncheck =
actionban = echo ban <ip> <name> >> <out>
actionunban = echo unban <ip> <name> >> <out>

[Init]
out = /dev/null
"""

# The jails, in jail.conf syntax for both; LOG and OUT are filled in.
JAILS = """\
[sshd]
enabled = true
filter = sshd
logpath = {log1}
maxretry = 3
findtime = 10m
bantime = 600
ignoreip = 127.0.0.1/8 ::1
action = testlog[out={out}]

[postfix-sasl]
enabled = true
filter = sshd
logpath = {log2}
maxretry = 2
findtime = 300
bantime = 1h
ignoreip = 127.0.0.1/8 ::1
action = testlog[out={out}]
"""


def ssh_fail(path, ip):
    stamp = time.strftime("%b %d %H:%M:%S")
    with open(path, "a") as f:
        f.write(f"{stamp} host sshd[1234]: Failed password for root from {ip} port 22 ssh2\n")


class Side:
    """One of the two: how to run its client, and what to normalise."""

    def __init__(self, name, argv, d, sock, log1, log2, conf=None):
        self.name, self.argv, self.dir, self.sock = name, argv, d, sock
        self.log1, self.log2, self.conf = log1, log2, conf

    def run(self, *args, env=None):
        r = subprocess.run(self.argv + list(args), capture_output=True, text=True,
                           timeout=60, env=env)
        return r.returncode, self.norm(r.stdout), self.norm_err(r.stderr)

    def norm(self, text):
        text = text.replace(self.dir, "DIR")
        return re.sub(r"\t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+ (-?\d+) = \d{4}-\d\d-\d\d "
                      r"\d\d:\d\d:\d\d", r"\tSTART + \1 = END", text)

    def norm_err(self, text):
        text = self.norm(text)
        return re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\S+ *)\[\d+\]:", r"TIME \1[PID]:",
                      text, flags=re.M)


@pytest.fixture
def fail2ban(tmp_path):
    """A private fail2ban-server: config in DIR/conf, started with
    `fail2ban-client -c DIR/conf -x start` (it forks into the
    background), stopped at the end."""
    d = tmp_path / "f2b"
    conf = d / "conf"
    for sub in ("filter.d", "action.d", "run"):
        (conf / sub).mkdir(parents=True)
    for f in ("sshd.conf", "common.conf"):
        shutil.copy(f"/etc/fail2ban/filter.d/{f}", conf / "filter.d" / f)
    (conf / "action.d" / "testlog.conf").write_text(ACTION)
    log1, log2 = d / "auth.log", d / "mail.log"
    log1.write_text("")
    log2.write_text("")
    sock, pid = conf / "run" / "f2b.sock", conf / "run" / "f2b.pid"
    (conf / "fail2ban.conf").write_text(
        "[Definition]\nloglevel = INFO\n"
        f"logtarget = {d}/fail2ban.log\nsyslogsocket = auto\n"
        f"socket = {sock}\npidfile = {pid}\ndbfile = :memory:\ndbpurgeage = 1d\n"
        "allowipv6 = auto\n")
    (conf / "jail.conf").write_text(
        "[DEFAULT]\nbackend = polling\n\n" +
        JAILS.format(log1=log1, log2=log2, out=d / "actions.out"))
    r = subprocess.run([F2B_CLIENT, "-c", str(conf), "-x", "start"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    side = Side("fail2ban", [F2B_CLIENT, "-c", str(conf), "-s", str(sock)], str(d),
                str(sock), str(log1), str(log2), str(conf))
    wait_for(lambda: side.run("ping")[0] == 0, timeout=30, what="fail2ban-server")
    yield side
    subprocess.run([F2B_CLIENT, "-c", str(conf), "stop"], capture_output=True, timeout=60)
    try:
        os.kill(int(pid.read_text()), 9)
    except (OSError, ValueError):
        pass


@pytest.fixture
def warden(make_server, fail2ban):
    """mailwarden with the same jails; its client gets the same -c DIR
    (fail2ban's, ignored) and its own -s."""
    s = make_server(start=False)
    d = s.dir
    adir = os.path.join(d, "action.d")
    os.mkdir(adir)
    with open(os.path.join(adir, "testlog.conf"), "w") as f:
        f.write(ACTION)
    log1, log2 = os.path.join(d, "auth.log"), os.path.join(d, "mail.log")
    for p in (log1, log2):
        open(p, "w").close()
        os.chmod(p, 0o644)
    # the warden's fail2ban log in a directory its user may write, so
    # that flushlogs can make a new file after rotation
    ldir = os.path.join(d, "f2blog")
    os.mkdir(ldir)
    shutil.chown(ldir, user="mwwarden")
    s.wlog = os.path.join(ldir, "fail2ban.log")
    s.extra = [f"warden_action_path = {adir}", f"warden_logtarget = {s.wlog}"] + \
        JAILS.format(log1=log1, log2=log2, out=os.path.join(d, "actions.out")).splitlines()
    s.write_config()
    s.start()
    sock = os.path.join(s.spool, "warden.sock")
    side = Side("mailwarden", [BIN, "fail2ban-client", "-c", fail2ban.conf, "-s", sock], d,
                sock, log1, log2)
    side.server = s
    wait_for(lambda: side.run("ping")[0] == 0, what="the warden")
    return side


def same(f2b, mw, *args):
    a, b = f2b.run(*args), mw.run(*args)
    assert b == a, f"fail2ban-client {' '.join(args)}:\n fail2ban:   {a!r}\n mailwarden: {b!r}"
    return a


SEQUENCE = [
    ("ping",), ("ping", "2"), ("version",), ("status",), ("status", "sshd"),
    ("status", "nosuch"),
    ("set", "sshd", "banip", "198.51.100.1", "198.51.100.2"),
    ("set", "nosuch", "banip", "198.51.100.3"),
    ("status", "sshd"), ("status", "sshd", "short"), ("status", "sshd", "basic"),
    ("get", "sshd", "banip"), ("get", "sshd", "banip", ","),
    ("get", "sshd", "banip", "--with-time"),
    ("get", "sshd", "banned"), ("get", "sshd", "banned", "198.51.100.1"),
    ("get", "sshd", "banned", "198.51.100.1", "198.51.100.9"),
    ("set", "postfix-sasl", "banip", "198.51.100.5"),
    ("banned",), ("banned", "198.51.100.1"), ("banned", "198.51.100.5", "198.51.100.9"),
    ("get", "sshd", "bantime"), ("get", "postfix-sasl", "bantime"),
    ("get", "sshd", "findtime"), ("get", "postfix-sasl", "findtime"),
    ("get", "sshd", "maxretry"), ("get", "sshd", "logpath"), ("get", "sshd", "ignoreip"),
    ("get", "sshd", "actions"), ("get", "sshd", "nosuchkey"), ("get", "nosuch", "bantime"),
    ("get", "sshd"), ("set", "sshd"), ("set", "sshd", "nosuchkey", "1"),
    ("unban", "198.51.100.5"), ("unban", "198.51.100.5"), ("unban", "bad..ip"),
    ("set", "sshd", "unbanip", "198.51.100.2"), ("set", "sshd", "unbanip", "198.51.100.2"),
    ("set", "sshd", "unbanip", "--report-absent", "198.51.100.9", "198.51.100.10"),
    ("set", "sshd", "unbanip"), ("set", "nosuch", "unbanip", "198.51.100.1"),
    ("status", "sshd"), ("flushlogs",),
    ("reload",), ("reload", "sshd"), ("reload", "--all"), ("reload", "nosuch"),
    ("reload", "sshd", "extra"),
    ("unban",), ("bogus",), ("status", "sshd", "a", "b"),
]


def test_same_output_as_fail2ban(fail2ban, warden):
    for args in SEQUENCE:
        same(fail2ban, warden, *args)
    # failures from the followed logs, then a ban at maxretry
    for side in (fail2ban, warden):
        for _ in range(2):
            ssh_fail(side.log1, "203.0.113.200")
    for side in (fail2ban, warden):
        wait_for(lambda: "Total failed:\t2" in side.run("status", "sshd")[1],
                 what=f"{side.name}: 2 failures")
    same(fail2ban, warden, "status", "sshd")
    for side in (fail2ban, warden):
        ssh_fail(side.log1, "203.0.113.200")
    for side in (fail2ban, warden):
        wait_for(lambda: "Currently banned:\t2" in side.run("status", "sshd")[1],
                 what=f"{side.name}: ban at maxretry")
    # a reload keeps bans and totals; --unban lifts the jail's bans
    for args in [("status", "sshd"), ("get", "sshd", "banip"), ("banned",),
                 ("reload",), ("status", "sshd"), ("set", "sshd", "banip", "198.51.100.1"),
                 ("set", "postfix-sasl", "banip", "198.51.100.8"),
                 ("reload", "--unban", "sshd"), ("status", "sshd"), ("banned",),
                 ("unban", "--all"), ("unban", "--all"), ("status", "postfix-sasl"),
                 ("status",)]:
        same(fail2ban, warden, *args)


def test_same_socket_errors(fail2ban, warden, tmp_path):
    gone = str(tmp_path / "no.sock")
    for args in [("ping",), ("status",)]:
        a = subprocess.run([F2B_CLIENT, "-s", gone, *args], capture_output=True, text=True)
        b = subprocess.run([BIN, "fail2ban-client", "-s", gone, *args], capture_output=True,
                           text=True)
        assert (b.returncode, b.stdout, warden.norm_err(b.stderr)) == \
            (a.returncode, a.stdout, warden.norm_err(a.stderr))
        assert b.returncode == 255 and "Failed to access socket path: " + gone in b.stderr


def test_options_and_program_name(warden, tmp_path):
    s = warden.server
    # -V / --version / --str2sec as fail2ban-client's
    assert subprocess.run([BIN, "fail2ban-client", "-V"], capture_output=True,
                          text=True).stdout == "1.0.2\n"
    assert subprocess.run([BIN, "fail2ban-client", "--version"], capture_output=True,
                          text=True).stdout == "Fail2Ban v1.0.2\n"
    assert subprocess.run([BIN, "fail2ban-client", "--str2sec", "1d12h"], capture_output=True,
                          text=True).stdout == "129600\n"
    # without -s: the socket from mailwarden's config (-c before the
    # subcommand, --config after it, or $MAILWARDEN_CONFIG)
    for argv, env in [([BIN, "-c", s.conf, "fail2ban-client", "ping"], None),
                      ([BIN, "fail2ban-client", "--config", s.conf, "ping"], None),
                      ([BIN, "fail2ban-client", "-q", "ping"],
                       dict(os.environ, MAILWARDEN_CONFIG=s.conf))]:
        r = subprocess.run(argv, capture_output=True, text=True, env=env)
        assert (r.returncode, r.stdout) == (0, "Server replied: pong\n"), (argv, r.stderr)
    # run under the name fail2ban-client (a link in the test's directory,
    # never over the fail2ban package's own file)
    link = tmp_path / "fail2ban-client"
    os.symlink(BIN, link)
    r = subprocess.run([str(link), "--config", s.conf, "status"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("Status\n|- Number of jail:\t2\n"), r
    # no command: usage and 255, as fail2ban-client
    r = subprocess.run([str(link)], capture_output=True, text=True)
    assert r.returncode == 255 and r.stdout.startswith("Usage: fail2ban-client [OPTIONS]")
    # start/stop belong to the mail system
    r = warden.run("stop")
    assert r[0] == 255 and "starts and stops with the mail system" in r[2]


def test_many_addresses_and_not_an_address(warden):
    ips = [f"203.0.113.{i}" for i in range(1, 81)]
    assert warden.run("set", "sshd", "banip", *ips)[:2] == (0, "80\n")
    assert warden.run("set", "sshd", "banip", *ips)[:2] == (0, "0\n")
    assert warden.run("status", "sshd", "short")[1].endswith("Currently banned:\t80\n"
                                                              "   `- Total banned:\t80\n")
    assert warden.run("unban", *ips[:50])[:2] == (0, "50\n")
    assert warden.run("set", "sshd", "unbanip", *ips)[:2] == (0, "30\n")
    # mailwarden refuses what fail2ban would hand to its actions as text
    # (a host name, garbage) and addresses in ignoreip: nothing banned
    rc, out, err = warden.run("set", "sshd", "banip", "198.51.100.1", "not-an-ip")
    assert rc == 255 and out == "not an IP address or network: not-an-ip\n"
    assert "ERROR   NOK: ('not an IP address or network: not-an-ip',)" in err
    rc, out, err = warden.run("set", "sshd", "banip", "127.0.0.1")
    assert rc == 255 and "ignoreip" in out
    assert warden.run("status", "sshd", "short")[1].endswith("Currently banned:\t0\n"
                                                             "   `- Total banned:\t80\n")
    # IPv6 is banned by /64: an address inside counts as banned
    assert warden.run("set", "sshd", "banip", "2001:db8:1:2::5")[:2] == (0, "1\n")
    assert warden.run("get", "sshd", "banned", "2001:db8:1:2::77")[:2] == (0, "1\n")
    assert warden.run("banned", "2001:db8:1:2::77")[:2] == (0, "[['sshd']]\n")
    assert warden.run("get", "sshd", "banip")[:2] == (0, "2001:db8:1:2::/64\n")


def test_flushlogs_reopens_the_log(warden):
    s = warden.server
    assert warden.run("set", "sshd", "banip", "198.51.100.40")[:2] == (0, "1\n")
    wait_for(lambda: "Ban 198.51.100.40" in open(s.wlog).read(), what="ban logged")
    os.rename(s.wlog, s.wlog + ".1")
    assert warden.run("flushlogs")[:2] == (0, "logs: rolled over\n")
    assert warden.run("set", "sshd", "unbanip", "198.51.100.40")[:2] == (0, "1\n")
    wait_for(lambda: os.path.exists(s.wlog) and "Unban 198.51.100.40" in open(s.wlog).read(),
             what="the new file")
    assert "Unban" not in open(s.wlog + ".1").read()
