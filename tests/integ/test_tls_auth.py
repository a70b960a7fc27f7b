"""
STARTTLS, implicit TLS and SMTP AUTH against the running program, with
real clients: Python's smtplib and ssl, swaks, openssl s_client, and
Debian's fail2ban-regex over the log.
"""
import base64
import os
import re
import smtplib
import socket
import ssl
import statistics
import subprocess
import time

import pytest

from conftest import CLIENT_HELO, Conn, free_port, make_message, read_replies
from dovecotfix import dovecot  # noqa: F401  (fixture)
from tlsfix import TlsFiles, USERS, peer_cn, tls_connect


@pytest.fixture(scope="session")
def tls():
    return TlsFiles()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def starttls_conn(srv, tls, port=None):
    """smtplib connection after STARTTLS and the second EHLO."""
    s = smtplib.SMTP(srv.host, port or srv.port, local_hostname=CLIENT_HELO, timeout=10)
    s._host = "mx.test.example"     # the name checked against the certificate
    s.ehlo()
    s.starttls(context=tls.client_context())
    s.ehlo()
    return s


def test_ehlo_offers_starttls_and_auth_only_after_tls(make_server, tls):
    srv = make_server(extra=tls.config())
    c = srv.conn()
    r = c.cmd(f"EHLO {CLIENT_HELO}")
    assert "250-STARTTLS" in r
    assert "AUTH" not in r            # smtpd_tls_auth_only = yes (mailwarden's default)
    assert c.cmd("AUTH PLAIN " + b64("\0alice@example.com\0alice-secret")).startswith(
        "503 5.5.1 Error: authentication not enabled")
    c.close()
    s = starttls_conn(srv, tls)
    assert s.has_extn("auth") and "PLAIN" in s.esmtp_features["auth"]
    assert "LOGIN" in s.esmtp_features["auth"]
    assert not s.has_extn("starttls")
    s.quit()
    line = srv.wait_log(r"Anonymous TLS connection established from .*\[127\.0\.0\.1\]: "
                        r"TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)")[0]
    assert "key-exchange" in line


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_login_and_relay_with_tls_received_header(make_server, tls, mech):
    srv = make_server(extra=tls.config())
    s = starttls_conn(srv, tls)
    s.user, s.password = "alice@example.com", "alice-secret"
    code, msg = s.auth(mech, s.auth_plain if mech == "PLAIN" else s.auth_login,
                       initial_response_ok=(mech == "PLAIN"))
    assert (code, msg) == (235, b"2.7.0 Authentication successful")
    # Authenticated: relaying to an outside domain is allowed.
    code, _ = s.mail("alice@example.com")
    assert code == 250
    code, _ = s.rcpt("someone@outside.example")
    assert code == 250
    code, _ = s.rcpt("bob@example.net")
    assert code == 250
    code, msg = s.data(make_message(to="bob@example.net"))
    assert code == 250, msg
    s.quit()
    srv.wait_delivered("bob@example.net", 1)
    msg = srv.messages("bob@example.net")[0].decode()
    assert re.search(r"\(using TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)\n\t key-exchange", msg)
    assert "with ESMTPSA id" in msg
    srv.wait_log(rf"client=.*\[127\.0\.0\.1\], sasl_method={mech}, sasl_username=alice@example\.com")
    srv.wait_log(r"disconnect from .* ehlo=2 starttls=1 auth=1 mail=1 rcpt=2 data=1 quit=1 commands=9")


@pytest.mark.parametrize("user", sorted(USERS))
def test_every_hash_scheme_logs_in(make_server, tls, user):
    srv = make_server(extra=tls.config())
    s = starttls_conn(srv, tls)
    code, _ = s.login(user, USERS[user][1])
    assert code == 235
    s.quit()


