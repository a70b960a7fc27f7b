"""A log-watching jail for another service, end to end: an sshd log file
written by the test (filter = sshd, fail2ban's own filter or the built-in
one), rotated in the middle of an attack by rename + a new file and by
copytruncate, bans the right address (checked with `mailwarden status
sshd` and `mailwarden banned`); a logpath that does not exist yet is a
warning at start, and the file is followed once it appears.

No firewall is touched: the jail's action is a harmless action.d command
that appends to a file (as in test_warden.py)."""
import os
import re
import shutil
import time

import pytest

from test_warden import ACTION, cli, read, wait_for

_pid = [4000]


def ssh_fail(path, ip, user="root"):
    """One sshd failure line, each from its own sshd process as in a real
    log: the sshd filter is multi-line per pid (fail2ban's mlfid), and like
    fail2ban it keeps the first address family's host for a pid."""
    _pid[0] += 1
    stamp = time.strftime("%b %d %H:%M:%S")
    with open(path, "a") as f:
        f.write(f"{stamp} host sshd[{_pid[0]}]: Failed password for {user} from {ip} "
                f"port 22 ssh2\n")


def make_jail(make_server, tmp_path, logpath, maxretry=4):
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir(exist_ok=True)
    (adir / "testlog.conf").write_text(ACTION)
    out = tmp_path / "actions.out"
    wlog = tmp_path / "warden.log"
    s = make_server(extra=[
        f"warden_action_path = {adir}",
        f"warden_logtarget = {wlog}",
        "[sshd]",
        "enabled = true",
        "filter = sshd",
        f"logpath = {logpath}",
        f"maxretry = {maxretry}",
        "findtime = 10m",
        "bantime = 1h",
        f"action = testlog[out={out}]",
    ])
    s.out, s.wlog, s.logpath = str(out), str(wlog), str(logpath)
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden answering")
    return s


def status(s):
    return cli(s, "status", "sshd", check=False).stdout


def failed(s, n):
    wait_for(lambda: f"Total failed:\t{n}\n" in status(s), what=f"{n} failures counted")


def banned_list(s):
    m = re.search(r"Banned IP list:\t(.*)\n", status(s))
    return m.group(1).split() if m else None


def test_rename_rotation_bans_the_right_address(make_server, tmp_path):
    log = tmp_path / "auth.log"
    log.write_text("")
    s = make_jail(make_server, tmp_path, log)
    # two failures of the attacker and one of a bystander before the rotation
    ssh_fail(str(log), "192.0.2.9")
    ssh_fail(str(log), "198.51.100.20")
    ssh_fail(str(log), "192.0.2.9")
    failed(s, 3)
    # logrotate's default: rename, then the daemon opens a new file
    os.rename(log, tmp_path / "auth.log.1")
    ssh_fail(str(tmp_path / "auth.log.1"), "192.0.2.9")	# written before the reopen
    log.write_text("")
    failed(s, 4)
    s.wait_log(re.escape(str(log)) + ": rotated")
    assert banned_list(s) == []
    ssh_fail(str(log), "192.0.2.9")
    wait_for(lambda: banned_list(s) == ["192.0.2.9"], what="ban after the rotation")
    st = status(s)
    assert "Currently banned:\t1\n" in st and "Total failed:\t5\n" in st, st
    # the bystander (1 failure) is not banned; `banned` agrees
    b = cli(s, "banned").stdout
    assert re.fullmatch(r"sshd\t192\.0\.2\.9\t\d+s\n", b), b
    assert cli(s, "banned", "198.51.100.20").stdout == "198.51.100.20 is not banned\n"
    # the seconds left may tick between the two calls
    assert re.fullmatch(r"sshd\t192\.0\.2\.9\t\d+s\n", cli(s, "banned", "192.0.2.9").stdout)
    wait_for(lambda: "ban 192.0.2.9 sshd 4 3600" in read(s.out), what="actionban")
    assert "198.51.100.20" not in read(s.out)
    # the new file is the one followed: more lines there count
    ssh_fail(str(log), "203.0.113.7")
    failed(s, 6)


def test_copytruncate_rotation_bans_the_right_address(make_server, tmp_path):
    log = tmp_path / "auth.log"
    log.write_text("")
    s = make_jail(make_server, tmp_path, log, maxretry=3)
    # a long file first, so the truncated file is clearly shorter
    for _ in range(2):
        ssh_fail(str(log), "2001:db8:5::1")
    failed(s, 2)
    # logrotate's copytruncate: copy, then truncate in place
    shutil.copyfile(log, tmp_path / "auth.log.1")
    with open(log, "r+") as f:
        f.truncate(0)
    time.sleep(0.3)
    # a different address in the emptied file; its first line is shorter
    # than what was read, which is how the truncation is noticed
    ssh_fail(str(log), "192.0.2.77", user="x")
    failed(s, 3)
    s.wait_log(re.escape(str(log)) + ": truncated, reading from the start")
    ssh_fail(str(log), "2001:db8:5::2")	# same /64 as the first two: the third
    wait_for(lambda: banned_list(s) == ["2001:db8:5::/64"], what="ban of the /64")
    assert "Total failed:\t4\n" in status(s)
    b = cli(s, "banned").stdout
    assert re.fullmatch(r"sshd\t2001:db8:5::/64\t\d+s\n", b), b
    # the copy is not followed: lines there count for nothing
    ssh_fail(str(tmp_path / "auth.log.1"), "192.0.2.77")
    ssh_fail(str(tmp_path / "auth.log.1"), "192.0.2.77")
    time.sleep(1.5)
    assert banned_list(s) == ["2001:db8:5::/64"]
    assert "Total failed:\t4\n" in status(s)


def test_missing_logpath_warns_then_is_followed(make_server, tmp_path):
    d = tmp_path / "later"
    log = d / "auth.log"	# neither the file nor its directory exists yet
    s = make_jail(make_server, tmp_path, log, maxretry=2)
    # the warden started anyway (fail2ban would refuse) and said why
    s.wait_log(re.escape(str(log)) + r": does not exist yet; it will be followed when it")
    assert f"File list:\t" in status(s)
    d.mkdir()
    ssh_fail(str(log), "192.0.2.50")
    failed(s, 1)
    ssh_fail(str(log), "192.0.2.50")
    wait_for(lambda: banned_list(s) == ["192.0.2.50"], what="ban from the new file")
    assert re.search(r"NOTICE  \[sshd\] Ban 192\.0\.2\.50$", read(s.wlog), re.M)


def test_missing_logpath_in_existing_dir_is_followed(make_server, tmp_path):
    log = tmp_path / "secure"
    s = make_jail(make_server, tmp_path, log, maxretry=2)
    s.wait_log(re.escape(str(log)) + r": does not exist yet")
    ssh_fail(str(log), "2001:db8:7::9")
    ssh_fail(str(log), "2001:db8:7::10")
    wait_for(lambda: banned_list(s) == ["2001:db8:7::/64"], what="ban from the new file")
