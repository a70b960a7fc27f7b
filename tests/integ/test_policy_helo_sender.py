"""HELO, sender and recipient restrictions (issue 3), with Postfix 3.7's
replies: reject_unknown_helo_hostname, reject_invalid_helo_hostname,
reject_non_fqdn_helo_hostname, reject_rhsbl_helo, smtpd_helo_required,
reject_unknown_sender_domain, reject_non_fqdn_sender, reject_rhsbl_sender,
reject_unknown_recipient_domain, reject_non_fqdn_recipient,
reject_unlisted_recipient, reject_unauth_destination,
defer_unauth_destination, reject_unauth_pipelining, and the temporary-DNS
failure path (450, never 5xx, also with the reject codes set to 5xx)."""
import pytest

from dnsfix import RCPT, log_tail, policy_extra, tx


def server_with(make_server, dns, *lines):
    return make_server(extra=policy_extra(dns, *lines))


# ---- HELO ------------------------------------------------------------------

def test_unknown_helo_hostname(make_server, dns):
    s = server_with(make_server, dns, "smtpd_helo_restrictions = reject_unknown_helo_hostname")
    for helo in ("good.test", "mx.test", "aonly.test"):     # A, MX only, A only
        r = tx(s, "127.0.0.4", helo=helo)
        assert r["rcpt"].startswith("250"), (helo, r, log_tail(s))
    r = tx(s, "127.0.0.4", helo="nohost.test")
    assert r["helo"].startswith("250"), r          # delay_reject: not at HELO
    assert r["rcpt"] == "450 4.7.1 <nohost.test>: Helo command rejected: Host not found", \
        (r, log_tail(s))


def test_unknown_helo_hostname_code_and_tempfail(make_server, dns):
    s = server_with(make_server, dns, "smtpd_helo_restrictions = reject_unknown_helo_hostname",
                    "unknown_hostname_reject_code = 550")
    r = tx(s, "127.0.0.4", helo="nohost.test")
    assert r["rcpt"] == "550 5.7.1 <nohost.test>: Helo command rejected: Host not found", \
        (r, log_tail(s))
    r = tx(s, "127.0.0.4", helo="x.timeout.test")
    assert r["rcpt"] == "450 4.7.1 <x.timeout.test>: Helo command rejected: Host not found", \
        (r, log_tail(s))


def test_invalid_helo_hostname(make_server, dns):
    s = server_with(make_server, dns, "smtpd_helo_restrictions = reject_invalid_helo_hostname")
    r = tx(s, "127.0.0.4", helo="a..b")
    assert r["rcpt"] == "501 5.5.2 <a..b>: Helo command rejected: Invalid name", (r, log_tail(s))
    for helo in ("good.test", "localhost", "[127.0.0.4]"):
        r = tx(s, "127.0.0.4", helo=helo)
        assert r["rcpt"].startswith("250"), (helo, r, log_tail(s))


def test_non_fqdn_helo_hostname(make_server, dns):
    s = server_with(make_server, dns, "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname")
    r = tx(s, "127.0.0.4", helo="localbox")
    assert r["rcpt"] == "504 5.5.2 <localbox>: Helo command rejected: need fully-qualified hostname", \
        (r, log_tail(s))
    r = tx(s, "127.0.0.4", helo="good.test")
    assert r["rcpt"].startswith("250"), (r, log_tail(s))


def test_rhsbl_helo(make_server, dns):
    s = server_with(make_server, dns, "smtpd_helo_restrictions = reject_rhsbl_helo rhsbl.test")
    r = tx(s, "127.0.0.4", helo="badhelo.test")
    assert r["rcpt"] == ("554 5.7.1 Service unavailable; Helo command [badhelo.test] blocked "
                         "using rhsbl.test"), (r, log_tail(s))
    r = tx(s, "127.0.0.4", helo="good.test")
    assert r["rcpt"].startswith("250"), (r, log_tail(s))


def test_helo_required(make_server, dns):
    s = server_with(make_server, dns, "smtpd_helo_required = yes")
    c = s.conn(source="127.0.0.4")
    assert c.cmd("MAIL FROM:<a@b.test>") == "503 5.5.1 Error: send HELO/EHLO first"
    assert c.cmd("EHLO good.test").startswith("250")
    assert c.cmd("MAIL FROM:<a@b.test>").startswith("250")
    c.close()


