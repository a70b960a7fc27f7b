"""DATA: what lands in the Maildir (headers added, dot-unstuffing, line
endings), bare LF handling, SMTP smuggling, queue ID and the log lines of
one message's life."""
import re
import time

import pytest

from conftest import HOSTNAME

MSG = (b"From: Sender <sender@example.org>\r\n"
       b"To: Alice <alice@example.com>\r\n"
       b"Subject: exact body\r\n"
       b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
       b"Message-ID: <exact.1@client.test.example>\r\n"
       b"\r\n"
       b"first line\r\n"
       b"\r\n"
       b"  indented line\r\n"
       b"8bit: \xc3\xa4\xc3\xb6\xc3\xbc\r\n"
       b"last line\r\n")


def send_data(c, data, rcpts=("alice@example.com",), sender="sender@example.org"):
    """EHLO/MAIL/RCPT/DATA on Conn c, send raw `data` (must include the
    terminating CRLF.CRLF), return the reply to the end of data."""
    assert c.cmd("EHLO client.test.example").startswith("250")
    assert c.cmd(f"MAIL FROM:<{sender}>").startswith("250")
    for r in rcpts:
        assert c.cmd(f"RCPT TO:<{r}>").startswith("250"), r
    assert c.cmd("DATA").startswith("354")
    c.send(data)
    return c.reply()


@pytest.fixture
def server(make_server):
    """An outside client: 127.0.0.1 is not in mynetworks, so the message is
    stored as sent (mynetworks and AUTH clients get a missing Date and
    Message-Id added, see test_submit_headers.py)."""
    return make_server(extra=["mynetworks = 192.0.2.0/24"])


def split_added_headers(data):
    """Split a delivered file into (added header lines, rest). The added
    headers are Return-Path, Delivered-To and one Received (with its
    continuation lines), in that order."""
    lines = data.split(b"\n")
    assert lines[0].startswith(b"Return-Path: "), lines[:3]
    assert lines[1].startswith(b"Delivered-To: "), lines[:3]
    assert lines[2].startswith(b"Received: "), lines[:4]
    i = 3
    while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
        i += 1
    return lines[:i], b"\n".join(lines[i:])


def test_body_exact_with_added_headers(server):
    c = server.conn()
    r = send_data(c, MSG + b".\r\n")
    assert re.match(r"^250 2\.0\.0 Ok: queued as (\S+)$", r), r
    qid = r.split()[-1]
    c.close()
    (path,) = server.wait_delivered("alice@example.com", 1)
    with open(path, "rb") as f:
        data = f.read()
    added, rest = split_added_headers(data)
    assert added[0] == b"Return-Path: <sender@example.org>"
    assert added[1] == b"Delivered-To: alice@example.com"
    received = b" ".join(l.strip() for l in added[2:])
    assert b"from client.test.example" in received, received
    assert b"127.0.0.1" in received, received
    assert b"by " + HOSTNAME.encode() in received, received
    assert qid.encode() in received, received
    assert b"for <alice@example.com>" in received, received
    # the message itself, byte for byte, with LF line ends (Maildir)
    assert rest == MSG.replace(b"\r\n", b"\n")
    assert b"\r" not in data


def test_null_sender_return_path(server):
    c = server.conn()
    r = send_data(c, b"Subject: bounce\r\n\r\nx\r\n.\r\n", sender="")
    assert r.startswith("250")
    c.close()
    (path,) = server.wait_delivered("alice@example.com", 1)
    with open(path, "rb") as f:
        assert f.read().startswith(b"Return-Path: <>\n")


def test_dot_unstuffing(server):
    c = server.conn()
    body = (b"Subject: dots\r\n\r\n"
            b"..\r\n"
            b"..leading dot\r\n"
            b"...three\r\n"
            b"middle . dot\r\n"
            b". dot space\r\n"
            b".\r\n")
    assert send_data(c, body).startswith("250")
    c.close()
    (path,) = server.wait_delivered("alice@example.com", 1)
    with open(path, "rb") as f:
        _, rest = split_added_headers(f.read())
    assert rest == (b"Subject: dots\n\n"
                    b".\n"
                    b".leading dot\n"
                    b"..three\n"
                    b"middle . dot\n"
                    b" dot space\n")   # RFC 5321 4.5.2: the first dot goes


