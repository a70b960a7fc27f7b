"""SMTP protocol: banner, EHLO keywords, command replies in Postfix's
words, bad input (out-of-order commands, overlong lines, NUL bytes, too many
errors, idle clients, oversize messages) and isolation between sessions."""
import re
import time

from conftest import HOSTNAME, make_message


def ehlo_lines(c):
    r = c.cmd("EHLO client.test.example")
    assert r.startswith("250"), r
    return r.split("\n")


def test_banner(server):
    c = server.conn()
    assert c.banner == f"220 {HOSTNAME} ESMTP mailwarden"
    c.close()


def test_banner_setting_expands(make_server):
    s = make_server(extra=["smtpd_banner = $myhostname ESMTP hello there"])
    c = s.conn()
    assert c.banner == f"220 {HOSTNAME} ESMTP hello there"
    c.close()


def test_ehlo_keywords(server):
    c = server.conn()
    lines = ehlo_lines(c)
    assert re.match(r"^250-" + re.escape(HOSTNAME) + r"$", lines[0]), lines
    assert all(l.startswith("250-") for l in lines[:-1]), lines
    assert lines[-1].startswith("250 "), lines
    kw = [l[4:] for l in lines[1:]]
    for k in ("PIPELINING", "SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8"):
        assert k in kw, (k, kw)
    # disable_vrfy_command = yes by default: VRFY is not advertised
    assert "VRFY" not in kw, kw
    assert c.cmd("QUIT").startswith("221 2.0.0"), "QUIT"
    c.close()


def test_ehlo_size_follows_message_size_limit(make_server):
    s = make_server(extra=["message_size_limit = 50000"])
    c = s.conn()
    kw = [l[4:] for l in ehlo_lines(c)[1:]]
    assert "SIZE 50000" in kw, kw
    c.close()


def test_basic_command_replies(server):
    c = server.conn()
    assert c.cmd("HELO client.test.example") == f"250 {HOSTNAME}"
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert c.cmd("RSET") == "250 2.0.0 Ok"
    r = c.cmd("HELP")
    assert r.startswith("214"), r
    assert c.cmd("VRFY alice@example.com") == "502 5.5.1 VRFY command is disabled"
    assert c.cmd("XYZZY") == "500 5.5.2 Error: command not recognized"
    assert c.cmd("MAIL FROM:<sender@example.org>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<alice@example.com>") == "250 2.1.5 Ok"
    assert c.cmd("DATA") == "354 End data with <CR><LF>.<CR><LF>"
    c.send(b"Subject: x\r\n\r\nhello\r\n.\r\n")
    r = c.reply()
    assert re.match(r"^250 2\.0\.0 Ok: queued as [0-9A-Za-z]+$", r), r
    assert c.cmd("QUIT") == "221 2.0.0 Bye"
    assert c.is_closed()


def test_helo_without_argument(server):
    c = server.conn()
    assert c.cmd("HELO") == "501 Syntax: HELO hostname"
    assert c.cmd("EHLO") == "501 Syntax: EHLO hostname"
    c.close()


def test_out_of_order_commands(server):
    c = server.conn()
    c.cmd("EHLO client.test.example")
    assert c.cmd("RCPT TO:<alice@example.com>") == "503 5.5.1 Error: need MAIL command"
    assert c.cmd("DATA") == "503 5.5.1 Error: need RCPT command"
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 Ok"
    # Postfix: inside a transaction without (valid) recipients
    assert c.cmd("DATA") == "554 5.5.1 Error: no valid recipients"
    assert c.cmd("MAIL FROM:<b@example.org>") == "503 5.5.1 Error: nested MAIL command"
    assert c.cmd("RSET") == "250 2.0.0 Ok"
    assert c.cmd("MAIL FROM:<b@example.org>") == "250 2.1.0 Ok"
    c.close()


def test_mail_before_helo(server):
    # Postfix (smtpd_helo_required = no) accepts MAIL without HELO
    c = server.conn()
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 Ok"
    c.close()


def test_mail_syntax(server):
    c = server.conn()
    c.cmd("EHLO client.test.example")
    assert c.cmd("MAIL") == "501 5.5.4 Syntax: MAIL FROM:<address>"
    assert c.cmd("MAIL TO:<a@example.org>") == "501 5.5.4 Syntax: MAIL FROM:<address>"
    assert c.cmd("RCPT") == "503 5.5.1 Error: need MAIL command"
    assert c.cmd("MAIL FROM:<>") == "250 2.1.0 Ok"   # null sender is fine
    assert c.cmd("RCPT FROM:<alice@example.com>") == "501 5.5.4 Syntax: RCPT TO:<address>"
    c.close()


def test_too_many_recipients(make_server):
    s = make_server(extra=["smtpd_recipient_limit = 3"])
    c = s.conn()
    c.cmd("EHLO client.test.example")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
    for r in ("alice@example.com", "bob@example.net", "postmaster@example.com"):
        assert c.cmd(f"RCPT TO:<{r}>") == "250 2.1.5 Ok", r
    assert c.cmd("RCPT TO:<carol@example.net>") == "452 4.5.3 Error: too many recipients"
    # the three accepted recipients still get the message
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: limit\r\n\r\nx\r\n.\r\n")
    assert c.reply().startswith("250 2.0.0 Ok: queued as ")
    c.close()
    s.wait_delivered("alice@example.com", 1)
    s.wait_delivered("bob@example.net", 1)
    s.wait_delivered("postmaster@example.com", 1)
    time.sleep(0.3)
    assert s.messages("carol@example.net") == []


def test_size_declared_too_big(make_server):
    s = make_server(extra=["message_size_limit = 100000"])
    c = s.conn()
    c.cmd("EHLO client.test.example")
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=100001") == "552 5.3.4 Message size exceeds fixed limit"
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=1000") == "250 2.1.0 Ok"
    c.close()


