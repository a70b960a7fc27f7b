"""The ban engine's state and guards across a restart and by hand:
failure counters survive a restart as bans do (from the store),
ignoreip host names are resolved at start, a ban of 0.0.0.0/0 or ::/0
is refused with a clear error. Uses the warden_server fixture of
test_warden.py (a log-fed sshd jail, a harmless command action)."""
import os
import socket
import re

from test_warden import ACTION, cli, read, ssh_fail, wait_for, warden_server  # noqa: F401


def status(s):
    return cli(s, "status", "sshd", check=False).stdout


def test_failure_counters_survive_restart(warden_server):
    s = warden_server
    ssh_fail(s.auth, "192.0.2.31")
    ssh_fail(s.auth, "192.0.2.31")
    wait_for(lambda: "Total failed:\t2\n" in status(s), what="2 failures")
    assert "Currently failed:\t1\n" in status(s)
    assert s.stop() == []
    s.start()
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden answering")
    wait_for(lambda: "Currently failed:\t1\n" in status(s), what="restored counter")
    st = status(s)
    # the log was not read again (position kept): nothing counted twice
    assert "Currently banned:\t0\n" in st and "Total failed:\t0\n" in st, st
    # the fail2ban log has only fail2ban's lines (issue 15): the two Found
    # lines of before, none for the restored counters; the mail log says it
    log = read(s.wlog)
    assert len(re.findall(r"\[sshd\] Found 192\.0\.2\.31 - ", log)) == 2, log
    assert "Restored" not in log, log
    assert re.search(r"warden: jail sshd: 2 failure\(s\) within findtime restored from the store",
                     s.log()), s.log()[-2000:]
    # maxretry = 3: the third failure, after the restart, bans
    ssh_fail(s.auth, "192.0.2.31")
    wait_for(lambda: "Banned IP list:\t192.0.2.31\n" in status(s), what="ban after restart")
    wait_for(lambda: "ban 192.0.2.31 sshd 3 3600" in read(s.out), what="actionban")


def test_sigkill_counts_each_line_once(warden_server):
    """A crash right after failures were counted: the log position was
    stored with them, so the lines are not read and counted again (that
    would make 4 of 2 and ban at once)."""
    s = warden_server
    ssh_fail(s.auth, "192.0.2.33")
    ssh_fail(s.auth, "192.0.2.33")
    wait_for(lambda: "Total failed:\t2\n" in status(s), what="2 failures")
    s.kill9()		# well within the follower's one-second position save
    s.start()
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden answering")
    wait_for(lambda: "Currently failed:\t1\n" in status(s), what="restored counter")
    st = status(s)
    assert "Total failed:\t0\n" in st and "Currently banned:\t0\n" in st, st
    ssh_fail(s.auth, "192.0.2.33")
    wait_for(lambda: "Banned IP list:\t192.0.2.33\n" in status(s), what="ban")
    wait_for(lambda: "ban 192.0.2.33 sshd 3 3600" in read(s.out), what="actionban")


def test_failures_of_a_ban_are_not_counted_again(warden_server):
    s = warden_server
    for _ in range(3):
        ssh_fail(s.auth, "192.0.2.32")
    wait_for(lambda: "Banned IP list:\t192.0.2.32\n" in status(s), what="ban")
    assert cli(s, "unban", "192.0.2.32").stdout == "1\n"
    assert s.stop() == []
    s.start()
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden answering")
    wait_for(lambda: "Jail list" in cli(s, "status", check=False).stdout, what="status")
    st = status(s)
    # the three failures led to the ban that was lifted: no counter, no ban
    assert "Currently failed:\t0\n" in st and "Currently banned:\t0\n" in st, st
    ssh_fail(s.auth, "192.0.2.32")
    wait_for(lambda: "Currently failed:\t1\n" in status(s), what="one new failure")
    assert "Currently banned:\t0\n" in status(s)


def test_ban_of_everything_is_refused(warden_server):
    s = warden_server
    for net in ("0.0.0.0/0", "::/0", "0.0.0.0/0.0.0.0", "::ffff:0.0.0.0/96"):
        r = cli(s, "ban", "sshd", net, check=False)
        assert r.returncode == 1 and "refusing to ban" in r.stderr, (net, r.stderr)
    r = cli(s, "ban", "sshd", "not-an-address", check=False)
    assert r.returncode == 1 and "not an IP address or network" in r.stderr, r.stderr
    # a network that holds this host's own addresses (ignoreself) is refused too
    r = cli(s, "ban", "sshd", "112.0.0.0/4", check=False)
    assert r.returncode == 1 and "ignoreip" in r.stderr, r.stderr
    assert "Currently banned:\t0\n" in status(s)
    # a plain network is banned as given
    assert cli(s, "ban", "sshd", "198.51.100.0/24").stdout == "1\n"
    assert "Banned IP list:\t198.51.100.0/24\n" in status(s)
    r = cli(s, "ban", "sshd", "198.51.100.7", check=False)
    assert r.returncode == 1 and "already banned" in r.stderr


def test_ignoreip_host_names_are_resolved(make_server, tmp_path):
    os.chmod(tmp_path, 0o755)
    auth = tmp_path / "auth.log"
    auth.write_text("")
    wlog = tmp_path / "warden.log"
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "testlog.conf").write_text(ACTION)	# never the firewall
    s = make_server(extra=[
        f"warden_action_path = {adir}",
        f"warden_logtarget = {wlog}",
        "[sshd]", "enabled = true", "filter = sshd", f"logpath = {auth}",
        "maxretry = 1", "ignoreself = false",
        "ignoreip = 203.0.113.0/24 localhost nosuch.invalid",
        f"action = testlog[out={tmp_path / 'actions.out'}]",
    ])
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden answering")
    # localhost resolved (/etc/hosts): its addresses are ignored
    want = {ai[4][0] for ai in socket.getaddrinfo("localhost", None)}
    assert "127.0.0.1" in want
    for ip in want:
        r = cli(s, "ban", "sshd", ip, check=False)
        assert r.returncode == 1 and "ignoreip" in r.stderr, (ip, r.stderr)
    log = read(str(wlog))
    assert re.search(r"\[sshd\] ignoreip localhost: 127\.0\.0\.1$", log, re.M), log
    # a name that does not resolve is a warning, not a failed start
    assert re.search(r"WARNING \[sshd\] ignoreip nosuch\.invalid: .*; not ignored$", log, re.M)
    # failures of localhost from the log are ignored too; others are banned
    ssh_fail(str(auth), "127.0.0.1")
    ssh_fail(str(auth), "203.0.113.9")
    ssh_fail(str(auth), "192.0.2.44")
    wait_for(lambda: "Banned IP list:\t192.0.2.44\n" in status(s), what="ban")
    assert "127.0.0.1" not in status(s)
    # fail2ban's ignore lines (filter.py): a name's address "by dns", a
    # network of ignoreip "by ip"
    log = read(str(wlog))
    assert re.search(r"\[sshd\] Ignore 127\.0\.0\.1 by dns$", log, re.M), log
    assert re.search(r"\[sshd\] Ignore 203\.0\.113\.9 by ip$", log, re.M), log


def test_ignoreself_is_logged_as_fail2ban_does(warden_server):
    s = warden_server
    ssh_fail(s.auth, "127.0.0.1")
    wait_for(lambda: re.search(r"\[sshd\] Ignore 127\.0\.0\.1 by ignoreself rule$",
                               read(s.wlog), re.M), what="the ignoreself line")
