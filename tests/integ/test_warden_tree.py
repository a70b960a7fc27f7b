"""warden_fail2ban_config (issue 12): the ban engine reads fail2ban's own
configuration tree as fail2ban-server 1.0.2 does. Each test copies
/etc/fail2ban (Debian's stock tree, never edited) into its directory and
adds what an admin would (a jail.local, a fail2ban.local):

- Debian's [sshd] (enabled by jail.d/defaults-debian.conf) with a
  logpath override in jail.local: jail.conf's %(action_)s with the
  banaction from jail.local, looked up in the tree's action.d;
  %(sshd_backend)s -> %(default/backend)s; an equal-named [sshd] in
  mailwarden.conf merged key by key; the Ban line in the tree's
  logtarget; check-config on the tree, and its errors naming file, line,
  section and key;
- Debian's [postfix-sasl] (postfix[mode=auth], logpath %(postfix_log)s =
  /var/log/mail.log through paths-debian.conf's nested [INCLUDES]) is fed
  by the smtp engine's events: real AUTH failures ban;
- the bans in force in a real fail2ban-server's dbfile are imported once,
  the file only read.
"""
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import time

import pytest

from conftest import BIN
from test_tls_auth import b64, starttls_conn, tls  # noqa: F401  (fixture)
from test_warden import cli, read, ssh_fail, wait_for

F2B_CLIENT = shutil.which("fail2ban-client")
pytestmark = pytest.mark.skipif(not os.path.exists("/etc/fail2ban/jail.conf"),
                                reason="fail2ban's tree is not installed")

ACTION = """\
[Definition]
actionstart = echo start <name> >> <out>
actionstop = echo stop <name> >> <out>
actioncheck =
actionban = echo ban <ip> <name> <port> >> <out>
actionunban = echo unban <ip> <name> >> <out>

[Init]
out = {out}
"""


def copy_tree(tmp_path, jail_local, f2b_local=""):
    """A copy of /etc/fail2ban in tmp_path/fail2ban (readable by the
    warden's user), with the test's action in its action.d and the given
    jail.local and fail2ban.local. Returns (tree, actions.out, logtarget)."""
    os.chmod(tmp_path, 0o755)
    tree = tmp_path / "fail2ban"
    shutil.copytree("/etc/fail2ban", tree, symlinks=True)
    out = tmp_path / "actions.out"
    (tree / "action.d" / "testlog.conf").write_text(ACTION.format(out=out))
    (tree / "jail.local").write_text(jail_local)
    logtarget = tmp_path / "f2blog" / "fail2ban.log"
    logtarget.parent.mkdir()
    # the warden's user makes the new file after a rotation
    shutil.chown(logtarget.parent, user="mwwarden")
    (tree / "fail2ban.local").write_text(
        f"[Definition]\nlogtarget = {logtarget}\n{f2b_local}")
    return tree, out, logtarget


def tree_server(make_server, tree, *extra, tls_cfg=None):
    lines = [f"warden_fail2ban_config = {tree}",
             # the default would log to the mail log: the tree's must win
             "warden_logtarget = maillog"] + list(extra)
    s = make_server(extra=tls_cfg.config(*lines) if tls_cfg else lines)
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden")
    return s


def f2bc(s, *args):
    return subprocess.run([BIN, "-c", s.conf, "fail2ban-client", *args], capture_output=True,
                          text=True, timeout=10).stdout


