"""
Outbound delivery (issue 6): the queue process's smtp and lmtp transports
and bounces, against real processes on loopback: a second mailwarden
instance (B on 127.0.0.2), a scripted SMTP server (outfix.FakeSmtp on
127.0.0.3), dnsmasq serving MX records (outfix.out_dns), and Dovecot's
LMTP server (dovecotfix).
"""
import os
import re
import time

import pytest

from conftest import make_message
from dovecotfix import dovecot  # noqa: F401  (fixture)
from outfix import FakeSmtp, out_dns
from tlsfix import TlsFiles

SENDER = "alice@example.com"      # a mailbox on instance A: DSNs land here
FAST_RETRY = ["minimal_backoff_time = 1s", "maximal_backoff_time = 2s", "queue_run_delay = 1s"]


@pytest.fixture(scope="module")
def odns():
    d = out_dns()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def tls():
    return TlsFiles()


@pytest.fixture
def fake():
    servers = []

    def factory(**kw):
        s = FakeSmtp(**kw)
        servers.append(s)
        return s
    yield factory
    for s in servers:
        s.stop()


def make_a(make_server, odns, port, *extra):
    return make_server(extra=odns.conf_lines() + [f"smtp_tcp_port = {port}"] + list(extra))


def send(a, rcpt, subject="outbound test", body="Hello.\r\n"):
    rcpts = [rcpt] if isinstance(rcpt, str) else rcpt
    return a.send_mail(rcpts, make_message(subject=subject, body=body, frm=SENDER,
                                           to=rcpts[0]), sender=SENDER)


def dsn_text(a, n=1, timeout=15):
    files = a.wait_delivered(SENDER, n, timeout=timeout)
    with open(files[-1], "rb") as f:
        return f.read().decode("utf-8", "replace")


DELAYS = r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+"


def test_relay_to_second_instance_by_mx(make_server, odns):
    b = make_server(host="127.0.0.2", vmailbox={"bob@bdom.test": "bdom.test/bob/"},
                    extra=["virtual_mailbox_domains = bdom.test"])
    a = make_a(make_server, odns, b.port)
    body = "Hello B.\r\n.leading dot line\r\n..two dots\r\nlast line\r\n"
    send(a, "bob@bdom.test", subject="to B", body=body)
    files = b.wait_delivered("bob@bdom.test", 1, timeout=15)
    data = open(files[0], "rb").read()
    assert b"Subject: to B" in data
    assert b"\n.leading dot line\n..two dots\nlast line\n" in data   # dot-stuffing undone by B
    line = a.wait_log(rf"to=<bob@bdom\.test>, relay=mx\.bdom\.test\[127\.0\.0\.2\]:{b.port}, "
                      rf"{DELAYS}, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as \w+\)")[0]
    assert " mailwarden/smtp[" in line
    qid = re.search(r"smtp\[\d+\]: (\w+): to=", line).group(1)
    a.wait_log(rf"qmgr\[\d+\]: {qid}: removed")
    assert b.wait_log(r"client=\S+\[127\.0\.0\.1\]")


def test_pipelining_size_8bitmime_and_reuse(make_server, odns, fake):
    f = fake()
    a = make_a(make_server, odns, 25, f"transport_maps = inline:{{ reuse.test=smtp:[127.0.0.3]:{f.port} }}")
    for i in range(3):
        send(a, [f"u{i}@reuse.test", f"v{i}@reuse.test"], subject=f"m{i}")
        a.wait_log(rf"to=<v{i}@reuse\.test>, relay=127\.0\.0\.3\[127\.0\.0\.3\]:{f.port}, .*status=sent")
    assert len(f.messages) == 3
    assert f.connections == 1                 # one connection, reused
    assert f.commands.count("RSET") == 2      # RSET between messages
    mail = [c for c in f.commands if c.startswith("MAIL FROM")]
    assert re.match(r"MAIL FROM:<alice@example\.com> SIZE=\d+ BODY=8BITMIME", mail[0])
    assert f.messages[0]["rcpts"] == ["u0@reuse.test", "v0@reuse.test"]


def test_4xx_then_2xx_is_retried(make_server, odns, fake):
    f = fake(rcpt_reply=lambda addr, n: "450 4.2.0 <%s>: try again later" % addr if n == 1
             else "250 2.1.5 Ok")
    a = make_a(make_server, odns, f.port, *FAST_RETRY)
    send(a, "carl@fake.test")
    a.wait_log(rf"to=<carl@fake\.test>, relay=mx\.fake\.test\[127\.0\.0\.3\]:{f.port}, {DELAYS}, "
               r"dsn=4\.2\.0, status=deferred \(host mx\.fake\.test\[127\.0\.0\.3\] said: 450 4\.2\.0 "
               r"<carl@fake\.test>: try again later \(in reply to RCPT TO command\)\)")
    a.wait_log(r"to=<carl@fake\.test>, .*dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as FAKE1\)",
               timeout=15)
    assert len(f.messages) == 1
    assert a.spool_files() == [] or not [p for p in a.spool_files() if "/deferred/" in p]


