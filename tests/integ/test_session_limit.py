"""default_process_limit: at the limit the engine stops accepting, so a
further client waits in the listen backlog (as behind Postfix's smtpd
process limit) with Postfix's warning in the log, and is served as soon
as a session ends. Nothing is refused or lost."""
import socket
import time

from conftest import Conn, read_replies


def test_limit_queues_then_serves(make_server):
    srv = make_server(extra=["default_process_limit = 2"])
    srv.wait_log(r"disconnect from")          # the start-up probe has gone
    a = Conn(srv.host, srv.port)
    b = Conn(srv.host, srv.port)
    assert a.banner.startswith("220") and b.banner.startswith("220")
    # the third connects (kernel backlog) but gets no banner while two are open
    c = socket.create_connection((srv.host, srv.port), timeout=5)
    assert read_replies(c, timeout=1.0, want=1) == []
    srv.wait_log(rf'warning: service "smtp" \({srv.port}\) has reached its process limit "2": '
                 r'new clients may experience noticeable delays')
    assert a.cmd("QUIT").startswith("221")
    a.sock.close()
    r = read_replies(c, timeout=5.0, want=1)
    assert r and r[0][0].startswith("220"), r
    c.sendall(b"QUIT\r\n")
    assert read_replies(c, timeout=5.0, want=1)[0][0].startswith("221")
    c.close()
    assert b.cmd("NOOP").startswith("250")


def test_connection_count_limit_per_client(make_server):
    """smtpd_client_connection_count_limit: the client's next session over
    the limit gets Postfix's 421 and warning; mynetworks is exempt."""
    srv = make_server(extra=["smtpd_client_connection_count_limit = 2",
                             "mynetworks = 192.0.2.0/24"])
    srv.wait_log(r"disconnect from")          # the start-up probe has gone
    a = Conn(srv.host, srv.port)
    b = Conn(srv.host, srv.port)
    assert a.banner.startswith("220") and b.banner.startswith("220")
    c = Conn(srv.host, srv.port)
    assert c.banner.startswith("421 4.7.0 ") and \
        c.banner.endswith(f"Error: too many connections from {srv.host}"), c.banner
    assert c.reply(timeout=2) == ""          # and the connection is closed
    srv.wait_log(r"warning: Connection concurrency limit exceeded: 3 from "
                 r"\S+\[127\.0\.0\.1\] for service smtp")
    # one ends: the next one is served
    assert a.cmd("QUIT").startswith("221")
    a.sock.close()
    deadline = time.time() + 5
    while True:
        d = Conn(srv.host, srv.port)
        if d.banner.startswith("220") or time.time() > deadline:
            break
        time.sleep(0.1)
    assert d.banner.startswith("220"), d.banner
    assert b.cmd("NOOP").startswith("250")


def test_mynetworks_exempt_from_connection_count_limit(make_server):
    srv = make_server(extra=["smtpd_client_connection_count_limit = 1"])
    conns = [Conn(srv.host, srv.port) for _ in range(3)]     # 127.0.0.1: mynetworks
    assert all(c.banner.startswith("220") for c in conns)
