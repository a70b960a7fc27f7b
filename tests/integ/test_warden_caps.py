"""The ban engine's caps (issue 11) in the real warden, fed AUTH failure
events as the smtp engine sends them (evsock.py): maxbanned widens bans
to maxbanned.prefix4 from nine tenths of the cap and refuses new bans at
the cap with a warning, never lifting a ban in force (an attacker with
many addresses cannot unban itself); maxfailed forgets the least recently
failed prefix, with a warning."""
import re

import pytest

from evsock import send_event
from test_warden import cli, jail_server, read, wait_for

WEV_AUTH_FAIL = 1


@pytest.fixture
def caps_server(make_server, tmp_path):
    return jail_server(make_server, tmp_path, [
        "[caps]",
        "enabled = true",
        "filter = postfix[mode=auth]",
        "logpath = $maillog_file",
        "maxretry = 1",
        "bantime = 1h",
        "maxbanned = 10",
        "action = testlog[out={out}]",
        "[evict]",
        "enabled = true",
        "filter = postfix[mode=auth]",
        "logpath = $maillog_file",
        "maxretry = 3",
        "maxfailed = 2",
        "action =",
    ])


def status(s, jail):
    return cli(s, "status", jail).stdout


def banned(s, jail="caps"):
    m = re.search(r"Banned IP list:\t(.*)\n", status(s, jail))
    return m.group(1).split() if m and m.group(1) else []


def test_maxbanned_aggregates_then_refuses_never_unbans(caps_server):
    s = caps_server
    hosts = [f"198.51.100.{i}" for i in range(1, 10)]
    for a in hosts:
        send_event(s, WEV_AUTH_FAIL, a, "bob", "event")
    wait_for(lambda: len(banned(s)) == 9, what="9 bans")
    # the tenth (nine tenths of maxbanned = 10 reached): its /24
    send_event(s, WEV_AUTH_FAIL, "203.0.113.7", "bob", "event")
    wait_for(lambda: "203.0.113.0/24" in banned(s), what="the aggregate /24")
    assert len(banned(s)) == 10
    # full: refused with a warning, and every ban stays
    send_event(s, WEV_AUTH_FAIL, "192.0.2.5", "bob", "event")
    wait_for(lambda: "maxbanned (10) reached: not banning 192.0.2.5" in read(s.wlog),
             what="the refusal warning")
    assert re.search(r"WARNING.*\[caps\] maxbanned \(10\) reached: not banning 192\.0\.2\.5",
                     read(s.wlog))
    for a in ["192.0.2.6", "192.0.2.7", "2001:db8::1"]:
        send_event(s, WEV_AUTH_FAIL, a, "bob", "event")
    wait_for(lambda: "Total failed:\t14" in status(s, "caps"), what="14 failures")
    b = banned(s)
    assert sorted(b) == sorted(hosts + ["203.0.113.0/24"])
    assert "192.0.2.5" not in b
    # one warning for the burst, not one per refusal
    assert read(s.wlog).count("maxbanned (10) reached") == 1
    # nothing was unbanned: the action saw 10 bans and no unban (the
    # actions run in the background: wait for the tenth)
    wait_for(lambda: len(re.findall(r"^ban ", read(s.out), re.M)) >= 10, what="10 actionbans")
    acts = read(s.out)
    assert len(re.findall(r"^ban ", acts, re.M)) == 10, acts
    assert "unban" not in acts


def test_maxfailed_forgets_least_recently_failed(caps_server):
    s = caps_server
    send_event(s, WEV_AUTH_FAIL, "192.0.2.11", "bob", "event")
    send_event(s, WEV_AUTH_FAIL, "192.0.2.12", "bob", "event")
    send_event(s, WEV_AUTH_FAIL, "192.0.2.11", "bob", "event")     # .11 recent again
    wait_for(lambda: "Currently failed:\t2" in status(s, "evict"), what="2 tracked")
    send_event(s, WEV_AUTH_FAIL, "192.0.2.13", "bob", "event")
    wait_for(lambda: "maxfailed (2) reached" in read(s.wlog), what="the eviction warning")
    assert re.search(r"WARNING.*\[evict\] maxfailed \(2\) reached: forgetting the failures "
                     r"of 192\.0\.2\.12/32, the least recently failed", read(s.wlog))
    assert "Currently failed:\t2" in status(s, "evict")
    # .11 kept its two failures: its third bans it in the evict jail
    send_event(s, WEV_AUTH_FAIL, "192.0.2.11", "bob", "event")
    wait_for(lambda: "192.0.2.11" in banned(s, "evict"), what="192.0.2.11 banned")
