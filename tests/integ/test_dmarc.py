"""
DMARC (RFC 7489, src/dmarc, docs/sending.md) at the end of DATA: the
test's dnsmasq publishes SPF and _dmarc records; the client (127.0.0.1,
not in mynetworks) sends with MAIL FROM and From: chosen per case and the
delivered message's Authentication-Results carries dmarc=... with
header.from= (parsed with python3-authres): SPF-aligned and unaligned,
relaxed and strict (aspf=s), p=none/quarantine/reject, sp= for a
subdomain, an organisational domain under a multi-label public suffix
(mail.example.co.uk aligned with example.co.uk). With
dmarc_policy_enforce = yes a p=reject failure gets 550 5.7.1 and a
p=quarantine failure goes to the hold queue; mynetworks is never judged;
check-config wants the suffix list when dkim_verify is on.
End to end: instance A signs (DKIM), B verifies: dkim=pass, dmarc=pass.
"""
import os
import re
import time

import pytest

import dnsfix
from conftest import make_message

RCPT = "bob@example.net"
SPF_OK = "v=spf1 ip4:127.0.0.1 -all"

RECORDS = {
    # SPF passes for 127.0.0.1 at these names
    "spfpass.test": SPF_OK, "mail.spfpass.test": SPF_OK, "other.test": SPF_OK,
    "mail.strict.test": SPF_OK, "quar.test": SPF_OK, "nonep.test": SPF_OK,
    "example.co.uk": SPF_OK,
    # DMARC policies
    "_dmarc.spfpass.test": "v=DMARC1; p=reject",
    "_dmarc.strict.test": "v=DMARC1; p=reject; aspf=s",
    "_dmarc.quar.test": "v=DMARC1; p=quarantine",
    "_dmarc.nonep.test": "v=DMARC1; p=none",
    "_dmarc.org.test": "v=DMARC1; p=none; sp=reject",
    "_dmarc.example.co.uk": "v=DMARC1; p=reject",
}


@pytest.fixture(scope="module")
def dns():
    args = ["--local=/example.co.uk/"]
    args += [f"--txt-record={n},{t}" for n, t in RECORDS.items()]
    d = dnsfix.DnsServer(extra_args=args).start()
    yield d
    d.stop()


def server(make_server, dns, *extra):
    return make_server(extra=["mynetworks = 192.0.2.0/24", "dkim_verify = yes",
                              f"dns_servers = 127.0.0.1:{dns.port}", *extra])


def send(srv, sender, frm, subject):
    """One message; the DATA reply (code, text)."""
    s = srv.smtp()
    try:
        s.ehlo("client.test")
        assert s.mail(sender)[0] == 250
        assert s.rcpt(RCPT)[0] == 250
        code, msg = s.data(make_message(subject=subject, frm=frm, to=RCPT))
        return code, msg.decode()
    finally:
        try:
            s.quit()
        except Exception:
            s.close()


def ar_of(msg):
    """Our Authentication-Results header, unfolded, or None."""
    head = msg.split(b"\n\n")[0].decode()
    m = re.search(r"^Authentication-Results: mx\.test\.example;.*?(?=\n\S)", head, re.M | re.S)
    return m.group(0).replace("\n\t", " ") if m else None


def by_subject(srv, n):
    srv.wait_delivered(RCPT, n)
    out = {}
    for m in srv.messages(RCPT):
        subj = re.search(rb"^Subject: (\S+)", m, re.M).group(1).decode()
        out[subj] = ar_of(m)
    return out


CASES = [
    # subject, MAIL FROM, From, dmarc result, comment
    ("aligned", "b@spfpass.test", "a@spfpass.test", "pass", "(p=reject dis=none)"),
    ("relaxed", "b@mail.spfpass.test", "a@spfpass.test", "pass", "(p=reject dis=none)"),
    ("unaligned", "b@other.test", "a@spfpass.test", "fail", "(p=reject dis=reject)"),
    ("strict", "b@mail.strict.test", "a@strict.test", "fail", "(p=reject dis=reject)"),
    ("quarantine", "b@other.test", "a@quar.test", "fail", "(p=quarantine dis=quarantine)"),
    ("nonepolicy", "b@other.test", "a@nonep.test", "fail", "(p=none dis=none)"),
    ("subdomain", "b@other.test", "a@sub.org.test", "fail", "(p=reject dis=reject)"),
    ("orgpass", "b@other.test", "a@org.test", "fail", "(p=none dis=none)"),
    ("couk", "b@example.co.uk", "a@mail.example.co.uk", "pass", "(p=reject dis=none)"),
]


