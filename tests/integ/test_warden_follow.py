"""A log-watching jail for another service, end to end: an sshd log file
written by the test (filter = sshd, fail2ban's own filter or the built-in
one), rotated in the middle of an attack by rename + a new file and by
copytruncate, bans the right address (checked with `mailwarden status
sshd` and `mailwarden banned`); a file removed and created again is still
followed. A jail whose logpath names no file at start stays down, as
fail2ban 1.0.2 refuses it (`Have not found any log file for JAIL jail`):
check-config fails, the other jails and mail run; a further logpath of a
running jail that is missing is followed once it appears. check-config
warns about a postfix jail that reads another file than maillog_file.

No firewall is touched: the jail's action is a harmless action.d command
that appends to a file (as in test_warden.py)."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import BIN
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


def test_removed_and_recreated_file_is_followed(make_server, tmp_path):
    log = tmp_path / "auth.log"
    log.write_text("")
    s = make_jail(make_server, tmp_path, log, maxretry=2)
    ssh_fail(str(log), "192.0.2.60")
    failed(s, 1)
    os.unlink(log)
    time.sleep(1.5)		# a tick with the file gone
    ssh_fail(str(log), "192.0.2.60")	# a new file at the path
    wait_for(lambda: banned_list(s) == ["192.0.2.60"], what="ban from the new file")


def check_config(s):
    return subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True, text=True,
                          timeout=20)


def conf_line(s, text):
    """The line number of text in s's config file."""
    with open(s.conf) as f:
        return next(i for i, l in enumerate(f, 1) if l.rstrip("\n") == text)


def test_missing_logpath_jail_stays_down_others_run(make_server, tmp_path):
    d = tmp_path / "later"
    missing = d / "auth.log"	# neither the file nor its directory exists
    good = tmp_path / "good.log"
    good.write_text("")
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "testlog.conf").write_text(ACTION)
    out, wlog = tmp_path / "actions.out", tmp_path / "warden.log"
    jail = lambda name, path: [f"[{name}]", "enabled = true", "filter = sshd",
                               f"logpath = {path}", "maxretry = 2", "findtime = 10m",
                               "bantime = 1h", f"action = testlog[out={out}]"]
    s = make_server(extra=[f"warden_action_path = {adir}", f"warden_logtarget = {wlog}"] +
                    jail("sshd", missing) + jail("sshd-ok", good), start=False)
    # check-config: fail2ban's message with the jail's file and line
    r = check_config(s)
    assert r.returncode != 0, r.stderr
    want = f"{s.conf}, line {conf_line(s, '[sshd]')}: Have not found any log file for sshd jail"
    assert want in r.stderr, r.stderr
    assert "sshd-ok" not in r.stderr, r.stderr
    # a glob that matches nothing is the same
    s.extra = [e.replace(str(missing), str(tmp_path / "*.nolog")) for e in s.extra]
    s.write_config()
    r = check_config(s)
    assert r.returncode != 0 and "Have not found any log file for sshd jail" in r.stderr, r.stderr
    s.extra = [e.replace(str(tmp_path / "*.nolog"), str(missing)) for e in s.extra]
    s.write_config()
    # at start only that jail is down: logged, in status --json, not listed
    s.start()
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden answering")
    s.wait_log(r"error: Have not found any log file for sshd jail \(" + re.escape(s.conf))
    # the ban log is written once per loop turn (f2blog_flush): it may come
    # a moment after the mail log line
    wait_for(lambda: re.search(r"fail2ban\.jail +\[\d+\]: ERROR   Have not found any log file "
                               r"for sshd jail \(", read(wlog)), what="the ERROR line in " + str(wlog))
    assert cli(s, "status").stdout == "Status\n|- Number of jail:\t1\n`- Jail list:\tsshd-ok\n"
    r = cli(s, "status", "sshd", check=False)
    assert r.returncode != 0 and "Sorry but the jail 'sshd' does not exist" in r.stdout + r.stderr
    j = json.loads(cli(s, "status", "--json").stdout)
    assert j["jails"] == ["sshd-ok"], j
    assert j["down"] == [{"jail": "sshd", "state": "down",
                          "error": "Have not found any log file for sshd jail"}], j
    assert json.loads(cli(s, "status", "sshd", "--json").stdout)["state"] == "down"
    assert json.loads(cli(s, "status", "sshd-ok", "--json").stdout)["state"] == "running"
    # the running jail works, its status as fail2ban-client prints it
    ssh_fail(str(good), "192.0.2.51")
    ssh_fail(str(good), "192.0.2.51")
    wait_for(lambda: "192.0.2.51" in cli(s, "status", "sshd-ok").stdout, what="ban")
    assert cli(s, "status", "sshd-ok").stdout == (
        "Status for the jail: sshd-ok\n|- Filter\n|  |- Currently failed:\t0\n"
        "|  |- Total failed:\t2\n"
        f"|  `- File list:\t{good}\n`- Actions\n   |- Currently banned:\t1\n"
        "   |- Total banned:\t1\n   `- Banned IP list:\t192.0.2.51\n")
    # mail goes on
    assert s.send_mail("alice@example.com", "Subject: t\r\n\r\nhi\r\n").startswith("250")
    s.wait_delivered("alice@example.com", 1)
    # the file appearing later does not start the jail (as fail2ban); a reload does
    d.mkdir()
    ssh_fail(str(missing), "192.0.2.50")
    time.sleep(1.5)
    assert "sshd" not in cli(s, "status").stdout.replace("sshd-ok", "")
    os.rename(missing, tmp_path / "moved.log")
    r = cli(s, "reload", "sshd", check=False)	# still no file: reloaded, jail down, said so
    assert r.returncode != 0 and "Have not found any log file for sshd jail" in r.stdout + r.stderr
    os.rename(tmp_path / "moved.log", missing)
    assert cli(s, "reload").stdout == "OK\n"
    assert cli(s, "status").stdout.endswith("`- Jail list:\tsshd, sshd-ok\n")
    assert json.loads(cli(s, "status", "--json").stdout)["down"] == []
    ssh_fail(str(missing), "192.0.2.50")	# read from the start: two failures
    wait_for(lambda: banned_list(s) == ["192.0.2.50"], what="ban after the reload")
    assert check_config(s).returncode == 0


