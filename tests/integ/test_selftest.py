"""`mailwarden selftest` (issue 15): the live configuration checked as an
outsider would see it. Relay probes for an outside client through the
real restriction code, AUTH without TLS (the built-in and the named
listeners), certificate expiry, DNSBL test
points (127.0.0.2 listed, 127.0.0.1 not, Spamhaus's 127.255.255.254
detected) and each domain's records against a real DNS server
(dnsmasq, dnsfix.py), the admin's address against ignoreip, the
firewall back end; pass/warn/fail lines, --json, exit status."""
import datetime
import json
import os
import subprocess

import pytest

from conftest import BIN
import dnsfix
import tlsfix

ADMIN = "203.0.113.9"

RECORDS = [
    # blocklists: a working one, one that lists everyone, one that answers
    # Spamhaus's "public resolver" code, one that lists nothing
    "--address=/2.0.0.127.good-bl.test/127.0.0.2",
    "--address=/2.0.0.127.all-bl.test/127.0.0.2",
    "--address=/1.0.0.127.all-bl.test/127.0.0.2",
    "--address=/2.0.0.127.zen.test/127.255.255.254",
    "--address=/1.0.0.127.zen.test/127.255.255.254",
    # example.com has every record; example.net none
    "--local=/example.com/", "--local=/example.net/", "--local=/test.example/",
    "--mx-host=example.com,mx.test.example,10",
    "--txt-record=example.com,v=spf1 mx -all",
    "--txt-record=mail._domainkey.example.com,v=DKIM1; k=rsa; p=MIIBIjAN",
    "--txt-record=_dmarc.example.com,v=DMARC1; p=reject",
    "--host-record=mx.test.example,127.0.0.1",
    "--ptr-record=1.0.0.127.in-addr.arpa,mx.test.example",
]


@pytest.fixture(scope="module")
def dns():
    d = dnsfix.DnsServer(extra_args=RECORDS).start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def tls():
    return tlsfix.TlsFiles()


def selftest(server, *args, env=None):
    e = dict(os.environ)
    e.pop("SSH_CLIENT", None)
    e.update(env or {})
    r = subprocess.run([BIN, "-c", server.conf, "selftest", *args], capture_output=True,
                       text=True, timeout=120, env=e)
    assert r.stderr == "", r.stderr
    return r


def lines(out, status, check):
    return [ln for ln in out.splitlines() if ln.startswith(f"{status}  {check}: ")]


def jail(*extra):
    return ["[sshd]", "enabled = true", "filter = sshd", "logpath = /dev/null", "action =",
            *extra]


def test_good_configuration(make_server, dns, tls, tmp_path):
    s = make_server(extra=tls.config(
        "submission_listen = 127.0.0.1:2587", "smtpd_tls_auth_only = yes",
        "smtpd_client_restrictions = reject_rbl_client good-bl.test",
        f"myhostname = mx.test.example", f"warden_logtarget = {tmp_path / 'w.log'}",
        *dns.conf_lines(), *jail(f"ignoreip = 127.0.0.1/8 {ADMIN}/32")), start=False)
    r = selftest(s, "--admin", ADMIN)
    out = r.stdout
    assert r.returncode == 0, out
    assert lines(out, "pass", "relay")[0].startswith(
        "pass  relay: smtpd: client 192.0.2.1 may not relay (2 probes refused by the "
        "relay check)"), out
    # submission refuses an unauthenticated client whatever the recipient
    assert lines(out, "pass", "relay")[1].startswith(
        "pass  relay: submission: client 192.0.2.1 may not relay (refused for every "
        "recipient, ours too: 554 5.7.1"), out
    assert "pass  auth: smtpd: AUTH offered only after STARTTLS" in out
    assert "pass  auth: submission: TLS required before any command" in out
    cert = lines(out, "pass", "certificate")
    assert len(cert) == 1 and "valid for 29 more days" in cert[0] or \
        "valid for 30 more days" in cert[0], out
    assert "pass  resolver: answers (mx.test.example A: 127.0.0.1)" in out
    assert "pass  dnsbl: good-bl.test lists 127.0.0.2 (127.0.0.2) and not 127.0.0.1" in out
    assert "pass  records: PTR: mx.test.example -> 127.0.0.1 -> mx.test.example" in out
    assert "pass  records: example.com MX: 10 mx.test.example" in out
    assert "pass  records: example.com SPF: v=spf1 mx -all" in out
    assert "pass  records: example.com DKIM: key at mail._domainkey.example.com" in out
    assert "pass  records: example.com DMARC: v=DMARC1; p=reject" in out
    # missing records are warnings, not failures
    assert "warn  records: example.net has no MX record" in out
    assert "warn  records: example.net: no DKIM key found" in out
    assert f"pass  admin: jail sshd: {ADMIN} is in ignoreip" in out
    assert "fail  " not in out
    assert out.splitlines()[-1].endswith(" 0 failed")


