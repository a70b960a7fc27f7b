"""
Client-supplied text that reaches headers and logs (issue 11, "Protocol
fixes"): the HELO name passes through Postfix's printable() rule (every
byte that is not printable becomes '?') before it is stored anywhere, and
a PTR name that is not a valid host name is "unknown", as in Postfix's
smtpd, even when a forward lookup would confirm it.
"""
import re

import pytest

import dnsfix
from dnsfix import policy_extra, rev


@pytest.fixture
def server(make_server):
    return make_server(extra=["mynetworks = 192.0.2.0/24"])


def deliver(s, helo, source=None):
    c = s.conn(source=source)
    c.send(b"EHLO " + helo + b"\r\n")
    r = c.reply()
    assert r.startswith("250"), r
    for cmd in ("MAIL FROM:<sender@example.org>", "RCPT TO:<alice@example.com>", "DATA"):
        r = c.cmd(cmd)
        assert r[0] in "23", (cmd, r)
    c.send(b"Subject: t\r\n\r\nbody\r\n.\r\n")
    assert c.reply().startswith("250")
    c.cmd("QUIT")
    c.close()


def received(s, n=1):
    path = s.wait_delivered("alice@example.com", n)[-1]
    with open(path, "rb") as f:
        data = f.read()
    m = re.search(rb"^Received: (.*?)\n(?=\S)", data, re.S | re.M)
    return m.group(1)


def test_helo_control_bytes_become_question_marks(server):
    """CR, ESC, DEL and other control bytes in HELO never reach the queue
    file: the Received header shows '?' in their place."""
    deliver(server, b"evil\x1b[31m\rname\x7f\x01.example")
    rec = received(server)
    assert rec.startswith(b"from evil?[31m?name??.example (localhost [127.0.0.1])"), rec
    assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]", rec), rec
    log = server.log()
    assert "\x1b" not in log and "\x7f" not in log


def test_helo_utf8_kept_invalid_bytes_replaced(server):
    """Valid UTF-8 (an SMTPUTF8 name) is printable; a stray 8-bit byte is not."""
    deliver(server, "m\u00fcller.example".encode() + b"\xff")
    rec = received(server)
    assert rec.startswith("from m\u00fcller.example? (".encode()), rec


BAD_PTR = [
    # address, PTR name (each also has an A record back to the address, so
    # only the name check stands between it and a "confirmed" client name)
    ("127.0.0.21", "-bad-.test"),
    ("127.0.0.22", "x.y-.test"),
    ("127.0.0.23", "1.2.3.4"),
]


@pytest.fixture(scope="module")
def bad_dns():
    args = []
    for ip, name in BAD_PTR:
        args += [f"--ptr-record={rev(ip)},{name}", f"--host-record={name},{ip}"]
    d = dnsfix.DnsServer(extra_args=args).start()
    yield d
    d.stop()


def test_invalid_ptr_name_is_unknown(make_server, bad_dns):
    s = make_server(extra=policy_extra(bad_dns))
    c = s.conn(source="127.0.0.2")      # a valid, confirmed name for comparison
    c.close()
    s.wait_log(r"connect from good\.test\[127\.0\.0\.2\]")
    for ip, name in BAD_PTR:
        c = s.conn(source=ip)
        c.cmd("QUIT")
        c.close()
        s.wait_log(rf"connect from unknown\[{re.escape(ip)}\]")
        s.wait_log(rf"warning: {re.escape(ip)}: PTR name is not a valid host name: "
                   rf"{re.escape(name)}")
    assert "connect from -bad-" not in s.log()
