"""The local delivery process and the queue manager's privileges.

(a) /proc/PID/status of "qmgr" (mail_owner, no capability at all,
NoNewPrivs) and "local" (mail_owner, only CAP_SETUID/CAP_SETGID in the
permitted, effective and bounding sets, NoNewPrivs, not dumpable).
(b) a hostile queue manager: `mailwarden -c CONF local-peer` runs the local
delivery process on fd 0, a SOCK_SEQPACKET socketpair end, and the test
speaks the message codec (src/common/msg.h) to it: unknown types, truncated
and oversized fields, body ranges past the file end, path traversal,
symlinked Maildirs planted by the mailbox owner, uid 0, unknown users.
Each is refused, logged, answered as a failure; root-owned canary files
outside the mailboxes never change."""
import hashlib
import os
import pwd
import shutil
import socket
import struct
import subprocess
import time

import pytest

from conftest import BIN, make_message, pids_with, proc_stat, proc_status

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="privilege separation needs root")

MSG_LOCAL_ITEM, MSG_LOCAL_COMMIT, MSG_LOCAL_RESULT, MSG_LOCAL_DONE = 16, 17, 18, 19
LOCAL_USER, LOCAL_VIRTUAL = 1, 2
CAP_SETGID, CAP_SETUID = 6, 7


# -- (a) process status ------------------------------------------------------

status = proc_status


