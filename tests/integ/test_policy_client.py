"""Client restrictions (issue 3) against a real DNS server (dnsmasq, see
dnsfix.py): reject_unknown_client_hostname / reject_unknown_client,
reject_unknown_reverse_client_hostname, reject_rbl_client (with and
without =127.0.0.N), permit_dnswl_client, reject_rhsbl_client,
permit/reject/defer, permit_mynetworks, unknown_client_reject_code and the
temporary-failure path. Replies are Postfix 3.7's (smtpd_check.c), client
restrictions being applied at RCPT (smtpd_delay_reject = yes)."""
import time

import pytest

from dnsfix import RCPT, last_line, log_tail, policy_extra, tx

UNKNOWN = "Client host rejected: cannot find your hostname, [{}]"
UNKNOWN_REV = "Client host rejected: cannot find your reverse hostname, [{}]"


def rcpt(s, src, **kw):
    r = tx(s, src, **kw)
    # delay_reject: the client list is not applied before RCPT
    assert r["mail"].startswith("250"), (r, log_tail(s))
    return r["rcpt"]


def server_with(make_server, dns, *lines):
    return make_server(extra=policy_extra(dns, *lines))


# ---- reject_unknown_client_hostname ---------------------------------------

@pytest.mark.parametrize("name", ["reject_unknown_client_hostname", "reject_unknown_client"])
def test_unknown_client_hostname(make_server, dns, name):
    s = server_with(make_server, dns, f"smtpd_client_restrictions = {name}")
    # forward-confirmed: passes
    assert rcpt(s, "127.0.0.2").startswith("250"), log_tail(s)
    # PTR only, no PTR, PTR whose name points elsewhere: 450 4.7.25
    for ip in ("127.0.0.3", "127.0.0.4", "127.0.0.6"):
        got = rcpt(s, ip)
        assert got == "450 4.7.25 " + UNKNOWN.format(ip), (ip, got, log_tail(s))


def test_unknown_client_hostname_reject_code(make_server, dns):
    """unknown_client_reject_code applies to a permanent failure only; a
    temporary one stays 450 (Postfix: name_status TEMP -> 450)."""
    s = server_with(make_server, dns, "smtpd_client_restrictions = reject_unknown_client_hostname",
                    "unknown_client_reject_code = 550")
    got = rcpt(s, "127.0.0.4")
    assert got == "550 5.7.25 " + UNKNOWN.format("127.0.0.4"), (got, log_tail(s))
    got = rcpt(s, "127.0.0.3")
    assert got == "550 5.7.25 " + UNKNOWN.format("127.0.0.3"), (got, log_tail(s))
    # forward lookup of the PTR name times out
    got = rcpt(s, "127.0.0.7")
    assert got == "450 4.7.25 " + UNKNOWN.format("127.0.0.7"), (got, log_tail(s))
    # the PTR lookup itself times out
    got = rcpt(s, "127.0.0.8")
    assert got == "450 4.7.25 " + UNKNOWN.format("127.0.0.8"), (got, log_tail(s))


# ---- reject_unknown_reverse_client_hostname --------------------------------

def test_unknown_reverse_client_hostname(make_server, dns):
    s = server_with(make_server, dns,
                    "smtpd_client_restrictions = reject_unknown_reverse_client_hostname")
    # any PTR will do, confirmed or not
    for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.6"):
        assert rcpt(s, ip).startswith("250"), (ip, log_tail(s))
    got = rcpt(s, "127.0.0.4")
    assert got == "450 4.7.1 " + UNKNOWN_REV.format("127.0.0.4"), (got, log_tail(s))


def test_unknown_reverse_client_hostname_tempfail(make_server, dns):
    s = server_with(make_server, dns,
                    "smtpd_client_restrictions = reject_unknown_reverse_client_hostname",
                    "unknown_client_reject_code = 550")
    got = rcpt(s, "127.0.0.4")
    assert got == "550 5.7.1 " + UNKNOWN_REV.format("127.0.0.4"), (got, log_tail(s))
    got = rcpt(s, "127.0.0.8")
    assert got == "450 4.7.1 " + UNKNOWN_REV.format("127.0.0.8"), (got, log_tail(s))


# ---- reject_rbl_client / permit_dnswl_client -------------------------------

def test_rbl_client(make_server, dns):
    s = server_with(make_server, dns, "smtpd_client_restrictions = reject_rbl_client dnsbl.test")
    # listed with a TXT record: Postfix's default_rbl_reply appends it
    got = rcpt(s, "127.0.0.5")
    assert got == ("554 5.7.1 Service unavailable; Client host [127.0.0.5] blocked using "
                   "dnsbl.test; listed for testing"), (got, log_tail(s))
    # listed, no TXT
    got = rcpt(s, "127.0.0.13")
    assert got == ("554 5.7.1 Service unavailable; Client host [127.0.0.13] blocked using "
                   "dnsbl.test"), (got, log_tail(s))
    # not listed
    for ip in ("127.0.0.2", "127.0.0.4"):
        assert rcpt(s, ip).startswith("250"), (ip, log_tail(s))


def test_rbl_client_reply_filter(make_server, dns):
    """reject_rbl_client zone=127.0.0.2: only that answer counts."""
    s = server_with(make_server, dns,
                    "smtpd_client_restrictions = reject_rbl_client dnsbl.test=127.0.0.2")
    got = rcpt(s, "127.0.0.13")
    assert got == ("554 5.7.1 Service unavailable; Client host [127.0.0.13] blocked using "
                   "dnsbl.test"), (got, log_tail(s))
    # 127.0.0.16 is listed with 127.0.0.4: no match
    assert rcpt(s, "127.0.0.16").startswith("250"), log_tail(s)


