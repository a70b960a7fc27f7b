"""Logs in Postfix's format, so that existing tools (pflogsumm, fail2ban's
postfix filter) read them."""
import re
import subprocess

from conftest import make_message

SYSLOG_RX = r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ "


def session(s, rcpts, data=True, sender="sender@example.org"):
    c = s.conn()
    assert c.cmd("EHLO client.test.example").startswith("250")
    assert c.cmd(f"MAIL FROM:<{sender}>").startswith("250")
    ok = 0
    for r in rcpts:
        if c.cmd(f"RCPT TO:<{r}>").startswith("250"):
            ok += 1
    if data and ok:
        assert c.cmd("DATA").startswith("354")
        c.send(b"Subject: log test\r\nMessage-ID: <log.test@client.test.example>\r\n\r\nx\r\n.\r\n")
        assert c.reply().startswith("250")
    assert c.cmd("QUIT").startswith("221")
    c.close()


def test_default_syslog_name(server):
    session(server, ["alice@example.com"])
    server.wait_log(SYSLOG_RX + r"mailwarden/smtpd\[\d+\]: connect from localhost\[127\.0\.0\.1\]$")
    for line in server.log().splitlines():
        assert re.match(SYSLOG_RX + r"mailwarden/\w+\[\d+\]: ", line), line


def test_postfix_format_lines(make_server):
    s = make_server(extra=["syslog_name = postfix"])
    session(s, ["alice@example.com"])
    s.wait_delivered("alice@example.com", 1)
    s.wait_log(SYSLOG_RX + r"postfix/smtpd\[\d+\]: connect from localhost\[127\.0\.0\.1\]$")
    s.wait_log(SYSLOG_RX + r"postfix/smtpd\[\d+\]: disconnect from localhost\[127\.0\.0\.1\] "
               r"ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5$")
    for line in s.log().splitlines():
        assert re.match(SYSLOG_RX + r"postfix/(smtpd|cleanup|qmgr|virtual|local|smtp|"
                        r"lmtp|bounce|pickup|master|postfix-script|error|warden|anvil)\[\d+\]: ",
                        line), line


def test_reject_line_and_failed_counts(make_server):
    s = make_server(extra=["syslog_name = postfix"])
    session(s, ["nobody@example.com"], data=False)
    s.wait_log(r"postfix/smtpd\[\d+\]: NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]: "
               r"550 5\.1\.1 <nobody@example\.com>: Recipient address rejected: "
               r"User unknown in virtual mailbox table; from=<sender@example\.org> "
               r"to=<nobody@example\.com> proto=ESMTP helo=<client\.test\.example>$")
    # failed commands are shown as ok/total
    s.wait_log(r"disconnect from localhost\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4$")


def test_helo_proto_smtp(make_server):
    s = make_server(extra=["syslog_name = postfix"])
    c = s.conn()
    assert c.cmd("HELO client.test.example").startswith("250")
    assert c.cmd("MAIL FROM:<sender@example.org>").startswith("250")
    assert c.cmd("RCPT TO:<nobody@example.com>").startswith("550")
    assert c.cmd("XXXX").startswith("500")
    c.close()
    s.wait_log(r"NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]: 550 5\.1\.1 .* proto=SMTP "
               r"helo=<client\.test\.example>$")
    s.wait_log(r"lost connection after UNKNOWN from localhost\[127\.0\.0\.1\]$|"
               r"lost connection after RCPT from localhost\[127\.0\.0\.1\]$")
    s.wait_log(r"disconnect from localhost\[127\.0\.0\.1\] helo=1 mail=1 rcpt=0/1 unknown=0/1 commands=2/4$")


def test_pflogsumm_counts(make_server):
    s = make_server(extra=["syslog_name = postfix"])
    for i in range(3):
        s.send_mail("alice@example.com" if i != 1 else "bob@example.net",
                    make_message(subject=f"good {i}"))
    session(s, ["nobody@example.com"], data=False)
    session(s, ["ghost@example.net"], data=False, sender="spam@example.org")
    s.wait_delivered("alice@example.com", 2)
    s.wait_delivered("bob@example.net", 1)
    s.wait_log(r"status=sent", count=3)
    s.wait_log(r"NOQUEUE: reject: ", count=2)
    s.wait_log(r": removed$", count=3)
    r = subprocess.run(["pflogsumm", "--syslog-name=postfix", s.maillog],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout

    def count(label):
        m = re.search(rf"^\s*(\d+)\s+{label}\b", out, re.M)
        assert m, f"pflogsumm has no '{label}' line:\n{out}"
        return int(m.group(1))

    assert count("received") == 3, out
    assert count("delivered") == 3, out
    assert count("rejected") == 2, out
    assert count("deferred") == 0, out
    assert count("bounced") == 0, out
    assert "User unknown in virtual mailbox table" in out, out
