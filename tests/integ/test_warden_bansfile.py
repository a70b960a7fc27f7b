"""The bans journal (src/mail/banfile.h) between the warden and the smtp
engine: a ban and its end are appended records the engine reads at its
next accept (same file, no rewrite); the warden compacts the file when it
holds more than twice the live bans; a restarted warden writes a new file
at start, which the running engine reads from its start; bans an
aggregate takes over leave the file with it."""
import os
import re
import socket

import pytest

from test_warden import ACTION, cli, read, wait_for
from test_warden_privsep import child_named


@pytest.fixture
def jsrv(make_server, tmp_path):
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "testlog.conf").write_text(ACTION)
    s = make_server(extra=[
        f"warden_action_path = {adir}",
        f"warden_logtarget = {tmp_path / 'warden.log'}",
        "[mw-auth]",
        "enabled = true",
        "filter = mailwarden[mode=auth]",
        "maxretry = 2",
        "ignoreself = false",
        f"action = testlog[out={tmp_path / 'actions.out'}]"])
    s.wlog = str(tmp_path / "warden.log")
    wait_for(lambda: "Jail 'mw-auth' started" in read(s.wlog), what="the jail")
    return s


def greets(s):
    """1 if the engine greets a new connection from 127.0.0.1."""
    with socket.create_connection((s.host, s.port), timeout=5) as c:
        try:
            return c.recv(512).startswith(b"220")
        except (ConnectionResetError, socket.timeout):
            return False


def test_engine_learns_bans_from_the_journal(jsrv):
    s = jsrv
    bans = os.path.join(s.spool, "warden", "bans")
    assert greets(s)
    ino = os.stat(bans).st_ino
    for a in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert cli(s, "ban", "mw-auth", a).stdout == "1\n"
    assert cli(s, "unban", "192.0.2.1").stdout == "1\n"
    # 4 records for 2 live bans: appended to the same file
    text = read(bans)
    assert os.stat(bans).st_ino == ino
    assert re.search(r"^192\.0\.2\.2/32 \d+ mw-auth$", text, re.M), text
    assert re.search(r"^192\.0\.2\.1/32 \d+ mw-auth$", text, re.M), text
    assert re.search(r"^- 192\.0\.2\.1/32 mw-auth$", text, re.M), text
    # the engine refuses at its very next accept (the ban is written
    # before `ban` answers), and greets again after the unban
    assert cli(s, "ban", "mw-auth", "127.0.0.1").stdout == "1\n"
    assert not greets(s)
    s.wait_log(r"reject: connect from \S+\[127\.0\.0\.1\]: banned by the ban engine "
               r"\(jail mw-auth\)")
    assert os.stat(bans).st_ino == ino
    assert cli(s, "unban", "127.0.0.1").stdout == "1\n"
    assert greets(s)
    # 6 records for 2 live bans: compacted into a new file, live bans only
    text = read(bans)
    assert os.stat(bans).st_ino != ino
    assert "192.0.2.1" not in text and "127.0.0.1" not in text and "\n- " not in text, text
    assert re.search(r"^192\.0\.2\.3/32 \d+ mw-auth$", text, re.M), text
    # a new warden writes the file at start: the running engine follows
    ino = os.stat(bans).st_ino
    w = child_named(s, "warden")
    os.kill(w, 9)
    wait_for(lambda: read(s.wlog).count("Jail 'mw-auth' started") >= 2, timeout=15,
             what="a new warden")
    # (the warden serves its control socket once its jails started and
    # the file is written)
    assert cli(s, "ban", "mw-auth", "127.0.0.1").stdout == "1\n"
    assert os.stat(bans).st_ino != ino
    assert not greets(s)
    assert cli(s, "unban", "127.0.0.1").stdout == "1\n"
    assert greets(s)
    assert "192.0.2.2" in read(bans)
    # a network ban takes over the bans inside it: their ends are
    # recorded (or compacted away), the network's ban is there
    assert cli(s, "ban", "mw-auth", "192.0.2.0/24").stdout == "1\n"
    assert cli(s, "banned").stdout.count("mw-auth") == 1
    live = {}
    for line in read(bans).splitlines():
        f = line.split()
        if line.startswith("- "):
            live.pop((f[1], f[2]), None)
        elif f and not line.startswith("#"):
            live[(f[0], f[2])] = f[1]
    assert list(live) == [("192.0.2.0/24", "mw-auth")], read(bans)
