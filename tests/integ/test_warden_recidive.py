"""Debian's [recidive] jail over the ban engine's own fail2ban-format log
(issue 12), in network namespaces with the real kernel firewall.

An sshd jail (a log file the test writes, maxretry 1, bantime 1 s, no
action) bans an IPv4 address and an IPv6 /64 five times each; the
recidive jail, Debian's section from /etc/fail2ban/jail.conf pasted
unchanged but for short times and logpath = warden_logtarget, reads the
`NOTICE  [sshd] Ban HOST` lines the warden itself writes there and bans
both (its default action, the built-in nft, for every port): the
attacker's SYNs are dropped, another address of the host and another /64
still get an answer. The IPv6 Ban line names an address (fail2ban's
<HOST> takes no /64), recidive counts each line once and not its own Ban
lines; fail2ban-regex agrees on the log. After a rotation (rename, a new
file made as logrotate's `create` would), `mailwarden fail2ban-client
flushlogs` and SIGUSR1 to the master (handed to the warden) reopen the log, and recidive
follows the new file.
"""
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import BIN, children_by_comm
from netns import Pair, in_netns, sh
from test_netns_ban import PORT, NsServer
from test_warden import read, wait_for

JAIL_CONF = "/etc/fail2ban/jail.conf"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/sbin/nft"),
                       reason="needs root and nftables"),
    pytest.mark.skipif(not os.path.exists(JAIL_CONF), reason="fail2ban's jail.conf not installed"),
]

SRV6 = "2001:db8:1::1"
ATK6, ATK6_SAME64, OTHER6 = "2001:db8:2::66", "2001:db8:2::77", "2001:db8:3::5"
_pid = [7000]


def debian_recidive(logpath):
    """Debian's [recidive] section as jail.conf has it, but for short
    times and logpath; `enabled = true` is what jail.local would add."""
    lines, inside = [], False
    with open(JAIL_CONF) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("["):
                if inside:
                    break
                inside = line.strip() == "[recidive]"
            if inside:
                lines.append(line)
    assert lines, "no [recidive] section in " + JAIL_CONF
    short = {"logpath": f"logpath  = {logpath}", "bantime": "bantime  = 60",
             "findtime": "findtime = 10m"}
    out = [short.get(l.split("=")[0].strip(), l) if "=" in l else l for l in lines]
    assert sum(1 for l in out if l in short.values()) == 3, out
    return out[:1] + ["enabled = true"] + out[1:]


def ssh_fail(path, ip):
    _pid[0] += 1
    stamp = time.strftime("%b %d %H:%M:%S")
    with open(path, "a") as f:
        f.write(f"{stamp} host sshd[{_pid[0]}]: Failed password for root from {ip} "
                f"port 22 ssh2\n")


def add_v6(pair):
    """IPv6 on the veth pair: the server in 2001:db8:1::/64, the attacker
    with two addresses of 2001:db8:2::/64 and one of 2001:db8:3::/64."""
    sh("ip", "-n", pair.srv, "addr", "add", f"{SRV6}/64", "dev", "mwv0", "nodad")
    for a in (ATK6, ATK6_SAME64, OTHER6):
        sh("ip", "-n", pair.atk, "addr", "add", f"{a}/64", "dev", "mwv1", "nodad")
    sh("ip", "-n", pair.srv, "-6", "route", "add", "2001:db8::/32", "dev", "mwv0")
    sh("ip", "-n", pair.atk, "-6", "route", "add", "2001:db8:1::/64", "dev", "mwv1")


def answered(pair, source, timeout=1.0):
    """True when a SYN from source to the server's port 25 gets an answer
    (accepted, or refused where nothing listens), False when dropped."""
    v6 = ":" in source
    dest = SRV6 if v6 else Pair.SERVER

    def syn():
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.bind((source, 0))
            s.connect((dest, PORT))
            return True
        except socket.timeout:
            return False
        except ConnectionRefusedError:
            return True
        finally:
            s.close()
    return in_netns(pair.atk, syn)


