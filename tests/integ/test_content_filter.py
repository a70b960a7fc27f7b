"""After-queue content filter and named listeners (issue 13), as Postfix's
FILTER_README (the amavis pattern): port 25 queues the mail with
`content_filter = smtp:[127.0.0.1]:FPORT`, the queue manager hands it to
the filter (the test's own pass-through: outfix.FakeSmtp whose DATA reply
re-injects the message, with an added header, over SMTP on the named
listener `reinject`, and answers 250 only once the re-injection was
accepted), the re-injection listener has `content_filter =` and
`receive_override_options = no_unknown_recipient_checks,
no_header_body_checks, no_milters`. Checked: delivered once, with the
header, virtual aliases expanded once and after the filter; the filter
down -> deferred, then delivered when it comes back; FILTER from an
access map; LMTP to the filter; the named listener's own overrides;
no_address_mappings; check-config's errors for listeners."""
import os
import smtplib
import subprocess
import time

from conftest import BIN, Conn, free_port, list_files, make_message, write_map
from outfix import FakeSmtp, fake  # noqa: F401  (fixture)

FAST_RETRY = ["minimal_backoff_time = 1s", "maximal_backoff_time = 2s", "queue_run_delay = 1s"]


def unstuff(data):
    """SMTP DATA lines as FakeSmtp keeps them -> the message."""
    return b"".join(l[1:] if l.startswith(b"..") else l for l in data.splitlines(True))


def pass_through(rport, seen):
    """A FakeSmtp data_reply: re-inject msg on 127.0.0.1:rport with an
    X-Filtered header; the filter's reply is the re-injection's."""
    def reply(msg, n):
        seen.append(list(msg["rcpts"]))
        body = b"X-Filtered: by the test filter\r\n" + unstuff(msg["data"])
        try:
            with smtplib.SMTP("127.0.0.1", rport, timeout=10) as s:
                s.ehlo("filter.test.example")
                s.sendmail(msg["mail"].strip("<>").split(">")[0], msg["rcpts"], body)
        except smtplib.SMTPResponseException as e:
            return "%d %s" % (e.smtp_code, e.smtp_error.decode())
        except (smtplib.SMTPException, OSError) as e:
            return "451 4.3.0 re-injection failed: %s" % e
        return "250 2.0.0 Ok: filtered"
    return reply


def write(s, name, text):
    p = os.path.join(s.dir, name)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, 0o644)
    return p


def filtered_server(make_server, fport, *extra):
    """A server whose port 25 filters through fport; s.rport is the
    re-injection listener. header_checks would reject the filter's header:
    the re-injection listener must not run them."""
    s = make_server(start=False)
    s.rport = free_port()
    s.extra = [
        f"content_filter = smtp:[127.0.0.1]:{fport}",
        "receive_override_options = no_address_mappings",
        "listeners = reinject",
        f"reinject/inet/listen = 127.0.0.1:{s.rport}",
        "reinject/inet/content_filter =",
        "reinject/inet/receive_override_options = no_unknown_recipient_checks, "
        "no_header_body_checks, no_milters",
        "header_checks = regexp:" + write(s, "hc", "/^X-Filtered:/ REJECT filter header seen\n"),
    ] + FAST_RETRY + list(extra)
    s.write_config()
    s.start()
    return s


def header_count(raw, name):
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    return sum(1 for l in head.splitlines() if l.lower().startswith(name.lower() + b":"))


def test_filter_reinjects_once_aliases_after(make_server, fake):
    seen = []
    fport = free_port()
    s = filtered_server(make_server, fport)
    fake(host="127.0.0.1", port=fport, data_reply=pass_through(s.rport, seen))
    # info@example.net is a virtual alias of bob@example.net
    s.send_mail(["info@example.net", "alice@example.com"],
                make_message(subject="filtered", to="info@example.net"))
    s.wait_delivered("bob@example.net", 1)
    s.wait_delivered("alice@example.com", 1)
    # the filter got the envelope as received: the alias unexpanded
    assert seen == [["info@example.net", "alice@example.com"]]
    s.wait_log(r"to=<info@example\.net>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*"
               r"status=sent \(250 2\.0\.0 Ok: filtered\)" % fport)
    s.wait_log(r"to=<bob@example\.net>, orig_to=<info@example\.net>, relay=virtual")
    time.sleep(1.0)     # a second delivery would show up now
    for rcpt in ("bob@example.net", "alice@example.com"):
        msgs = s.messages(rcpt)
        assert len(msgs) == 1, rcpt
        assert header_count(msgs[0], b"X-Filtered") == 1
    assert len(seen) == 1       # the re-injected copy did not go to the filter again
    assert s.spool_files() == []


