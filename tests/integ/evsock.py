"""Reach the ban engine's event socket as a compromised smtp engine would:
there is no path any more (the master's socketpair), so the test takes a
copy of the engine's own write end with pidfd_getfd(2) (root, Linux 5.6+)
and sends datagrams on it, exactly what code running in the engine can do."""
import ctypes
import os
import socket
import struct
import time

from conftest import pids_with

MSG_WARDEN_EVENT = 3
SYS_pidfd_getfd = 438           # x86_64 and the generic table alike

_libc = ctypes.CDLL(None, use_errno=True)


def _grab(pid, fd):
    pfd = os.pidfd_open(pid)
    try:
        n = _libc.syscall(SYS_pidfd_getfd, pfd, fd, 0)
        if n < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"pidfd_getfd({pid}, {fd}): {os.strerror(e)}")
        return n
    finally:
        os.close(pfd)


def engine_pid(s, timeout=10):
    """The chrooted child of s's master: the smtp engine."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for k in pids_with(4, s.proc.pid):
            try:
                if os.readlink(f"/proc/{k}/root") != "/":
                    return k
            except OSError:
                pass
        time.sleep(0.05)
    raise AssertionError("no smtp engine process found")


def engine_socket(s, kind):
    """A copy of the smtp engine's first AF_UNIX socket of type kind."""
    pid = engine_pid(s)
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                continue
        except OSError:
            continue
        sock = socket.socket(fileno=_grab(pid, int(fd)))
        if sock.family == socket.AF_UNIX and sock.type == kind:
            return sock
        sock.close()
    raise AssertionError(f"the smtp engine {pid} holds no such socket ({kind})")


def event_socket(s):
    """A copy of the smtp engine's end of the event socketpair."""
    return engine_socket(s, socket.SOCK_DGRAM)


def put_str(v):
    b = v.encode()
    return struct.pack(">I", len(b)) + b + b"\0"


def event_bytes(kind, addr, user="", text="event"):
    return struct.pack(">HH", MSG_WARDEN_EVENT, 0) + struct.pack(">I", kind) + \
        put_str(addr) + put_str(user) + put_str(text)


def send_raw(s, data):
    with event_socket(s) as c:
        c.send(data)


def send_event(s, kind, addr, user="", text="event"):
    send_raw(s, event_bytes(kind, addr, user, text))
