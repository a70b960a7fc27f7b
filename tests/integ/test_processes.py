"""Process layout: a parent with an smtp engine, a queue manager ("qmgr")
and the local delivery process ("local"); a child that dies is restarted
(qmgr and local as a pair) and service resumes; started as root, the smtp
engine runs unprivileged and chrooted."""
import os
import pwd
import signal
import time

import pytest

from conftest import make_message, pids_with, proc_stat


def children(pid):
    return pids_with(4, pid)       # field 4: ppid


def uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[2])   # effective uid
    return None


def wait_children(pid, n, timeout=10):
    deadline = time.time() + timeout
    kids = []
    while time.time() < deadline:
        kids = children(pid)
        if len(kids) >= n:
            return kids
        time.sleep(0.05)
    return kids


def by_name(pid):
    """The parent's children by /proc/PID/comm: qmgr and local name
    themselves, and so does the smtp engine (smtpd)."""
    out = {}
    for k in children(pid):
        st = proc_stat(k)
        if st is not None:
            out.setdefault(st[2], []).append(k)
    return out


def test_parent_has_children(server):
    kids = wait_children(server.proc.pid, 3)
    assert len(kids) >= 3, f"expected an smtp engine, a qmgr and a local process, got {kids}"
    names = by_name(server.proc.pid)
    assert "qmgr" in names and "local" in names, names


def test_killed_children_are_restarted(server):
    kids = wait_children(server.proc.pid, 3)
    assert len(kids) >= 3, kids
    others = [n for n in by_name(server.proc.pid) if n not in ("qmgr", "local")]
    assert others, by_name(server.proc.pid)
    for i, name in enumerate([others[0], "qmgr", "local"]):
        victim = by_name(server.proc.pid)[name][0]
        os.kill(victim, signal.SIGKILL)
        # the parent notices, logs and starts a new one; service resumes
        deadline = time.time() + 10
        while time.time() < deadline:
            now = by_name(server.proc.pid)
            if victim not in now.get(name, []) and now.get(name) and \
                    now.get("qmgr") and now.get("local") and \
                    len(children(server.proc.pid)) >= len(kids):
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"{name} not restarted: {by_name(server.proc.pid)}")
        assert server.proc.poll() is None, "the parent died with its child"
        server.wait_ready(10)
        r = server.send_mail("alice@example.com", make_message(subject=f"after kill {i}"))
        assert r.startswith("250 2.0.0 Ok: queued as ")
        server.wait_delivered("alice@example.com", i + 1, timeout=15)
        server.wait_log(rf"warning: process {'local' if name == 'local' else '[a-z]+'} "
                        rf"pid {victim} exit killed by signal 9")


@pytest.mark.skipif(os.geteuid() != 0, reason="privilege separation needs root")
def test_smtp_engine_unprivileged_and_chrooted(server):
    mw = pwd.getpwnam("mailwarden").pw_uid
    kids = wait_children(server.proc.pid, 3)
    assert uid_of(server.proc.pid) == 0, "the parent keeps root"
    uids = {k: uid_of(k) for k in kids}
    assert mw in uids.values(), f"no child runs as user mailwarden: {uids}"
    roots = {k: os.readlink(f"/proc/{k}/root") for k in kids}
    chrooted = [k for k, r in roots.items() if r != "/"]
    assert chrooted, f"no chrooted child: {roots}"
    for k in chrooted:
        assert uids[k] == mw, f"chrooted child {k} runs as uid {uids[k]}"
    # and it still works
    server.send_mail("bob@example.net", make_message(to="bob@example.net"))
    (path,) = server.wait_delivered("bob@example.net", 1)
    # mailboxes belong to the delivery user, not to root
    st = os.stat(os.path.dirname(os.path.dirname(path)))
    assert st.st_uid == mw, f"mailbox owned by uid {st.st_uid}"


@pytest.mark.skipif(os.geteuid() != 0, reason="privilege separation needs root")
def test_children_end_with_a_killed_master(make_server):
    """SIGKILL to the master: every child ends too (the parent-death signal
    the uid change cleared is armed again after it), none keeps listening."""
    srv = make_server()
    kids = wait_children(srv.proc.pid, 3)
    srv.wait_ready(10)
    assert len(kids) >= 3, kids
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(5)
    srv.proc = None                     # killed on purpose: no teardown complaint
    deadline = time.time() + 15
    while time.time() < deadline and any(proc_stat(k) is not None for k in kids):
        time.sleep(0.1)
    left = {k: proc_stat(k)[1] for k in kids if proc_stat(k) is not None}
    for k in left:                      # do not leave them for the next test
        os.kill(k, signal.SIGKILL)
    assert not left, f"children outlived their master: {left}"
