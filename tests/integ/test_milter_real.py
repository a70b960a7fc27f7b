"""
Real milters from Debian behind mailwarden's milter client (docs/milter.md,
issue 13): OpenDMARC inbound on port 25, chained after OpenDKIM in verify
mode as admins do (DNS from the test's own dnsmasq), and SpamAssassin
through spamass-milter and spamd (GTUBE needs no network rules). What is
checked: the headers these milters add are in the delivered message, and
their rejects reach the client with the milter's own reply and are logged
as Postfix's milter-reject line.
"""
import base64
import os
import shutil
import subprocess

import pytest
import smtplib

from conftest import free_port, make_message
from milterfix import GTUBE, OpenDkim, OpenDmarc, ScriptMilter, SpamAssassin

RCPT = "alice@example.com"
# OpenDMARC checks SPF with libspf2, which passes every loopback client
# (SPF_REASON_LOCALHOST) whatever the record says: here SPF always passes
# for the MAIL FROM domain, and DMARC decides on alignment with From:.
TIMEOUTS = ["milter_command_timeout = 10s", "milter_content_timeout = 20s",
            "milter_connect_timeout = 5s"]


def send(srv, sender, msg, source=None):
    """One message over SMTP: (code, text) of the end-of-data reply."""
    s = srv.smtp(source=source, timeout=30)
    try:
        s.ehlo()
        assert s.mail(sender)[0] == 250
        assert s.rcpt(RCPT)[0] == 250
        try:
            code, text = s.data(msg)
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
        return code, text.decode()
    finally:
        try:
            s.quit()
        except Exception:
            s.close()


def head(msg):
    return msg.replace(b"\r\n", b"\n").split(b"\n\n")[0]


# ---- a chain of milters: each sees the changes of the earlier ones ----------

def test_later_milter_sees_earlier_milters_changes(make_server):
    """What OpenDKIM -> OpenDMARC needs (Postfix does it): the second
    milter gets the header the first added and the body it replaced, and
    its own change of that header (index 1 of the name) lands on it. It
    also gets the MAIL and RCPT macros, though it is asked after the first
    milter's answer, when the command that started the event is parked."""
    first, second = ScriptMilter(), ScriptMilter()
    first.eom_mods = [("addheader", "X-First", "one"), ("replbody", b"new body\r\n")]
    second.eom_mods = [("chgheader", 1, "X-First", "changed by second"),
                       ("addheader", "X-Second", "two")]
    try:
        srv = make_server(extra=[f"smtpd_milters = {first.spec}, {second.spec}", *TIMEOUTS])
        code, text = send(srv, "sender@example.org", make_message(body="old body\r\n"))
        assert code == 250, text
        srv.wait_delivered(RCPT, 1)
        for m in (first, second):
            assert m.macros("mail").get("{mail_addr}") == "sender@example.org", m.seen
            assert m.macros("mail").get("{mail_host}") == "example.org", m.seen
            assert m.macros("rcpt").get("{rcpt_addr}") == RCPT, m.seen
        headers = [(n.decode(), v.decode()) for n, v in
                   (a.split(b"\0")[:2] for a in second.args("header"))]
        assert ("X-First", "one") in headers, headers
        assert ("X-First", "one") not in [(n.decode(), v.decode()) for n, v in
                                          (a.split(b"\0")[:2] for a in first.args("header"))]
        assert b"".join(second.args("body")) == b"new body\r\n"
        assert b"".join(first.args("body")) == b"old body\r\n"
        msg = srv.messages(RCPT)[0]
        h = head(msg)
        assert b"\nX-First: changed by second\n" in h and b"X-First: one" not in h, h
        assert b"\nX-Second: two" in h, h
        assert msg.endswith(b"\n\nnew body\n"), msg
    finally:
        first.close()
        second.close()


# ---- OpenDKIM (verify) then OpenDMARC, inbound on port 25 -----------------

