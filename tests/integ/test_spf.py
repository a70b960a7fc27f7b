"""Inbound SPF (issue 14): mailwarden's check_host() (src/spf/) against
pyspf (python3-spf, the reference implementation behind
postfix-policyd-spf-python) on the same DNS data, served by the test's
own dnsmasq (dnsfix.py): the same result for every case of the table
(pass, fail, softfail, neutral, none, permerror for too many lookups,
void lookups and syntax, temperror for a DNS server that does not
answer; include:, a, mx, ptr, exists, redirect=, exp=, macros). Then the
restrictions end to end over SMTP: reject_spf_fail's 550 5.7.23 with
policyd-spf's text, defer_spf_temperror, and a Received-SPF: header in
the delivered Maildir file.

dnsmasq serves A, AAAA, MX, PTR and TXT, which is all SPF needs (the SPF
RR type 99 is obsolete, RFC 7208 3.1)."""
import os
import subprocess

import pytest

import dnsfix
from conftest import BIN
from dnsfix import RCPT, log_tail, policy_extra, tx

spf = pytest.importorskip("spf")            # python3-spf
dns_resolver = pytest.importorskip("dns.resolver")   # python3-dnspython
# pyspf 2.0.14 calls dnspython's deprecated dns.resolver.query()
pytestmark = pytest.mark.filterwarnings("ignore:please use dns.resolver.resolve")

# names under spf.test; the addresses 127.0.0.21.. are used only here
RECORDS = {
    "pass.spf.test": "v=spf1 ip4:127.0.0.0/29 -all",
    "soft.spf.test": "v=spf1 ~all",
    "neutral.spf.test": "v=spf1 ?all",
    "empty.spf.test": "v=spf1",
    "nospf.spf.test": "hello world",
    "inc.spf.test": "v=spf1 include:pass.spf.test -all",
    "incnone.spf.test": "v=spf1 include:nospf.spf.test -all",
    "a.spf.test": "v=spf1 a -all",
    "acidr.spf.test": "v=spf1 a:a.spf.test/30 -all",
    "mx.spf.test": "v=spf1 mx -all",
    "ptr.spf.test": "v=spf1 ptr:good.test -all",
    "exists.spf.test": "v=spf1 exists:%{i}.ok.spf.test -all",
    "redir.spf.test": "v=spf1 redirect=pass.spf.test",
    "redirnone.spf.test": "v=spf1 redirect=nospf.spf.test",
    "mac.spf.test": "v=spf1 exists:%{l}.%{ir}.%{d2}.m.spf.test -all",
    "mac2.spf.test": "v=spf1 exists:%{h}.%{v}.%{l1r-}.x.spf.test ~all",
    "many.spf.test": "v=spf1 " + " ".join(f"a:x{k}.spf.test" for k in range(1, 12)) + " -all",
    "ten.spf.test": "v=spf1 " + " ".join(f"a:x{k}.spf.test" for k in range(1, 10)) + " ?all",
    "voids.spf.test": "v=spf1 a:n1.spf.test a:n2.spf.test a:n3.spf.test -all",
    "voids2.spf.test": "v=spf1 a:n1.spf.test a:n2.spf.test -all",
    "syn.spf.test": "v=spf1 ip4:127.0.0.300 -all",
    "syn2.spf.test": "v=spf1 foo:bar.test -all",
    "syn3.spf.test": "v=spf1 a:%{z}.spf.test -all",
    "expl.spf.test": "v=spf1 -all exp=why.spf.test",
    "why.spf.test": "%{i} is not one of %{d}'s servers",
    "ip6.spf.test": "v=spf1 ip6:2001:db8::/32 -all",
    "tmp.spf.test": "v=spf1 include:y.timeout.test -all",
    "mx11.spf.test": "v=spf1 mx ?all",
    "pmac.spf.test": "v=spf1 exists:%{p}.pm.spf.test -all",
    "a6.spf.test": "v=spf1 a:v6.spf.test//64 -all",
    "good.test": "v=spf1 ptr -all",
}
TWO = ("two.spf.test", ["v=spf1 -all", "v=spf1 +all"])