def test_results_in_authentication_results(make_server, dns):
    """Without enforcement every case is delivered with its dmarc= result."""
    srv = server(make_server, dns)
    for subj, sender, frm, _, _ in CASES:
        assert send(srv, sender, frm, subj)[0] == 250
    send(srv, "b@other.test", "a@nodmarc.test", "nodmarc")   # no record, unsigned
    got = by_subject(srv, len(CASES) + 1)
    authres = pytest.importorskip("authres")
    for subj, sender, frm, want, comment in CASES:
        ar = got[subj]
        assert ar is not None, subj
        dom = frm.split("@")[1]
        assert f"dmarc={want} {comment} header.from={dom}" in ar, (subj, ar)
        assert f"spf=pass smtp.mailfrom={sender}" in ar, (subj, ar)
        parsed = authres.AuthenticationResultsHeader.parse(ar)
        assert parsed.authserv_id == "mx.test.example"
        res = {r.method: r.result for r in parsed.results}
        assert res == {"spf": "pass", "dmarc": want}, (subj, res)
    assert got["nodmarc"] is None      # unsigned, no DMARC record: no header
    srv.wait_log(r"dmarc=fail header\.from=sub\.org\.test p=reject dis=reject")
    srv.wait_log(r"dmarc=pass header\.from=mail\.example\.co\.uk p=reject dis=none")


def test_mail_from_cannot_write_results(make_server, dns):
    """A quoted MAIL FROM local part with ';' and a fake result: the
    Authentication-Results header names the domain alone, and parses to
    our results only."""
    srv = server(make_server, dns)
    s = srv.smtp()
    s.ehlo("client.test")
    code, msg = s.docmd("MAIL", 'FROM:<"x; dkim=pass header.d=bank.example"@spfpass.test>')
    assert code == 250, msg
    assert s.rcpt(RCPT)[0] == 250
    assert s.data(make_message(subject="quoted", frm="a@spfpass.test", to=RCPT))[0] == 250
    s.quit()
    ar = by_subject(srv, 1)["quoted"]
    assert "spf=pass smtp.mailfrom=spfpass.test;" in ar, ar
    assert "bank.example" not in ar, ar
    authres = pytest.importorskip("authres")
    parsed = authres.AuthenticationResultsHeader.parse(ar)
    assert [r.method for r in parsed.results] == ["spf", "dmarc"], ar


def test_enforce_reject_and_quarantine(make_server, dns):
    srv = server(make_server, dns, "dmarc_policy_enforce = yes")
    code, msg = send(srv, "b@other.test", "a@spfpass.test", "unaligned")
    assert code == 550 and msg.startswith("5.7.1 Rejected by DMARC policy for spfpass.test"), msg
    code, msg = send(srv, "b@other.test", "a@sub.org.test", "subdomain")
    assert code == 550 and "sub.org.test" in msg, msg        # sp=reject
    srv.wait_log(r"reject: END-OF-MESSAGE from .*: 550 5\.7\.1 Rejected by DMARC policy "
                 r"for spfpass\.test; from=<b@other\.test>")
    code, msg = send(srv, "b@other.test", "a@quar.test", "quarantine")
    assert code == 250, msg
    qid = msg.split()[-1]
    srv.wait_log(rf"{qid}: hold: DMARC policy quarantine for quar\.test")
    assert os.path.exists(os.path.join(srv.spool, "hold", qid))
    for subj, sender, frm in [("aligned", "b@spfpass.test", "a@spfpass.test"),
                              ("nonepolicy", "b@other.test", "a@nonep.test")]:
        assert send(srv, sender, frm, subj)[0] == 250
    got = by_subject(srv, 2)
    assert set(got) == {"aligned", "nonepolicy"}
    time.sleep(0.5)
    assert len(srv.messages(RCPT)) == 2    # the rejected and the held are not delivered


def test_enforce_never_for_mynetworks(make_server, dns):
    srv = make_server(extra=["mynetworks = 127.0.0.0/8", "dkim_verify = yes",
                             "dmarc_policy_enforce = yes", f"dns_servers = 127.0.0.1:{dns.port}"])
    assert send(srv, "b@other.test", "a@spfpass.test", "trusted")[0] == 250
    got = by_subject(srv, 1)
    assert got["trusted"] is None       # not judged at all


