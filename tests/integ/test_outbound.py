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


from conftest import list_files, make_message
from dovecotfix import dovecot  # noqa: F401  (fixture)
from outfix import fake, odns, tls  # noqa: F401  (fixtures)

SENDER = "alice@example.com"      # a mailbox on instance A: DSNs land here
FAST_RETRY = ["minimal_backoff_time = 1s", "maximal_backoff_time = 2s", "queue_run_delay = 1s"]


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
    """level verify: B's certificate (for mx.test.example, from the test CA)
    is checked against smtp_tls_CAfile and the next-hop name. By that name
    it is verified and the mail goes; by the bare address the name does not
    match, so the mail is deferred, never sent in the clear."""
    b = make_server(host="127.0.0.2", vmailbox={"bob@bdom.test": "bdom.test/bob/",
                                                "carl@bdom.test": "bdom.test/carl/"},
                    extra=tls.config("virtual_mailbox_domains = bdom.test"))
    p = b.port
    a = make_a(make_server, odns, p, "smtp_tls_security_level = verify",
               f"smtp_tls_CAfile = {tls.ca}",
               f"transport_maps = inline:{{ bob@bdom.test=smtp:[mx.test.example]:{p}, "
               f"carl@bdom.test=smtp:[127.0.0.2]:{p} }}")
    send(a, "bob@bdom.test")
    b.wait_delivered("bob@bdom.test", 1, timeout=15)
    a.wait_log(rf"smtp\[\d+\]: Verified TLS connection established to "
               rf"mx\.test\.example\[127\.0\.0\.2\]:{p}: TLSv1\.[23]")
    a.wait_log(rf"to=<bob@bdom\.test>, relay=mx\.test\.example\[127\.0\.0\.2\]:{p}, "
               r".*dsn=2\.0\.0, status=sent")
    send(a, "carl@bdom.test")
    a.wait_log(r"to=<carl@bdom\.test>, relay=\S+, .*dsn=4\.7\.5, status=deferred "
               r"\(Server certificate not verified")
    assert list_files(b.mailbox("carl@bdom.test")) == []


def test_transport_maps_error_bounces(make_server, odns):
    a = make_a(make_server, odns, 25,
               "transport_maps = inline:{ { errdom.test = error:5.7.1 no mail here please } }")
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
    """A server without ESMTP answers EHLO with 502: the client says HELO
    and sends plain MAIL FROM (no SIZE/BODY), one command at a time."""
    f = fake(ehlo_reject=True)
    a = make_a(make_server, odns, f.port,
               f"transport_maps = inline:{{ h.test=smtp:[127.0.0.3]:{f.port} }}")
    send(a, "q@h.test")
    a.wait_log(r"to=<q@h\.test>, .*dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as FAKE1\)")
    cmds = f.commands
    assert cmds[0].startswith("EHLO ") and cmds[1].startswith("HELO ")
    assert cmds[2] == "MAIL FROM:<alice@example.com>"
    assert cmds[3] == "RCPT TO:<q@h.test>" and cmds[4] == "DATA"
    assert len(f.messages) == 1


