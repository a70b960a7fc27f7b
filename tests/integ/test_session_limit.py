"""default_process_limit: at the limit the engine stops accepting, so a
further client waits in the listen backlog (as behind Postfix's smtpd
process limit) with Postfix's warning in the log, and is served as soon
as a session ends. Nothing is refused or lost."""
import socket

from conftest import Conn, read_replies


def test_limit_queues_then_serves(make_server):
    srv = make_server(extra=["default_process_limit = 2"])
    a = Conn(srv.host, srv.port)
    b = Conn(srv.host, srv.port)
    assert a.banner.startswith("220") and b.banner.startswith("220")
    # the third connects (kernel backlog) but gets no banner while two are open
    c = socket.create_connection((srv.host, srv.port), timeout=5)
    assert read_replies(c, timeout=1.0, want=1) == []
    srv.wait_log(r'warning: service "smtp" has reached its process limit "2": '
                 r'new clients may experience noticeable delays')
    assert a.cmd("QUIT").startswith("221")
    a.sock.close()
    r = read_replies(c, timeout=5.0, want=1)
    assert r and r[0][0].startswith("220"), r
    c.sendall(b"QUIT\r\n")
    assert read_replies(c, timeout=5.0, want=1)[0][0].startswith("221")
    c.close()
    assert b.cmd("NOOP").startswith("250")
