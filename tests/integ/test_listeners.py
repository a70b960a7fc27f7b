"""Per-listener overrides (ROLE/inet/KEY, master.cf's -o KEY=VALUE): an
override of a key the engine reads only globally is said so, with its file
and line, by check-config and at start; the keys read per listener change
the behaviour of that listener only."""
import os
import re
import subprocess
import time

from conftest import BIN, Conn, free_port
from tlsfix import TlsFiles


def check_config(s):
    s.write_config()
    return subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True,
                          text=True, timeout=30)


def line_of(path, text):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.startswith(text):
                return n
    raise AssertionError(f"{text!r} not in {path}")


NOT_APPLIED = "not applied per listener here; the global value applies"


def test_override_without_listener_effect_is_warned(make_server):
    s = make_server(start=False)
    rport = free_port()
    s.extra = ["submission/inet/syslog_name = postfix/submission",
               "listeners = reinject", f"reinject/inet/listen = 127.0.0.1:{rport}",
               "reinject/inet/smtpd_banner = hi",
               "reinject/inet/smtpd_helo_required = yes",
               "smtpd/inet/smtpd_client_restrictions = permit"]
    r = check_config(s)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    conf = os.path.basename(s.conf)
    n = line_of(s.conf, "submission/inet/syslog_name")
    assert re.search(rf"{re.escape(conf)}, line {n}: submission/inet/syslog_name: "
                     + re.escape(NOT_APPLIED), out), out
    n = line_of(s.conf, "reinject/inet/smtpd_banner")
    assert re.search(rf"line {n}: reinject/inet/smtpd_banner: " + re.escape(NOT_APPLIED),
                     out), out
    # keys read per listener, and a named listener's address: no warning
    assert "smtpd_helo_required: not applied" not in out, out
    assert "smtpd_client_restrictions: not applied" not in out, out
    assert "inet/smtpd_listen" not in out and "inet/listen:" not in out, out
    assert out.count(NOT_APPLIED) == 2, out
    # and at start (before the log is open: on stderr)
    s.start()
    assert "submission/inet/syslog_name: " + NOT_APPLIED in s.stderr(), s.stderr()
    c = Conn("127.0.0.1", rport)
    assert c.banner.startswith("220 "), c.banner
    c.close()


def named(s, *overrides, name="other"):
    """A named listener with overrides; its port."""
    port = free_port()
    s.extra += [f"listeners = {name}", f"{name}/inet/listen = 127.0.0.1:{port}"]
    s.extra += [f"{name}/inet/{o}" for o in overrides]
    return port


def test_reject_unlisted_recipient_per_listener(make_server):
    """smtpd_reject_unlisted_recipient = no on one listener: an unknown
    local recipient is accepted there (delivery decides), refused on 25."""
    s = make_server(start=False)
    port = named(s, "smtpd_reject_unlisted_recipient = no")
    s.write_config()
    s.start()
    c = Conn("127.0.0.1", port)
    assert c.cmd("HELO client.test.example").startswith("250 ")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250 ")
    assert c.cmd("RCPT TO:<nobody@example.com>").startswith("250 ")
    c.close()
    c = Conn("127.0.0.1", s.port)
    assert c.cmd("HELO client.test.example").startswith("250 ")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250 ")
    r = c.cmd("RCPT TO:<nobody@example.com>")
    assert r.startswith("550 5.1.1 ") and "User unknown" in r, r
    c.close()


def test_error_limits_per_listener(make_server):
    """smtpd_hard_error_limit, smtpd_soft_error_limit and
    smtpd_error_sleep_time of one listener."""
    s = make_server(start=False)
    port = named(s, "smtpd_hard_error_limit = 2", "smtpd_soft_error_limit = 1",
                 "smtpd_error_sleep_time = 2s")
    s.write_config()
    s.start()
    c = Conn("127.0.0.1", port)
    assert c.cmd("HELO client.test.example").startswith("250 ")
    t = time.monotonic()
    assert c.cmd("XYZZY").startswith("500 ")          # held for the error sleep
    assert time.monotonic() - t >= 1.5
    c.send("XYZZY\r\n")                               # the 2nd error: hard limit
    r = "\n".join(c.replies(2, timeout=5))
    assert "421 4.7.0 " in r and "too many errors" in r, r
    assert c.is_closed()
    c.close()
    c = Conn("127.0.0.1", s.port)                     # 25: 20 errors, no sleep (conftest's 0)
    t = time.monotonic()
    for _ in range(5):
        assert c.cmd("XYZZY").startswith("500 ")
    assert time.monotonic() - t < 1.5
    assert c.cmd("NOOP").startswith("250 ")
    c.close()


