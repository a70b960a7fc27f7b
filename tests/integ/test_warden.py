"""The ban engine (warden) end to end: the real mailwarden with a jail fed
from a log file the test writes (fail2ban's own sshd filter), a harmless
action.d command action appending to a file, the fail2ban-client layout
of `mailwarden status`, the bans file for the smtp engine, fail2ban-format
logging that Debian's recidive filter matches, and a restart that keeps
the ban (store)."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import BIN

ACTION = """\
[Definition]
actionstart = echo start <name> >> <out>
actionstop = echo stop <name> >> <out>
actioncheck =
actionban = echo ban <ip> <name> <failures> <bantime> >> <out>
actionunban = echo unban <ip> <name> >> <out>

[Init]
out = /dev/null
"""


def wait_for(fn, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def cli(s, *args, check=True):
    r = subprocess.run([BIN, "-c", s.conf, *args], capture_output=True, text=True, timeout=10)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def jail_server(make_server, tmp_path, jails):
    """A server whose jails (lines after warden_action_path/logtarget) can
    use the testlog action: `{out}` in a line is its output file and
    `$maillog_file` the server's mail log (jail.local syntax has no
    $name). Started, with the warden answering; s.out and s.wlog set."""
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "testlog.conf").write_text(ACTION)
    out = tmp_path / "actions.out"
    extra = [f"warden_action_path = {adir}", f"warden_logtarget = {tmp_path / 'warden.log'}"]
    extra += [j.replace("{out}", str(out)) for j in jails]
    s = make_server(extra=extra)
    s.extra = [e.replace("$maillog_file", s.maillog) for e in s.extra]
    s.stop()
    s.write_config()
    s.start()
    s.out, s.wlog = str(out), str(tmp_path / "warden.log")
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden answering")
    return s


def ssh_fail(path, ip, user="root"):
    stamp = time.strftime("%b %d %H:%M:%S")
    with open(path, "a") as f:
        f.write(f"{stamp} host sshd[1234]: Failed password for {user} from {ip} "
                f"port 22 ssh2\n")


@pytest.fixture
def warden_server(make_server, tmp_path):
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "testlog.conf").write_text(ACTION)
    out = tmp_path / "actions.out"
    auth = tmp_path / "auth.log"
    auth.write_text("")
    wlog = tmp_path / "warden.log"
    extra = [
        f"warden_action_path = {adir}",
        f"warden_logtarget = {wlog}",
        "[sshd]",
        "enabled = true",
        "filter = sshd",
        f"logpath = {auth}",
        "maxretry = 3",
        "findtime = 10m",
        "bantime = 1h",
        f"action = testlog[out={out}]",
    ]
    s = make_server(extra=extra)
    s.t = tmp_path
    s.out, s.auth, s.wlog = str(out), str(auth), str(wlog)
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden answering")
    return s


def test_status_layout_without_bans(warden_server):
    s = warden_server
    r = cli(s, "status")
    assert r.stdout == "Status\n|- Number of jail:\t1\n`- Jail list:\tsshd\n"
    r = cli(s, "status", "sshd")
    assert r.stdout == (
        "Status for the jail: sshd\n"
        "|- Filter\n"
        "|  |- Currently failed:\t0\n"
        "|  |- Total failed:\t0\n"
        f"|  `- File list:\t{s.auth}\n"
        "`- Actions\n"
        "   |- Currently banned:\t0\n"
        "   |- Total banned:\t0\n"
        "   `- Banned IP list:\t\n")
    r = cli(s, "status", "nosuch", check=False)
    assert r.returncode == 1 and "does not exist" in r.stderr
    wait_for(lambda: "start sshd" in read(s.out), what="actionstart")


def test_ban_at_maxretry_bansfile_restart(warden_server):
    s = warden_server
    for _ in range(2):
        ssh_fail(s.auth, "192.0.2.9")
    wait_for(lambda: "Total failed:\t2" in cli(s, "status", "sshd").stdout, what="2 failures")
    assert "Currently banned:\t0" in cli(s, "status", "sshd").stdout
    ssh_fail(s.auth, "192.0.2.9")
    wait_for(lambda: "Currently banned:\t1" in cli(s, "status", "sshd").stdout, what="ban")
    st = cli(s, "status", "sshd").stdout
    assert "Total failed:\t3" in st and "Banned IP list:\t192.0.2.9\n" in st
    short = cli(s, "status", "sshd", "short").stdout
    assert "Banned IP list" not in short and "`- Total banned:\t1" in short
    # the action ran with its tags
    wait_for(lambda: "ban 192.0.2.9 sshd 3 3600" in read(s.out), what="actionban")
    # the bans file for the smtp engine
    bans = read(os.path.join(s.spool, "warden", "bans"))
    assert re.search(r"^192\.0\.2\.9/32 \d+ sshd$", bans, re.M), bans
    # fail2ban's log layout
    log = read(s.wlog)
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} fail2ban\.actions        "
                     r"\[\d+\]: NOTICE  \[sshd\] Ban 192\.0\.2\.9$", log, re.M), log
    assert re.search(r"fail2ban\.filter         \[\d+\]: INFO    \[sshd\] Found 192\.0\.2\.9 - "
                     r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", log, re.M), log
    # banned / why / json
    assert re.match(r"sshd\t192\.0\.2\.9\t\d+s\n", cli(s, "banned").stdout)
    why = cli(s, "why", "192.0.2.9").stdout.splitlines()
    assert len(why) == 3 and all("\tsshd\t" + s.auth + "\t" in l for l in why), why
    j = json.loads(cli(s, "status", "sshd", "--json").stdout)
    assert j["banned"] == ["192.0.2.9"] and j["total_failed"] == 3
    # restart: the ban comes back from the store
    assert s.stop() == []
    s.start()
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden answering")
    wait_for(lambda: "Banned IP list:\t192.0.2.9" in cli(s, "status", "sshd", check=False).stdout,
             what="restored ban")
    assert re.search(r"NOTICE  \[sshd\] Restore Ban 192\.0\.2\.9$", read(s.wlog), re.M)
    # unban by hand
    assert cli(s, "unban", "192.0.2.9").stdout == "1\n"
    assert "Currently banned:\t0" in cli(s, "status", "sshd").stdout
    wait_for(lambda: "unban 192.0.2.9 sshd" in read(s.out), what="actionunban")
    assert "192.0.2.9" not in read(os.path.join(s.spool, "warden", "bans"))


@pytest.mark.skipif(not shutil.which("fail2ban-regex"), reason="fail2ban-regex not installed")
def test_recidive_matches_our_log(warden_server):
    s = warden_server
    cli(s, "ban", "sshd", "198.51.100.7")
    wait_for(lambda: "Ban 198.51.100.7" in read(s.wlog), what="ban logged")
    r = subprocess.run(["fail2ban-regex", s.wlog, "/etc/fail2ban/filter.d/recidive.conf"],
                       capture_output=True, text=True, timeout=60)
    assert re.search(r"Failregex: 1 total", r.stdout), r.stdout


def test_manual_ban_unban_all_and_ignore(warden_server):
    s = warden_server
    assert cli(s, "ban", "sshd", "203.0.113.5").stdout == "1\n"
    assert cli(s, "ban", "sshd", "2001:db8:1:2::5").stdout == "1\n"
    st = cli(s, "status", "sshd").stdout
    assert "Banned IP list:\t203.0.113.5 2001:db8:1:2::/64\n" in st
    r = cli(s, "ban", "sshd", "127.0.0.1", check=False)	# ignoreself
    assert r.returncode == 1 and "ignoreip" in r.stderr
    assert cli(s, "unban", "--all").stdout == "2\n"
    assert "Currently banned:\t0" in cli(s, "status", "sshd").stdout


def test_reload_keeps_bans_and_reads_new_jails(warden_server):
    s = warden_server
    cli(s, "ban", "sshd", "203.0.113.9")
    s.extra = [e.replace("maxretry = 3", "maxretry = 2") for e in s.extra] + [
        "[sshd2]", "enabled = true", "filter = sshd", f"logpath = {s.auth}",
        f"action = testlog[out={s.out}]"]
    s.write_config()
    assert cli(s, "reload").stdout == "OK\n"
    assert cli(s, "status").stdout.endswith("`- Jail list:\tsshd, sshd2\n")
    assert "Banned IP list:\t203.0.113.9\n" in cli(s, "status", "sshd").stdout
    # the master's SIGHUP starts a new warden with the same result
    s.sighup()
    s.wait_log(r"warden started: 2 jail\(s\)")
    wait_for(lambda: "Banned IP list:\t203.0.113.9\n" in
             cli(s, "status", "sshd", check=False).stdout, what="ban after SIGHUP")