def test_message_without_final_newline_in_headers(server):
    # a message that is only headers, and the empty message
    c = server.conn()
    assert send_data(c, b"Subject: only headers\r\n.\r\n").startswith("250")
    assert send_data(c, b".\r\n").startswith("250")
    c.close()
    server.wait_delivered("alice@example.com", 2)


def test_bare_lf_normalized_by_default(server):
    c = server.conn()
    r = send_data(c, b"Subject: bare\r\n\r\nline1\nline2\r\nline3\n\r\n.\r\n")
    assert r.startswith("250 2.0.0 Ok: queued as "), r
    c.close()
    (path,) = server.wait_delivered("alice@example.com", 1)
    with open(path, "rb") as f:
        data = f.read()
    _, rest = split_added_headers(data)
    assert rest == b"Subject: bare\n\nline1\nline2\nline3\n\n"
    assert b"\r" not in data


def test_bare_lf_command_normalized_by_default(server):
    rs = server.raw(b"EHLO client.test.example\nNOOP\n")
    assert [r[:3] for r in rs] == ["250", "250"], rs


def test_bare_lf_rejected_when_forbidden(make_server):
    # smtpd_forbid_bare_newline_exclusions defaults to $mynetworks (Postfix),
    # which holds 127.0.0.1: empty it so the rule applies to us
    s = make_server(extra=["smtpd_forbid_bare_newline = yes",
                           "smtpd_forbid_bare_newline_exclusions ="])
    c = s.conn()
    r = send_data(c, b"Subject: bare\r\n\r\nline1\nline2\r\n.\r\n")
    assert r == f"550 5.5.2 {HOSTNAME} Error: bare <LF> received", r
    c.close()
    # a bare LF in a command line is refused the same way
    c = s.conn()
    r = c.cmd(b"EHLO client.test.example\n")
    assert r == f"550 5.5.2 {HOSTNAME} Error: bare <LF> received", r
    c.close()
    # and CRLF-clean mail still goes through
    c = s.conn()
    assert send_data(c, b"Subject: clean\r\n\r\nok\r\n.\r\n").startswith("250")
    c.close()
    s.wait_delivered("alice@example.com", 1)
    time.sleep(0.5)
    assert len(s.messages("alice@example.com")) == 1
    assert b"Subject: clean" in s.messages("alice@example.com")[0]


def test_bare_lf_exclusions_default_mynetworks(make_server):
    s = make_server(extra=["smtpd_forbid_bare_newline = yes", "mynetworks = 127.0.0.1/32"])
    c = s.conn()    # 127.0.0.1: in mynetworks, exempt
    assert send_data(c, b"Subject: exempt\r\n\r\nline1\nline2\r\n.\r\n").startswith("250 ")
    c.close()
    c = s.conn(source="127.0.0.2")  # not exempt
    r = send_data(c, b"Subject: not exempt\r\n\r\nline1\nline2\r\n.\r\n")
    assert r == f"550 5.5.2 {HOSTNAME} Error: bare <LF> received", r
    c.close()
    s.wait_delivered("alice@example.com", 1)
    time.sleep(0.5)
    assert len(s.messages("alice@example.com")) == 1


