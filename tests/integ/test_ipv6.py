"""IPv6 listeners: smtpd_listen = [::1]:PORT."""
import re

from conftest import make_message


def test_ipv6_listener(make_server):
    s = make_server(host="::1")
    assert s.listen.startswith("[::1]:")
    c = s.conn()
    assert c.banner.startswith("220 ")
    c.cmd("EHLO client.test.example")
    assert c.cmd("MAIL FROM:<sender@example.org>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<alice@example.com>") == "250 2.1.5 Ok"
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: over v6\r\n\r\nhi\r\n.\r\n")
    assert c.reply().startswith("250 2.0.0 Ok: queued as ")
    c.close()
    (path,) = s.wait_delivered("alice@example.com", 1)
    with open(path, "rb") as f:
        data = f.read()
    assert b"Subject: over v6" in data
    assert re.search(rb"Received: from client\.test\.example \(\S+ \[(IPv6:)?::1\]\)", data), data[:400]
    s.wait_log(r"connect from \S+\[::1\]")


def test_ipv4_and_ipv6_listeners_together(make_server):
    import socket
    from conftest import free_port
    p6 = free_port("::1")
    s = make_server(start=False)
    s.listen = f"{s.host}:{s.port}, [::1]:{p6}"
    s.write_config()
    s.start()
    with socket.create_connection(("::1", p6), timeout=5) as c6:
        assert c6.recv(100).startswith(b"220 ")
    r = s.send_mail("bob@example.net", make_message(to="bob@example.net"))
    assert r.startswith("250")
    s.wait_delivered("bob@example.net", 1)


def test_ipv6_relay_denied_outside_mynetworks(make_server):
    s = make_server(host="::1", extra=["mynetworks = 127.0.0.0/8"])
    c = s.conn()
    c.cmd("EHLO client.test.example")
    c.cmd("MAIL FROM:<sender@example.org>")
    assert c.cmd("RCPT TO:<x@outside.example>") == "554 5.7.1 <x@outside.example>: Relay access denied"
    c.close()
