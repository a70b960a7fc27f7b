"""The unknown-domain checks skip the domains mailwarden is the final
destination for, as Postfix's do (postconf(5): reject_unknown_sender_domain
"... and the sender is not the final destination"; smtpd_check.c skips
RESOLVE_CLASS_FINAL): mydestination, virtual_alias_domains and
virtual_mailbox_domains. So a DNS outage does not refuse our own users
(issue 15: '450 4.1.8 <carol@gamma.example>' while DNS was down), while a
foreign domain, and a relay_domains domain (relayed, not final), still get
450. The DNS server here is a real dnsmasq that is then stopped."""
import os

import dnsfix
from dnsfix import log_tail, policy_extra, tx


def test_unknown_domain_checks_skip_final_destinations(make_server):
    dns = dnsfix.DnsServer().start()
    try:
        s = make_server(extra=policy_extra(
            dns,
            "mydestination = localhost, gamma.example",
            "virtual_alias_domains = alias.example",
            "relay_domains = relay.example",
            "smtpd_sender_restrictions = reject_unknown_sender_domain",
            "smtpd_recipient_restrictions = reject_unknown_recipient_domain, "
            "reject_unauth_destination"))
        # with DNS up: a foreign unknown domain is refused, ours pass
        r = tx(s, "127.0.0.4", sender="x@nope.test")
        assert r["rcpt"] == "450 4.1.8 <x@nope.test>: Sender address rejected: Domain not found" \
            or r["rcpt"].startswith("550 5.1.8"), (r, log_tail(s))
        r = tx(s, "127.0.0.4", sender="carol@gamma.example")
        assert r["rcpt"].startswith("250"), (r, log_tail(s))
    finally:
        dns.stop()
    # DNS is down now: every lookup fails for a while
    for sender in ("carol@gamma.example", "alice@example.com", "root@alias.example",
                   "bob@EXAMPLE.NET."):
        r = tx(s, "127.0.0.4", sender=sender)
        assert r["mail"].startswith("250") and r["rcpt"].startswith("250"), \
            (sender, r, log_tail(s))
    r = tx(s, "127.0.0.4", sender="x@elsewhere.test")
    assert r["rcpt"] == ("450 4.1.8 <x@elsewhere.test>: Sender address rejected: "
                         "Domain not found"), (r, log_tail(s))
    # a relay_domains recipient is relayed, not final: still checked
    r = tx(s, "127.0.0.4", sender="alice@example.com", rcpt="x@relay.example")
    assert r["rcpt"] == ("450 4.1.2 <x@relay.example>: Recipient address rejected: "
                         "Domain not found"), (r, log_tail(s))


def test_domain_in_both_mydestination_and_virtual_warns(make_server, tmp_path):
    """Postfix's trivial-rewrite warning, word for word; mydestination wins.
    mydestination names its domains through a file here (an absolute path
    in a list is a file of names, as postconf(5) says)."""
    names = tmp_path / "local-domains"
    names.write_text("# ours\nexample.com, other.example\n")
    os.chmod(tmp_path, 0o755)
    s = make_server(extra=[f"mydestination = localhost, {names}"])
    c = s.conn()
    assert c.cmd("EHLO x.test").startswith("250")
    assert c.cmd("MAIL FROM:<a@b.test>").startswith("250")
    c.cmd("RCPT TO:<alice@example.com>")
    c.close()
    s.wait_log(r"warning: do not list domain example\.com in BOTH mydestination and "
               r"virtual_mailbox_domains")