@pytest.mark.parametrize("eod", [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r"],
                         ids=["LF.LF", "CRLF.LF", "LF.CRLF", "CR.CRLF", "CRLF.CR"])
@pytest.mark.parametrize("mode", ["normalize", "no"])
def test_no_smtp_smuggling(make_server, eod, mode):
    """Only CRLF.CRLF ends DATA: a fake end of data followed by a second
    transaction must stay body text of the one message."""
    s = make_server(extra=[f"smtpd_forbid_bare_newline = {mode}"])
    c = s.conn()
    assert c.cmd("EHLO client.test.example").startswith("250")
    assert c.cmd("MAIL FROM:<sender@example.org>").startswith("250")
    assert c.cmd("RCPT TO:<alice@example.com>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: outer\r\n\r\nouter body" + eod +
           b"MAIL FROM:<smuggler@example.org>\r\n"
           b"RCPT TO:<bob@example.net>\r\n"
           b"DATA\r\n"
           b"Subject: smuggled\r\n\r\nsmuggled body\r\n"
           b".\r\n")
    rs = c.replies(1, timeout=5)
    assert len(rs) == 1 and rs[0].startswith("250 2.0.0 Ok: queued as "), rs
    # nothing else comes back: the smuggled commands were never executed
    extra = c.replies(1, timeout=1)
    assert extra == [], extra
    assert c.cmd("QUIT").startswith("221")
    c.close()
    (path,) = s.wait_delivered("alice@example.com", 1)
    with open(path, "rb") as f:
        data = f.read()
    assert b"MAIL FROM:<smuggler@example.org>" in data
    assert b"smuggled body" in data
    time.sleep(0.5)
    assert s.messages("bob@example.net") == [], "smuggled message was delivered"
    assert len(s.messages("alice@example.com")) == 1
    assert len(re.findall(r": client=", s.log())) == 1


def test_queue_id_and_log_lines(server):
    c = server.conn()
    r = send_data(c, MSG + b".\r\n", rcpts=("alice@example.com", "bob@example.net"))
    m = re.match(r"^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$", r)
    assert m, r
    qid = m.group(1)
    c.cmd("QUIT")
    c.close()
    server.wait_delivered("alice@example.com", 1)
    server.wait_delivered("bob@example.net", 1)
    q = re.escape(qid)
    server.wait_log(rf"/smtpd\[\d+\]: {q}: client=localhost\[127\.0\.0\.1\]$")
    server.wait_log(rf"/\w+\[\d+\]: {q}: message-id=<exact\.1@client\.test\.example>$")
    lines = server.wait_log(rf"/qmgr\[\d+\]: {q}: from=<sender@example\.org>, size=(\d+), nrcpt=2 \(queue active\)$")
    size = int(re.search(r"size=(\d+)", lines[0]).group(1))
    assert size >= len(MSG.replace(b"\r\n", b"\n")), (size, len(MSG))
    for rc in ("alice@example.com", "bob@example.net"):
        server.wait_log(rf"/virtual\[\d+\]: {q}: to=<{re.escape(rc)}>, relay=virtual, "
                        r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+, dsn=2\.0\.0, "
                        r"status=sent \(delivered to maildir\)$")
    server.wait_log(rf"/qmgr\[\d+\]: {q}: removed$")
    # and the spool is empty again
    deadline = time.time() + 5
    while server.spool_files() and time.time() < deadline:
        time.sleep(0.1)
    assert server.spool_files() == []


def test_queue_ids_unique(server):
    ids = set()
    c = server.conn()
    for i in range(20):
        r = send_data(c, f"Subject: {i}\r\n\r\nx\r\n.\r\n".encode()) if i == 0 else None
        if i:
            assert c.cmd("MAIL FROM:<s@example.org>").startswith("250")
            assert c.cmd("RCPT TO:<alice@example.com>").startswith("250")
            assert c.cmd("DATA").startswith("354")
            c.send(f"Subject: {i}\r\n\r\nx\r\n.\r\n".encode())
            r = c.reply()
        assert r.startswith("250 2.0.0 Ok: queued as "), r
        ids.add(r.split()[-1])
    c.close()
    assert len(ids) == 20
    server.wait_delivered("alice@example.com", 20)


def test_8bit_and_smtputf8(server):
    c = server.conn()
    assert c.cmd("EHLO client.test.example").startswith("250")
    assert c.cmd("MAIL FROM:<j\u00f6rg@example.org> BODY=8BITMIME SMTPUTF8".encode()).startswith("250")
    assert c.cmd("RCPT TO:<alice@example.com>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.send("Subject: gr\u00fc\u00dfe\r\n\r\n\u00e4\u00f6\u00fc\r\n.\r\n".encode())
    assert c.reply().startswith("250")
    c.close()
    (path,) = server.wait_delivered("alice@example.com", 1)
    with open(path, "rb") as f:
        data = f.read()
    assert "Return-Path: <j\u00f6rg@example.org>".encode() in data
    assert "\u00e4\u00f6\u00fc".encode() in data


def test_long_lines_kept_intact(server):
    """Body lines longer than the command-line limit (Postfix stores
    them whole) must arrive byte for byte."""
    c = server.conn()
    long1 = b"x" * 5000
    long2 = b"." + b"y" * 3000     # dot-stuffed long line
    r = send_data(c, b"Subject: long\r\n\r\n" + long1 + b"\r\n." + long2 + b"\r\nend\r\n.\r\n")
    assert r.startswith("250"), r
    c.close()
    (path,) = server.wait_delivered("alice@example.com", 1)
    with open(path, "rb") as f:
        _, rest = split_added_headers(f.read())
    assert rest == b"Subject: long\n\n" + long1 + b"\n" + long2 + b"\nend\n"


def test_big_message_intact(server):
    import hashlib
    import random
    rnd = random.Random(42)
    lines = [("".join(rnd.choice("abcdefghij .") for _ in range(rnd.randint(0, 200)))).encode()
             for _ in range(40000)]                     # about 4 MB
    payload = b"\n".join(lines) + b"\n"
    wire = payload.replace(b"\n", b"\r\n")
    wire = b"\r\n".join((b"." + l if l.startswith(b".") else l) for l in wire.split(b"\r\n"))
    c = server.conn()
    r = send_data(c, b"Subject: big\r\n\r\n" + wire + b".\r\n")
    assert r.startswith("250"), r
    c.close()
    (path,) = server.wait_delivered("alice@example.com", 1, timeout=20)
    with open(path, "rb") as f:
        _, rest = split_added_headers(f.read())
    assert hashlib.sha256(rest).hexdigest() == \
        hashlib.sha256(b"Subject: big\n\n" + payload).hexdigest()


def test_message_size_limit_counts_content(make_server):
    """A message just under message_size_limit is accepted."""
    s = make_server(extra=["message_size_limit = 20000"])
    c = s.conn()
    r = send_data(c, b"Subject: fits\r\n\r\n" + (b"z" * 78 + b"\r\n") * 200 + b".\r\n")
    assert r.startswith("250"), r
    c.close()
    s.wait_delivered("alice@example.com", 1)


def test_client_gone_mid_data_leaves_nothing(server):
    c = server.conn()
    assert c.cmd("EHLO client.test.example").startswith("250")
    assert c.cmd("MAIL FROM:<sender@example.org>").startswith("250")
    assert c.cmd("RCPT TO:<alice@example.com>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: half\r\n\r\n" + b"half a message\r\n" * 100)
    time.sleep(0.2)
    c.close()
    server.wait_log(r"lost connection after DATA( \(\d+ bytes\))? from localhost\[127\.0\.0\.1\]$")
    time.sleep(0.5)
    assert server.messages("alice@example.com") == []
    assert server.spool_files() == [], "an abandoned message must not stay in the spool"


def test_many_transactions_in_one_write(server):
    """Fifty whole transactions pipelined in one write: every reply in
    order, every message delivered once."""
    n = 50
    parts = [b"EHLO client.test.example\r\n"]
    for i in range(n):
        parts.append(b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n"
                     b"Subject: batch %d\r\n\r\nbody %d\r\n.\r\n" % (i, i))
    parts.append(b"QUIT\r\n")
    c = server.conn()
    c.send(b"".join(parts))
    rs = c.replies(1 + 4 * n + 1, timeout=20)
    c.close()
    codes = [r[:3] for r in rs]
    assert codes == ["250"] + ["250", "250", "354", "250"] * n + ["221"], rs[-5:]
    files = server.wait_delivered("bob@example.net", n, timeout=20)
    assert len(files) == n
    subjects = sorted(int(re.search(rb"Subject: batch (\d+)", open(p, "rb").read()).group(1))
                      for p in files)
    assert subjects == list(range(n))