def logrotate_create(path):
    """What logrotate's `create 640 mwwarden adm` does after the rename (the
    warden, not root, reopens the log: docs/warden.md, flushlogs)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    os.fchown(fd, pwd.getpwnam("mwwarden").pw_uid, grp.getgrnam("adm").gr_gid)
    os.close(fd)


@pytest.fixture
def pair():
    p = Pair().create()
    add_v6(p)
    yield p
    p.destroy()


def status(srv, jail):
    r = srv.cli("status", jail)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def field(st, name):
    return re.search(rf"{name}:\t(.*)\n", st).group(1)


def test_recidive_bans_what_other_jails_banned(pair):
    srv = NsServer(pair, [])
    os.chmod(srv.dir, 0o755)
    auth, wlog = os.path.join(srv.dir, "auth.log"), os.path.join(srv.dir, "fail2ban.log")
    open(auth, "w").close()
    srv.extra = [f"warden_logtarget = {wlog}",
                 "[sshd]", "enabled = true", "filter = sshd", f"logpath = {auth}",
                 "maxretry = 1", "findtime = 10m", "bantime = 1", "action ="]
    srv.extra += debian_recidive(wlog)
    srv.write_config()
    try:
        srv.start()
        wait_for(lambda: srv.cli("status").returncode == 0, what="the warden answering")
        assert srv.cli("status").stdout.endswith("Jail list:\trecidive, sshd\n")
        for a in (Pair.ATTACKER, Pair.OTHER, ATK6, ATK6_SAME64, OTHER6):
            assert answered(pair, a), a
        # five bans of each by sshd, one after the other expired
        for n in range(1, 6):
            ssh_fail(auth, Pair.ATTACKER)
            ssh_fail(auth, ATK6)
            wait_for(lambda: field(status(srv, "sshd"), "Total banned") == str(2 * n),
                     what=f"sshd's ban #{n}")
            if n < 5:
                wait_for(lambda: field(status(srv, "sshd"), "Currently banned") == "0",
                         timeout=5, what=f"sshd's ban #{n} expired")
        log = read(wlog)
        # the IPv6 Ban line names an address recidive's <HOST> matches
        assert len(re.findall(r"NOTICE  \[sshd\] Ban 2001:db8:2::$", log, re.M)) == 5, log
        assert re.search(r"INFO    \[sshd\] the ban of 2001:db8:2:: covers 2001:db8:2::/64$",
                         log, re.M), log
        assert "Ban 2001:db8:2::/64" not in log
        # recidive bans both, counting each sshd Ban line once
        wait_for(lambda: field(status(srv, "recidive"), "Currently banned") == "2",
                 timeout=10, what="recidive's bans")
        st = status(srv, "recidive")
        assert sorted(field(st, "Banned IP list").split()) == ["192.0.2.66", "2001:db8:2::/64"]
        assert field(st, "Total failed") == "10", st
        assert field(st, "File list") == wlog, st
        # in the kernel: the attacker is dropped on every port, its /64 too;
        # its other IPv4 address and another /64 still get an answer
        assert not answered(pair, Pair.ATTACKER)
        assert not answered(pair, ATK6)
        assert not answered(pair, ATK6_SAME64)
        assert answered(pair, Pair.OTHER)
        assert answered(pair, OTHER6)
        # no feedback: its own Ban lines are excluded by the filter (?!recidive)
        log = read(wlog)
        assert re.search(r"NOTICE  \[recidive\] Ban 192\.0\.2\.66$", log, re.M), log
        assert re.search(r"NOTICE  \[recidive\] Ban 2001:db8:2::$", log, re.M), log
        time.sleep(1.5)
        assert field(status(srv, "recidive"), "Total failed") == "10"
        assert field(status(srv, "recidive"), "Total banned") == "2"
        # fail2ban itself reads the log the same way
        if shutil.which("fail2ban-regex"):
            r = subprocess.run(["fail2ban-regex", wlog, "/etc/fail2ban/filter.d/recidive.conf"],
                               capture_output=True, text=True, timeout=120)
            assert re.search(r"Failregex: 10 total", r.stdout), r.stdout

        # rotation: renamed, then reopened by flushlogs; recidive follows
        os.rename(wlog, wlog + ".1")
        logrotate_create(wlog)
        r = subprocess.run([BIN, "-c", srv.conf, "fail2ban-client", "flushlogs"],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0 and r.stdout == "logs: rolled over\n", r.stdout + r.stderr
        assert re.search(r"fail2ban\.server +\[\d+\]: INFO    rollover performed on " +
                         re.escape(wlog) + "$", read(wlog), re.M), read(wlog)
        ssh_fail(auth, "198.51.100.9")
        wait_for(lambda: re.search(r"\[sshd\] Ban 198\.51\.100\.9$", read(wlog), re.M),
                 what="Ban line in the new file")
        wait_for(lambda: field(status(srv, "recidive"), "Total failed") == "11",
                 what="recidive reading the new file")
        assert "198.51.100.9" not in read(wlog + ".1")
        # and by SIGUSR1 to the master (handed to the warden), which stays up
        os.rename(wlog, wlog + ".2")
        logrotate_create(wlog)
        warden = children_by_comm(srv.proc.pid)["warden"]
        os.kill(srv.proc.pid, signal.SIGUSR1)
        wait_for(lambda: "rollover performed on" in read(wlog), what="reopened on SIGUSR1")
        ssh_fail(auth, "198.51.100.10")
        wait_for(lambda: re.search(r"\[sshd\] Ban 198\.51\.100\.10$", read(wlog), re.M),
                 what="Ban line after SIGUSR1")
        wait_for(lambda: field(status(srv, "recidive"), "Total failed") == "12",
                 what="recidive reading the file made on SIGUSR1")
        assert "198.51.100.10" not in read(wlog + ".2")
        assert srv.proc.poll() is None
        assert children_by_comm(srv.proc.pid)["warden"] == warden	# reopened, not restarted
    finally:
        problems = srv.stop()
    assert not problems, problems