def test_filter_down_deferred_then_delivered(make_server):
    seen = []
    fport = free_port()
    s = filtered_server(make_server, fport)
    reply = s.send_mail("alice@example.com", make_message(subject="wait for the filter"))
    qid = reply.split()[-1]
    s.wait_log(r"%s: to=<alice@example\.com>, relay=none, .*status=deferred "
               r"\(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:%d: Connection refused\)" % (qid, fport))
    assert list_files(s.mailbox("alice@example.com")) == []
    assert any(p.endswith("/deferred/" + qid) for p in s.spool_files())
    f = FakeSmtp(host="127.0.0.1", port=fport, data_reply=pass_through(s.rport, seen))
    try:
        files = s.wait_delivered("alice@example.com", 1, timeout=20)
        with open(files[0], "rb") as fh:
            assert header_count(fh.read(), b"X-Filtered") == 1
        assert seen == [["alice@example.com"]]
        s.wait_log(r"%s: removed" % qid)
    finally:
        f.stop()


def test_filter_refuses_then_bounce(make_server, fake):
    """A filter's 5xx is the message's fate (Postfix: bounced); the DSN is
    not filtered (Postfix's internal_mail_filter_classes is empty)."""
    fport = free_port()
    s = filtered_server(make_server, fport)
    f = fake(host="127.0.0.1", port=fport, data_reply=lambda msg, n: "554 5.7.1 virus found")
    s.send_mail("alice@example.com", make_message(subject="infected"), sender="bob@example.net")
    s.wait_log(r"to=<alice@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*"
               r"status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 554 5\.7\.1 "
               r"virus found" % fport)
    dsn = s.wait_delivered("bob@example.net", 1)
    with open(dsn[0], "rb") as fh:
        text = fh.read()
    assert b"virus found" in text and header_count(text, b"X-Filtered") == 0
    assert len(f.messages) == 1
    assert list_files(s.mailbox("alice@example.com")) == []


def test_filter_action_from_access_map(make_server, fake):
    seen = []
    fport = free_port()
    s = make_server(start=False)
    s.rport = free_port()
    amap = os.path.join(s.dir, "rcpt_access")
    write_map(amap, {"alice@example.com": f"FILTER smtp:[127.0.0.1]:{fport}"})
    s.extra = [
        "listeners = reinject",
        f"reinject/inet/listen = 127.0.0.1:{s.rport}",
        "reinject/inet/smtpd_recipient_restrictions =",
        f"smtpd_recipient_restrictions = check_recipient_access texthash:{amap}",
    ]
    s.write_config()
    s.start()
    fake(host="127.0.0.1", port=fport, data_reply=pass_through(s.rport, seen))
    s.send_mail("alice@example.com", make_message(subject="to the filter"))
    s.send_mail("bob@example.net", make_message(subject="straight", to="bob@example.net"))
    s.wait_delivered("alice@example.com", 1)
    s.wait_delivered("bob@example.net", 1)
    assert header_count(s.messages("alice@example.com")[0], b"X-Filtered") == 1
    assert header_count(s.messages("bob@example.net")[0], b"X-Filtered") == 0
    assert seen == [["alice@example.com"]]
    s.wait_log(r"triggers FILTER smtp:\[127\.0\.0\.1\]:%d" % fport)


def test_filter_over_lmtp(make_server, fake):
    seen = []
    fport = free_port()
    s = make_server(start=False)
    s.rport = free_port()
    s.extra = [
        f"content_filter = lmtp:[127.0.0.1]:{fport}",
        "listeners = reinject",
        f"reinject/inet/listen = 127.0.0.1:{s.rport}",
        "reinject/inet/content_filter =",
    ]
    s.write_config()
    s.start()
    fake(host="127.0.0.1", port=fport, data_reply=pass_through(s.rport, seen))
    s.send_mail("alice@example.com", make_message(subject="lmtp filter"))
    s.wait_delivered("alice@example.com", 1)
    assert seen == [["alice@example.com"]]
    s.wait_log(r"to=<alice@example\.com>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*status=sent"
               % fport)


def test_named_listener_overrides(make_server):
    """A named listener is an smtpd with its own overrides; port 25 keeps
    the global values."""
    s = make_server(start=False)
    rport = free_port()
    cmap = os.path.join(s.dir, "client_access")
    write_map(cmap, {"127.0.0.1": "REJECT strict"})
    s.extra = [
        "listeners = strict",
        f"strict/inet/listen = 127.0.0.1:{rport}",
        "strict/inet/smtpd_helo_required = yes",
        f"strict/inet/smtpd_client_restrictions = check_client_access texthash:{cmap}",
    ]
    s.write_config()
    s.start()
    c = Conn("127.0.0.1", rport)
    assert c.banner.startswith("220 "), c.banner
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("503 "), "HELO required there"
    assert c.cmd("HELO client.test.example").startswith("250 ")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250 ")
    r = c.cmd("RCPT TO:<alice@example.com>")
    assert r.startswith("554 ") and "strict" in r, r
    c.close()
    c = Conn("127.0.0.1", s.port)
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250 ")
    assert c.cmd("RCPT TO:<alice@example.com>").startswith("250 ")
    c.close()


