"""Access maps and delegation (issue 3): check_client_access with cidr: and
texthash: maps, check_helo_access, check_sender_access,
check_recipient_access (results OK, REJECT [text], DEFER [text], DUNNO,
4xx/5xx text), warn_if_reject (logged as reject_warning, mail accepted),
and check_policy_service against a real postgrey from Debian."""
import os
import time

from conftest import make_message
from dnsfix import RCPT, log_tail, policy_extra, tx


def write(server, name, text):
    p = os.path.join(server.dir, name)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, 0o644)
    return p


def make_with_maps(make_server, dns, maps, *lines):
    """Create the server unstarted, write its maps (name -> text; the
    token @NAME in lines becomes the map's path), then start it."""
    s = make_server(extra=[], start=False)
    paths = {n: write(s, n, t) for n, t in maps.items()}
    out = []
    for l in lines:
        for n, p in paths.items():
            l = l.replace("@" + n, p)
        out.append(l)
    s.extra = policy_extra(dns, *out)
    s.write_config()
    s.start()
    return s


CIDR = """\
# cidr map: first match wins
127.0.0.12/32   REJECT go away
127.0.0.17      OK
127.0.0.18      DEFER try later
127.0.0.19      450 4.7.9 slow down
127.0.0.20      DUNNO
127.0.0.16/30   REJECT
"""


def test_check_client_access_cidr(make_server, dns):
    s = make_with_maps(make_server, dns, {"clients.cidr": CIDR},
                       "smtpd_client_restrictions = check_client_access cidr:@clients.cidr, "
                       "reject_rbl_client dnsbl.test")
    cases = {
        "127.0.0.12": "554 5.7.1 <unknown[127.0.0.12]>: Client host rejected: go away",
        "127.0.0.18": "450 4.7.1 <host18.test[127.0.0.18]>: Client host rejected: try later",
        "127.0.0.19": "450 4.7.9 <host19.test[127.0.0.19]>: Client host rejected: slow down",
        # 127.0.0.16/30 = .16-.19; .16 is not matched earlier
        "127.0.0.16": "554 5.7.1 <unknown[127.0.0.16]>: Client host rejected: Access denied",
        # no entry: the next restriction decides
        "127.0.0.13": "554 5.7.1 Service unavailable; Client host [127.0.0.13] blocked using "
                      "dnsbl.test",
    }
    for ip, want in cases.items():
        r = tx(s, ip)
        assert r["rcpt"] == want, (ip, r, log_tail(s))
    for ip in ("127.0.0.17", "127.0.0.20", "127.0.0.2"):     # OK, DUNNO, no entry
        assert tx(s, ip)["rcpt"].startswith("250"), (ip, log_tail(s))


def test_check_client_access_cidr_ok_skips_rest(make_server, dns):
    s = make_with_maps(make_server, dns, {"clients.cidr": "127.0.0.13 OK\n"},
                       "smtpd_client_restrictions = check_client_access cidr:@clients.cidr, "
                       "reject_rbl_client dnsbl.test")
    assert tx(s, "127.0.0.13")["rcpt"].startswith("250"), log_tail(s)
    assert tx(s, "127.0.0.5")["rcpt"].startswith("554 5.7.1"), log_tail(s)


TEXTHASH = """\
host19.test     REJECT by name
127.0.0.20      REJECT by address
127.0.0.15      OK
127.0.0.3       REJECT 5.7.0 PTR says ptronly.test
"""


def test_check_client_access_texthash(make_server, dns):
    s = make_with_maps(make_server, dns, {"clients": TEXTHASH},
                       "smtpd_client_restrictions = check_client_access texthash:@clients, "
                       "reject_rbl_client other.test")
    r = tx(s, "127.0.0.19")
    assert r["rcpt"] == "554 5.7.1 <host19.test[127.0.0.19]>: Client host rejected: by name", \
        (r, log_tail(s))
    r = tx(s, "127.0.0.20")
    assert r["rcpt"] == "554 5.7.1 <host20.test[127.0.0.20]>: Client host rejected: by address", \
        (r, log_tail(s))
    # an unconfirmed PTR name is not the client name: matched by address
    r = tx(s, "127.0.0.3")
    assert r["rcpt"] == ("554 5.7.0 <unknown[127.0.0.3]>: Client host rejected: PTR says "
                         "ptronly.test"), (r, log_tail(s))
    # OK beats the later DNSBL; without an entry the DNSBL rejects
    assert tx(s, "127.0.0.15")["rcpt"].startswith("250"), log_tail(s)
    r = tx(s, "127.0.0.14")
    assert r["rcpt"] == ("554 5.7.1 Service unavailable; Client host [127.0.0.14] blocked using "
                         "other.test"), (r, log_tail(s))