# ---- sender ----------------------------------------------------------------

def test_unknown_sender_domain(make_server, dns):
    s = server_with(make_server, dns, "smtpd_sender_restrictions = reject_unknown_sender_domain")
    for sender in ("a@mx.test", "a@aonly.test", "a@good.test", ""):
        r = tx(s, "127.0.0.4", sender=sender)
        assert r["rcpt"].startswith("250"), (sender, r, log_tail(s))
    r = tx(s, "127.0.0.4", sender="a@nope.test")
    assert r["mail"].startswith("250"), r          # delay_reject: at RCPT
    assert r["rcpt"] == "450 4.1.8 <a@nope.test>: Sender address rejected: Domain not found", \
        (r, log_tail(s))


def test_unknown_sender_domain_code_and_tempfail(make_server, dns):
    s = server_with(make_server, dns, "smtpd_sender_restrictions = reject_unknown_sender_domain",
                    "unknown_address_reject_code = 550")
    r = tx(s, "127.0.0.4", sender="a@nope.test")
    assert r["rcpt"] == "550 5.1.8 <a@nope.test>: Sender address rejected: Domain not found", \
        (r, log_tail(s))
    r = tx(s, "127.0.0.4", sender="a@x.timeout.test")
    assert r["rcpt"] == "450 4.1.8 <a@x.timeout.test>: Sender address rejected: Domain not found", \
        (r, log_tail(s))


def test_non_fqdn_sender(make_server, dns):
    s = server_with(make_server, dns, "smtpd_sender_restrictions = reject_non_fqdn_sender")
    r = tx(s, "127.0.0.4", sender="a@box")
    assert r["rcpt"] == "504 5.5.2 <a@box>: Sender address rejected: need fully-qualified address", \
        (r, log_tail(s))
    r = tx(s, "127.0.0.4", sender="a@good.test")
    assert r["rcpt"].startswith("250"), (r, log_tail(s))


def test_rhsbl_sender(make_server, dns):
    s = server_with(make_server, dns, "smtpd_sender_restrictions = reject_rhsbl_sender rhsbl.test")
    r = tx(s, "127.0.0.4", sender="x@spammer.test")
    assert r["rcpt"] == ("554 5.7.1 Service unavailable; Sender address [x@spammer.test] blocked "
                         "using rhsbl.test"), (r, log_tail(s))
    r = tx(s, "127.0.0.4", sender="x@good.test")
    assert r["rcpt"].startswith("250"), (r, log_tail(s))


# ---- recipient -------------------------------------------------------------

def test_unknown_recipient_domain(make_server, dns):
    # 127.0.0.1 is in mynetworks: relaying is allowed, so the recipient
    # list decides
    s = server_with(make_server, dns,
                    "smtpd_recipient_restrictions = reject_unknown_recipient_domain")
    r = tx(s, "127.0.0.1", rcpt="x@nope.test")
    assert r["rcpt"] == "450 4.1.2 <x@nope.test>: Recipient address rejected: Domain not found", \
        (r, log_tail(s))
    r = tx(s, "127.0.0.1", rcpt="x@x.timeout.test")
    assert r["rcpt"] == ("450 4.1.2 <x@x.timeout.test>: Recipient address rejected: Domain not "
                         "found"), (r, log_tail(s))
    r = tx(s, "127.0.0.1", rcpt="x@mx.test")
    assert r["rcpt"].startswith("250"), (r, log_tail(s))


def test_non_fqdn_recipient(make_server, dns):
    s = server_with(make_server, dns, "smtpd_recipient_restrictions = reject_non_fqdn_recipient")
    r = tx(s, "127.0.0.1", rcpt="x@box")
    assert r["rcpt"] == ("504 5.5.2 <x@box>: Recipient address rejected: need fully-qualified "
                         "address"), (r, log_tail(s))


def test_unlisted_recipient(make_server, dns):
    s = server_with(make_server, dns, "smtpd_recipient_restrictions = reject_unlisted_recipient")
    r = tx(s, "127.0.0.4", rcpt="nobody@example.com")
    assert r["rcpt"] == ("550 5.1.1 <nobody@example.com>: Recipient address rejected: User "
                         "unknown in virtual mailbox table"), (r, log_tail(s))
    assert tx(s, "127.0.0.4")["rcpt"].startswith("250")