def test_tls_auth_only_per_listener(make_server):
    """smtpd_tls_auth_only = no on one listener: AUTH offered in clear
    there, only after STARTTLS on 25 (the global yes)."""
    tls = TlsFiles()
    s = make_server(extra=tls.config(), start=False)
    port = named(s, "smtpd_tls_auth_only = no")
    s.write_config()
    s.start()
    c = Conn("127.0.0.1", port)
    r = c.cmd("EHLO client.test.example")
    assert "250-AUTH " in r or "250 AUTH " in r, r
    c.close()
    c = Conn("127.0.0.1", s.port)
    r = c.cmd("EHLO client.test.example")
    assert r.startswith("250") and "STARTTLS" in r and "AUTH" not in r, r
    c.close()


def test_connection_count_limit_off_per_listener(make_server):
    """smtpd_client_connection_count_limit = 0 on one listener: no limit
    there while port 25 keeps the global 1."""
    s = make_server(start=False)
    s.extra = ["mynetworks = 192.0.2.0/24", "smtpd_client_connection_count_limit = 1"]
    port = named(s, "smtpd_client_connection_count_limit = 0")
    s.write_config()
    s.start()
    a = Conn("127.0.0.1", port)
    b = Conn("127.0.0.1", port)
    assert a.banner.startswith("220 ") and b.banner.startswith("220 "), (a.banner, b.banner)
    d = Conn("127.0.0.1", s.port)
    assert d.banner.startswith("421 4.7.0 ") and "too many connections" in d.banner, d.banner
    for c in (a, b, d):
        c.close()


def test_connection_rate_limit_per_listener(make_server):
    """smtpd_client_connection_rate_limit = 2 on one listener only."""
    s = make_server(start=False)
    s.extra = ["mynetworks = 192.0.2.0/24", "anvil_rate_time_unit = 60s"]
    port = named(s, "smtpd_client_connection_rate_limit = 2")
    s.write_config()
    s.start()
    banners = []
    for p in (port, port, port, s.port, s.port, s.port):
        c = Conn("127.0.0.1", p)
        banners.append(c.banner)
        if c.banner.startswith("220"):
            c.cmd("QUIT")
        c.close()
    # the start-up probe may count once: the named listener refuses by the 3rd
    assert banners[2].startswith("421 4.7.0 ") and "too many connections" in banners[2], banners
    assert all(b.startswith("220 ") for b in banners[3:]), banners


def test_mynetworks_per_listener(make_server):
    """mynetworks of one listener (FILTER_README's -o mynetworks=127.0.0.0/8):
    permit_mynetworks, so relaying, there; port 25 keeps the global."""
    s = make_server(start=False)
    s.extra = ["mynetworks = 192.0.2.0/24"]
    port = named(s, "mynetworks = 127.0.0.0/8")
    r = check_config(s)
    assert r.returncode == 0 and NOT_APPLIED not in r.stdout + r.stderr, r.stdout + r.stderr
    s.start()
    c = Conn("127.0.0.1", port)
    assert c.cmd("HELO client.test.example").startswith("250 ")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250 ")
    assert c.cmd("RCPT TO:<someone@elsewhere.example>").startswith("250 ")
    c.close()
    c = Conn("127.0.0.1", s.port)
    assert c.cmd("HELO client.test.example").startswith("250 ")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250 ")
    r = c.cmd("RCPT TO:<someone@elsewhere.example>")
    assert r[:1] in "45" and "Relay access denied" in r, r
    c.close()