def test_rbl_client_rbl_code(make_server, dns):
    s = server_with(make_server, dns, "smtpd_client_restrictions = reject_rbl_client dnsbl.test",
                    "maps_rbl_reject_code = 550")
    got = rcpt(s, "127.0.0.13")
    assert got == ("550 5.7.1 Service unavailable; Client host [127.0.0.13] blocked using "
                   "dnsbl.test"), (got, log_tail(s))


def test_rbl_client_timeout_is_not_a_reject(make_server, dns):
    """A DNSBL whose server never answers: Postfix gives the client the
    benefit of the doubt (no 5xx, no 4xx): the mail is accepted after at
    most about dns_timeout."""
    s = server_with(make_server, dns,
                    "smtpd_client_restrictions = reject_rbl_client bl.timeout.test, "
                    "reject_rbl_client dnsbl.test")
    r = tx(s, "127.0.0.2")
    assert r["rcpt"].startswith("250"), (r, log_tail(s))
    assert r["elapsed"] < 6, r
    r = tx(s, "127.0.0.13")
    assert r["rcpt"].startswith("554 5.7.1 Service unavailable; Client host [127.0.0.13]"), (r, log_tail(s))


def test_dnswl_client(make_server, dns):
    s = server_with(make_server, dns,
                    "smtpd_client_restrictions = permit_dnswl_client dnswl.test, "
                    "reject_rbl_client dnsbl.test")
    # 127.0.0.10 is in both: the allow list comes first
    assert rcpt(s, "127.0.0.10").startswith("250"), log_tail(s)
    assert rcpt(s, "127.0.0.9").startswith("250"), log_tail(s)
    got = rcpt(s, "127.0.0.5")
    assert got.startswith("554 5.7.1 Service unavailable; Client host [127.0.0.5] blocked "
                          "using dnsbl.test"), (got, log_tail(s))


def test_dnswl_permit_ends_list(make_server, dns):
    """permit_dnswl_client is a permit: a later reject is not reached."""
    s = server_with(make_server, dns,
                    "smtpd_client_restrictions = permit_dnswl_client dnswl.test, reject")
    assert rcpt(s, "127.0.0.9").startswith("250"), log_tail(s)
    got = rcpt(s, "127.0.0.2")
    assert got == "554 5.7.1 <good.test[127.0.0.2]>: Client host rejected: Access denied", \
        (got, log_tail(s))


# ---- reject_rhsbl_client ---------------------------------------------------

def test_rhsbl_client(make_server, dns):
    s = server_with(make_server, dns, "smtpd_client_restrictions = reject_rhsbl_client rhsbl.test")
    got = rcpt(s, "127.0.0.11")
    assert got == ("554 5.7.1 Service unavailable; Client host [spamhost.test] blocked using "
                   "rhsbl.test"), (got, log_tail(s))
    assert rcpt(s, "127.0.0.2").startswith("250"), log_tail(s)
    # unknown client name: not looked up
    assert rcpt(s, "127.0.0.4").startswith("250"), log_tail(s)


# ---- permit / reject / defer / permit_mynetworks ---------------------------

def test_reject_defer_permit_mynetworks(make_server, dns):
    s = server_with(make_server, dns, "smtpd_client_restrictions = permit_mynetworks, reject")
    assert rcpt(s, "127.0.0.1").startswith("250"), log_tail(s)
    got = rcpt(s, "127.0.0.2")
    assert got == "554 5.7.1 <good.test[127.0.0.2]>: Client host rejected: Access denied", \
        (got, log_tail(s))
    got = rcpt(s, "127.0.0.4")
    assert got == "554 5.7.1 <unknown[127.0.0.4]>: Client host rejected: Access denied", \
        (got, log_tail(s))


def test_defer(make_server, dns):
    s = server_with(make_server, dns, "smtpd_client_restrictions = permit_mynetworks, defer")
    got = rcpt(s, "127.0.0.2")
    assert got == "450 4.3.2 <good.test[127.0.0.2]>: Client host rejected: Try again later", \
        (got, log_tail(s))


def test_permit_stops_list(make_server, dns):
    s = server_with(make_server, dns, "smtpd_client_restrictions = permit, reject")
    assert rcpt(s, "127.0.0.4").startswith("250"), log_tail(s)


def test_reject_code(make_server, dns):
    s = server_with(make_server, dns, "smtpd_client_restrictions = reject", "reject_code = 550")
    got = rcpt(s, "127.0.0.2")
    assert got == "550 5.7.1 <good.test[127.0.0.2]>: Client host rejected: Access denied", \
        (got, log_tail(s))


# ---- the event loop never waits for DNS ------------------------------------

def test_slow_dns_does_not_block_other_sessions(make_server, dns):
    """While one session waits for a lookup that times out (2 s), other
    sessions are served at once."""
    import threading
    s = server_with(make_server, dns, "smtpd_client_restrictions = reject_unknown_client_hostname")
    slow = {}

    def run():
        slow.update(tx(s, "127.0.0.8", timeout=20))

    # a few sessions stuck in the timeout
    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    times = []
    for _ in range(5):
        r = tx(s, "127.0.0.2")
        assert r["rcpt"].startswith("250"), (r, log_tail(s))
        times.append(r["elapsed"])
    for t in threads:
        t.join(30)
    assert slow.get("rcpt", "").startswith("450 4.7.25"), (slow, log_tail(s))
    assert max(times) < 1.0, f"fast sessions delayed by a slow lookup: {times}"