def spf_args():
    a = []
    for name, txt in RECORDS.items():
        a.append(f'--txt-record={name},{txt}')
    for txt in TWO[1]:
        a.append(f'--txt-record={TWO[0]},{txt}')
    a += [
        "--host-record=a.spf.test,127.0.0.21",
        "--mx-host=mx.spf.test,mail.spf.test,10",
        "--host-record=mail.spf.test,127.0.0.23",
        "--address=/127.0.0.25.ok.spf.test/127.0.0.2",
        "--address=/bob.27.0.0.127.spf.test.m.spf.test/127.0.0.2",
        "--address=/helo.example.in-addr.first.x.spf.test/127.0.0.2",
    ]
    a += [f"--host-record=x{k}.spf.test,127.0.1.{k}" for k in range(1, 12)]
    a += [f"--mx-host=mx11.spf.test,m{k}.spf.test,{k}" for k in range(1, 12)]
    a += ["--address=/good.test.pm.spf.test/127.0.0.2",
          "--host-record=v6.spf.test,2001:db8:6::1"]
    return a


# (client IP, sender, HELO, expected result)
CASES = [
    ("127.0.0.2", "u@pass.spf.test", "h.test", "pass"),
    ("127.0.0.9", "u@pass.spf.test", "h.test", "fail"),
    ("127.0.0.9", "u@soft.spf.test", "h.test", "softfail"),
    ("127.0.0.9", "u@neutral.spf.test", "h.test", "neutral"),
    ("127.0.0.9", "u@empty.spf.test", "h.test", "neutral"),
    ("127.0.0.9", "u@nospf.spf.test", "h.test", "none"),
    ("127.0.0.9", "u@nope.spf.test", "h.test", "none"),
    ("127.0.0.2", "u@inc.spf.test", "h.test", "pass"),
    ("127.0.0.9", "u@inc.spf.test", "h.test", "fail"),
    ("127.0.0.9", "u@incnone.spf.test", "h.test", "permerror"),
    ("127.0.0.21", "u@a.spf.test", "h.test", "pass"),
    ("127.0.0.22", "u@a.spf.test", "h.test", "fail"),
    ("127.0.0.22", "u@acidr.spf.test", "h.test", "pass"),
    ("127.0.0.24", "u@acidr.spf.test", "h.test", "fail"),
    ("127.0.0.23", "u@mx.spf.test", "h.test", "pass"),
    ("127.0.0.24", "u@mx.spf.test", "h.test", "fail"),
    ("127.0.0.2", "u@ptr.spf.test", "h.test", "pass"),     # good.test, confirmed
    ("127.0.0.3", "u@ptr.spf.test", "h.test", "fail"),     # PTR not confirmed
    ("127.0.0.25", "u@exists.spf.test", "h.test", "pass"),
    ("127.0.0.26", "u@exists.spf.test", "h.test", "fail"),
    ("127.0.0.2", "u@redir.spf.test", "h.test", "pass"),
    ("127.0.0.9", "u@redir.spf.test", "h.test", "fail"),
    ("127.0.0.9", "u@redirnone.spf.test", "h.test", "permerror"),
    ("127.0.0.27", "bob@mac.spf.test", "h.test", "pass"),
    ("127.0.0.27", "eve@mac.spf.test", "h.test", "fail"),
    ("127.0.0.28", "first-last@mac2.spf.test", "helo.example", "pass"),
    ("127.0.0.28", "first-last@mac2.spf.test", "other.example", "softfail"),
    ("127.0.0.29", "u@many.spf.test", "h.test", "permerror"),    # 11 lookups
    ("127.0.0.29", "u@ten.spf.test", "h.test", "neutral"),       # 9: within
    ("127.0.0.29", "u@voids.spf.test", "h.test", "permerror"),   # 3 void lookups
    ("127.0.0.29", "u@voids2.spf.test", "h.test", "fail"),       # 2: within
    ("127.0.0.29", "u@syn.spf.test", "h.test", "permerror"),
    ("127.0.0.29", "u@syn2.spf.test", "h.test", "permerror"),
    ("127.0.0.29", "u@syn3.spf.test", "h.test", "permerror"),
    ("127.0.0.29", "u@two.spf.test", "h.test", "permerror"),
    ("127.0.0.29", "u@expl.spf.test", "h.test", "fail"),
    ("2001:db8::5", "u@ip6.spf.test", "h.test", "pass"),
    ("2001:db9::5", "u@ip6.spf.test", "h.test", "fail"),
    ("127.0.0.2", "u@ip6.spf.test", "h.test", "fail"),
    ("127.0.0.21", "", "a.spf.test", "pass"),                   # <>: postmaster@HELO
    ("127.0.0.22", "", "a.spf.test", "fail"),
    ("127.0.0.29", "u@mx11.spf.test", "h.test", "permerror"),   # 11 MX names
    ("127.0.0.2", "u@pmac.spf.test", "h.test", "pass"),         # %{p} = good.test
    ("127.0.0.4", "u@pmac.spf.test", "h.test", "fail"),         # %{p} = unknown
    ("2001:db8:6::ffff", "u@a6.spf.test", "h.test", "pass"),    # AAAA, //64
    ("2001:db8:7::1", "u@a6.spf.test", "h.test", "fail"),
    ("127.0.0.2", "u@good.test", "h.test", "pass"),             # ptr, no domain
    ("127.0.0.6", "u@good.test", "h.test", "fail"),             # mismatch.test
    ("127.0.0.9", "u@x.timeout.test", "h.test", "temperror"),   # server never answers
    ("127.0.0.9", "u@tmp.spf.test", "h.test", "temperror"),     # ... inside an include
]