def test_wrong_password_535_logged_like_postfix_and_counted_by_fail2ban(make_server, tls):
    srv = make_server(extra=tls.config("syslog_name = postfix"))
    for mech in ("PLAIN", "LOGIN"):
        s = starttls_conn(srv, tls)
        s.user, s.password = "alice@example.com", "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.auth(mech, s.auth_plain if mech == "PLAIN" else s.auth_login,
                   initial_response_ok=False)
        assert e.value.smtp_code == 535
        assert e.value.smtp_error.startswith(b"5.7.8 Error: authentication failed:")
        s.quit()
    # A good login in between: must not be counted as a failure.
    s = starttls_conn(srv, tls)
    s.login("alice@example.com", "alice-secret")
    s.quit()
    srv.wait_log(r"warning: \S+\[127\.0\.0\.1\]: SASL LOGIN authentication failed: "
                 r"UGFzc3dvcmQ6, sasl_username=alice@example\.com$")
    srv.wait_log(r"postfix/smtpd\[\d+\]: warning: \S+\[127\.0\.0\.1\]: SASL PLAIN authentication "
                 r"failed: .*sasl_username=alice@example\.com$")
    out = subprocess.run(["fail2ban-regex", "-v", srv.maillog,
                          "/etc/fail2ban/filter.d/postfix.conf[mode=auth]"],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"Lines: (\d+) lines, \d+ ignored, (\d+) matched", out)
    assert m, out
    assert int(m.group(2)) == 2, out


def test_auth_errors_get_their_own_replies(make_server, tls):
    srv = make_server(extra=tls.config())
    ctx = tls.client_context()
    c = srv.conn()
    c.cmd(f"EHLO {CLIENT_HELO}")
    assert c.cmd("STARTTLS").startswith("220 2.0.0 Ready to start TLS")
    c.sock = ctx.wrap_socket(c.sock, server_hostname="mx.test.example")
    assert c.cmd("AUTH PLAIN").startswith("503 5.5.1 Error: send HELO/EHLO first")
    c.cmd(f"EHLO {CLIENT_HELO}")
    assert c.cmd("AUTH").startswith("501 5.5.4 Syntax: AUTH mechanism")
    assert c.cmd("AUTH CRAM-MD5").startswith("504 5.5.4")
    # Cancel with "*" at each step.
    assert c.cmd("AUTH LOGIN") == "334 VXNlcm5hbWU6"
    assert c.cmd("*") == "501 5.7.0 Authentication aborted"
    assert c.cmd("AUTH PLAIN") == "334 "
    assert c.cmd("not base64!").startswith("501 5.5.2")
    assert c.cmd("AUTH LOGIN " + b64("alice@example.com")) == "334 UGFzc3dvcmQ6"
    assert c.cmd("*") == "501 5.7.0 Authentication aborted"
    # An overlong response.
    assert c.cmd("AUTH PLAIN") == "334 "
    assert c.cmd("QUFB" * 3000).startswith("500 5.5.6")
    # The session goes on; a real login works, a second AUTH does not.
    assert c.cmd("AUTH PLAIN " + b64("\0alice@example.com\0alice-secret")).startswith("235 2.7.0")
    assert c.cmd("AUTH PLAIN " + b64("\0alice@example.com\0alice-secret")).startswith(
        "503 5.5.1 Error: already authenticated")
    assert c.cmd("QUIT").startswith("221")
    c.close()
    # AUTH during a transaction.
    s = starttls_conn(srv, tls)
    s.mail("x@example.org")
    code, msg = s.docmd("AUTH", "PLAIN " + b64("\0alice@example.com\0alice-secret"))
    assert (code, msg) == (503, b"5.5.1 Error: MAIL transaction in progress")
    s.quit()
    srv.wait_log(r"SASL LOGIN authentication aborted")


