"""
The SMTP client against hostile or careless next hops (issue 11, "Protocol
fixes"): a fake MX (outfix.FakeSmtp on 127.0.0.3) that pipelines replies
after its 220 to STARTTLS, a relay host that offers AUTH without STARTTLS,
and relayed bodies holding bare CR and bare LF.
"""
import os
import pathlib
import re
import subprocess
import tempfile
import time

import pytest

from conftest import BIN
from outfix import fake, odns, tls  # noqa: F401  (fixtures)
from test_config import assert_refused, base_lines, cdir, write_conf  # noqa: F401
from test_outbound import DELAYS, SENDER, make_a, send

PW = "relay-secret-5150"


def queued(a):
    return [p for p in a.spool_files() if "/deferred/" in p or "/incoming/" in p]


def test_starttls_response_injection_defers(make_server, odns, tls, fake):
    """The client-side mirror of CVE-2011-0411: plaintext replies sent with
    the 220 to STARTTLS must never be read as the TLS peer's. The real TLS
    peer refuses every recipient; the injected replies say "queued as
    INJECTED". The message stays queued, deferred with a TLS reason."""
    inject = (b"250-fake.test\r\n250 PIPELINING\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
              b"354 go ahead\r\n250 2.0.0 Ok: queued as INJECTED\r\n")
    f = fake(tls=(tls.cert, tls.key), starttls_inject=inject,
             rcpt_reply=lambda addr, n: "450 4.7.1 <%s>: not now" % addr)
    a = make_a(make_server, odns, f.port, "smtp_tls_security_level = encrypt")
    send(a, "victim@fake.test")
    a.wait_log(rf"to=<victim@fake\.test>, relay=\S+, {DELAYS}, dsn=4\.7\.5, status=deferred \(Cannot start TLS: host "
               r"mx\.fake\.test\[127\.0\.0\.3\] sent plaintext after its 220 reply to "
               r"STARTTLS \(response injection\)\)")
    time.sleep(0.5)
    log = a.log()
    assert "INJECTED" not in log
    assert "status=sent" not in log
    assert not re.search(r"qmgr\[\d+\]: \w+: removed", log)
    assert queued(a), "the message left the queue"
    assert f.messages == []


def test_starttls_without_injection_still_works(make_server, odns, tls, fake):
    f = fake(tls=(tls.cert, tls.key))
    a = make_a(make_server, odns, f.port, "smtp_tls_security_level = encrypt")
    send(a, "ok@fake.test")
    a.wait_log(r"to=<ok@fake\.test>, .*dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as FAKE1\)")
    assert f.messages[0]["tls"]


def pw_map(tmp_path, port):
    """smtp_sasl_password_maps source, readable by mail_owner (pytest's
    tmp_path is not: its parent is private to root)."""
    d = tempfile.mkdtemp(prefix="mw-sasl-")
    os.chmod(d, 0o755)
    pw = pathlib.Path(d) / "sasl_passwd"
    pw.write_text(f"[127.0.0.3]:{port} relayuser@example.com:{PW}\n")
    os.chmod(pw, 0o644)
    return pw


def auth_conf(f, a_dir_conf):
    return [f"transport_maps = inline:{{ relay.test=smtp:[127.0.0.3]:{f.port} }}",
            "smtp_sasl_auth_enable = yes"] + a_dir_conf


def test_auth_without_tls_never_sends_credentials(make_server, odns, tmp_path, fake):
    """A relay host that offers AUTH PLAIN LOGIN but no STARTTLS never sees
    the password: with the default smtp_sasl_security_options (noplaintext,
    noanonymous) the mail is deferred with Postfix's reason."""
    f = fake(ehlo=("PIPELINING", "AUTH PLAIN LOGIN"))
    pw = pw_map(tmp_path, f.port)
    a = make_a(make_server, odns, 25, *auth_conf(f, [f"smtp_sasl_password_maps = texthash:{pw}"]))
    send(a, "far@relay.test")
    a.wait_log(r"to=<far@relay\.test>, relay=\S+, .*dsn=4\.7\.0, "
               r"status=deferred \(SASL authentication failed; cannot authenticate to server "
               r"127\.0\.0\.3\[127\.0\.0\.3\]: no mechanism available\)")
    assert not [c for c in f.commands if c.upper().startswith("AUTH")], f.commands
    assert not [c for c in f.commands if c.upper().startswith("MAIL")], f.commands
    assert queued(a)


