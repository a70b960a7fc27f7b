"""
DKIM signing (src/dkim, docs/sending.md): keys made by `mailwarden dkim
keygen` (RSA-2048 and Ed25519 at once), published by the test's dnsmasq;
mail from a mynetworks client is signed at the end of DATA and verified
by two independent verifiers, python3-dkim and OpenDKIM (Debian's, in
verify mode as a milter of a second mailwarden, keys from the same
dnsmasq); a copy changed after signing fails both. Mail from other
clients is not signed; a key file readable by others is refused; `dkim
check` says whether the published record matches the key.
"""
import os
import re
import subprocess

import pytest

from conftest import BIN, free_port, make_message

RCPT = "alice@example.com"


def keygen(conf, domain, sel, ed=False):
    """Run `mailwarden dkim keygen`; return the TXT text of its output."""
    r = subprocess.run([BIN, "-c", conf, "dkim", "keygen", domain, "-s", sel] +
                       (["--ed25519"] if ed else []), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{sel}._domainkey.{domain}. IN TXT ("), r.stdout
    return "".join(re.findall(r'"([^"]*)"', r.stdout))


@pytest.fixture
def keys(tmp_path):
    """A key directory with example.com's RSA (r1) and Ed25519 (e1) keys;
    a dnsmasq publishing both records."""
    import dnsfix
    kd = tmp_path / "dkim"
    conf = tmp_path / "keygen.conf"
    conf.write_text(f"dkim_key_directory = {kd}\n")
    rec = {"r1": keygen(str(conf), "example.com", "r1"),
           "e1": keygen(str(conf), "example.com", "e1", ed=True)}
    assert rec["r1"].startswith("v=DKIM1; k=rsa; p=MIIBIjAN")   # 2048-bit SPKI
    assert re.fullmatch(r"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=", rec["e1"])
    assert oct(os.stat(kd / "example.com" / "r1.key").st_mode & 0o777) == "0o600"
    args = ["--local=/_domainkey.example.com/"]    # other selectors: NXDOMAIN
    for sel, txt in rec.items():   # dnsmasq: one string per 255 bytes
        parts = [txt[i:i + 255] for i in range(0, len(txt), 255)]
        args.append(f"--txt-record={sel}._domainkey.example.com," + ",".join(parts))
    dns = dnsfix.DnsServer(extra_args=args).start()
    yield {"dir": str(kd), "rec": rec, "dns": dns}
    dns.stop()


def dnsfunc_of(dns):
    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        ans = dns.query(name.rstrip("."), "TXT")
        return ans[0].encode() if isinstance(ans, list) and ans else None
    return dnsfunc


def verifies(dkim, wire, idx, fn):
    """python3-dkim's verdict on signature idx (an exception is a fail)."""
    try:
        return dkim.DKIM(wire).verify(idx=idx, dnsfunc=fn)
    except dkim.DKIMException:
        return False


def wire_of(delivered):
    """The message as it left: without local delivery's two lines, CRLF."""
    lines = delivered.split(b"\n")
    assert lines[0].startswith(b"Return-Path:") and lines[1].startswith(b"Delivered-To:")
    return b"\r\n".join(lines[2:])


def signing_server(make_server, keys, *extra):
    return make_server(extra=["dkim_selector = r1 e1", f"dkim_key_directory = {keys['dir']}",
                              f"dns_servers = 127.0.0.1:{keys['dns'].port}", *extra])


def test_signed_mail_verifies_with_python_dkim(make_server, keys):
    dkim = pytest.importorskip("dkim")
    srv = signing_server(make_server, keys)
    body = "Hello  Bob, \r\n\r\nTwo signatures.\r\n\r\n\r\n"
    srv.send_mail(RCPT, make_message(subject="signed", frm="Alice <alice@example.com>",
                                     body=body))
    srv.wait_delivered(RCPT, 1)
    wire = wire_of(srv.messages(RCPT)[0])
    sigs = re.findall(rb"^DKIM-Signature:.*?(?=^\S)", wire, re.M | re.S)
    assert len(sigs) == 2, wire
    assert b"a=rsa-sha256" in sigs[0] + sigs[1] and b"a=ed25519-sha256" in sigs[0] + sigs[1]
    for s in sigs:
        assert b"c=relaxed/relaxed" in s and b"d=example.com" in s
        # OpenDKIM's list (Date added for a submission), From oversigned
        assert re.search(rb"h=from:from:subject:date:to;", s.replace(b"\r\n\t", b"")), s
    fn = dnsfunc_of(keys["dns"])
    assert verifies(dkim, wire, 0, fn) and verifies(dkim, wire, 1, fn)
    srv.wait_log(r"dkim: signed, 2 signatures")
    # changed after signing: both fail
    bad = wire.replace(b"Two signatures.", b"Two signatures!")
    assert not verifies(dkim, bad, 0, fn) and not verifies(dkim, bad, 1, fn)
    # a From added after signing (oversigned) fails too
    two = wire.replace(b"\r\nTo: ", b"\r\nFrom: mallory@example.org\r\nTo: ", 1)
    assert two != wire
    assert not verifies(dkim, two, 0, fn) and not verifies(dkim, two, 1, fn)


def test_opendkim_verifies_both_signatures(make_server, keys):
    """OpenDKIM in verify mode, a milter of a second mailwarden: its
    Authentication-Results say pass for the RSA and the Ed25519
    signature, fail for a changed copy."""
    from milterfix import OpenDkim
    if not os.path.exists(OpenDkim.EXE):
        pytest.skip("opendkim not installed (scripts/install-deps.sh)")
    a = signing_server(make_server, keys)
    vport = free_port()
    verifier = OpenDkim(f"inet:{vport}@127.0.0.1", mode="v",
                        key=os.path.join(keys["dir"], "example.com", "r1.key"),
                        nameserver=f"127.0.0.1@{keys['dns'].port}")
    b = make_server(extra=[f"smtpd_milters = inet:127.0.0.1:{vport}"])
    try:
        verifier.start()
        a.send_mail(RCPT, make_message(subject="to b", frm="alice@example.com",
                                       body="Checked by OpenDKIM.\r\n"))
        a.wait_delivered(RCPT, 1)
        wire = wire_of(a.messages(RCPT)[0]).decode()
        b.send_mail("bob@example.net", wire, sender="alice@example.com")
        b.send_mail("bob@example.net", wire.replace("Checked by", "Forged by"),
                    sender="alice@example.com")
        b.wait_delivered("bob@example.net", 2)
        got = {(b"Forged" in m): m.split(b"\n\n")[0] for m in b.messages("bob@example.net")}
        ok, bad = got[False].replace(b"\n\t", b" "), got[True].replace(b"\n\t", b" ")
        assert re.search(rb"dkim=pass \(\d+-bit key[^)]*\) header\.d=example\.com "
                         rb"header\.i=@example\.com header\.a=rsa-sha256 header\.s=r1", ok), \
            (ok, verifier.logtext())
        assert re.search(rb"dkim=pass (\([^)]*\) )?header\.d=example\.com header\.i=@example\.com "
                         rb"header\.a=ed25519-sha256 header\.s=e1", ok), (ok, verifier.logtext())
        assert b"dkim=pass" not in bad and bad.count(b"dkim=fail") == 2, \
            (bad, verifier.logtext())
    finally:
        verifier.stop()


def test_only_submitted_mail_is_signed(make_server, keys):
    # 127.0.0.1 is not in mynetworks and does not authenticate
    srv = signing_server(make_server, keys, "mynetworks = 192.0.2.0/24")
    srv.send_mail(RCPT, make_message(frm="alice@example.com"))
    # a From domain without a key is not signed either (trusted client)
    srv2 = signing_server(make_server, keys)
    srv2.send_mail(RCPT, make_message(frm="carol@example.net"))
    for s in (srv, srv2):
        s.wait_delivered(RCPT, 1)
        assert b"DKIM-Signature:" not in s.messages(RCPT)[0]


def test_key_that_is_a_fifo_is_refused(make_server, keys):
    """A FIFO where a key file should be: refused at once (the master
    reads keys as root; opening it must not block the start)."""
    k = os.path.join(keys["dir"], "example.com", "e1.key")
    os.unlink(k)
    os.mkfifo(k, 0o600)
    srv = make_server(start=False, extra=["dkim_selector = r1 e1",
                                           f"dkim_key_directory = {keys['dir']}"])
    r = subprocess.run([BIN, "-c", srv.conf, "check-config"], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 1 and "e1.key: not a regular file" in r.stderr, r.stderr


def test_key_readable_by_others_is_refused(make_server, keys):
    os.chmod(os.path.join(keys["dir"], "example.com", "e1.key"), 0o644)
    srv = make_server(start=False, extra=["dkim_selector = r1 e1",
                                           f"dkim_key_directory = {keys['dir']}"])
    r = subprocess.run([BIN, "-c", srv.conf, "check-config"], capture_output=True, text=True)
    assert r.returncode == 1 and "e1.key: readable by group or others" in r.stderr, r.stderr
    # and the mail system does not start with it
    r = subprocess.run([BIN, "-c", srv.conf], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "readable by group or others" in r.stderr, r.stderr


def test_dkim_check(make_server, keys, tmp_path):
    conf = tmp_path / "check.conf"
    conf.write_text(f"dkim_selector = r1 e1\ndkim_key_directory = {keys['dir']}\n"
                    f"dns_servers = 127.0.0.1:{keys['dns'].port}\n")
    r = subprocess.run([BIN, "-c", str(conf), "dkim", "check", "example.com"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "r1._domainkey.example.com (rsa): ok, the record matches the key" in r.stdout
    assert "e1._domainkey.example.com (ed25519): ok, the record matches the key" in r.stdout
    # a new key under a published selector: mismatch; an unpublished one: none
    os.rename(os.path.join(keys["dir"], "example.com", "e1.key"), tmp_path / "old.key")
    keygen(str(conf), "example.com", "e1", ed=True)
    keygen(str(conf), "example.com", "x9", ed=True)
    conf.write_text(conf.read_text().replace("r1 e1", "r1 e1 x9"))
    r = subprocess.run([BIN, "-c", str(conf), "dkim", "check", "example.com"],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "e1._domainkey.example.com (ed25519): MISMATCH" in r.stdout, r.stdout
    assert "x9._domainkey.example.com (ed25519): no TXT record published" in r.stdout, r.stdout


def test_sendmail_mail_is_signed_by_pickup(make_server, keys):
    """Mail from the sendmail command is signed by pickup (keys inherited
    from the master; pickup runs as mail_owner and cannot read them)."""
    dkim = pytest.importorskip("dkim")
    srv = signing_server(make_server, keys)
    p = subprocess.run([BIN, "-c", srv.conf, "sendmail", "-t", "-f", "alice@example.com"],
                       input=b"From: Alice <alice@example.com>\nTo: alice@example.com\n"
                             b"Subject: local\n\nfrom the command line\n",
                       capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    srv.wait_delivered(RCPT, 1)
    wire = wire_of(srv.messages(RCPT)[0])
    assert wire.count(b"DKIM-Signature:") == 2, wire
    fn = dnsfunc_of(keys["dns"])
    assert verifies(dkim, wire, 0, fn) and verifies(dkim, wire, 1, fn)
    assert not verifies(dkim, wire.replace(b"command line", b"command-line"), 0, fn)
    srv.wait_log(r"qmgr\[\d+\]: [0-9A-F]+: dkim: signed, 2 signatures")


def test_inbound_verification_authentication_results(make_server, keys):
    """Instance A signs; instance B (127.0.0.1 not trusted there) verifies
    at the end of DATA, keys from the same dnsmasq through its resolver,
    and puts its Authentication-Results first: dkim=pass for both
    signatures, dkim=fail for a changed copy; a forged header claiming
    B's authserv-id is removed, another host's is kept; unsigned mail gets
    no header. The header parses with python3-authres (spf= and dmarc=
    follow the dkim= results: test_dmarc.py)."""
    a = signing_server(make_server, keys)
    b = make_server(extra=["mynetworks = 192.0.2.0/24", "dkim_verify = yes",
                           f"dns_servers = 127.0.0.1:{keys['dns'].port}"])
    a.send_mail(RCPT, make_message(subject="a to b", frm="alice@example.com",
                                   body="Verified by mailwarden.\r\n"))
    a.wait_delivered(RCPT, 1)
    wire = wire_of(a.messages(RCPT)[0]).decode()
    forged = ("Authentication-Results: mx.test.example; dkim=pass header.d=paypal.com\r\n"
              "Authentication-Results: other.example; spf=pass\r\n")
    b.send_mail("bob@example.net", forged + wire, sender="alice@example.com")
    b.send_mail("bob@example.net", wire.replace("Verified by", "Forged by"),
                sender="alice@example.com")
    b.send_mail("bob@example.net", make_message(subject="unsigned"))
    b.wait_delivered("bob@example.net", 3)
    got = {}
    for m in b.messages("bob@example.net"):
        head = m.split(b"\n\n")[0].decode()
        key = "forged" if "Forged by" in m.decode() else \
            "unsigned" if "Subject: unsigned" in head else "ok"
        got[key] = head
    ok = got["ok"]
    lines = ok.split("\n")
    assert lines[2] == "Authentication-Results: mx.test.example;", ok
    ar = ok[ok.index("Authentication-Results: mx.test.example;"):].split("\nReceived:")[0]
    assert re.search(r'dkim=pass header\.d=example\.com header\.s=r1 header\.a=rsa-sha256 '
                     r'header\.b="[^"]{8}"', ar), ar
    assert re.search(r'dkim=pass header\.d=example\.com header\.s=e1 header\.a=ed25519-sha256',
                     ar), ar
    assert "paypal.com" not in ok and "Authentication-Results: other.example; spf=pass" in ok
    assert ok.count("Authentication-Results: mx.test.example") == 1
    bad = got["forged"]
    assert bad.count('dkim=fail reason="body hash did not verify"') == 2, bad
    assert "Authentication-Results" not in got["unsigned"]
    b.wait_log(r"dkim=pass d=example\.com s=r1")
    b.wait_log(r"removed 1 Authentication-Results header claiming mx\.test\.example")
    authres = pytest.importorskip("authres")
    parsed = authres.AuthenticationResultsHeader.parse(ar.replace("\n\t", " "))
    assert parsed.authserv_id == "mx.test.example"
    # spf= and dmarc= follow (DMARC runs its own SPF check; this dnsmasq
    # refuses example.com's other names: temperror; test_dmarc.py has the rest)
    assert [(r.method, r.result) for r in parsed.results] == [
        ("dkim", "pass"), ("dkim", "pass"), ("spf", "temperror"), ("dmarc", "temperror")]


def test_key_and_signing_tables_and_reload(make_server, keys, tmp_path):
    """OpenDKIM's KeyTable/SigningTable as texthash maps: only the key the
    SigningTable names for the From address (or its domain) signs; after a
    reload (SIGHUP) with the other key named, that one signs."""
    dkim = pytest.importorskip("dkim")
    kt, st = tmp_path / "keytable", tmp_path / "signingtable"
    kt.write_text(f"rsakey example.com:r1:{keys['dir']}/example.com/r1.key\n"
                  f"edkey example.com:e1:{keys['dir']}/example.com/e1.key\n")
    st.write_text("example.com rsakey\nceo@example.com edkey, rsakey\n")
    srv = make_server(extra=[f"dkim_key_table = texthash:{kt}",
                             f"dkim_signing_table = texthash:{st}"])
    srv.send_mail(RCPT, make_message(subject="one", frm="alice@example.com"))
    srv.send_mail(RCPT, make_message(subject="two", frm="CEO <ceo@example.com>"))
    srv.wait_delivered(RCPT, 2)
    fn = dnsfunc_of(keys["dns"])
    for m in srv.messages(RCPT):
        wire = wire_of(m)
        sels = re.findall(rb"\bs=(\w+);", wire.split(b"\r\n\r\n")[0])
        if b"Subject: one" in wire:
            assert sels == [b"r1"], wire
        else:
            assert sorted(sels) == [b"e1", b"r1"], wire
            assert verifies(dkim, wire, 1, fn)
        assert verifies(dkim, wire, 0, fn)
    st.write_text("example.com edkey\n")
    srv.sighup()
    srv.wait_log(r"reload -- version")
    import time
    time.sleep(1.5)     # the new engine generation takes over the listener
    srv.send_mail(RCPT, make_message(subject="three", frm="alice@example.com"))
    srv.wait_delivered(RCPT, 3)
    third = [wire_of(m) for m in srv.messages(RCPT) if b"Subject: three" in m][0]
    assert re.findall(rb"\bs=(\w+);", third.split(b"\r\n\r\n")[0]) == [b"e1"], third
    assert verifies(dkim, third, 0, fn)


def test_slow_key_lookup_delays_only_its_session(make_server, keys):
    """A key under timeout.test (the test DNS sends it to a server that
    never answers): that session's 250 waits for dns_timeout and its
    header says temperror; another session meanwhile gets its 250 at once."""
    import threading
    import time
    b = make_server(extra=["mynetworks = 192.0.2.0/24", "dkim_verify = yes",
                           f"dns_servers = 127.0.0.1:{keys['dns'].port}", "dns_timeout = 3s"])
    slow = ("DKIM-Signature: v=1; a=rsa-sha256; d=timeout.test; s=x; h=from;\r\n"
            " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n" +
            make_message(subject="slow", frm="a@timeout.test"))
    took = {}

    def send_slow():
        t0 = time.time()
        b.send_mail("bob@example.net", slow)
        took["slow"] = time.time() - t0

    th = threading.Thread(target=send_slow)
    th.start()
    time.sleep(0.3)
    t0 = time.time()
    b.send_mail("bob@example.net", make_message(subject="fast"))
    took["fast"] = time.time() - t0
    th.join(15)
    assert took["fast"] < 1.0, took
    assert "slow" in took and took["slow"] >= 2.0, took
    b.wait_delivered("bob@example.net", 2)
    head = [m.split(b"\n\n")[0] for m in b.messages("bob@example.net") if b"Subject: slow" in m][0]
    assert b'dkim=temperror reason="key lookup failed" header.d=timeout.test' in head, head