def test_starttls_discards_pipelined_plaintext(make_server, tls):
    """CVE-2011-0411: commands sent with STARTTLS before the handshake
    must not be executed inside the TLS session."""
    srv = make_server(extra=tls.config())
    c = srv.conn()
    c.cmd(f"EHLO {CLIENT_HELO}")
    c.send(b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n")
    assert c.reply().startswith("220 2.0.0")
    c.sock = tls.client_context().wrap_socket(c.sock, server_hostname="mx.test.example")
    # The injected MAIL must not have been run: a new MAIL is not "nested",
    # and EHLO is required again (state forgotten).
    assert c.cmd("RCPT TO:<alice@example.com>").startswith("503 5.5.1 Error: need MAIL")
    r = c.cmd(f"EHLO {CLIENT_HELO}")
    assert "AUTH PLAIN LOGIN" in r and "STARTTLS" not in r
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
    c.cmd("QUIT")
    c.close()
    srv.wait_log(r"improper command pipelining after STARTTLS")


def test_starttls_twice_and_with_argument(make_server, tls):
    srv = make_server(extra=tls.config())
    s = starttls_conn(srv, tls)
    assert s.docmd("STARTTLS")[0] == 554
    s.quit()
    c = srv.conn()
    c.cmd(f"EHLO {CLIENT_HELO}")
    assert c.cmd("STARTTLS now").startswith("501 5.5.4")
    c.close()


def test_no_starttls_without_certificate(make_server):
    srv = make_server()
    c = srv.conn()
    assert "STARTTLS" not in c.cmd(f"EHLO {CLIENT_HELO}")
    assert c.cmd("STARTTLS").startswith("502 5.5.1")
    c.close()


def test_handshake_garbage_does_not_disturb_others(make_server, tls):
    srv = make_server(extra=tls.config())
    stall = srv.conn()
    stall.cmd(f"EHLO {CLIENT_HELO}")
    assert stall.cmd("STARTTLS").startswith("220")
    # A client that stalls half-way through its handshake ...
    stall.send(b"\x16\x03\x01\x02\x00\x01")
    # ... while another completes a whole TLS session.
    s = starttls_conn(srv, tls)
    assert s.login("alice@example.com", "alice-secret")[0] == 235
    s.quit()
    stall.close()
    # Not TLS at all after STARTTLS: the handshake fails, the session ends.
    bad = srv.conn()
    bad.cmd(f"EHLO {CLIENT_HELO}")
    assert bad.cmd("STARTTLS").startswith("220")
    bad.send(b"GET / HTTP/1.0\r\n\r\n" * 10)
    assert bad.is_closed()
    srv.wait_log(r"SSL_accept error from .*\[127\.0\.0\.1\]")
    srv.wait_log(r"lost connection after STARTTLS from .*\[127\.0\.0\.1\]")


def test_submission_requires_tls_then_auth(make_server, tls):
    port = free_port()
    srv = make_server(extra=tls.config(f"submission_listen = 127.0.0.1:{port}"))
    c = Conn("127.0.0.1", port)
    srv.conns.append(c)
    c.cmd(f"EHLO {CLIENT_HELO}")
    assert c.cmd("MAIL FROM:<alice@example.com>").startswith(
        "530 5.7.0 Must issue a STARTTLS command first")
    c.close()
    s = starttls_conn(srv, tls, port=port)
    code, msg = s.mail("alice@example.com")
    assert (code, msg) == (530, b"5.7.0 Authentication required")
    s.login("alice@example.com", "alice-secret")
    assert s.mail("alice@example.com")[0] == 250
    assert s.rcpt("friend@outside.example")[0] == 250
    s.quit()


def test_implicit_tls_port(make_server, tls):
    port = free_port()
    srv = make_server(extra=tls.config(f"smtps_listen = 127.0.0.1:{port}"))
    s = smtplib.SMTP_SSL(local_hostname=CLIENT_HELO, context=tls.client_context(), timeout=10)
    s._host = "mx.test.example"
    s.sock = tls_connect("127.0.0.1", port, tls.client_context())
    s.file = None
    code, _ = s.getreply()
    assert code == 220
    code, _ = s.ehlo()
    assert code == 250
    assert "PLAIN" in s.esmtp_features["auth"] and not s.has_extn("starttls")
    assert s.mail("alice@example.com")[0] == 530
    assert s.login("bob@example.net", "bob-secret")[0] == 235
    assert s.mail("bob@example.net")[0] == 250
    s.quit()
    # openssl s_client sees the banner only after the handshake.
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                          "-servername", "mx.test.example", "-CAfile", tls.ca, "-quiet",
                          "-verify_return_error"],
                         input="QUIT\r\n", capture_output=True, text=True, timeout=20)
    assert "220 mx.test.example" in out.stdout, out
    assert "221 2.0.0 Bye" in out.stdout