def test_check_helo_sender_recipient_access(make_server, dns):
    s = make_with_maps(make_server, dns, {
        "helo": "badhelo.test REJECT no such host\n",
        "senders": "spammer.test REJECT no spam\nfriend@b.test OK\nb.test DEFER later\n",
        "rcpts": "alice@example.com REJECT closed\n",
    },
        "smtpd_helo_restrictions = check_helo_access texthash:@helo",
        "smtpd_sender_restrictions = check_sender_access texthash:@senders",
        "smtpd_recipient_restrictions = check_recipient_access texthash:@rcpts")
    r = tx(s, "127.0.0.4", helo="badhelo.test", rcpt="postmaster@example.com")
    assert r["rcpt"] == "554 5.7.1 <badhelo.test>: Helo command rejected: no such host", \
        (r, log_tail(s))
    r = tx(s, "127.0.0.4", sender="x@spammer.test", rcpt="postmaster@example.com")
    assert r["rcpt"] == "554 5.7.1 <x@spammer.test>: Sender address rejected: no spam", \
        (r, log_tail(s))
    r = tx(s, "127.0.0.4", sender="someone@b.test", rcpt="postmaster@example.com")
    assert r["rcpt"] == "450 4.7.1 <someone@b.test>: Sender address rejected: later", \
        (r, log_tail(s))
    r = tx(s, "127.0.0.4", sender="friend@b.test", rcpt="postmaster@example.com")
    assert r["rcpt"].startswith("250"), (r, log_tail(s))
    r = tx(s, "127.0.0.4", sender="friend@b.test", rcpt="alice@example.com")
    assert r["rcpt"] == "554 5.7.1 <alice@example.com>: Recipient address rejected: closed", \
        (r, log_tail(s))


# ---- warn_if_reject ----------------------------------------------------------

def test_warn_if_reject(make_server, dns):
    s = make_server(extra=policy_extra(
        dns, "smtpd_client_restrictions = warn_if_reject reject_rbl_client dnsbl.test, "
             "reject_rbl_client other.test"))
    # would be rejected by dnsbl.test: only a warning
    r = tx(s, "127.0.0.13")
    assert r["rcpt"].startswith("250"), (r, log_tail(s))
    s.wait_log(r"postfix/smtpd\[\d+\]: NOQUEUE: reject_warning: RCPT from unknown\[127\.0\.0\.13\]: "
               r"554 5\.7\.1 Service unavailable; Client host \[127\.0\.0\.13\] blocked using "
               r"dnsbl\.test; from=<a@b\.test> to=<alice@example\.com> proto=ESMTP "
               r"helo=<good\.test>$")
    assert " reject: " not in s.log(), log_tail(s)
    # warn_if_reject covers only the next restriction
    r = tx(s, "127.0.0.14")
    assert r["rcpt"] == ("554 5.7.1 Service unavailable; Client host [127.0.0.14] blocked using "
                         "other.test"), (r, log_tail(s))


# ---- check_policy_service: a real postgrey -----------------------------------

GREY = ("450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/{dom}.html")


def test_policy_service_postgrey(make_server, dns, postgrey):
    s = make_server(extra=policy_extra(
        dns, "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, "
             f"check_policy_service {postgrey}"))
    r = tx(s, "127.0.0.2")
    assert r["rcpt"] == GREY.format(rcpt=RCPT, dom="example.com"), (r, log_tail(s))
    s.wait_log(r"NOQUEUE: reject: RCPT from good\.test\[127\.0\.0\.2\]: 450 4\.2\.0 "
               r"<alice@example\.com>: Recipient address rejected: Greylisted")
    # a retry after the delay (1 s) passes; postgrey answers PREPEND
    time.sleep(2.2)
    c = s.conn(source="127.0.0.2")
    assert c.cmd("EHLO good.test").startswith("250")
    assert c.cmd("MAIL FROM:<a@b.test>").startswith("250")
    got = c.cmd(f"RCPT TO:<{RCPT}>")
    assert got.startswith("250"), (got, log_tail(s))
    assert c.cmd("DATA").startswith("354")
    c.send(make_message(subject="greylisted", frm="a@b.test").encode() + b"\r\n.\r\n")
    assert c.reply().startswith("250"), log_tail(s)
    c.cmd("QUIT")
    c.close()
    files = s.wait_delivered(RCPT, 1)
    with open(files[0], "rb") as f:
        msg = f.read()
    assert b"X-Greylist: delayed " in msg, msg[:800]
    # a trusted client never asks the policy service
    assert tx(s, "127.0.0.1", sender="b@b.test")["rcpt"].startswith("250")
    # another triplet is greylisted on its own
    r = tx(s, "127.0.0.2", rcpt="postmaster@example.com")
    assert r["rcpt"] == GREY.format(rcpt="postmaster@example.com", dom="example.com"), \
        (r, log_tail(s))


def test_policy_service_down_is_tempfail(make_server, dns):
    """A policy service that does not listen: Postfix applies
    smtpd_policy_service_default_action (451 4.3.5 Server configuration
    problem) as an access-map result, hence the <rcpt>: ... rejected: form;
    in any case a 4xx, never a 5xx."""
    from conftest import free_port
    port = free_port()
    s = make_server(extra=policy_extra(
        dns, f"smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:{port}"))
    r = tx(s, "127.0.0.2", timeout=30)
    assert r["rcpt"].startswith("4"), (r, log_tail(s))
    assert r["rcpt"] == ("451 4.3.5 <alice@example.com>: Recipient address rejected: Server "
                         "configuration problem"), (r, log_tail(s))