def test_debian_sshd_from_the_tree(make_server, tmp_path):
    auth = tmp_path / "auth.log"
    auth.write_text("")
    os.chmod(auth, 0o644)
    tree, out, logtarget = copy_tree(tmp_path, f"""\
[DEFAULT]
banaction = testlog
bantime = 1h

[sshd]
logpath = {auth}
""")
    # mailwarden.conf's [sshd] over the tree's, key by key
    s = tree_server(make_server, tree, "[sshd]", "maxretry = 3")
    wlog = read(logtarget)
    assert "Jail 'sshd' started" in wlog
    assert "[sshd] Jail is fed by its logs" in wlog
    assert "postfix-sasl" not in cli(s, "status").stdout     # not enabled in the tree
    # jail.local's bantime, jail.conf's findtime, mailwarden.conf's maxretry
    assert f2bc(s, "get", "sshd", "bantime") == "3600\n"
    assert f2bc(s, "get", "sshd", "findtime") == "600\n"
    assert f2bc(s, "get", "sshd", "maxretry") == "3\n"
    assert f2bc(s, "get", "sshd", "logpath") == f"Current monitored log file(s):\n`- {auth}\n"
    # %(action_)s = %(banaction)s[port="%(port)s", ...] from jail.conf
    assert f2bc(s, "get", "sshd", "actions") == \
        "The jail sshd has the following actions:\ntestlog\n"
    for _ in range(2):
        ssh_fail(auth, "203.0.113.7")
    wait_for(lambda: "Total failed:\t2" in cli(s, "status", "sshd").stdout, what="2 failures")
    assert "Currently banned:\t0" in cli(s, "status", "sshd").stdout
    ssh_fail(auth, "203.0.113.7")
    wait_for(lambda: "Currently banned:\t1" in cli(s, "status", "sshd").stdout, what="the ban")
    # the Ban line in the tree's logtarget (fail2ban's layout, recidive's)
    wait_for(lambda: re.search(r"fail2ban\.actions\s*\[\d+\]: NOTICE\s+\[sshd\] Ban 203\.0\.113\.7",
                               read(logtarget)), what="the Ban line in the tree's logtarget")
    assert "[sshd] Ban 203.0.113.7" not in read(s.maillog)
    # the tree's action.d, with port = ssh from jail.conf's [sshd]
    wait_for(lambda: "ban 203.0.113.7 sshd ssh" in read(out), what="the action")
    # check-config reads the same tree
    r = subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # flushlogs reopens the tree's logtarget after rotation
    os.rename(logtarget, f"{logtarget}.1")
    assert f2bc(s, "flushlogs") == "logs: rolled over\n"
    ssh_fail(auth, "203.0.113.8")
    wait_for(lambda: "[sshd] Found 203.0.113.8" in read(logtarget), what="the reopened log")
    # reload reads the tree again
    with open(tree / "jail.local", "a") as f:
        f.write("findtime = 20m\n")
    cli(s, "reload")
    wait_for(lambda: f2bc(s, "get", "sshd", "findtime") == "1200\n", what="the reload")


def test_check_config_names_file_line_section_key(make_server, tmp_path):
    tree, _, _ = copy_tree(tmp_path, "[sshd]\nlogpath = /dev/null\nmaxretry = many\n"
                           "[postfix-sasl]\nenabled = true\nbantime = %(nosuch)s\n")
    s = make_server(start=False)
    s.extra = [f"warden_fail2ban_config = {tree}"]
    s.write_config()
    r = subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True, text=True)
    assert r.returncode != 0
    assert f"{tree}/jail.local, line 3: [sshd] maxretry:" in r.stderr + r.stdout
    (tree / "jail.local").write_text("[sshd]\nlogpath = /dev/null\n"
                                     "[postfix-sasl]\nenabled = true\nbantime = %(nosuch)s\n")
    r = subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True, text=True)
    assert r.returncode != 0
    assert f"{tree}/jail.local, line 5: [postfix-sasl] bantime: %(nosuch)s is not set" \
        in r.stderr + r.stdout
    (tree / "jail.local").write_text("[sshd]\nlogpath = /dev/null\nbroken line\n")
    r = subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True, text=True)
    assert r.returncode != 0
    assert f"{tree}/jail.local:3: expected key = value" in r.stderr + r.stdout


def test_debian_postfix_sasl_bans_from_events(make_server, tmp_path, tls):  # noqa: F811
    tree, out, logtarget = copy_tree(tmp_path, """\
[DEFAULT]
banaction = testlog

[sshd]
enabled = false

[postfix-sasl]
enabled = true
""")
    # the test's client is 127.0.0.1: not this host's own for this jail
    s = tree_server(make_server, tree, "[postfix-sasl]", "ignoreself = false", tls_cfg=tls)
    wait_for(lambda: "Jail 'postfix-sasl' started" in read(logtarget), what="the jail")
    assert "[postfix-sasl] Jail is fed by the smtp engine's events (the fail2ban tree's " \
        "logpath /var/log/mail.log is not followed)" in read(logtarget)
    st = cli(s, "status", "postfix-sasl").stdout
    assert "|  `- File list:\t/var/log/mail.log\n" in st
    c = starttls_conn(s, tls)
    for i in range(5):      # jail.conf's maxretry
        code, _ = c.docmd("AUTH", "PLAIN " + b64("\0alice@example.com\0wrong"))
        assert code == 535
        if i < 4:
            wait_for(lambda: f"Total failed:\t{i + 1}" in cli(s, "status", "postfix-sasl").stdout,
                     what=f"{i + 1} failures")
            assert "Currently banned:\t0" in cli(s, "status", "postfix-sasl").stdout
    c.close()
    wait_for(lambda: "Currently banned:\t1" in cli(s, "status", "postfix-sasl").stdout,
             what="the ban")
    assert "Banned IP list:\t127.0.0.1" in cli(s, "status", "postfix-sasl").stdout
    assert "[postfix-sasl] Ban 127.0.0.1" in read(logtarget)
    wait_for(lambda: "ban 127.0.0.1 postfix-sasl smtp,465,submission,imap,imaps,pop3,pop3s"
             in read(out), what="the action with jail.conf's port")
    assert cli(s, "unban", "127.0.0.1").stdout == "1\n"