def dkim_key(tmp_path):
    key = str(tmp_path / "dkim.key")
    subprocess.run(["openssl", "genrsa", "-out", key, "1024"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return key, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@pytest.fixture
def dmarc(make_server, tmp_path):
    """mailwarden with smtpd_milters = OpenDKIM (verify), OpenDMARC; DNS:
    pass.test, reject.test, dkim.example.net, each with SPF and DMARC
    p=reject records, dkim.example.net with a DKIM key too (OpenDKIM's
    libunbound refuses names under .test, RFC 6761); other.test has
    nothing. Yields (server, dmarc, dkim signing key file)."""
    if not os.path.exists(OpenDmarc.EXE) or not os.path.exists(OpenDkim.EXE):
        pytest.skip("opendmarc/opendkim not installed (scripts/install-deps.sh)")
    if not os.path.exists(OpenDmarc.PSL):
        pytest.skip("publicsuffix not installed (scripts/install-deps.sh)")
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) missing: OpenDMARC needs its own resolv.conf")
    import dnsfix
    key, txt = dkim_key(tmp_path)
    records = {
        "pass.test": "v=spf1 ip4:192.0.2.20 -all", "_dmarc.pass.test": "v=DMARC1; p=reject",
        "reject.test": "v=spf1 -all", "_dmarc.reject.test": "v=DMARC1; p=reject",
        "dkim.example.net": "v=spf1 -all", "_dmarc.dkim.example.net": "v=DMARC1; p=reject",
        "test._domainkey.dkim.example.net": txt,
    }
    dns = dnsfix.DnsServer(extra_args=[f"--txt-record={n},{v}" for n, v in records.items()])
    dns.start()
    vport, dport = free_port(), free_port()
    verifier = OpenDkim(f"inet:{vport}@127.0.0.1", mode="v", nameserver=f"127.0.0.1@{dns.port}")
    od = OpenDmarc(dport, dns.port)
    try:
        verifier.start()
        od.start()
        srv = make_server(extra=[
            f"smtpd_milters = inet:127.0.0.1:{vport}, inet:127.0.0.1:{dport}", *TIMEOUTS])
        yield srv, od, key
    finally:
        od.stop()
        verifier.stop()
        dns.stop()
        if not os.environ.get("MW_KEEP"):
            shutil.rmtree(verifier.dir, ignore_errors=True)


def test_opendmarc_pass_adds_authentication_results(dmarc):
    srv, od, _ = dmarc
    code, text = send(srv, "bob@pass.test",
                      make_message(subject="dmarc pass", frm="Bob <bob@pass.test>"))
    assert code == 250, (text, od.logtext())
    srv.wait_delivered(RCPT, 1)
    h = head(srv.messages(RCPT)[0])
    assert b"Authentication-Results: mx.test.example; spf=pass" in h, (h, od.logtext())
    assert b"Authentication-Results: mx.test.example; dmarc=pass (p=reject dis=none)" \
        b" header.from=pass.test" in h, (h, od.logtext())


def test_opendmarc_reject_failure_with_its_reply(dmarc):
    srv, od, _ = dmarc
    # The classic spoof: SPF passes for the envelope's domain, which is not
    # the From: domain (no alignment), no DKIM signature: DMARC fails.
    code, text = send(srv, "mallory@other.test",
                      make_message(subject="dmarc fail", frm="Boss <boss@reject.test>"))
    assert code == 550, (text, od.logtext())
    assert text == "5.7.1 rejected by DMARC policy for reject.test", text
    srv.wait_log(r"milter-reject: END-OF-MESSAGE from [^ ]+\[127\.0\.0\.1\]: 5\.7\.1 "
                 r"rejected by DMARC policy for reject\.test; from=<mallory@other\.test> "
                 r"to=<alice@example\.com> proto=ESMTP helo=<")
    # The pass case still goes through the same server: not everything is refused.
    code, text = send(srv, "bob@pass.test", make_message(frm="bob@pass.test"))
    assert code == 250, text
    srv.wait_delivered(RCPT, 1)
    assert len(srv.messages(RCPT)) == 1
    assert b"dmarc fail" not in srv.messages(RCPT)[0]


def test_opendmarc_reads_opendkim_result(dmarc):
    """The envelope domain is not aligned with From: dkim.example.net; only
    the DKIM signature OpenDKIM verified (its Authentication-Results
    header, earlier in smtpd_milters) can make DMARC pass, as with
    Postfix."""
    import dkim
    srv, od, key = dmarc
    msg = make_message(subject="dkim only", frm="carol@dkim.example.net", body="Signed.\r\n")
    with open(key, "rb") as f:
        sig = dkim.sign(msg.encode(), b"test", b"dkim.example.net", f.read(),
                        include_headers=[b"From", b"To", b"Subject"])
    code, text = send(srv, "carol@other.test", sig.decode() + msg)
    assert code == 250, (text, od.logtext())
    srv.wait_delivered(RCPT, 1)
    h = head(srv.messages(RCPT)[0])
    assert b"dkim=pass" in h, h
    assert b"dmarc=pass" in h, (h, od.logtext())


def test_dkim_signed_mail_gets_both_results_dmarc_fails_on_spf(dmarc):
    """Both milters of the chain add their header: OpenDKIM's dkim=pass
    (a signature of dkim.example.net) and OpenDMARC's dmarc=pass for
    pass.test (SPF aligned)."""
    import dkim
    srv, od, key = dmarc
    msg = make_message(subject="both", frm="bob@pass.test", body="Signed.\r\n")
    with open(key, "rb") as f:
        sig = dkim.sign(msg.encode(), b"test", b"dkim.example.net", f.read(),
                        include_headers=[b"From", b"To", b"Subject"])
    code, text = send(srv, "bob@pass.test", sig.decode() + msg)
    assert code == 250, (text, od.logtext())
    srv.wait_delivered(RCPT, 1)
    h = head(srv.messages(RCPT)[0])
    assert b"dkim=pass" in h and b"header.d=dkim.example.net" in h, h
    assert b"dmarc=pass" in h, (h, od.logtext())


# ---- SpamAssassin: spamass-milter in front of spamd -------------------------

@pytest.fixture
def spamass(make_server):
    if not (os.path.exists(SpamAssassin.SPAMD) and os.path.exists(SpamAssassin.MILTER)):
        pytest.skip("spamd/spamass-milter not installed (scripts/install-deps.sh)")
    mport = free_port()
    sa = SpamAssassin(free_port(), mport)
    try:
        sa.start()
        srv = make_server(extra=[f"smtpd_milters = inet:127.0.0.1:{mport}", *TIMEOUTS])
        yield srv, sa
    finally:
        sa.stop()


def test_spamassassin_rejects_gtube_with_its_reply(spamass):
    srv, sa = spamass
    code, text = send(srv, "spammer@example.org",
                      make_message(subject="gtube", body=GTUBE + "\r\n"))
    assert code == 550, (text, sa.logtext())
    assert text == "5.7.1 Blocked by SpamAssassin", text
    srv.wait_log(r"milter-reject: END-OF-MESSAGE from [^ ]+\[127\.0\.0\.1\]: 5\.7\.1 "
                 r"Blocked by SpamAssassin; from=<spammer@example\.org> to=<alice@example\.com>")


def test_spamassassin_clean_mail_gets_its_headers(spamass):
    srv, sa = spamass
    code, text = send(srv, "friend@example.org",
                      make_message(subject="lunch", body="See you at noon.\r\n"))
    assert code == 250, (text, sa.logtext())
    srv.wait_delivered(RCPT, 1)
    h = head(srv.messages(RCPT)[0])
    assert b"\nX-Spam-Checker-Version: SpamAssassin 4." in h, (h, sa.logtext())
    assert b"\nX-Spam-Status: No, score=" in h, h
    assert b"GTUBE" not in h