def test_size_actual_too_big_then_session_continues(make_server):
    s = make_server(extra=["message_size_limit = 100000"])
    c = s.conn()
    c.cmd("EHLO client.test.example")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
    assert c.cmd("RCPT TO:<alice@example.com>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    line = b"x" * 998 + b"\r\n"
    c.send(b"Subject: big\r\n\r\n" + line * 150 + b".\r\n")   # ~150 kB
    assert c.reply() == "552 5.3.4 Message size exceeds fixed limit"
    # the session goes on: a normal message is accepted afterwards
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<alice@example.com>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: small\r\n\r\nsmall\r\n.\r\n")
    assert c.reply().startswith("250 2.0.0 Ok: queued as ")
    c.close()
    files = s.wait_delivered("alice@example.com", 1)
    time.sleep(0.5)
    files = s.messages("alice@example.com")
    assert len(files) == 1, "the oversize message must not be delivered"
    assert b"Subject: small" in files[0]


def test_overlong_command_line(server):
    """A command line longer than the limit (2048, Postfix's
    line_length_limit) gets one reply, and its tail is never executed as
    a command of its own (Postfix discards the excess)."""
    c = server.conn()
    c.cmd("EHLO client.test.example")
    # if the server split the line at 2048 bytes, "QUIT" would become a command
    c.send(b"NOOP " + b"a" * 2043 + b"QUIT\r\n")
    r = c.reply()
    assert r[:3] in ("250", "500"), r
    assert c.cmd("NOOP") == "250 2.0.0 Ok", "session must still be usable"
    c.send(b"XXXX " + b"b" * 100000 + b"\r\n")
    r = c.reply()
    assert r.startswith("500 5.5.2"), r
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    c.close()


def test_nul_byte_in_command(server):
    c = server.conn()
    c.cmd("EHLO client.test.example")
    # Postfix: NOOP\0 -> 250; MAIL FROM:<a\0b@c> -> 501 5.1.7 Bad sender address syntax
    r = c.cmd(b"NOOP\0junk")
    assert r[:3] in ("250", "500", "501"), r
    r = c.cmd(b"MAIL FROM:<a\0b@example.org>")
    assert r.startswith("5"), f"NUL in an address must be refused: {r}"
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 Ok"
    r = c.cmd(b"RCPT TO:<alice\0@example.com>")
    assert r.startswith("5"), f"NUL in an address must be refused: {r}"
    c.close()


def test_hard_error_limit(make_server):
    s = make_server(extra=["smtpd_hard_error_limit = 3"])
    c = s.conn()
    c.cmd("EHLO client.test.example")
    assert c.cmd("XXXX") == "500 5.5.2 Error: command not recognized"
    assert c.cmd("YYYY") == "500 5.5.2 Error: command not recognized"
    # the third error reaches the limit: Postfix sends the 421 right after it
    c.send(b"ZZZZ\r\n")
    rs = c.replies(2, timeout=5)
    assert rs == ["500 5.5.2 Error: command not recognized",
                  f"421 4.7.0 {HOSTNAME} Error: too many errors"], rs
    assert c.is_closed()


def test_idle_timeout(make_server):
    s = make_server(extra=["smtpd_timeout = 2s"])
    c = s.conn()
    c.cmd("EHLO client.test.example")
    t0 = time.time()
    r = c.reply(timeout=8)
    took = time.time() - t0
    assert r == f"421 4.4.2 {HOSTNAME} Error: timeout exceeded", r
    assert 1.5 <= took <= 6, took
    assert c.is_closed()
    s.wait_log(r"timeout after EHLO from localhost\[127\.0\.0\.1\]")


def test_pipelining(server):
    """All commands in one write; replies in order."""
    rs = server.raw([
        "EHLO client.test.example\r\n",
        "MAIL FROM:<sender@example.org>\r\n",
        "RCPT TO:<alice@example.com>\r\n",
        "RCPT TO:<nobody@example.com>\r\n",
        "RCPT TO:<bob@example.net>\r\n",
        "DATA\r\n",
        "Subject: pipelined\r\n\r\nbody\r\n.\r\n",
        "NOOP\r\n",
        "QUIT\r\n",
    ])
    codes = [r[:3] for r in rs]
    assert codes == ["250", "250", "250", "550", "250", "354", "250", "250", "221"], rs
    server.wait_delivered("alice@example.com", 1)
    server.wait_delivered("bob@example.net", 1)


def test_misbehaving_session_does_not_block_others(make_server):
    s = make_server(extra=["smtpd_timeout = 30s"])
    # one idle client, one in the middle of DATA, one sending garbage
    idle = s.conn()
    stuck = s.conn()
    stuck.cmd("EHLO x.test.example")
    stuck.cmd("MAIL FROM:<a@example.org>")
    stuck.cmd("RCPT TO:<alice@example.com>")
    assert stuck.cmd("DATA").startswith("354")
    stuck.send(b"Subject: half\r\n\r\nhalf a mess")
    garbage = s.conn()
    garbage.send(b"\xff\xfe\x00garbage" * 1000 + b"\r\n")
    # meanwhile normal mail flows
    t0 = time.time()
    for i in range(5):
        r = s.send_mail("bob@example.net", make_message(subject=f"m{i}", to="bob@example.net"))
        assert r.startswith("250 2.0.0 Ok: queued as ")
    assert time.time() - t0 < 10
    s.wait_delivered("bob@example.net", 5)
    for c in (idle, stuck, garbage):
        c.close()
    # the half message was never acknowledged and never delivered
    time.sleep(0.5)
    assert s.messages("alice@example.com") == []