def test_first_reply_after_handshake_is_not_delayed(make_server, tls):
    """No 40 ms stall after the TLS handshake (Nagle against a delayed
    ACK): the banner on the implicit TLS port used to wait behind the TLS
    1.3 session tickets, and the client's EHLO after STARTTLS behind the
    ACK of its Finished record. Median of 10 sessions each."""
    port = free_port()
    srv = make_server(extra=tls.config(f"smtps_listen = 127.0.0.1:{port}"))
    ctx = tls.client_context()
    after_starttls, banner = [], []
    for _ in range(10):
        c = srv.conn()
        c.cmd(f"EHLO {CLIENT_HELO}")
        assert c.cmd("STARTTLS").startswith("220")
        c.sock = ctx.wrap_socket(c.sock, server_hostname="mx.test.example")
        t = time.monotonic()
        assert c.cmd(f"EHLO {CLIENT_HELO}").startswith("250")
        after_starttls.append(time.monotonic() - t)
        c.cmd("QUIT")
        c.close()
        s = tls_connect("127.0.0.1", port, ctx)
        t = time.monotonic()
        assert s.recv(4096).startswith(b"220")
        banner.append(time.monotonic() - t)
        s.close()
    assert statistics.median(after_starttls) < 0.025, after_starttls
    assert statistics.median(banner) < 0.025, banner


def test_sni_picks_certificate(make_server, tls):
    sni = os.path.join(srv_dir := tls.dir, "sni_map")
    with open(sni, "w") as f:
        f.write(f"mail.example.net {tls.sni_pem}\n")
        f.write(f"smtp.example.net {tls.sni_key} {tls.sni_cert}\n")
    srv = make_server(extra=tls.config(f"tls_server_sni_maps = texthash:{sni}"))
    for name, cn in (("mail.example.net", "mail.example.net"),
                     ("smtp.example.net", "mail.example.net"),
                     ("mx.test.example", "mx.test.example")):
        c = srv.conn()
        c.cmd(f"EHLO {CLIENT_HELO}")
        c.cmd("STARTTLS")
        ctx = tls.client_context()
        ctx.check_hostname = False
        c.sock = ctx.wrap_socket(c.sock, server_hostname=name)
        assert peer_cn(c.sock) == cn
        c.cmd("QUIT")
        c.close()


def test_sighup_rereads_certificate_and_keeps_sessions(make_server, tls):
    import shutil
    d = os.path.join(tls.dir, "reload")
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "c.crt"), os.path.join(d, "c.key")
    shutil.copy(tls.cert, cert)
    shutil.copy(tls.key, key)
    srv = make_server(extra=tls.config(f"smtpd_tls_cert_file = {cert}",
                                       f"smtpd_tls_key_file = {key}"))
    old = starttls_conn(srv, tls)
    old.login("alice@example.com", "alice-secret")
    # "Renewal": the SNI certificate file takes the default's place.
    shutil.copy(tls.sni_cert, cert)
    shutil.copy(tls.sni_key, key)
    srv.sighup()
    deadline = time.time() + 10
    cn = None
    while time.time() < deadline:
        c = srv.conn()
        c.cmd(f"EHLO {CLIENT_HELO}")
        c.cmd("STARTTLS")
        ctx = tls.client_context()
        ctx.check_hostname = False
        c.sock = ctx.wrap_socket(c.sock, server_hostname="x")
        cn = peer_cn(c.sock)
        c.close()
        if cn == "mail.example.net":
            break
        time.sleep(0.2)
    assert cn == "mail.example.net"
    # The session from before the reload still works.
    assert old.mail("alice@example.com")[0] == 250
    assert old.rcpt("bob@example.net")[0] == 250
    assert old.data(make_message(to="bob@example.net"))[0] == 250
    old.quit()