def test_failures_and_json(make_server, dns, tls, tmp_path):
    s = make_server(extra=tls.config(
        "smtpd_tls_auth_only = no",
        "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, permit",
        "smtpd_client_restrictions = reject_rbl_client all-bl.test, "
        "reject_rbl_client zen.test, reject_rbl_client dead-bl.test",
        f"warden_logtarget = {tmp_path / 'w.log'}",
        *dns.conf_lines(), *jail("ignoreip = 127.0.0.1/8")), start=False)
    # the admin's address comes from ssh's environment
    r = selftest(s, env={"SSH_CLIENT": f"{ADMIN} 51234 22"})
    out = r.stdout
    assert r.returncode == 1, out
    relay = lines(out, "fail", "relay")
    assert relay and relay[0].startswith(
        "fail  relay: smtpd: OPEN RELAY: client 192.0.2.1 (not authenticated) may send to "
        "<relay-probe@relay-test.invalid>"), out
    assert "fail  auth: smtpd: AUTH offered without TLS" in out
    assert "fail  dnsbl: all-bl.test lists 127.0.0.1 (answer 127.0.0.2): it would refuse " \
        "every client" in out
    assert "fail  dnsbl: zen.test answers 127.255.255.254: the list refuses queries" in out
    assert "warn  dnsbl: dead-bl.test does not list its test point 127.0.0.2" in out
    assert f"fail  admin: jail sshd: YOUR ADDRESS {ADMIN} CAN BE BANNED" in out
    r = selftest(s, "--json", "--admin", ADMIN)
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    by = {}
    for c in doc["checks"]:
        assert c["status"] in ("pass", "warn", "fail")
        by.setdefault((c["check"], c["status"]), []).append(c["detail"])
    assert doc["fail"] == sum(1 for c in doc["checks"] if c["status"] == "fail") >= 5
    assert any("OPEN RELAY" in d for d in by[("relay", "fail")])
    assert ("auth", "fail") in by and ("admin", "fail") in by


def expired_cert(d):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old.test.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=100))
            .not_valid_after(now - datetime.timedelta(days=2))
            .sign(key, hashes.SHA256()))
    kp, cp = os.path.join(d, "old.key"), os.path.join(d, "old.crt")
    with open(kp, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    with open(cp, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(kp, 0o600)
    return kp, cp


def test_named_listeners(make_server, tls, tmp_path):
    """Named listeners (`listeners = NAME`, docs/content-filter.md) are
    probed with their own overrides: one that relays for strangers and
    offers AUTH in clear fails, one that refuses them passes."""
    s = make_server(extra=tls.config(
        "smtpd_tls_auth_only = no", "smtpd_sasl_auth_enable = no",
        "listeners = reinject, leaky",
        "reinject/inet/listen = 127.0.0.1:10025",
        "reinject/inet/smtpd_relay_restrictions = permit_mynetworks, reject",
        # per listener, as the engine reads it
        "reinject/inet/smtpd_sasl_auth_enable = yes", "reinject/inet/smtpd_tls_auth_only = yes",
        "leaky/inet/listen = 127.0.0.1:10026",
        "leaky/inet/smtpd_relay_restrictions = permit",
        "leaky/inet/smtpd_sasl_auth_enable = yes"), start=False)
    r = selftest(s, "--client", "198.51.100.7")
    out = r.stdout
    assert r.returncode == 1, out
    assert "pass  relay: smtpd: client 198.51.100.7 may not relay" in out
    assert "pass  relay: reinject: client 198.51.100.7 may not relay (refused for every " \
        "recipient, ours too: " in out
    assert lines(out, "fail", "relay") == [
        "fail  relay: leaky: OPEN RELAY: client 198.51.100.7 (not authenticated) may send to "
        "<relay-probe@relay-test.invalid>, <relay-probe@[192.0.2.2]>"], out
    assert "pass  auth: reinject: AUTH offered only after STARTTLS" in out
    assert "pass  auth: smtpd: AUTH not offered" in out
    assert "fail  auth: leaky: AUTH offered without TLS (passwords in clear)" in out
    # without the leaky listener: no failure
    s.extra = [ln for ln in s.extra if not ln.startswith("leaky/")]
    s.extra = [ln.replace("reinject, leaky", "reinject") for ln in s.extra]
    s.write_config()
    r = selftest(s, "--client", "198.51.100.7")
    assert r.returncode == 0, r.stdout
    assert "pass  relay: reinject: " in r.stdout and "leaky" not in r.stdout


def test_expired_certificate_and_no_dns(make_server, tmp_path):
    pytest.importorskip("cryptography")
    key, crt = expired_cert(str(tmp_path))
    os.chmod(tmp_path, 0o755)
    # the default test config: DNS goes to a closed port (unreachable)
    s = make_server(extra=[f"smtpd_tls_cert_file = {crt}", f"smtpd_tls_key_file = {key}",
                           "smtpd_tls_security_level = may"], start=False)
    r = selftest(s)
    out = r.stdout
    assert r.returncode == 1, out
    assert f"fail  certificate: smtpd: {crt}: EXPIRED on " in out
    assert "warn  resolver: no answer for " in out
    assert "warn  records: MX/PTR/SPF/DKIM/DMARC not checked: DNS unreachable" in out
    assert "pass  auth: smtpd: AUTH not offered" in out
    # without the expired certificate only warnings remain: exit 0
    s.extra = []
    s.write_config()
    r = selftest(s)
    assert r.returncode == 0, r.stdout
    assert "warn  certificate: no smtpd_tls_cert_file" in r.stdout
    assert "fail  " not in r.stdout


def test_firewall_back_end(make_server, tmp_path):
    """nft: a dry-run transaction in a network namespace of its own (the
    host's rules are never touched); an action.d file that does not load
    is a failure."""
    s = make_server(extra=[f"warden_logtarget = {tmp_path / 'w.log'}",
                           "[sshd]", "enabled = true", "filter = sshd", "logpath = /dev/null",
                           f"ignoreip = 127.0.0.1/8 {ADMIN}",
                           "[postfix]", "enabled = true", "filter = postfix",
                           "logpath = /dev/null", "action = no-such-action",
                           f"ignoreip = {ADMIN}"], start=False)
    r = subprocess.run(["unshare", "--net", BIN, "-c", s.conf, "selftest", "--admin", ADMIN],
                       capture_output=True, text=True, timeout=60)
    out = r.stdout
    assert "pass  firewall: nft (jails sshd): the kernel accepts nftables transactions" in out, \
        out + r.stderr
    assert "fail  firewall: jail postfix: action no-such-action: " in out, out
    assert r.returncode == 1
