"""The process table of docs/security.md, checked row by row on one running
instance (as root): for every process its user, groups, capability sets,
NoNewPrivs, seccomp mode and root directory, as /proc shows them.

The jail has no action, so the firewall runs in its nft-only shape
(CAP_NET_ADMIN alone, filtered); test_warden_privsep.py covers the
firewall that keeps root for command actions."""
import grp
import os
import pwd
import time

import pytest

from conftest import children_by_comm, proc_status

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="privilege separation needs root")

CAP_SETGID, CAP_SETUID, CAP_NET_ADMIN = 6, 7, 12
NAMES = ("smtpd", "qmgr", "local", "warden", "firewall")


status = proc_status


def children(server, timeout=15):
    """{comm: pid} once every process of the table is up and filtered."""
    deadline = time.time() + timeout
    out = {}
    while time.time() < deadline:
        out = children_by_comm(server.proc.pid)
        if all(n in out for n in NAMES) and \
                all(status(out[n]).get("Seccomp") == "2" for n in NAMES):
            return out
        time.sleep(0.1)
    pytest.fail(f"not every process is up and filtered: {out}\n{server.log()[-3000:]}")


def caps(st, field):
    v = int(st[field], 16)
    return {c for c in range(64) if v >> c & 1}


@pytest.fixture
def table_server(make_server, tmp_path):
    os.chmod(tmp_path, 0o755)
    s = make_server(extra=[
        f"warden_socket = {tmp_path}/warden.sock",
        "[mw-auth]",
        "enabled = true",
        "filter = mailwarden[mode=auth]",
        "action =",
        "maxretry = 2",
    ])
    return s


def test_process_table(table_server):
    s = table_server
    kids = children(s)
    mail = pwd.getpwnam("mailwarden")
    ww = pwd.getpwnam("mwwarden")

    m = status(s.proc.pid)                          # master: root, unfiltered
    assert m["Uid"].split() == ["0"] * 4 and m["Seccomp"] == "0"

    rows = {
        # comm: (uid, gid, kept capabilities, chrooted)
        "smtpd": (mail.pw_uid, mail.pw_gid, set(), True),
        "qmgr": (mail.pw_uid, mail.pw_gid, set(), False),
        "local": (mail.pw_uid, mail.pw_gid, {CAP_SETUID, CAP_SETGID}, False),
        "warden": (ww.pw_uid, ww.pw_gid, set(), False),
        "firewall": (0, 0, {CAP_NET_ADMIN}, False),
    }
    for name, (uid, gid, kept, chrooted) in rows.items():
        st = status(kids[name])
        assert st["Uid"].split() == [str(uid)] * 4, (name, st["Uid"])
        assert st["Gid"].split() == [str(gid)] * 4, (name, st["Gid"])
        for field in ("CapPrm", "CapEff", "CapBnd"):
            assert caps(st, field) == kept, (name, field, st[field])
        for field in ("CapInh", "CapAmb"):
            assert caps(st, field) == set(), (name, field, st[field])
        assert st["NoNewPrivs"] == "1", name
        assert st["Seccomp"] == "2", name
        root = os.readlink(f"/proc/{kids[name]}/root")
        if chrooted:
            assert os.path.realpath(root) == os.path.realpath(s.spool), (name, root)
        else:
            assert root == "/", (name, root)

    # supplementary groups: mail_owner's own group only; the warden's
    # also adm and systemd-journal (Debian's log readers) when they exist
    for name in ("smtpd", "qmgr", "local"):
        assert status(kids[name])["Groups"].split() == [str(mail.pw_gid)], name
    extra = {grp.getgrnam(g).gr_gid for g in ("adm", "systemd-journal")
             if g in {x.gr_name for x in grp.getgrall()}}
    assert {int(g) for g in status(kids["warden"])["Groups"].split()} == {ww.pw_gid} | extra

    # local delivery is not dumpable: the qmgr (same uid) cannot ptrace it
    assert os.stat(f"/proc/{kids['local']}/mem").st_uid == 0

    # the files the table promises
    data = os.path.join(s.dir, "data")
    st = os.stat(data)
    assert (st.st_uid, st.st_mode & 0o7777) == (ww.pw_uid, 0o700)
    for f in os.listdir(data):
        st = os.stat(os.path.join(data, f))
        assert (st.st_uid, st.st_mode & 0o777) == (ww.pw_uid, 0o600), f
    st = os.stat(os.path.join(s.spool, "public", "qmgr"))
    assert st.st_mode & 0o777 == 0o620 and st.st_gid == grp.getgrnam("mwdrop").gr_gid
    st = os.stat(s.spool)
    assert st.st_uid == 0 and not st.st_mode & 0o022