def test_sender_login_mismatch(make_server, tls):
    logins = os.path.join(tls.dir, "sender_logins")
    with open(logins, "w") as f:
        f.write("alice@example.com alice@example.com\n@example.net bob@example.net\n")
    srv = make_server(extra=tls.config(
        f"smtpd_sender_login_maps = texthash:{logins}",
        "smtpd_sender_restrictions = reject_sender_login_mismatch"))
    s = starttls_conn(srv, tls)
    s.login("alice@example.com", "alice-secret")
    assert s.mail("alice@example.com")[0] == 250
    s.rset()
    code, msg = s.mail("bob@example.net")
    s.rcpt("x@outside.example")
    s.quit()
    # smtpd_delay_reject: the sender reject comes at RCPT.
    srv.wait_log(r"NOQUEUE: reject: RCPT from .*553 5\.7\.1 <bob@example\.net>: Sender address "
                 r"rejected: not owned by user alice@example\.com")
    c = srv.conn()
    c.cmd(f"EHLO {CLIENT_HELO}")
    c.cmd("MAIL FROM:<alice@example.com>")
    assert c.cmd("RCPT TO:<bob@example.net>").startswith(
        "553 5.7.1 <alice@example.com>: Sender address rejected: not logged in")
    c.close()


def test_auth_rate_limit(make_server, tls):
    srv = make_server(extra=tls.config("smtpd_client_auth_rate_limit = 2"))
    s = starttls_conn(srv, tls)
    for _ in range(2):
        code, _ = s.docmd("AUTH", "PLAIN " + b64("\0alice@example.com\0nope"))
        assert code == 535
    code, msg = s.docmd("AUTH", "PLAIN " + b64("\0alice@example.com\0alice-secret"))
    assert (code, msg) == (450, b"4.7.1 Error: too many AUTH commands from 127.0.0.1")
    s.close()
    srv.wait_log(r"warning: AUTH command rate limit exceeded: 3 from .*\[127\.0\.0\.1\]")


def test_auth_rate_limit_spares_exempt_clients(make_server, tls):
    """As Postfix's anvil: clients in smtpd_client_event_limit_exceptions
    (default $mynetworks; here 127.0.0.0/8) are not held to
    smtpd_client_auth_rate_limit (found by bench/flood_bench.py: a
    legitimate user on 127.0.0.1 got 450s)."""
    srv = make_server(extra=tls.config("smtpd_client_auth_rate_limit = 2",
                                       "smtpd_client_event_limit_exceptions = 127.0.0.0/8",
                                       "smtpd_hard_error_limit = 100"))
    s = starttls_conn(srv, tls)
    for _ in range(3):
        code, _ = s.docmd("AUTH", "PLAIN " + b64("\0alice@example.com\0nope"))
        assert code == 535
    code, _ = s.docmd("AUTH", "PLAIN " + b64("\0alice@example.com\0alice-secret"))
    assert code == 235
    s.close()
    assert "AUTH command rate limit exceeded" not in srv.log()


def test_failure_delay_grows(make_server, tls):
    srv = make_server(extra=tls.config("smtpd_sasl_failure_delay = 1s",
                                       "smtpd_hard_error_limit = 100"))
    s = starttls_conn(srv, tls)
    times = []
    for _ in range(2):
        t = time.monotonic()
        code, _ = s.docmd("AUTH", "PLAIN " + b64("\0alice@example.com\0nope"))
        times.append(time.monotonic() - t)
        assert code == 535
    s.close()
    # 1 s, then 2 s: the delay doubles with the client's failures.
    assert 0.95 <= times[0] < 1.9 and times[1] >= 1.9, times