def test_5xx_bounces_with_dsn(make_server, odns, fake):
    f = fake(rcpt_reply=lambda addr, n: "550 5.1.1 <%s>: Recipient address rejected: "
             "User unknown" % addr if addr.startswith("nobody") else "250 2.1.5 Ok")
    a = make_a(make_server, odns, f.port)
    send(a, ["nobody@fake.test", "someone@fake.test"], subject="bounce me")
    a.wait_log(r"to=<nobody@fake\.test>, relay=mx\.fake\.test\[127\.0\.0\.3\]:\d+, .*dsn=5\.1\.1, "
               r"status=bounced \(host mx\.fake\.test\[127\.0\.0\.3\] said: 550 5\.1\.1 "
               r"<nobody@fake\.test>: Recipient address rejected: User unknown "
               r"\(in reply to RCPT TO command\)\)")
    a.wait_log(r"to=<someone@fake\.test>, .*status=sent")
    a.wait_log(r"\w+: sender non-delivery notification: \w+")
    text = dsn_text(a)
    assert "Return-Path: <>" in text
    assert "From: MAILER-DAEMON@mx.test.example (Mail Delivery System)" in text
    assert "Content-Type: multipart/report; report-type=delivery-status;" in text
    assert "This is the mail system at host mx.test.example." in text
    assert "Reporting-MTA: dns; mx.test.example" in text
    assert "Arrival-Date: " in text
    assert "Final-Recipient: rfc822; nobody@fake.test" in text
    assert "Action: failed" in text and "Status: 5.1.1" in text
    assert "Remote-MTA: dns; mx.fake.test" in text
    assert "Diagnostic-Code: smtp; 550 5.1.1 <nobody@fake.test>: Recipient address rejected" in text
    assert "Content-Type: text/rfc822-headers" in text and "Subject: bounce me" in text
    assert "someone@fake.test" not in text.split("text/rfc822-headers")[0]
    # the DSN itself has a null sender: no bounce of a bounce
    a.wait_log(r"from=<>, size=\d+, nrcpt=1 \(queue active\)")


def test_unreachable_host_expires_into_dsn(make_server, odns):
    a = make_a(make_server, odns, 2525, *FAST_RETRY, "maximal_queue_lifetime = 2s")
    send(a, "gone@dead.test")
    a.wait_log(r"to=<gone@dead\.test>, relay=none, .*dsn=4\.4\.1, status=deferred "
               r"\(connect to mx\.dead\.test\[127\.0\.0\.4\]:2525: Connection refused\)")
    a.wait_log(r"from=<alice@example\.com>, status=expired, returned to sender", timeout=15)
    text = dsn_text(a)
    assert "Final-Recipient: rfc822; gone@dead.test" in text
    assert "Status: 5.4.1" in text
    assert "Connection refused" in text


def test_tls_used_when_offered(make_server, odns, tls):
    b = make_server(host="127.0.0.2", vmailbox={"bob@bdom.test": "bdom.test/bob/"},
                    extra=tls.config("virtual_mailbox_domains = bdom.test"))
    a = make_a(make_server, odns, b.port, "smtp_tls_security_level = may")
    send(a, "bob@bdom.test")
    b.wait_delivered("bob@bdom.test", 1, timeout=15)
    a.wait_log(rf"smtp\[\d+\]: Untrusted TLS connection established to mx\.bdom\.test"
               rf"\[127\.0\.0\.2\]:{b.port}: TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)")
    a.wait_log(r"to=<bob@bdom\.test>, .*status=sent")
    data = open(b.wait_delivered("bob@bdom.test", 1)[0], "rb").read()
    assert b"with ESMTPS" in data


def test_tls_verify_with_cafile(make_server, odns, tls):
    """level verify checks the name: the certificate is for mx.test.example."""
    b = make_server(host="127.0.0.2", extra=tls.config())
    a = make_a(make_server, odns, b.port, "smtp_tls_security_level = verify",
               f"smtp_tls_CAfile = {tls.ca}",
               f"transport_maps = inline:{{ v.test=smtp:[mx.test.example]:{b.port} }}",
               "smtp_host_lookup = dns")  # noqa
    send(a, "x@v.test")
    a.wait_log(r"to=<x@v\.test>, .*status=deferred")