def test_no_address_mappings_without_filter(make_server):
    """no_address_mappings on a listener without a filter: the virtual
    alias is not applied (as Postfix's cleanup), so info@example.net (an
    alias in a virtual mailbox domain) is an unknown mailbox."""
    s = make_server(extra=["receive_override_options = no_address_mappings"])
    s.send_mail("info@example.net", make_message(subject="no mapping", to="info@example.net"))
    s.wait_log(r'to=<info@example\.net>, .*status=bounced \(unknown user: "info@example\.net"\)')
    assert list_files(s.mailbox("bob@example.net")) == []


def check_config(s):
    s.write_config()
    return subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True,
                          text=True, timeout=30)


def test_check_config_listener_errors(make_server):
    s = make_server(start=False)
    s.extra = ["reinject/inet/content_filter ="]
    r = check_config(s)
    assert r.returncode != 0
    assert ("reinject/inet/content_filter: unknown listener 'reinject' (use smtpd, "
            "submission, smtps or a name declared in listeners)") in r.stdout + r.stderr
    s.extra = ["listeners = reinject"]
    r = check_config(s)
    assert r.returncode != 0
    assert ("listeners: 'reinject' has no address: set reinject/inet/listen = ADDR:PORT"
            in r.stdout + r.stderr)
    s.extra = ["content_filter = amavis:[127.0.0.1]:10024"]
    r = check_config(s)
    assert r.returncode != 0
    assert "expected smtp:[host]:port or lmtp:[host]:port" in r.stdout + r.stderr
    s.extra = ["receive_override_options = no_such_thing"]
    r = check_config(s)
    assert r.returncode != 0
    assert "unknown option 'no_such_thing'" in r.stdout + r.stderr
    s.extra = ["listeners = reinject", "reinject/inet/listen = 127.0.0.1:10025",
               "reinject/inet/content_filter =",
               "reinject/inet/receive_override_options = no_header_body_checks"]
    r = check_config(s)
    assert r.returncode == 0, r.stdout + r.stderr


def test_reload_keeps_named_listeners(make_server):
    """Overrides of a named listener change with a reload; its name and
    address are bound at start (as smtpd_listen): a reload that moves them
    is refused and the old configuration kept."""
    s = make_server(start=False)
    rport = free_port()
    base = ["listeners = reinject", f"reinject/inet/listen = 127.0.0.1:{rport}"]
    s.extra = list(base)
    s.write_config()
    s.start()
    c = Conn("127.0.0.1", rport)
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250 ")
    c.close()
    s.extra = base + ["reinject/inet/smtpd_helo_required = yes"]
    s.write_config()
    s.sighup()
    s.wait_log(r"reload -- version")
    deadline = time.time() + 10
    while True:
        c = Conn("127.0.0.1", rport)
        r = c.cmd("MAIL FROM:<a@example.org>")
        c.close()
        if r.startswith("503 ") or time.time() > deadline:
            break
        time.sleep(0.1)
    assert r.startswith("503 "), r
    s.extra = ["listeners = reinject, other", f"reinject/inet/listen = 127.0.0.1:{rport}",
               f"other/inet/listen = 127.0.0.1:{free_port()}"]
    s.write_config()
    s.sighup()
    s.wait_log(r"reload failed, keeping the old configuration: listeners: named listeners "
               r"\(names, order or addresses\) change only with a restart")


def test_reinjection_skips_milters_and_unknown_recipient_checks(make_server, fake):
    """The re-injection listener's no_milters: the milter (port 25's)
    sees the message once, its header is there once; its
    no_unknown_recipient_checks: an unknown recipient is taken at RCPT
    (port 25 refuses it) and bounces at delivery."""
    from milterfix import ScriptMilter
    m = ScriptMilter()
    m.eom_mods = [("addheader", "X-Milter", "seen")]
    seen = []
    fport = free_port()
    try:
        s = filtered_server(make_server, fport, f"smtpd_milters = {m.spec}")
        fake(host="127.0.0.1", port=fport, data_reply=pass_through(s.rport, seen))
        s.send_mail("alice@example.com", make_message(subject="milter once"))
        files = s.wait_delivered("alice@example.com", 1)
        with open(files[0], "rb") as fh:
            raw = fh.read()
        assert header_count(raw, b"X-Milter") == 1 and header_count(raw, b"X-Filtered") == 1
        assert m.connections == 1
        c = Conn("127.0.0.1", s.port)
        c.cmd("EHLO client.test.example")
        c.cmd("MAIL FROM:<sender@example.org>")
        assert c.cmd("RCPT TO:<nobody@example.com>").startswith("550 5.1.1 ")
        c.close()
        n = m.connections     # port 25's sessions: the milter is asked
        c = Conn("127.0.0.1", s.rport)
        c.cmd("EHLO filter.test.example")
        c.cmd("MAIL FROM:<sender@example.org>")
        assert c.cmd("RCPT TO:<nobody@example.com>").startswith("250 ")
        assert c.cmd("DATA").startswith("354 ")
        assert c.cmd("Subject: x\r\n\r\nbody\r\n.").startswith("250 ")
        c.cmd("QUIT")
        c.close()
        s.wait_log(r"to=<nobody@example\.com>, .*status=bounced")
        assert m.connections == n   # the re-injection listener's: not
    finally:
        m.close()