def test_unauth_destination(make_server, dns):
    s = server_with(make_server, dns)
    r = tx(s, "127.0.0.4", rcpt="x@mx.test")
    assert r["rcpt"] == "554 5.7.1 <x@mx.test>: Relay access denied", (r, log_tail(s))


def test_defer_unauth_destination(make_server, dns):
    s = server_with(make_server, dns,
                    "smtpd_relay_restrictions = permit_mynetworks, defer_unauth_destination")
    r = tx(s, "127.0.0.4", rcpt="x@mx.test")
    assert r["rcpt"] == "454 4.7.1 <x@mx.test>: Relay access denied", (r, log_tail(s))
    assert tx(s, "127.0.0.4")["rcpt"].startswith("250")


# ---- reject_unauth_pipelining ----------------------------------------------

def test_unauth_pipelining_data(make_server, dns):
    s = server_with(make_server, dns, "smtpd_data_restrictions = reject_unauth_pipelining")
    c = s.conn(source="127.0.0.4")
    assert c.cmd("EHLO good.test").startswith("250")
    assert c.cmd("MAIL FROM:<a@b.test>").startswith("250")
    assert c.cmd(f"RCPT TO:<{RCPT}>").startswith("250")
    # message text sent together with DATA, before the 354
    c.send(b"DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n")
    got = c.reply()
    assert got == ("503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command "
                   "pipelining"), (got, log_tail(s))
    c.close()
    # a polite client gets its 354
    c = s.conn(source="127.0.0.4")
    assert c.cmd("EHLO good.test").startswith("250")
    assert c.cmd("MAIL FROM:<a@b.test>").startswith("250")
    assert c.cmd(f"RCPT TO:<{RCPT}>").startswith("250")
    assert c.cmd("DATA").startswith("354"), log_tail(s)
    c.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
    assert c.reply().startswith("250")
    c.close()


def test_unauth_pipelining_after_helo(make_server, dns):
    """HELO (not EHLO) does not allow pipelining: MAIL sent with HELO."""
    s = server_with(make_server, dns, "smtpd_client_restrictions = reject_unauth_pipelining")
    c = s.conn(source="127.0.0.4")
    c.send(b"HELO good.test\r\nMAIL FROM:<a@b.test>\r\n")
    got = c.replies(2)
    assert len(got) == 2 and all(x.startswith("250") for x in got), got
    got = c.cmd(f"RCPT TO:<{RCPT}>")
    assert got == ("503 5.5.0 <unknown[127.0.0.4]>: Client host rejected: Improper use of SMTP "
                   "command pipelining"), (got, log_tail(s))
    c.close()


# ---- temporary DNS failures: 4xx, never 5xx --------------------------------

def test_tempfail_never_5xx(make_server, dns):
    """Every DNS restriction at once, all their codes set to 5xx, each
    client/name's lookups timing out: only 450s."""
    s = server_with(make_server, dns,
                    "smtpd_client_restrictions = reject_unknown_client_hostname, "
                    "reject_unknown_reverse_client_hostname",
                    "smtpd_helo_restrictions = reject_unknown_helo_hostname",
                    "smtpd_sender_restrictions = reject_unknown_sender_domain",
                    "unknown_client_reject_code = 550",
                    "unknown_address_reject_code = 550",
                    "unknown_hostname_reject_code = 550")
    cases = [
        ("127.0.0.8", "good.test", "a@good.test"),        # PTR lookup times out
        ("127.0.0.7", "good.test", "a@good.test"),        # forward lookup times out
        ("127.0.0.2", "x.timeout.test", "a@good.test"),   # HELO lookup times out
        ("127.0.0.2", "good.test", "a@x.timeout.test"),   # sender domain times out
    ]
    for src, helo, sender in cases:
        r = tx(s, src, helo=helo, sender=sender)
        assert r["rcpt"].startswith("450 4."), (src, helo, sender, r, log_tail(s))
    assert " reject: RCPT from" in s.log()
    assert not [l for l in s.log().splitlines() if "reject: " in l and ": 5" in l], log_tail(s)