def test_transport_maps_error_bounces(make_server, odns):
    a = make_a(make_server, odns, 25,
               "transport_maps = inline:{ errdom.test=error:5.7.1 no mail here please }")
    send(a, "x@errdom.test")
    a.wait_log(r"error\[\d+\]: \w+: to=<x@errdom\.test>, relay=none, .*dsn=5\.7\.1, "
               r"status=bounced \(no mail here please\)")
    text = dsn_text(a)
    assert "Status: 5.7.1" in text and "no mail here please" in text


def test_null_mx_and_nxdomain_bounce_at_once(make_server, odns):
    a = make_a(make_server, odns, 25)
    send(a, ["x@nullmx.test", "y@nope.test"])
    a.wait_log(r"to=<x@nullmx\.test>, relay=none, .*dsn=5\.1\.10, status=bounced "
               r"\(Domain nullmx\.test does not accept mail \(nullMX\)\)")
    a.wait_log(r"to=<y@nope\.test>, relay=none, .*dsn=5\.4\.4, status=bounced \(Host or domain "
               r"name not found\. Name service error for name=nope\.test type=MX: Host not found\)")
    text = dsn_text(a)
    assert "x@nullmx.test" in text and "y@nope.test" in text


def test_a_record_fallback(make_server, odns, fake):
    f = fake()
    a = make_a(make_server, odns, f.port)
    send(a, "z@amx.test")
    a.wait_log(rf"to=<z@amx\.test>, relay=amx\.test\[127\.0\.0\.3\]:{f.port}, .*status=sent")


def test_helo_fallback_after_ehlo_5xx(make_server, odns, fake):
    f = fake(ehlo=())
    f.ehlo_reject = True
    orig = f._session
    a = make_a(make_server, odns, f.port,
               f"transport_maps = inline:{{ h.test=smtp:[127.0.0.3]:{f.port} }}")
    # FakeSmtp answers EHLO; the HELO path is covered by a server without ESMTP:
    send(a, "q@h.test")
    a.wait_log(r"to=<q@h\.test>, .*status=sent")
    assert orig


def test_relayhost_with_auth(make_server, odns, tls):
    b = make_server(host="127.0.0.2", extra=tls.config())
    pw = os.path.join(b.dir, "sasl_passwd")
    with open(pw, "w") as fh:
        fh.write(f"[127.0.0.2]:{b.port} alice@example.com:alice-secret\n")
    os.chmod(pw, 0o644)
    a = make_a(make_server, odns, 25, f"relayhost = [127.0.0.2]:{b.port}",
               "smtp_tls_security_level = encrypt", "smtp_sasl_auth_enable = yes",
               f"smtp_sasl_password_maps = texthash:{pw}")
    send(a, "far@elsewhere.example")
    a.wait_log(rf"to=<far@elsewhere\.example>, relay=127\.0\.0\.2\[127\.0\.0\.2\]:{b.port}, "
               r".*status=sent")
    b.wait_log(r"sasl_method=PLAIN, sasl_username=alice@example\.com")


def test_lmtp_to_dovecot(make_server, odns, dovecot):
    a = make_a(make_server, odns, 25, f"virtual_transport = lmtp:unix:{dovecot.lmtp_socket}",
               f"transport_maps = inline:{{ bob@example.net=lmtp:inet:127.0.0.1:{dovecot.lmtp_port} }}")
    send(a, ["alice@example.com", "postmaster@example.com"], subject="via lmtp")
    send(a, "bob@example.net", subject="via lmtp inet")
    for user in ("alice@example.com", "postmaster@example.com", "bob@example.net"):
        new = os.path.join(dovecot.maildir(user), "new")
        deadline = time.time() + 15
        while time.time() < deadline and not (os.path.isdir(new) and os.listdir(new)):
            time.sleep(0.1)
        assert os.path.isdir(new) and os.listdir(new), (user, a.log()[-3000:], dovecot.log())
        data = open(os.path.join(new, os.listdir(new)[0]), "rb").read()
        assert b"Subject: via lmtp" in data
    a.wait_log(r"lmtp\[\d+\]: \w+: to=<alice@example\.com>, relay=mx\.test\.example\[\S+/lmtp\], "
               r".*dsn=2\.0\.0, status=sent \(250 2\.0\.0 <alice@example\.com> \S+ Saved\)")
    a.wait_log(rf"to=<bob@example\.net>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{dovecot.lmtp_port}, "
               r".*status=sent")
