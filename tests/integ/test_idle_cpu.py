"""
An idle server uses no CPU, whatever its clients did before: after TLS
sessions of every kind, and after clients that reset the connection
(RST) at awkward moments, every mailwarden process (master, engine,
queue manager) must be asleep in epoll_wait.

Regression: a client that reset an idle plain session (for instance one
that connects to see whether the port is open and closes without reading
the banner) left its socket in error; epoll reported EPOLLERR, which the
session took for "writable", flushed nothing and returned, and the loop
got the same event again at once: one core at 100 % until the session
timed out (300 s). A reset while a session waited on its own work (a
lookup, the disk, the password check) spun the same way for as long as
the wait lasted: a watch of no events still reports errors and hang-ups.
"""
import base64
import os
import socket
import struct
import time

import pytest

from conftest import CLIENT_HELO, free_port, pids_with, proc_stat
from tlsfix import TlsFiles, tls_connect

CLK = os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def tls():
    return TlsFiles()


def group_pids(pgid):
    return pids_with(5, pgid)      # field 5: pgrp


def cpu_seconds(pids):
    """utime+stime of each live pid, in seconds."""
    out = {}
    for pid in pids:
        st = proc_stat(pid)
        if st is not None:
            out[pid] = (int(st[14]) + int(st[15])) / CLK
    return out


def idle_cpu(srv, seconds=2.0):
    """CPU seconds used by each process of the server over `seconds`."""
    pids = group_pids(srv.pgid())
    assert len(pids) >= 3, pids       # master, engine, queue manager
    before = cpu_seconds(pids)
    time.sleep(seconds)
    after = cpu_seconds(pids)
    return {pid: round(after[pid] - before[pid], 3) for pid in before if pid in after}


def reset(sock):
    """Close with an RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def test_idle_after_tls_sessions_and_resets_uses_no_cpu(make_server, tls):
    sport = free_port()
    srv = make_server(extra=tls.config(f"smtps_listen = 127.0.0.1:{sport}",
                                       "smtpd_sasl_failure_delay = 5s",
                                       "smtpd_hard_error_limit = 100"))
    ctx = tls.client_context()
    # Complete sessions: STARTTLS with a login, implicit TLS.
    for _ in range(3):
        c = srv.conn()
        c.cmd(f"EHLO {CLIENT_HELO}")
        assert c.cmd("STARTTLS").startswith("220")
        c.sock = ctx.wrap_socket(c.sock, server_hostname="mx.test.example")
        c.cmd(f"EHLO {CLIENT_HELO}")
        assert c.cmd("AUTH PLAIN " + b64("\0alice@example.com\0alice-secret")).startswith("235")
        assert c.cmd("QUIT").startswith("221")
        c.close()
        s = tls_connect("127.0.0.1", sport, ctx)
        assert s.recv(4096).startswith(b"220")
        s.sendall(b"QUIT\r\n")
        s.recv(4096)
        s.close()
    # A port check: connect, close without reading the banner (RST).
    for _ in range(3):
        s = socket.create_connection((srv.host, srv.port))
        time.sleep(0.05)
        s.close()
    # Resets on an idle plain session, on an idle TLS session, in the
    # middle of a handshake, and on the implicit TLS port.
    c = srv.conn()
    c.cmd(f"EHLO {CLIENT_HELO}")
    reset(c.sock)
    c = srv.conn()
    c.cmd(f"EHLO {CLIENT_HELO}")
    c.cmd("STARTTLS")
    c.sock = ctx.wrap_socket(c.sock, server_hostname="mx.test.example")
    c.cmd(f"EHLO {CLIENT_HELO}")
    reset(c.sock)
    c = srv.conn()
    c.cmd(f"EHLO {CLIENT_HELO}")
    c.cmd("STARTTLS")
    c.send(b"\x16\x03\x01\x02\x00\x01")
    time.sleep(0.05)
    reset(c.sock)
    s = tls_connect("127.0.0.1", sport, ctx)
    s.recv(4096)
    reset(s)
    # A reset while the 535 is held back (smtpd_sasl_failure_delay).
    c = srv.conn()
    c.cmd(f"EHLO {CLIENT_HELO}")
    c.cmd("STARTTLS")
    c.sock = ctx.wrap_socket(c.sock, server_hostname="mx.test.example")
    c.cmd(f"EHLO {CLIENT_HELO}")
    c.send("AUTH PLAIN " + b64("\0alice@example.com\0wrong") + "\r\n")
    srv.wait_log(r"SASL PLAIN authentication failed")
    reset(c.sock)
    time.sleep(0.5)

    used = idle_cpu(srv, 2.0)
    assert sum(used.values()) < 0.2, f"CPU seconds per process over 2 s of idleness: {used}"
    # Every one of those sessions is over (none left to its timeout).
    srv.wait_log(r"lost connection after CONNECT from localhost\[127\.0\.0\.1\]")
    srv.wait_log(r"lost connection after EHLO from localhost\[127\.0\.0\.1\]")
    srv.wait_log(r"lost connection after AUTH from localhost\[127\.0\.0\.1\]", timeout=10)
    c = srv.conn()
    assert c.cmd(f"EHLO {CLIENT_HELO}").startswith("250")
    c.cmd("QUIT")
    c.close()
    time.sleep(0.3)
    assert sum(idle_cpu(srv, 1.0).values()) < 0.1
