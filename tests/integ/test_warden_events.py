"""The ban engine fed by the smtp engine's MSG_WARDEN_EVENT datagrams on
the master's event socketpair (sent here by the test on a copy of the
engine's own end, as the engine will; evsock.py): a failure
counts once (a postfix[mode=auth] jail on our own maillog is fed by the
events, the maillog is not also followed), a ban at exactly maxretry, the
lockout allowance for the same login only, dry-run, malformed datagrams."""
import re

import pytest

from evsock import send_event, send_raw
from test_warden import cli, jail_server, read, wait_for

WEV_AUTH_FAIL, WEV_AUTH_OK, WEV_RELAY_DENIED = 1, 2, 3


def event(s, kind, addr, user="", text="event"):
    send_event(s, kind, addr, user, text)


@pytest.fixture
def ev_server(make_server, tmp_path):
    return jail_server(make_server, tmp_path, [
        "[postfix-sasl]",
        "enabled = true",
        "filter = postfix[mode=auth]",
        "logpath = $maillog_file",
        "maxretry = 3",
        "action = testlog[out={out}]",
        "[relay]",
        "enabled = true",
        "filter = mailwarden[mode=relay]",
        "maxretry = 1",
        "dry-run = true",
        "action = testlog[out={out}]",
    ])


def status(s, jail="postfix-sasl"):
    return cli(s, "status", jail).stdout


def test_auth_events_exact_maxretry_and_allowance(ev_server):
    s = ev_server
    assert re.search(r"\[postfix-sasl\] Jail is fed by the smtp engine's events", read(s.wlog))
    # fed by events, but status names its logpath as fail2ban-client would
    assert f"|  `- File list:\t{s.maillog}\n" in status(s)
    assert "|  `- File list:\t\n" in status(s, "relay")
    event(s, WEV_AUTH_FAIL, "192.0.2.20", "bob")
    event(s, WEV_AUTH_FAIL, "192.0.2.20", "bob")
    wait_for(lambda: "Total failed:\t2" in status(s), what="2 failures")
    # a successful login clears them and allows alice's typos for a while
    event(s, WEV_AUTH_OK, "192.0.2.20", "alice")
    wait_for(lambda: "Currently failed:\t0" in status(s), what="cleared")
    for _ in range(5):
        event(s, WEV_AUTH_FAIL, "192.0.2.20", "alice")
    event(s, WEV_AUTH_FAIL, "192.0.2.20", "mallory")
    event(s, WEV_AUTH_FAIL, "192.0.2.20", "mallory")
    wait_for(lambda: "Total failed:\t4" in status(s), what="4 failures")
    assert "Currently banned:\t0" in status(s)
    event(s, WEV_AUTH_FAIL, "192.0.2.20", "mallory")
    wait_for(lambda: "Banned IP list:\t192.0.2.20\n" in status(s), what="ban at the 3rd")
    assert "Total failed:\t5" in status(s)
    # relay events do not count in the auth jail; the dry-run jail only logs
    event(s, WEV_RELAY_DENIED, "192.0.2.30")
    wait_for(lambda: "Would ban 192.0.2.30 (dry-run)" in read(s.wlog), what="would ban")
    assert "Currently banned:\t0" in status(s, "relay")
    assert "192.0.2.30" not in status(s)
    # a malformed datagram is dropped with a warning, the warden carries on
    send_raw(s, b"\x00\x03\x00\x00garbage")
    s.wait_log(r"warden: malformed event datagram ignored")
    assert "Currently banned:\t1" in status(s)