F2B_JAIL = """\
[DEFAULT]
backend = polling

[sshd]
enabled = true
filter = sshd
logpath = {log}
bantime = {bantime}
action = testlog
"""


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.mark.skipif(F2B_CLIENT is None, reason="fail2ban-client is not installed")
def test_fail2ban_dbfile_imported_once_read_only(make_server, tmp_path):
    # a real fail2ban-server, its own config, socket and dbfile
    d = tmp_path / "f2b"
    conf = d / "conf"
    for sub in ("filter.d", "action.d", "run"):
        (conf / sub).mkdir(parents=True)
    for f in ("sshd.conf", "common.conf"):
        shutil.copy(f"/etc/fail2ban/filter.d/{f}", conf / "filter.d" / f)
    (conf / "action.d" / "testlog.conf").write_text(ACTION.format(out=d / "f2b.out"))
    (d / "auth.log").write_text("")
    dbfile = d / "fail2ban.sqlite3"
    sock = conf / "run" / "f2b.sock"
    (conf / "fail2ban.conf").write_text(
        f"[Definition]\nloglevel = INFO\nlogtarget = {d}/fail2ban.log\n"
        f"socket = {sock}\npidfile = {conf}/run/f2b.pid\ndbfile = {dbfile}\n"
        "dbpurgeage = 1d\n")
    (conf / "jail.conf").write_text(F2B_JAIL.format(log=d / "auth.log", bantime="1h"))
    client = [F2B_CLIENT, "-c", str(conf), "-s", str(sock)]
    r = subprocess.run([F2B_CLIENT, "-c", str(conf), "-x", "start"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    try:
        wait_for(lambda: subprocess.run(client + ["ping"], capture_output=True).returncode == 0,
                 timeout=30, what="fail2ban-server")
        for ip in ("198.51.100.7", "2001:db8::7"):
            r = subprocess.run(client + ["set", "sshd", "banip", ip], capture_output=True,
                               text=True, timeout=30)
            assert r.stdout.strip() == "1", r
    finally:
        subprocess.run(client + ["stop"], capture_output=True, timeout=60)
    # a ban that has ended is not imported
    db = sqlite3.connect(dbfile)
    assert db.execute("SELECT count(*) FROM bans").fetchone()[0] == 2
    db.execute("INSERT INTO bans(jail, ip, timeofban, bantime, bancount) VALUES "
               "('sshd', '198.51.100.99', ?, 600, 1)", (int(time.time()) - 3600,))
    db.commit()
    db.close()
    os.chmod(dbfile, 0o600)     # as Debian keeps it: only root reads it
    digest, mtime = sha(dbfile), os.stat(dbfile).st_mtime_ns

    auth = tmp_path / "auth.log"
    auth.write_text("")
    os.chmod(auth, 0o644)
    tree, _, logtarget = copy_tree(tmp_path, f"[DEFAULT]\nbanaction = testlog\n"
                                   f"[sshd]\nlogpath = {auth}\n",
                                   f"dbfile = {dbfile}\ndbpurgeage = 2d\n")
    s = tree_server(make_server, tree)
    wait_for(lambda: "Currently banned:\t2" in cli(s, "status", "sshd").stdout,
             what="the imported bans")
    st = cli(s, "status", "sshd").stdout
    assert "198.51.100.7" in st and "2001:db8::7" in st and "198.51.100.99" not in st
    assert read(logtarget).count("Imported 2 ban(s) in force from fail2ban's dbfile "
                                 f"{dbfile} (read only)") == 1
    # once: a ban lifted here stays lifted after a restart
    assert cli(s, "unban", "198.51.100.7").stdout == "1\n"
    assert s.stop() == []
    s.start()
    wait_for(lambda: read(logtarget).count("Jail 'sshd' started") == 2, what="the restart")
    st = cli(s, "status", "sshd").stdout
    assert "Currently banned:\t1" in st and "198.51.100.7" not in st
    assert read(logtarget).count("Imported") == 1
    # fail2ban's file: never written
    assert sha(dbfile) == digest and os.stat(dbfile).st_mtime_ns == mtime
    assert not os.path.exists(f"{dbfile}-wal") and not os.path.exists(f"{dbfile}-journal")