def test_end_to_end_dkim_and_dmarc_pass(make_server, tmp_path):
    """A signs for example.com (mynetworks client); B verifies: the key
    and a p=reject DMARC record from the same dnsmasq; the MAIL FROM's
    domain has no SPF record, so DMARC passes by DKIM alone."""
    from test_dkim import keygen, wire_of
    kd = tmp_path / "dkim"
    conf = tmp_path / "keygen.conf"
    conf.write_text(f"dkim_key_directory = {kd}\n")
    txt = keygen(str(conf), "example.com", "r1")
    parts = [txt[i:i + 255] for i in range(0, len(txt), 255)]
    d = dnsfix.DnsServer(extra_args=[
        "--local=/example.com/", "--local=/example.org/",
        "--txt-record=r1._domainkey.example.com," + ",".join(parts),
        "--txt-record=_dmarc.example.com,v=DMARC1; p=reject; adkim=s"]).start()
    try:
        a = make_server(extra=["dkim_selector = r1", f"dkim_key_directory = {kd}",
                               f"dns_servers = 127.0.0.1:{d.port}"])
        b = make_server(extra=["mynetworks = 192.0.2.0/24", "dkim_verify = yes",
                               "dmarc_policy_enforce = yes", f"dns_servers = 127.0.0.1:{d.port}"])
        a.send_mail("alice@example.com", make_message(subject="e2e", frm="alice@example.com"))
        a.wait_delivered("alice@example.com", 1)
        wire = wire_of(a.messages("alice@example.com")[0]).decode()
        b.send_mail(RCPT, wire, sender="bounces@example.org")
        got = by_subject(b, 1)
        ar = got["e2e"]
        assert re.search(r"dkim=pass header\.d=example\.com header\.s=r1", ar), ar
        assert "spf=none smtp.mailfrom=bounces@example.org" in ar, ar
        assert "dmarc=pass (p=reject dis=none) header.from=example.com" in ar, ar
        authres = pytest.importorskip("authres")
        parsed = authres.AuthenticationResultsHeader.parse(ar)
        assert [(r.method, r.result) for r in parsed.results] == \
            [("dkim", "pass"), ("spf", "none"), ("dmarc", "pass")]
        # the same message changed after signing: DKIM fails, DMARC rejects it
        s = b.smtp()
        s.ehlo("client.test")
        s.mail("bounces@example.org")
        s.rcpt(RCPT)
        code, msg = s.data(wire.replace("Hello.", "Hello!"))
        s.quit()
        assert code == 550 and b"DMARC policy for example.com" in msg, msg
    finally:
        d.stop()


def test_check_config_wants_the_suffix_list(tmp_path):
    """dkim_verify = yes needs the Public Suffix List: check-config says so
    for a missing or empty one, and is content with Debian's."""
    import subprocess
    from conftest import BIN
    conf = tmp_path / "m.conf"
    conf.write_text("dkim_verify = yes\ndmarc_public_suffix_list = /nonexistent/psl.dat\n")
    r = subprocess.run([BIN, "-c", str(conf), "check-config"], capture_output=True, text=True)
    assert r.returncode != 0
    assert "dmarc_public_suffix_list /nonexistent/psl.dat: No such file" in r.stderr, r.stderr
    empty = tmp_path / "empty.dat"
    empty.write_text("// only comments\n\n")
    conf.write_text(f"dkim_verify = yes\ndmarc_public_suffix_list = {empty}\n")
    r = subprocess.run([BIN, "-c", str(conf), "check-config"], capture_output=True, text=True)
    assert r.returncode != 0    # the start would fail on it: so does the check
    assert f"dmarc_public_suffix_list {empty}: no rules" in r.stderr, r.stderr
    conf.write_text("dkim_verify = yes\n")
    r = subprocess.run([BIN, "-c", str(conf), "check-config"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_dmarc_fail_feeds_a_jail(make_server, dns, tmp_path):
    """mailwarden[mode=dmarc] counts DMARC fail results (events from the
    engine, and the same log line in the mail log); passes do not count."""
    import subprocess
    from conftest import BIN
    from test_warden import jail_server, read, wait_for
    s = jail_server(make_server, tmp_path, [
        "mynetworks = 192.0.2.0/24", "dkim_verify = yes", f"dns_servers = 127.0.0.1:{dns.port}",
        "postscreen_greet_wait = 0s",
        "[dmarc]", "enabled = true", "filter = mailwarden[mode=dmarc]", "maxretry = 2",
        "ignoreself = false", "action = testlog[out={out}]"])
    wait_for(lambda: "Jail 'dmarc' started" in read(s.wlog), what="the jail")
    assert send(s, "b@other.test", "a@nonep.test", "one")[0] == 250
    s.wait_log(r"warning: DMARC fail from localhost\[127\.0\.0\.1\]: header\.from=nonep\.test; "
               r"envelope-from=<b@other\.test>; p=none; dis=none")
    assert send(s, "b@spfpass.test", "a@spfpass.test", "pass")[0] == 250    # pass: no count
    time.sleep(0.5)
    assert "ban 127.0.0.1" not in read(s.out)
    assert send(s, "b@other.test", "a@quar.test", "two")[0] == 250
    wait_for(lambda: "ban 127.0.0.1 dmarc" in read(s.out), what="the ban")
    p = subprocess.run([BIN, "scan", s.maillog, "mailwarden[mode=dmarc]"], capture_output=True,
                       text=True, timeout=30)
    assert "127.0.0.1" in p.stdout, p.stdout + p.stderr