@pytest.fixture(scope="module")
def spfdns():
    d = dnsfix.DnsServer(extra_args=spf_args()).start()
    yield d
    d.stop()


def use_resolver(port):
    r = dns_resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.timeout = r.lifetime = 3
    dns_resolver.default_resolver = r


def pyspf(port, ip, sender, helo):
    use_resolver(port)
    res, _code, text = spf.query(i=ip, s=sender, h=helo, timeout=3).check()
    return res, text


def mw_config(tmp_path, port, name="spf.conf"):
    path = tmp_path / name
    path.write_text(f"dns_servers = 127.0.0.1:{port}\ndns_timeout = 2s\n"
                    f"queue_directory = {tmp_path}/spool\n")
    return str(path)


def mailwarden(conf, ip, sender, helo):
    p = subprocess.run([BIN, "-c", conf, "spf-test", ip, sender, helo],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    first = p.stdout.split("\n")[0]
    res, _, text = first.partition(": ")
    return res, text, p.stdout


@pytest.mark.parametrize("ip,sender,helo,want", CASES,
                         ids=[f"{c[1] or '<>'}-{c[0]}" for c in CASES])
def test_same_result_as_pyspf(spfdns, tmp_path, ip, sender, helo, want):
    conf = mw_config(tmp_path, spfdns.port)
    py, pytext = pyspf(spfdns.port, ip, sender, helo)
    mw, mwtext, out = mailwarden(conf, ip, sender, helo)
    assert py == want, (py, pytext)
    assert mw == want, (out, pytext)
    if want in ("pass", "fail", "softfail", "neutral"):
        assert mwtext == pytext, (out, pytext)      # exp= and the default texts


def test_dns_server_down(tmp_path):
    """Nothing listens on the resolver's port: temperror from both."""
    port = dnsfix.free_udp_tcp_port()
    conf = mw_config(tmp_path, port)
    py, text = pyspf(port, "127.0.0.2", "u@pass.spf.test", "h.test")
    mw, _, out = mailwarden(conf, "127.0.0.2", "u@pass.spf.test", "h.test")
    assert py == "temperror", text
    assert mw == "temperror", out


def test_lookup_count_is_reported(spfdns, tmp_path):
    conf = mw_config(tmp_path, spfdns.port)
    _, _, out = mailwarden(conf, "127.0.0.29", "u@ten.spf.test", "h.test")
    assert "lookups=9 voids=0" in out, out
    _, _, out = mailwarden(conf, "127.0.0.29", "u@many.spf.test", "h.test")
    assert "Too many DNS lookups" in out, out


# ---- the restrictions over SMTP ---------------------------------------------

@pytest.fixture(scope="module")
def smtpdns():
    """The standard test zones of dnsfix.py plus the SPF records."""
    d = dnsfix.DnsServer(extra_args=spf_args()).start()
    yield d
    d.stop()


def spf_server(make_server, dns, *lines):
    return make_server(extra=policy_extra(dns, *lines))


FAIL_TEXT = ("Message rejected due to: SPF fail - not authorized. Please see "
             "http://www.openspf.net/Why?s=mfrom;id=u@pass.spf.test;ip=127.0.0.9;"
             f"r={RCPT}")


def test_reject_spf_fail_recipient_list(make_server, smtpdns):
    s = spf_server(make_server, smtpdns,
                   "smtpd_recipient_restrictions = permit_mynetworks, reject_spf_fail, "
                   "reject_unauth_destination")
    r = tx(s, "127.0.0.9", helo="h.test", sender="u@pass.spf.test")
    assert r["mail"].startswith("250"), r
    assert r["rcpt"] == f"550 5.7.23 <{RCPT}>: Recipient address rejected: {FAIL_TEXT}", \
        (r, log_tail(s))
    # softfail, neutral, none, permerror: not rejected by reject_spf_fail
    for sender in ("u@soft.spf.test", "u@neutral.spf.test", "u@nope.spf.test",
                   "u@syn.spf.test"):
        r = tx(s, "127.0.0.9", helo="h.test", sender=sender)
        assert r["rcpt"].startswith("250"), (sender, r, log_tail(s))
    # mynetworks is never checked
    r = tx(s, "127.0.0.1", helo="h.test", sender="u@pass.spf.test")
    assert r["rcpt"].startswith("250"), r


def test_reject_spf_fail_sender_list(make_server, smtpdns):
    s = spf_server(make_server, smtpdns, "smtpd_sender_restrictions = reject_spf_fail")
    r = tx(s, "127.0.0.9", helo="h.test", sender="u@pass.spf.test")
    assert r["rcpt"] == (f"550 5.7.23 <u@pass.spf.test>: Sender address rejected: "
                         f"{FAIL_TEXT}"), (r, log_tail(s))


def test_defer_spf_temperror(make_server, smtpdns):
    s = spf_server(make_server, smtpdns, "smtpd_recipient_restrictions = reject_spf_fail, "
                   "defer_spf_temperror, reject_unauth_destination")
    r = tx(s, "127.0.0.9", helo="h.test", sender="u@x.timeout.test", timeout=30)
    assert r["rcpt"].startswith(f"450 4.7.24 <{RCPT}>: Recipient address rejected: "
                                "Message deferred due to: SPF Temporary Error: "), \
        (r, log_tail(s))
    assert "Please see http://www.openspf.net/Why?s=mfrom;id=u@x.timeout.test;" \
        "ip=127.0.0.9;r=" in r["rcpt"], r


def test_pass_gets_received_spf_header(make_server, smtpdns):
    s = spf_server(make_server, smtpdns, "smtpd_recipient_restrictions = reject_spf_fail, "
                   "reject_unauth_destination")
    c = s.conn(source="127.0.0.2")
    assert c.cmd("EHLO h.test").startswith("250")
    assert c.cmd("MAIL FROM:<u@pass.spf.test>").startswith("250")
    assert c.cmd(f"RCPT TO:<{RCPT}>").startswith("250"), log_tail(s)
    assert c.cmd("RCPT TO:<bob@example.com>")[:3] in ("250", "550")
    assert c.cmd("DATA").startswith("354")
    assert c.cmd("Subject: spf\r\n\r\nhello\r\n.").startswith("250"), log_tail(s)
    c.cmd("QUIT")
    c.close()
    files = s.wait_delivered(RCPT, 1)
    text = open(files[0]).read()
    want = ("Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=127.0.0.2; "
            f"helo=h.test; envelope-from=u@pass.spf.test; receiver={RCPT} \n")
    assert want in text, text
    assert text.count("Received-SPF:") == 1, text          # once, not per recipient
    assert text.index("Received-SPF:") < text.index("Received: from"), text


def test_softfail_header_and_no_header_for_mynetworks(make_server, smtpdns):
    s = spf_server(make_server, smtpdns, "smtpd_recipient_restrictions = permit_mynetworks, "
                   "reject_spf_fail, reject_unauth_destination")
    s.send_mail(RCPT, "Subject: a\r\n\r\nx\r\n", sender="u@soft.spf.test", source="127.0.0.9")
    s.send_mail(RCPT, "Subject: b\r\n\r\nx\r\n", sender="u@pass.spf.test", source="127.0.0.1")
    files = s.wait_delivered(RCPT, 2)
    texts = sorted((open(f).read() for f in files), key=lambda t: "Subject: b" in t)
    assert "Received-SPF: Softfail (mailfrom) identity=mailfrom; client-ip=127.0.0.9;" \
        in texts[0], texts[0]
    assert "Received-SPF" not in texts[1], texts[1]


@pytest.mark.parametrize("key", ["smtpd_client_restrictions", "smtpd_helo_restrictions"])
def test_check_config_needs_delay_reject(make_server, key):
    s = make_server(extra=[f"{key} = reject_spf_fail", "smtpd_delay_reject = no"], start=False)
    p = subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True, text=True)
    assert p.returncode != 0
    assert f"{key}: SPF restrictions need MAIL FROM" in p.stderr, p.stderr
    s2 = make_server(extra=[f"{key} = reject_spf_fail"], start=False)
    p = subprocess.run([BIN, "-c", s2.conf, "check-config"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_spf_fail_feeds_a_jail(make_server, smtpdns, tmp_path):
    """mailwarden[mode=spf] counts SPF fail results (events from the
    engine); the reject jail of the same filter does not see them twice."""
    from test_warden import jail_server, read, wait_for
    s = jail_server(make_server, tmp_path, smtpdns.conf_lines() + [
        "postscreen_greet_wait = 0s",        # mailwarden's own log name: the filter's
        "smtpd_recipient_restrictions = reject_spf_fail, reject_unauth_destination",
        "[spf]", "enabled = true", "filter = mailwarden[mode=spf]", "maxretry = 2",
        "ignoreself = false", "action = testlog[out={out}]"])
    wait_for(lambda: "Jail 'spf' started" in read(s.wlog), what="the jail")
    r = tx(s, "127.0.0.9", helo="h.test", sender="u@pass.spf.test")
    assert r["rcpt"].startswith("550 5.7.23"), r
    s.wait_log(r"warning: SPF fail from wl\.test\[127\.0\.0\.9\]: identity=mailfrom; "
               r"envelope-from=<u@pass\.spf\.test>; domain=pass\.spf\.test")
    r = tx(s, "127.0.0.9", helo="h.test", sender="u@soft.spf.test")     # softfail: no count
    assert r["rcpt"].startswith("250"), r
    assert "ban 127.0.0.9" not in read(s.out)
    r = tx(s, "127.0.0.9", helo="h.test", sender="u@inc.spf.test")
    assert r["rcpt"].startswith("550 5.7.23"), r
    wait_for(lambda: "ban 127.0.0.9 spf" in read(s.out), what="the ban")
    # the log line is also what the filter matches in a log file
    p = subprocess.run([BIN, "scan", s.maillog, "mailwarden[mode=spf]"], capture_output=True,
                       text=True, timeout=30)
    assert "127.0.0.9" in p.stdout, p.stdout + p.stderr
