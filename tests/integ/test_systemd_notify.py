"""Type=notify without systemd (issue 15): the test binds the
NOTIFY_SOCKET the master writes to, as systemd would, and checks that
READY=1 comes once the listeners take connections and (with a jail) the
ban engine's jails are up, that STATUS= counts sessions and bans in
force (the warden's `count` answer), that WATCHDOG=1 comes at half of WATCHDOG_USEC, STOPPING=1 at
SIGTERM, and that no child process sends anything."""
import os
import socket
import struct
import subprocess
import time

import pytest

from conftest import BIN


class Notify:
    """An AF_UNIX datagram socket collecting (time, sender pid, message)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.got = []

    def poll(self, timeout=0.1):
        self.sock.settimeout(timeout)
        try:
            while True:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
                pid = None
                for level, typ, cdata in anc:
                    if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                        pid = struct.unpack("iII", cdata[:12])[0]
                for line in data.decode().split("\n"):
                    if line:
                        self.got.append((time.time(), pid, line))
                self.sock.settimeout(0.01)
        except (socket.timeout, BlockingIOError):
            pass

    def wait(self, pred, timeout=10.0, what="message"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.poll()
            hits = [g for g in self.got if pred(g[2])]
            if hits:
                return hits
        pytest.fail(f"no {what} on NOTIFY_SOCKET within {timeout}s; got {self.got}")

    def close(self):
        self.sock.close()


@pytest.fixture
def notify(tmp_path, monkeypatch):
    os.chmod(tmp_path, 0o755)
    n = Notify(str(tmp_path / "notify.sock"))
    monkeypatch.setenv("NOTIFY_SOCKET", n.path)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    yield n
    n.close()


def test_ready_status_watchdog_stopping(make_server, notify):
    s = make_server()
    ready = notify.wait(lambda m: m == "READY=1", what="READY=1")
    assert ready[0][1] == s.proc.pid
    # the engine owns the listeners by then: a banner at once
    c = s.conn()
    st = notify.wait(lambda m: m == "STATUS=1 session(s), ban engine off", what="STATUS with 1 session")
    c.cmd("QUIT")
    c.close()
    notify.wait(lambda m: m == "STATUS=0 session(s), ban engine off", timeout=12,
                what="STATUS back to 0 sessions")
    t0 = time.time()
    time.sleep(1.2)
    notify.poll()
    dogs = [g for g in notify.got if g[2] == "WATCHDOG=1" and g[0] >= t0]
    assert 3 <= len(dogs) <= 10, dogs     # every 200 ms: half of 400 ms
    pid = s.proc.pid
    assert s.stop() == []
    s.proc = None       # stopped here, not again at teardown
    notify.wait(lambda m: m == "STOPPING=1", what="STOPPING=1")
    assert {g[1] for g in notify.got} == {pid}, notify.got   # the master alone
    assert st[0][0] > ready[0][0]


def test_ready_waits_for_the_jails(make_server, notify, tmp_path):
    auth = tmp_path / "auth.log"
    auth.write_text("")
    s = make_server(extra=[
        f"warden_logtarget = {tmp_path / 'warden.log'}",
        "[sshd]", "enabled = true", "filter = sshd", f"logpath = {auth}",
        "maxretry = 3", "bantime = 1h", "action =",
    ])
    notify.wait(lambda m: m == "READY=1", what="READY=1")
    # READY=1 came after the jail was started and the warden answered
    with open(tmp_path / "warden.log") as f:
        assert "Jail 'sshd' started" in f.read()
    notify.wait(lambda m: m.startswith("STATUS=") and "0 ban(s) in force" in m, what="STATUS 0 bans")
    r = subprocess.run([BIN, "-c", s.conf, "ban", "sshd", "192.0.2.7"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    notify.wait(lambda m: m.startswith("STATUS=") and "1 ban(s) in force" in m, timeout=12,
                what="STATUS 1 ban")
    # the count the master asks for (not the whole "banned" list)
    for req, want in ((b"count\n", b"ok\n1\n"), (b"json\tcount\n", b'ok\n{"banned":1}\n')):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(5)
            c.connect(os.path.join(s.spool, "warden.sock"))
            c.sendall(req)
            got = b""
            while (chunk := c.recv(4096)):
                got += chunk
        assert got == want


def test_no_notify_socket_no_messages(make_server, notify, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET")
    s = make_server()
    time.sleep(1)
    notify.poll()
    assert notify.got == []
    assert s.proc.poll() is None