def test_auth_in_clear_when_admin_allows_it(make_server, odns, tmp_path, fake):
    """smtp_sasl_security_options = noanonymous (a migrated config) lets
    PLAIN out without TLS, as in Postfix; check-config warns about it."""
    f = fake(ehlo=("PIPELINING", "AUTH PLAIN LOGIN"))
    pw = pw_map(tmp_path, f.port)
    a = make_a(make_server, odns, 25, *auth_conf(f, [f"smtp_sasl_password_maps = texthash:{pw}",
                                                    "smtp_sasl_security_options = noanonymous"]))
    send(a, "far@relay.test")
    a.wait_log(r"to=<far@relay\.test>, .*status=sent")
    assert [c for c in f.commands if c.startswith("AUTH PLAIN ")]
    a.wait_log(r"warning: .*smtp_sasl_security_options = noanonymous lets AUTH PLAIN/LOGIN")
    r = subprocess.run([BIN, "-c", a.conf, "check-config"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"warning: \S+, line \d+: smtp_sasl_security_options = noanonymous lets "
                     r"AUTH PLAIN/LOGIN send relay passwords in clear", r.stdout + r.stderr)


def test_auth_over_tls_by_default(make_server, odns, tls, tmp_path, fake):
    """smtp_sasl_tls_security_options defaults to noanonymous: PLAIN goes
    out once the session is on TLS (a documented difference from Postfix)."""
    f = fake(tls=(tls.cert, tls.key), ehlo=("PIPELINING", "AUTH PLAIN LOGIN"))
    pw = pw_map(tmp_path, f.port)
    a = make_a(make_server, odns, 25, *auth_conf(f, [f"smtp_sasl_password_maps = texthash:{pw}",
                                                    "smtp_tls_security_level = may"]))
    send(a, "far@relay.test")
    a.wait_log(r"to=<far@relay\.test>, .*status=sent")
    cmds = f.commands
    assert cmds.index("STARTTLS") < [i for i, c in enumerate(cmds) if c.startswith("AUTH")][0]


def test_bad_sasl_security_option_refused(cdir):
    lines = base_lines(cdir) + ["smtp_sasl_tls_security_options = noplaintext, nosuch"]
    assert_refused(write_conf(cdir, lines), len(lines), "smtp_sasl_tls_security_options",
                   also=("unknown option 'nosuch'",))


def test_relayed_body_has_crlf_only(make_server, odns, fake):
    """Bare CR and bare LF in a queued body leave as CRLF, so no lenient
    receiver finds an end of data ("\\n.\\n", "\\r.\\r") inside the message."""
    f = fake()
    a = make_a(make_server, odns, f.port)
    body = b"one\rtwo\r.\rthree\n.\nfour\r\n"
    msg = (b"From: " + SENDER.encode() + b"\r\nTo: x@fake.test\r\nSubject: cr\r\n\r\n" + body)
    c = a.conn()
    c.send(b"EHLO client.example\r\nMAIL FROM:<" + SENDER.encode() + b">\r\n"
           b"RCPT TO:<x@fake.test>\r\nDATA\r\n")
    time.sleep(0.5)
    c.send(msg + b".\r\n")
    time.sleep(0.3)
    c.send(b"QUIT\r\n")
    c.close()
    a.wait_log(r"to=<x@fake\.test>, .*status=sent", timeout=15)
    data = f.messages[0]["data"]
    assert re.sub(rb"\r\n", b"", data).count(b"\r") == 0, data
    assert re.sub(rb"\r\n", b"", data).count(b"\n") == 0, data
    assert b"one\r\ntwo\r\n..\r\nthree\r\n" in data, data