def test_only_missing_logpath_of_a_running_jail_is_followed_later(make_server, tmp_path):
    log = tmp_path / "secure"
    other = tmp_path / "auth.log"
    other.write_text("")
    s = make_jail(make_server, tmp_path, f"{log}\n    {other}", maxretry=2)
    assert check_config(s).returncode == 0
    s.wait_log(re.escape(str(log)) + r": no such file now; the jail reads its other log paths")
    ssh_fail(str(log), "2001:db8:7::9")
    ssh_fail(str(log), "2001:db8:7::10")
    wait_for(lambda: banned_list(s) == ["2001:db8:7::/64"], what="ban from the new file")


def test_check_config_says_which_file_a_mail_jail_reads(make_server, tmp_path):
    other = tmp_path / "mail.log"
    other.write_text("")
    s = make_server(extra=["[postfix-sasl]", "enabled = true", "filter = postfix[mode=auth]",
                           f"logpath = {other}", "action ="], start=False)
    r = check_config(s)
    assert r.returncode == 0, r.stderr
    line = conf_line(s, "[postfix-sasl]")
    assert (f"warning: {s.conf}, line {line}: [postfix-sasl] reads {other}, but mailwarden "
            f"writes its mail log to {s.maillog} (maillog_file)") in r.stderr, r.stderr
    # reading the maillog itself: fed by events, nothing to say
    s.extra = [e.replace(str(other), s.maillog) for e in s.extra]
    s.write_config()
    r = check_config(s)
    assert r.returncode == 0 and "postfix-sasl" not in r.stderr, r.stderr
    # a jail fed by events needs no file at all, even with a logpath
    s.extra += ["[mw]", "enabled = true", "filter = mailwarden[mode=auth]",
                f"logpath = {tmp_path}/no/such.log", "action ="]
    s.write_config()
    r = check_config(s)
    assert r.returncode == 0 and "Have not found" not in r.stderr, r.stderr
    s.start()
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden answering")
    assert cli(s, "status").stdout.endswith("Jail list:\tmw, postfix-sasl\n")


def test_check_config_says_where_recidive_finds_ban_lines(make_server, tmp_path):
    wlog = tmp_path / "fail2ban.log"
    wlog.write_text("")
    s = make_server(extra=["[recidive]", "enabled = true", f"logpath = {wlog}", "action ="],
                    start=False)
    r = check_config(s)		# warden_logtarget = maillog, the default
    assert r.returncode == 0, r.stderr
    assert (f"[recidive] reads {wlog}, but the ban engine writes its Ban lines to the mail "
            "log (warden_logtarget = maillog)") in r.stderr, r.stderr
    s.extra = [f"warden_logtarget = {wlog}"] + s.extra
    s.write_config()
    r = check_config(s)
    assert r.returncode == 0 and "recidive" not in r.stderr, r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the warden runs as warden_owner only under root")
def test_unsearchable_directory_is_named_when_the_jail_stays_down(make_server, tmp_path):
    d = tmp_path / "private"
    d.mkdir(mode=0o700)		# root's: the warden (mwwarden) cannot look inside
    (d / "auth.log").write_text("")
    s = make_jail(make_server, tmp_path, d / "auth.log")
    s.wait_log(r"error: Have not found any log file for sshd jail \(" + re.escape(str(d)) +
               r"/auth\.log: Permission denied\)")
    j = json.loads(cli(s, "status", "--json").stdout)
    assert j["jails"] == [] and j["down"][0]["jail"] == "sshd", j