def test_relay_domains_backup_mx(make_server, odns, fake):
    """relay_domains: an outside client (not in mynetworks, no AUTH) may send
    to fake.test, and it is forwarded to fake.test's MX; any other remote
    domain is refused at RCPT."""
    f = fake()
    a = make_a(make_server, odns, f.port, "relay_domains = fake.test",
               "mynetworks = 192.0.2.0/24")
    send(a, "backup@fake.test", subject="for the primary")
    a.wait_log(rf"to=<backup@fake\.test>, relay=mx\.fake\.test\[127\.0\.0\.3\]:{f.port}, "
               r".*dsn=2\.0\.0, status=sent")
    assert f.messages[0]["rcpts"] == ["backup@fake.test"]
    assert b"Subject: for the primary" in f.messages[0]["data"]
    c = a.smtp()
    c.ehlo("client.test.example")
    c.mail(SENDER)
    assert c.rcpt("x@elsewhere.example") == (554, b"5.7.1 <x@elsewhere.example>: Relay access denied")
    c.quit()


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
    """virtual_transport = lmtp:unix, a transport_maps entry (lmtp:inet) that
    wins over it, and LMTP's per-recipient replies: Dovecot does not know
    postmaster@example.com, so that one recipient bounces, alice gets it."""
    a = make_a(make_server, odns, 25, f"virtual_transport = lmtp:unix:{dovecot.lmtp_socket}",
               f"transport_maps = inline:{{ bob@example.net=lmtp:inet:127.0.0.1:{dovecot.lmtp_port} }}")
    send(a, ["alice@example.com", "postmaster@example.com"], subject="via lmtp")
    send(a, "bob@example.net", subject="via lmtp inet")
    for user in ("alice@example.com", "bob@example.net"):
        new = os.path.join(dovecot.maildir(user), "new")
        deadline = time.time() + 15
        while time.time() < deadline and not (os.path.isdir(new) and os.listdir(new)):
            time.sleep(0.1)
        assert os.path.isdir(new) and os.listdir(new), (user, dovecot.log())
        data = b"".join(open(os.path.join(new, f), "rb").read() for f in os.listdir(new))
        assert b"Subject: via lmtp" in data
    a.wait_log(r"lmtp\[\d+\]: \w+: to=<alice@example\.com>, relay=mx\.test\.example\[\S+/lmtp\], "
               r".*dsn=2\.0\.0, status=sent \(250 2\.0\.0 <alice@example\.com> \S+ Saved\)")
    a.wait_log(r"lmtp\[\d+\]: \w+: to=<postmaster@example\.com>, relay=mx\.test\.example\[\S+/lmtp\], "
               r".*dsn=5\.1\.1, status=bounced \(host \S+ said: 550 5\.1\.1 <postmaster@example\.com> "
               r"User doesn't exist")
    a.wait_log(rf"to=<bob@example\.net>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{dovecot.lmtp_port}, "
               r".*status=sent")
    assert not os.path.isdir(os.path.join(dovecot.maildir("postmaster@example.com"), "new"))


def spool_state(a, qid):
    """The queue directory (incoming, active, deferred, hold, ...) of qid."""
    for root, _, files in os.walk(a.spool):
        if qid in files:
            return os.path.relpath(root, a.spool).split(os.sep)[0]
    return None