def test_failure_delay_reaches_8x_per_address_despite_other_addresses(make_server, tls):
    """smtpd_sasl_failure_delay doubles per failure of one client address
    up to 8 times, and other addresses cannot wipe that record. The two
    addresses below shared a slot of the old fixed hash table (FNV-1a mod
    4096), where each one's failure reset the other's count: the delay
    never grew past 1-2 s under a flood from a few hundred addresses."""
    a, b = "127.0.2.1", "127.0.20.70"
    srv = make_server(extra=tls.config("smtpd_sasl_failure_delay = 1s",
                                       "smtpd_tls_auth_only = no",
                                       "smtpd_hard_error_limit = 100"))
    bad = "AUTH PLAIN " + b64("\0alice@example.com\0nope")

    def fail_from(conn):
        t = time.monotonic()
        r = conn.cmd(bad, timeout=30)
        assert r.startswith("535 5.7.8"), r
        return time.monotonic() - t

    ca = Conn(srv.host, srv.port, source=a)
    srv.conns.append(ca)
    ca.cmd(f"EHLO {CLIENT_HELO}")
    times = [fail_from(ca)]
    cb = Conn(srv.host, srv.port, source=b)
    srv.conns.append(cb)
    cb.cmd(f"EHLO {CLIENT_HELO}")
    tb = fail_from(cb)
    cb.close()
    times += [fail_from(ca) for _ in range(3)]
    ca.close()
    assert 0.95 <= tb < 1.9, tb
    # 1, 2, 4, 8 s: the first failure of b did not reset a's record.
    lo = [0.95, 1.9, 3.9, 7.9]
    assert all(t >= l for t, l in zip(times, lo)) and times[-1] < 12, times


def test_swaks_tls_and_auth(make_server, tls):
    srv = make_server(extra=tls.config())
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{srv.port}", "--tls",
                        "--tls-ca-path", tls.ca, "--auth", "LOGIN",
                        "--auth-user", "carol@example.net", "--auth-password", "carol-secret",
                        "--from", "carol@example.net", "--to", "alice@example.com",
                        "--helo", CLIENT_HELO],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0 Authentication successful" in r.stdout
    srv.wait_delivered("alice@example.com", 1)
    port = free_port()
    srv2 = make_server(extra=tls.config(f"smtps_listen = 127.0.0.1:{port}"))
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--tlsc",
                        "--auth", "PLAIN", "--auth-user", "bob@example.net",
                        "--auth-password", "bob-secret", "--from", "bob@example.net",
                        "--to", "alice@example.com", "--helo", CLIENT_HELO],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    srv2.wait_delivered("alice@example.com", 1)


def test_check_config_tls_and_sasl_errors(make_server, tls):
    srv = make_server(extra=["smtpd_tls_security_level = encrypt"], start=False)
    r = subprocess.run([os.environ.get("MAILWARDEN_BIN", "./mailwarden"), "-c", srv.conf,
                        "check-config"], capture_output=True, text=True)
    assert r.returncode != 0 and "smtpd_tls_cert_file" in r.stderr, r.stderr
    srv = make_server(extra=["smtpd_sasl_auth_enable = yes"], start=False)
    r = subprocess.run([os.environ.get("MAILWARDEN_BIN", "./mailwarden"), "-c", srv.conf,
                        "check-config"], capture_output=True, text=True)
    assert r.returncode != 0 and "smtpd_sasl_path" in r.stderr, r.stderr
    srv = make_server(extra=tls.config("smtpd_tls_protocols = >=TLSv9"), start=False)
    r = subprocess.run([os.environ.get("MAILWARDEN_BIN", "./mailwarden"), "-c", srv.conf,
                        "check-config"], capture_output=True, text=True)
    assert r.returncode != 0 and "smtpd_tls_protocols" in r.stderr, r.stderr


def test_dovecot_backend_real(make_server, tls, dovecot):
    """smtpd_sasl_type = dovecot against a real Dovecot auth server; when
    Dovecot goes away AUTH answers 454 and the client is not blamed."""
    user, password = next(iter(dovecot.users.items()))
    srv = make_server(extra=tls.config("smtpd_sasl_type = dovecot",
                                       f"smtpd_sasl_path = {dovecot.auth_socket}"))
    s = starttls_conn(srv, tls)
    assert s.login(user, password)[0] == 235
    s.quit()
    s = starttls_conn(srv, tls)
    code, _ = s.docmd("AUTH", "PLAIN " + b64(f"\0{user}\0wrong"))
    assert code == 535
    s.quit()
    dovecot.stop()
    s = starttls_conn(srv, tls)
    code, msg = s.docmd("AUTH", "PLAIN " + b64(f"\0{user}\0{password}"))
    assert (code, msg) == (454, b"4.7.0 Temporary authentication failure")
    s.quit()
    failed = [l for l in srv.log().splitlines() if "authentication failed" in l]
    assert len([l for l in failed if "sasl_username=" in l]) == 1, failed
