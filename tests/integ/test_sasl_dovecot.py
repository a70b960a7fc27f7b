"""
The dovecot SASL backend against a real Dovecot (tests/integ/dovecotfix.py):
the fixture itself (auth via doveadm, LMTP delivery), and the C client in
src/sasl/dovecot.c through the unit-test binary sasl_test, which runs its
real-Dovecot case when MW_DOVECOT_AUTH is set. SMTP-level AUTH tests live
with the smtp engine's tests.
"""
import os
import smtplib
import subprocess
import time

import pytest

from dovecotfix import DOVEADM, dovecot  # noqa: F401  (fixture)

BIN = os.path.abspath(os.environ.get("MAILWARDEN_BIN", "./mailwarden"))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sasl_test_binary():
    """build*/tests/unit/sasl_test of the flavour MAILWARDEN_BIN belongs to:
    ./mailwarden -> build/, build-san/mailwarden -> build-san/."""
    d = os.path.dirname(BIN)
    flavour = os.path.join(d, "build") if os.path.exists(os.path.join(d, "Makefile")) else d
    return os.path.join(flavour, "tests", "unit", "sasl_test")


def doveadm_auth(dc, user, password):
    return subprocess.run([DOVEADM, "-c", dc.conf, "auth", "test", user, password],
                          capture_output=True, text=True, timeout=30)


def test_fixture_auth(dovecot):
    user, password = next(iter(dovecot.users.items()))
    r = doveadm_auth(dovecot, user, password)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "auth succeeded" in r.stdout
    r = doveadm_auth(dovecot, user, password + "x")
    assert r.returncode != 0 and "auth failed" in r.stdout
    assert os.stat(dovecot.auth_socket).st_mode & 0o777 == 0o666


def test_fixture_lmtp(dovecot):
    msg = "From: a@example.org\r\nTo: alice@example.com\r\nSubject: t\r\n\r\nhello\r\n"
    with smtplib.LMTP("127.0.0.1", dovecot.lmtp_port) as l:
        l.sendmail("a@example.org", ["alice@example.com"], msg)
    with smtplib.LMTP(dovecot.lmtp_socket) as l:
        l.sendmail("a@example.org", ["alice@example.com"], msg)
    new = os.path.join(dovecot.maildir("alice@example.com"), "new")
    assert len(os.listdir(new)) == 2, dovecot.log()


def test_c_client_against_dovecot(dovecot):
    binary = sasl_test_binary()
    if not os.path.exists(binary):
        pytest.skip(f"{binary} not built (make FLAVOUR=... {os.path.relpath(binary, ROOT)})")
    user, password = next(iter(dovecot.users.items()))
    env = dict(os.environ, MW_DOVECOT_AUTH=dovecot.auth_socket, MW_DOVECOT_USER=user,
               MW_DOVECOT_PASS=password, MW_DOVECOT_WAIT_STOP="1")
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
    p = subprocess.Popen([binary], cwd=os.path.join(ROOT, "tests", "unit"), env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    out = []
    try:
        for line in p.stdout:
            out.append(line)
            if "READY-FOR-STOP" in line:
                break
        assert any("READY-FOR-STOP" in l for l in out), "".join(out)
        dovecot.stop()
        p.stdin.write("go\n")
        p.stdin.flush()
        rest, _ = p.communicate(timeout=60)
        out.append(rest)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    text = "".join(out)
    assert p.returncode == 0, text + "\n--- dovecot log:\n" + dovecot.log()
    assert "dovecot: OK for the right password, FAIL for a wrong one" in text
    assert "dovecot: TEMPFAIL after dovecot stopped" in text
    assert "SKIPPED ] test_dovecot_real" not in text
    assert "AddressSanitizer" not in text and "runtime error" not in text


@pytest.fixture
def strict_dovecot():
    """Dovecot whose passdb knows the users only on secured sessions (Dovecot
    2.3's auth server leaves disable_plaintext_auth to its own login
    processes; %{secured} is what it offers other clients) and that
    canonicalizes login names (its user= differs from what the client typed)."""
    from dovecotfix import Dovecot
    dc = Dovecot(extra="auth_username_format = %Lu\n", secured_only=True).start()
    yield dc
    dc.stop()


def test_smtp_auth_secured_only_on_tls(make_server, strict_dovecot):
    """The engine tells Dovecot "secured" only for a TLS session (as
    Postfix), so a Dovecot policy for unsecured sessions holds even with
    smtpd_tls_auth_only = no; the authenticated name is the user= Dovecot
    returns."""
    import base64
    from conftest import make_message
    from tlsfix import TlsFiles
    from test_tls_auth import starttls_conn
    tls = TlsFiles()
    dc = strict_dovecot
    srv = make_server(extra=tls.config("smtpd_sasl_type = dovecot",
                                       f"smtpd_sasl_path = {dc.auth_socket}",
                                       "smtpd_tls_auth_only = no"))
    resp = base64.b64encode(b"\0ALICE@Example.COM\0alice-secret").decode()
    c = srv.conn()
    assert "AUTH" in c.cmd("EHLO client.test.example")
    r = c.cmd("AUTH PLAIN " + resp)
    assert r.startswith("535 5.7.8"), r
    c.close()
    s = starttls_conn(srv, tls)
    code, msg = s.docmd("AUTH", "PLAIN " + resp)
    assert (code, msg) == (235, b"2.7.0 Authentication successful"), dc.log()
    assert s.mail("alice@example.com")[0] == 250
    assert s.rcpt("bob@example.net")[0] == 250
    assert s.data(make_message(to="bob@example.net"))[0] == 250
    s.quit()
    srv.wait_log(r"client=\S+, sasl_method=PLAIN, sasl_username=alice@example\.com$")


def test_auth_socket_under_the_spool_survives_a_dovecot_restart(make_server):
    """smtpd_sasl_path written as an absolute path under queue_directory:
    the chrooted engine reaches it again after Dovecot restarts (it tries
    the path relative to the chroot), and a path outside queue_directory
    draws check-config's warning."""
    import base64
    from dovecotfix import Dovecot
    srv = make_server(start=False)
    os.makedirs(os.path.join(srv.spool, "private"), exist_ok=True)
    sock = os.path.join(srv.spool, "private", "auth")
    dc = Dovecot(auth_socket=sock).start()
    try:
        srv.extra += ["smtpd_sasl_type = dovecot", f"smtpd_sasl_path = {sock}",
                      "smtpd_sasl_auth_enable = yes", "smtpd_tls_auth_only = no"]
        srv.write_config()
        srv.start()
        resp = base64.b64encode(b"\0alice@example.com\0alice-secret").decode()

        def auth():
            c = srv.conn()
            c.cmd("EHLO client.test.example")
            r = c.cmd("AUTH PLAIN " + resp)
            c.close()
            return r

        assert auth().startswith("235"), dc.log()
        dc.stop()
        dc.start()
        deadline = time.time() + 10
        while True:
            r = auth()
            if r.startswith("235") or time.time() > deadline:
                break
            time.sleep(0.3)
        assert r.startswith("235"), r
    finally:
        dc.stop()
    outside = srv.conf + ".outside"
    with open(srv.conf) as f, open(outside, "w") as g:
        g.write(f.read().replace(f"smtpd_sasl_path = {sock}",
                                 f"smtpd_sasl_path = {dc.dir}/run/auth-client"))
    r = subprocess.run([BIN, "-c", outside, "check-config"], capture_output=True, text=True)
    assert "is outside queue_directory" in r.stdout + r.stderr, r.stdout + r.stderr