def wait_state(a, qid, state, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline and spool_state(a, qid) != state:
        time.sleep(0.05)
    assert spool_state(a, qid) == state, (qid, spool_state(a, qid))


def test_queue_survives_restart_in_every_state(make_server, odns, fake):
    """SIGKILL with one message deferred, one on hold, one active (its DATA
    unanswered) and one dropped by sendmail while the daemon is down: after
    the restart each is delivered exactly once (the hold one only after
    release) and the queue ends empty."""
    import subprocess
    from conftest import BIN
    ok = {"rcpt": False}
    f = fake(rcpt_reply=lambda addr, n: "250 2.1.5 Ok" if ok["rcpt"] else "450 4.2.0 busy")

    def slow_data(msg, n):
        if n == 1:
            time.sleep(20)          # the first message hangs at end of DATA
        return "250 2.0.0 Ok: queued as SLOW%d" % n
    slow = fake(data_reply=slow_data)
    a = make_a(make_server, odns, f.port, "minimal_backoff_time = 1s",
               "maximal_backoff_time = 1s", "queue_run_delay = 1s",
               f"transport_maps = inline:{{ slow.test=smtp:[127.0.0.3]:{slow.port} }}")
    qid = {}
    for name in ("deferred", "hold"):
        r = send(a, f"{name}@fake.test", subject=name)
        qid[name] = r.rsplit(" ", 1)[1]
        a.wait_log(rf"{qid[name]}: to=<{name}@fake\.test>, .*status=deferred")
        wait_state(a, qid[name], "deferred")
    p = subprocess.run([BIN, "-c", a.conf, "queue", "hold", qid["hold"]], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    wait_state(a, qid["hold"], "hold")
    r = send(a, "x@slow.test", subject="active")
    qid["active"] = r.rsplit(" ", 1)[1]
    deadline = time.time() + 10
    while time.time() < deadline and len([c for c in slow.commands if c == "DATA"]) < 1:
        time.sleep(0.05)
    time.sleep(0.3)                 # the body and the final dot are out
    # in delivery (Postfix's "active"): the file stays in incoming/ (docs/queue.md)
    assert spool_state(a, qid["active"]) == "incoming"

    a.kill9()
    p = subprocess.run([BIN, "-c", a.conf, "sendmail", "-f", SENDER, "dropped@fake.test"],
                       input=b"Subject: dropped\n\nwhile down\n", capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    ok["rcpt"] = True
    a.restart()
    a.wait_log(rf"{qid['deferred']}: to=<deferred@fake\.test>, .*status=sent", timeout=15)
    a.wait_log(rf"{qid['active']}: to=<x@slow\.test>, .*status=sent \(250 2\.0\.0 Ok: queued "
               r"as SLOW2\)", timeout=15)
    a.wait_log(r"to=<dropped@fake\.test>, .*status=sent", timeout=15)
    assert spool_state(a, qid["hold"]) == "hold"
    assert not any(m["rcpts"] == ["hold@fake.test"] for m in f.messages)
    p = subprocess.run([BIN, "-c", a.conf, "queue", "release", qid["hold"]],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    subprocess.run([BIN, "-c", a.conf, "queue", "flush"], capture_output=True, timeout=20)
    a.wait_log(rf"{qid['hold']}: to=<hold@fake\.test>, .*status=sent", timeout=15)
    rcpts = sorted(r for m in f.messages for r in m["rcpts"])
    assert rcpts == ["deferred@fake.test", "dropped@fake.test", "hold@fake.test"]
    deadline = time.time() + 5
    while time.time() < deadline and a.spool_files():
        time.sleep(0.1)
    assert a.spool_files() == []


def test_delay_warning_once(make_server, odns, fake):
    """delay_warning_time: once the message has waited that long, the sender
    gets one "Delayed Mail" DSN (Action: delayed) for the recipient still
    being retried; later retries do not warn again, and the recipient is
    delivered when the remote recovers. Mail from <> is never warned about."""
    ok = {"rcpt": False}
    f = fake(rcpt_reply=lambda addr, n: "250 2.1.5 Ok" if ok["rcpt"]
             else "451 4.3.0 <%s>: Temporary lookup failure" % addr)
    a = make_a(make_server, odns, f.port, *FAST_RETRY, "delay_warning_time = 1s")
    r = send(a, ["slow@fake.test"], subject="warn me")
    qid = r.rsplit(" ", 1)[1]
    a.wait_log(rf"{qid}: sender delay notification: \w+", timeout=15)
    text = dsn_text(a)
    assert "Subject: Delayed Mail (still being retried)" in text
    assert "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #" in text
    assert "Final-Recipient: rfc822; slow@fake.test" in text
    assert "Action: delayed" in text and "Status: 4.3.0" in text
    assert "Will-Retry-Until: " in text
    assert "Subject: warn me" in text.split("text/rfc822-headers")[1]
    # more retries, no second warning
    a.wait_log(rf"{qid}: to=<slow@fake\.test>, .*status=deferred", count=3, timeout=20)
    assert len(re.findall(rf"{qid}: sender delay notification", a.log())) == 1
    ok["rcpt"] = True
    a.wait_log(rf"{qid}: to=<slow@fake\.test>, .*status=sent", timeout=15)
    assert len(a.wait_delivered(SENDER, 1)) == 1
    # the warning itself (from <>) was delivered, never warned about or bounced
    log = a.log()
    dsn_ids = re.findall(r"qmgr\[\d+\]: (\w+): from=<>,", log)
    assert dsn_ids
    for d in dsn_ids:
        assert re.search(rf"{d}: to=<alice@example\.com>, .*status=sent", log)
        assert not re.search(rf"{d}: sender (delay|non-delivery) notification", log)