def child_named(server, name, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for k in pids_with(4, server.proc.pid):
            st = proc_stat(k)
            if st is not None and st[2] == name:
                return k
        time.sleep(0.05)
    pytest.fail(f"no child named {name!r} of {server.proc.pid}")


@needs_root
def test_qmgr_and_local_privileges(server):
    mw = pwd.getpwnam("mailwarden")
    q = status(child_named(server, "qmgr"))
    assert q["Uid"].split() == [str(mw.pw_uid)] * 4, q["Uid"]
    assert q["Gid"].split() == [str(mw.pw_gid)] * 4, q["Gid"]
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(q[k], 16) == 0, f"qmgr {k} = {q[k]}"
    assert q["NoNewPrivs"] == "1"

    lpid = child_named(server, "local")
    st = status(lpid)
    two = (1 << CAP_SETUID) | (1 << CAP_SETGID)
    assert st["Uid"].split() == [str(mw.pw_uid)] * 4, st["Uid"]
    assert int(st["CapPrm"], 16) == two, st["CapPrm"]
    assert int(st["CapEff"], 16) == two, st["CapEff"]
    assert int(st["CapBnd"], 16) == two, st["CapBnd"]
    assert int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0
    assert st["NoNewPrivs"] == "1"
    # not dumpable: the kernel makes its /proc files root's, so the qmgr
    # (same uid) can neither ptrace it nor read its memory
    assert os.stat(f"/proc/{lpid}/mem").st_uid == 0
    # and delivery works through it
    server.send_mail("alice@example.com", make_message(subject="via local"))
    (path,) = server.wait_delivered("alice@example.com", 1)
    assert os.stat(path).st_uid == mw.pw_uid
    server.wait_log(r"to=<alice@example\.com>, relay=virtual, .*status=sent")


# -- (b) the codec spoken to local-peer ----------------------------------------

def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def mstr(s):
    b = s.encode() if isinstance(s, str) else s
    return u32(len(b)) + b + b"\0"


def hdr(t):
    return struct.pack(">HH", t, 0)


def item(iid, kind, box, rcpt, off=0, length=None, sender="s@example.org", body_len=0):
    return (hdr(MSG_LOCAL_ITEM) + u32(iid) + u32(kind) + mstr(box) + mstr(sender) +
            mstr(rcpt) + u64(off) + u64(body_len if length is None else length))


class Peer:
    """mailwarden local-peer on one end of a SEQPACKET socketpair."""

    def __init__(self, server):
        self.s = server
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.errpath = os.path.join(server.dir, "local-peer.stderr")
        self.err = open(self.errpath, "ab")
        self.proc = subprocess.Popen([BIN, "-c", server.conf, "local-peer"], stdin=theirs,
                                     stdout=self.err, stderr=self.err, cwd=server.dir)
        theirs.close()
        self.sock.settimeout(20)

    def send(self, data, fd=None):
        if fd is None:
            self.sock.send(data)
        else:
            socket.send_fds(self.sock, [data], [fd])

    def commit(self):
        """Send MSG_LOCAL_COMMIT; return {id: (ok, text)} and the DONE count."""
        self.sock.send(hdr(MSG_LOCAL_COMMIT))
        res = {}
        while True:
            d = self.sock.recv(70000)
            t = struct.unpack(">H", d[:2])[0]
            if t == MSG_LOCAL_DONE:
                return res, struct.unpack(">I", d[4:8])[0]
            assert t == MSG_LOCAL_RESULT, d
            iid, ok, n = struct.unpack(">III", d[4:16])
            res.setdefault(iid, []).append((ok, d[16:16 + n].decode(errors="replace")))

    def log(self):
        self.err.flush()
        with open(self.errpath, errors="replace") as f:
            return f.read()

    def close(self):
        self.sock.close()
        try:
            self.proc.wait(timeout=10)
        finally:
            self.err.close()
        return self.proc.returncode


def tree_digest(path):
    """Checksums of every file below path (symlinks not followed)."""
    out = {}
    for root, dirs, files in os.walk(path):
        for f in files + dirs:
            p = os.path.join(root, f)
            st = os.lstat(p)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as fh:
                    out[p] = (st.st_uid, st.st_mode, hashlib.sha256(fh.read()).hexdigest())
            else:
                out[p] = (st.st_uid, st.st_mode, None)
    return out


@pytest.fixture
def canary(tmp_path_factory):
    """A root-owned directory with checksummed files, outside every mailbox."""
    d = tmp_path_factory.mktemp("canary")
    os.chmod(d, 0o755)
    for sub in ("", "new", "tmp", "cur"):
        os.makedirs(d / sub, exist_ok=True)
    (d / "passwd").write_text("root:x:0:0:canary\n")
    (d / "new" / "keep").write_text("do not touch\n")
    before = tree_digest(str(d))
    yield d
    assert tree_digest(str(d)) == before, "a canary file changed"


@pytest.fixture
def peer_env(make_server):
    s = make_server(start=False)
    os.makedirs(s.mailbase, exist_ok=True)
    if ROOT:
        mw = pwd.getpwnam("mailwarden")
        os.chown(s.mailbase, mw.pw_uid, mw.pw_gid)
    body = os.path.join(s.dir, "body")
    with open(body, "wb") as f:
        f.write(b"HEADERS\nSubject: hi\n\nhello from the peer test\n")
    fd = os.open(body, os.O_RDONLY)
    yield s, fd, os.path.getsize(body)
    os.close(fd)


def test_local_peer_delivers_a_valid_item(peer_env, canary):
    s, fd, size = peer_env
    p = Peer(s)
    p.send(item(7, LOCAL_VIRTUAL, "example.com/alice/", "alice@example.com", off=8,
                length=size - 8), fd)
    res, n = p.commit()
    assert n == 1 and res[7][0][0] == 1, res
    (path,) = [os.path.join(s.mailbox("alice@example.com"), f)
               for f in os.listdir(s.mailbox("alice@example.com"))]
    assert os.path.basename(path) == res[7][0][1]
    with open(path, "rb") as f:
        data = f.read()
    assert data == (b"Return-Path: <s@example.org>\nDelivered-To: alice@example.com\n"
                    b"Subject: hi\n\nhello from the peer test\n")
    if ROOT:
        assert os.stat(path).st_uid == pwd.getpwnam("mailwarden").pw_uid
    assert p.close() == 0


def refused(p, res, iid, pattern):
    assert iid in res and res[iid][0][0] == 0, res
    assert "refused" in res[iid][0][1], res[iid]
    assert pattern in p.log(), f"{pattern!r} not logged:\n{p.log()}"


def test_local_peer_refuses_malformed_requests(peer_env, canary):
    s, fd, size = peer_env
    p = Peer(s)
    p.send(hdr(999) + u32(1))                                   # unknown type
    p.send(hdr(MSG_LOCAL_ITEM) + u32(1) + u32(LOCAL_VIRTUAL), fd)   # truncated
    # a string length far past the datagram
    p.send(hdr(MSG_LOCAL_ITEM) + u32(2) + u32(LOCAL_VIRTUAL) + u32(0xfffffff0) + b"x\0", fd)
    # body ranges past the end of the file, or wrapping
    p.send(item(3, LOCAL_VIRTUAL, "example.com/alice/", "alice@example.com", off=size + 1,
                length=0), fd)
    p.send(item(4, LOCAL_VIRTUAL, "example.com/alice/", "alice@example.com", off=1,
                length=size), fd)
    p.send(item(5, LOCAL_VIRTUAL, "example.com/alice/", "alice@example.com", off=1,
                length=2**64 - 1), fd)
    p.send(item(6, LOCAL_VIRTUAL, "example.com/alice/", "alice@example.com",
                off=2**64 - 1, length=2), fd)
    p.send(item(8, 77, "example.com/alice/", "alice@example.com", length=1), fd)  # kind
    p.send(item(9, LOCAL_VIRTUAL, "example.com/alice/", "alice@example.com", length=1))  # no fd
    # a header injection through the recipient
    p.send(item(10, LOCAL_VIRTUAL, "example.com/alice/", "alice@example.com\nX-Evil: 1",
                length=1), fd)
    res, n = p.commit()
    assert "local: refused message type 999" in p.log()
    assert res[1][0][0] == 0 and res[2][0][0] == 0, res
    assert p.log().count("malformed item request") == 2, p.log()
    for i in (3, 4, 5, 6):
        refused(p, res, i, f"refused item {i} to=<alice@example.com>: body offset/length past")
    refused(p, res, 8, "refused item 8 to=<alice@example.com>: unknown mailbox kind")
    refused(p, res, 9, "refused item 9 to=<alice@example.com>: no message file descriptor")
    refused(p, res, 10, "refused item 10 to=<>: control characters")
    assert not os.path.exists(os.path.join(s.mailbase, "example.com"))
    assert p.close() == 0


def test_local_peer_refuses_path_traversal(peer_env, canary):
    s, fd, size = peer_env
    p = Peer(s)
    rel = os.path.relpath(str(canary), s.mailbase)
    bad = ["../../etc/", f"{rel}/", str(canary) + "/", "/etc/", "example.com/../../x/",
           "example.com/./alice/", "example.com//alice/", "example.com/alice"]
    for i, box in enumerate(bad):
        p.send(item(i, LOCAL_VIRTUAL, box, "alice@example.com", length=1), fd)
    # a real mailbox, but not the recipient's in virtual_mailbox_maps
    p.send(item(50, LOCAL_VIRTUAL, "example.net/bob/", "alice@example.com", length=1), fd)
    p.send(item(51, LOCAL_VIRTUAL, "example.com/alice/", "nobody@example.com", length=1), fd)
    res, n = p.commit()
    assert n == len(bad) + 2
    for i, box in enumerate(bad):
        refused(p, res, i, f"refused item {i} to=<alice@example.com>: bad virtual mailbox path")
    refused(p, res, 50, "refused item 50 to=<alice@example.com>: mailbox \"example.net/bob/\" "
            "is not the recipient's")
    refused(p, res, 51, "refused item 51 to=<nobody@example.com>: nobody@example.com is not in "
            "virtual_mailbox_maps")
    assert not os.path.exists(os.path.join(s.mailbase, "example.net"))
    assert p.close() == 0


@needs_root
def test_local_peer_refuses_uid0_and_unknown_users(peer_env, canary):
    s, fd, size = peer_env
    p = Peer(s)
    p.send(item(1, LOCAL_USER, "root", "root@localhost", length=1), fd)
    p.send(item(2, LOCAL_USER, "no-such-user-xyz", "x@localhost", length=1), fd)
    p.send(item(3, LOCAL_USER, "../root", "x@localhost", length=1), fd)
    p.send(item(4, LOCAL_USER, "", "x@localhost", length=1), fd)
    res, n = p.commit()
    refused(p, res, 1, "refused item 1 to=<root@localhost>: user \"root\" has uid or gid 0")
    refused(p, res, 2, "refused item 2 to=<x@localhost>: no such user \"no-such-user-xyz\"")
    refused(p, res, 3, "refused item 3 to=<x@localhost>: bad user name \"../root\"")
    refused(p, res, 4, "refused item 4 to=<x@localhost>: bad user name \"\"")
    assert not os.path.exists("/root/Maildir/new") or not any(
        "peer test" in open(os.path.join("/root/Maildir/new", f), errors="replace").read()
        for f in os.listdir("/root/Maildir/new"))
    assert p.close() == 0


@needs_root
@pytest.mark.parametrize("maps,why", [
    (["virtual_uid_maps = static:0"], "bad virtual_uid_maps/virtual_gid_maps result for "
     "alice@example.com"),
    (["virtual_uid_maps = static:5000", "virtual_gid_maps = static:0"],
     "virtual_uid_maps/virtual_gid_maps give uid or gid 0"),
])
def test_local_peer_refuses_uid0_from_virtual_uid_maps(make_server, canary, maps, why):
    s = make_server(start=False, extra=maps)
    os.makedirs(s.mailbase, exist_ok=True)
    body = os.path.join(s.dir, "body")
    with open(body, "wb") as f:
        f.write(b"x\n")
    fd = os.open(body, os.O_RDONLY)
    p = Peer(s)
    p.send(item(1, LOCAL_VIRTUAL, "example.com/alice/", "alice@example.com", length=1), fd)
    res, n = p.commit()
    os.close(fd)
    refused(p, res, 1, f"refused item 1 to=<alice@example.com>: {why}")
    assert not os.path.exists(os.path.join(s.mailbase, "example.com"))
    assert p.close() == 0


@needs_root
def test_local_peer_refuses_symlinked_maildirs(peer_env, canary):
    """The mailbox owner (mailwarden for these virtual mailboxes) plants
    symlinks to a root-owned directory: as the Maildir itself, as one of
    its parents, as tmp/ and as new/."""
    s, fd, size = peer_env
    mw = pwd.getpwnam("mailwarden")
    dom = os.path.join(s.mailbase, "example.com")
    os.makedirs(dom)
    os.symlink(str(canary), os.path.join(dom, "alice"))          # the Maildir
    os.symlink(str(canary), os.path.join(s.mailbase, "example.net"))  # a parent
    carol = os.path.join(dom, "carol")
    os.makedirs(os.path.join(carol, "new"))
    os.symlink(str(canary / "tmp"), os.path.join(carol, "tmp"))      # tmp/
    dave = os.path.join(dom, "dave")
    os.makedirs(os.path.join(dave, "tmp"))
    os.symlink(str(canary / "new"), os.path.join(dave, "new"))       # new/
    for root, dirs, files in os.walk(s.mailbase):
        for n in dirs + files + [""]:
            os.lchown(os.path.join(root, n), mw.pw_uid, mw.pw_gid)
    with open(s.vmailbox_path, "a") as f:
        f.write("carol@example.com example.com/carol/\ndave@example.com example.com/dave/\n")
    p = Peer(s)
    p.send(item(1, LOCAL_VIRTUAL, "example.com/alice/", "alice@example.com", length=1), fd)
    p.send(item(2, LOCAL_VIRTUAL, "example.net/bob/", "bob@example.net", length=1), fd)
    p.send(item(3, LOCAL_VIRTUAL, "example.com/carol/", "carol@example.com", length=1), fd)
    p.send(item(4, LOCAL_VIRTUAL, "example.com/dave/", "dave@example.com", length=1), fd)
    res, n = p.commit()
    for i, who in enumerate(["alice@example.com", "bob@example.net", "carol@example.com",
                             "dave@example.com"], 1):
        refused(p, res, i, f"refused item {i} to=<{who}>: open maildir ")
    assert p.log().count("a symlink or not a directory") == 4, p.log()
    assert p.close() == 0


@needs_root
def test_local_user_mailbox_and_planted_symlink(peer_env, canary):
    """A real passwd account: its ~/Maildir/ is delivered to as that user;
    once the user replaces ~/Maildir by a symlink, delivery is refused."""
    s, fd, size = peer_env
    name = f"mwlt{os.getpid() % 100000}"
    home = os.path.join(s.dir, "home", name)
    os.makedirs(os.path.dirname(home))
    os.chmod(os.path.dirname(home), 0o755)
    subprocess.run(["useradd", "-M", "-d", home, "-s", "/usr/sbin/nologin", name], check=True)
    try:
        pw = pwd.getpwnam(name)
        os.makedirs(home)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        os.chmod(home, 0o700)
        p = Peer(s)
        p.send(item(1, LOCAL_USER, name, f"{name}@localhost", off=8, length=size - 8), fd)
        res, n = p.commit()
        assert res[1][0][0] == 1, (res, p.log())
        new = os.path.join(home, "Maildir", "new")
        (f,) = os.listdir(new)
        st = os.stat(os.path.join(new, f))
        assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid)
        assert os.stat(os.path.join(home, "Maildir")).st_mode & 0o777 == 0o700
        # the owner plants a symlink instead of the Maildir
        shutil.rmtree(os.path.join(home, "Maildir"))
        os.symlink(str(canary), os.path.join(home, "Maildir"))
        os.lchown(os.path.join(home, "Maildir"), pw.pw_uid, pw.pw_gid)
        p.send(item(2, LOCAL_USER, name, f"{name}@localhost", length=1), fd)
        res, n = p.commit()
        refused(p, res, 2, f"refused item 2 to=<{name}@localhost>: open maildir {home}/Maildir/: "
                "a symlink or not a directory")
        assert p.close() == 0
    finally:
        subprocess.run(["userdel", name], check=False)
