"""Pregreet (early talker) test and weighted DNSBL scoring on the port-25
listener, what Postfix's postscreen does (issue 3): postscreen_greet_wait,
postscreen_greet_action (ignore | enforce | drop), the pass cache,
postscreen_dnsbl_sites with weights, postscreen_dnsbl_threshold and
postscreen_dnsbl_action, all lists queried in parallel. Texts are
postscreen's (postscreen_early.c):
  PREGREET %d after %s from [%s]:%s: %.100s
  550 5.5.1 Protocol error / 521 5.5.1 Protocol error
  DNSBL rank %d for [%s]:%s
  550|521 5.7.1 Service unavailable; client [%s] blocked using %s
"""
import re
import socket
import time

from conftest import read_replies
from dnsfix import RCPT, log_tail, policy_extra, tx

GREET = ["postscreen_greet_wait = 1s"]


def early_talker(s, src, first=b"EHLO early.test\r\n", timeout=10):
    """Connect and talk before the 220. Returns (socket, replies so far)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((src, 0))
    sock.connect((s.host, s.port))
    sock.sendall(first)
    replies = ["\n".join(r) for r in read_replies(sock, timeout=timeout, want=2)]
    return sock, replies


def cmd(sock, line, timeout=10):
    sock.sendall(line.encode() + b"\r\n")
    r = read_replies(sock, timeout=timeout, want=1)
    return "\n".join(r[0]) if r else ""


def test_pregreet_enforce(make_server, dns):
    s = make_server(extra=policy_extra(dns, *GREET, "postscreen_greet_action = enforce"))
    sock, replies = early_talker(s, "127.0.0.17")
    try:
        assert len(replies) == 2, (replies, log_tail(s))
        assert replies[0].startswith("220"), replies
        assert replies[1].startswith("250"), replies          # the early EHLO
        assert cmd(sock, "MAIL FROM:<a@b.test>").startswith("250")
        got = cmd(sock, f"RCPT TO:<{RCPT}>")
        assert got == "550 5.5.1 Protocol error", (got, log_tail(s))
        cmd(sock, "QUIT")
    finally:
        sock.close()
    lines = s.wait_log(r"PREGREET \d+ after [\d.]+ from \[127\.0\.0\.17\]:\d+: ")
    assert re.search(r"postfix/\w+\[\d+\]: PREGREET 17 after \d+(\.\d+)? from "
                     r"\[127\.0\.0\.17\]:\d+: EHLO early\.test\\r\\n$", lines[0]), lines
    # the next time, the same client is tested again (it failed)
    sock, replies = early_talker(s, "127.0.0.17")
    sock.close()
    s.wait_log(r"PREGREET .* from \[127\.0\.0\.17\]", count=2)


def test_pregreet_drop(make_server, dns):
    s = make_server(extra=policy_extra(dns, *GREET, "postscreen_greet_action = drop"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.bind(("127.0.0.18", 0))
    sock.connect((s.host, s.port))
    sock.sendall(b"EHLO early.test\r\n")
    data = b""
    t0 = time.monotonic()
    while time.monotonic() - t0 < 8:
        try:
            d = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not d:
            break
        data += d
    sock.close()
    text = data.decode(errors="replace")
    assert text.rstrip("\r\n").split("\r\n")[-1] == "521 5.5.1 Protocol error", (text, log_tail(s))
    s.wait_log(r"PREGREET \d+ after [\d.]+ from \[127\.0\.0\.18\]:\d+: EHLO early\.test\\r\\n$")


def test_pregreet_ignore_logs_only(make_server, dns):
    s = make_server(extra=policy_extra(dns, *GREET))      # default action: ignore
    sock, replies = early_talker(s, "127.0.0.19")
    try:
        assert replies and replies[0].startswith("220"), replies
        assert cmd(sock, "MAIL FROM:<a@b.test>").startswith("250")
        assert cmd(sock, f"RCPT TO:<{RCPT}>").startswith("250"), log_tail(s)
    finally:
        sock.close()
    s.wait_log(r"PREGREET \d+ after [\d.]+ from \[127\.0\.0\.19\]:\d+: ")


def test_polite_client_passes_and_is_cached(make_server, dns):
    s = make_server(extra=policy_extra(dns, *GREET, "postscreen_greet_action = enforce"))
    t0 = time.monotonic()
    c = s.conn(source="127.0.0.20")
    first_wait = time.monotonic() - t0
    lines = c.banner.split("\n")
    assert lines[0].startswith("220-"), lines             # the teaser
    assert lines[-1].startswith("220 "), lines
    assert first_wait >= 0.9, f"new client not made to wait: {first_wait:.2f}s"
    assert first_wait < 3, first_wait
    assert c.cmd("EHLO host20.test").startswith("250")
    assert c.cmd("MAIL FROM:<a@b.test>").startswith("250")
    assert c.cmd(f"RCPT TO:<{RCPT}>").startswith("250"), log_tail(s)
    c.cmd("QUIT")
    c.close()
    # passed: the next session is not delayed
    r = tx(s, "127.0.0.20", helo="host20.test")
    assert r["rcpt"].startswith("250"), r
    assert r["elapsed"] < 0.5, f"passed client delayed again: {r['elapsed']:.2f}s"
    assert "PREGREET" not in s.log(), log_tail(s)
    # another new client still waits
    t0 = time.monotonic()
    c = s.conn(source="127.0.0.2")
    assert time.monotonic() - t0 >= 0.9
    c.close()


def test_pregreet_port25_only_settings_default_off(make_server, dns):
    """Without postscreen settings there is no delay and no teaser (the
    default action is ignore, but the banner must still be one line for
    clients that are not tested)."""
    s = make_server(extra=policy_extra(dns, "postscreen_greet_wait = 0s"))
    t0 = time.monotonic()
    c = s.conn(source="127.0.0.2")
    assert time.monotonic() - t0 < 0.5
    assert c.banner.startswith("220 "), c.banner
    c.close()


# ---- DNSBL scoring --------------------------------------------------------

def dnsbl_server(make_server, dns, sites, threshold, action="enforce", *more):
    return make_server(extra=policy_extra(
        dns, *GREET, f"postscreen_dnsbl_sites = {sites}",
        f"postscreen_dnsbl_threshold = {threshold}",
        f"postscreen_dnsbl_action = {action}", *more))


BLOCKED = "550 5.7.1 Service unavailable; client [{}] blocked using {}"


def test_dnsbl_score_enforce(make_server, dns):
    s = dnsbl_server(make_server, dns, "dnsbl.test*2, other.test*1", 2)
    # 127.0.0.5: dnsbl.test -> 2 >= 2
    r = tx(s, "127.0.0.5")
    assert r["rcpt"] == BLOCKED.format("127.0.0.5", "dnsbl.test"), (r, log_tail(s))
    s.wait_log(r"DNSBL rank 2 for \[127\.0\.0\.5\]:\d+$")
    # 127.0.0.14: both lists -> 3; named after the heaviest list
    r = tx(s, "127.0.0.14")
    assert r["rcpt"] == BLOCKED.format("127.0.0.14", "dnsbl.test"), (r, log_tail(s))
    s.wait_log(r"DNSBL rank 3 for \[127\.0\.0\.14\]:\d+$")
    # 127.0.0.15: other.test only -> 1 < 2; 127.0.0.2: not listed
    for ip in ("127.0.0.15", "127.0.0.2"):
        r = tx(s, ip)
        assert r["rcpt"].startswith("250"), (ip, r, log_tail(s))
    assert "DNSBL rank 1 for [127.0.0.15]" not in s.log()


def test_dnsbl_score_threshold_and_allowlist(make_server, dns):
    s = dnsbl_server(make_server, dns, "dnsbl.test*2, other.test*1, dnswl.test*-2", 3)
    assert tx(s, "127.0.0.5")["rcpt"].startswith("250"), log_tail(s)       # 2 < 3
    r = tx(s, "127.0.0.14")                                                  # 3
    assert r["rcpt"] == BLOCKED.format("127.0.0.14", "dnsbl.test"), (r, log_tail(s))
    assert tx(s, "127.0.0.10")["rcpt"].startswith("250"), log_tail(s)      # 2 - 2


def test_dnsbl_reply_filter(make_server, dns):
    """site=127.0.0.2 counts only that answer (127.0.0.16 answers .4)."""
    s = dnsbl_server(make_server, dns, "dnsbl.test=127.0.0.2*2", 2)
    assert tx(s, "127.0.0.16")["rcpt"].startswith("250"), log_tail(s)
    r = tx(s, "127.0.0.13")
    assert r["rcpt"] == BLOCKED.format("127.0.0.13", "dnsbl.test"), (r, log_tail(s))


def test_dnsbl_drop(make_server, dns):
    s = dnsbl_server(make_server, dns, "dnsbl.test*2", 2, "drop")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.bind(("127.0.0.5", 0))
    sock.connect((s.host, s.port))
    data = b""
    while True:
        try:
            d = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not d:
            break
        data += d
    sock.close()
    text = data.decode(errors="replace").rstrip("\r\n").split("\r\n")
    assert text[-1] == "521 5.7.1 Service unavailable; client [127.0.0.5] blocked using dnsbl.test", \
        (text, log_tail(s))


def test_dnsbl_lists_queried_in_parallel(make_server, dns):
    """Three lists whose server never answers (dns_timeout 2 s each) and
    one that answers: queried one after the other that would take > 6 s."""
    s = dnsbl_server(make_server, dns,
                     "a.timeout.test*1, b.timeout.test*1, c.timeout.test*1, dnsbl.test*2", 2)
    r = tx(s, "127.0.0.5", timeout=20)
    assert r["rcpt"] == BLOCKED.format("127.0.0.5", "dnsbl.test"), (r, log_tail(s))
    assert r["elapsed"] < 4.5, f"session took {r['elapsed']:.1f}s: lists not queried in parallel?"
    # an unlisted client is not rejected because some lists time out
    r = tx(s, "127.0.0.2", timeout=20)
    assert r["rcpt"].startswith("250"), (r, log_tail(s))
    assert r["elapsed"] < 4.5, r


def test_dnsbl_and_pregreet_together(make_server, dns):
    """Early talker that is also listed: one session, both tests; the
    reply is a 550 either way and both events are logged."""
    s = dnsbl_server(make_server, dns, "dnsbl.test*2", 2, "enforce",
                     "postscreen_greet_action = enforce")
    sock, replies = early_talker(s, "127.0.0.13")
    try:
        assert cmd(sock, "MAIL FROM:<a@b.test>").startswith("250")
        got = cmd(sock, f"RCPT TO:<{RCPT}>")
        assert got.startswith("550 5."), (got, log_tail(s))
    finally:
        sock.close()
    s.wait_log(r"PREGREET \d+ after [\d.]+ from \[127\.0\.0\.13\]:\d+: ")
    s.wait_log(r"DNSBL rank 2 for \[127\.0\.0\.13\]:\d+$")


def test_defaults_do_not_delay_strangers(make_server):
    """With no postscreen_* settings a client outside mynetworks gets the
    plain 220 at once: the pregreet test runs only when configured."""
    s = make_server(extra=["mynetworks = 127.0.0.1/32"])
    c = socket.socket()
    c.bind(("127.0.0.9", 0))
    c.settimeout(5)
    t0 = time.monotonic()
    c.connect(("127.0.0.1", s.port))
    got = read_replies(c, timeout=5, want=1)
    elapsed = time.monotonic() - t0
    c.close()
    assert got and len(got[0]) == 1 and got[0][0].startswith("220 "), got
    assert elapsed < 1.5, elapsed
