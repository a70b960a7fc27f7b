"""
Milters (docs/milter.md) against the test milter of milterfix.py: every
reply at every stage, every modification in the delivered Maildir file,
timeouts and broken milters answered with milter_default_action, the
session always getting a definite reply, nothing lost, and Postfix's log
lines.
"""
import os
import re
import socket
import threading
import time

import pytest

from conftest import CLIENT_HELO, free_port, make_message
from milterfix import (SMFIP_HDR_LEADSPC, SMFIP_NOBODY, SMFIP_NOHELO, SMFIP_NOUNKNOWN,
                       SMFIP_NR_BODY, SMFIP_NR_HDR, SMFIP_NR_UNKN, OpenDkim, ScriptMilter)

RCPT = "alice@example.com"


@pytest.fixture
def milter():
    m = ScriptMilter()
    yield m
    m.close()


def start(make_server, milter, *extra):
    spec = milter if isinstance(milter, str) else milter.spec
    return make_server(extra=[f"smtpd_milters = {spec}",
                              "milter_command_timeout = 2s",
                              "milter_content_timeout = 2s",
                              "milter_connect_timeout = 2s", *extra])


def session(srv, rcpts=(RCPT,), body=None, sender="sender@example.org"):
    """One transaction over a raw connection: the replies to EHLO, MAIL,
    each RCPT, DATA and the end of the message (None where not reached)."""
    c = srv.conn()
    out = {"ehlo": c.cmd(f"EHLO {CLIENT_HELO}")}
    out["mail"] = c.cmd(f"MAIL FROM:<{sender}>")
    out["rcpt"] = [c.cmd(f"RCPT TO:<{r}>") for r in rcpts]
    out["data"] = c.cmd("DATA")
    out["eom"] = None
    if out["data"].startswith("354"):
        msg = body or make_message()
        c.send(msg.encode() + (b".\r\n" if msg.endswith("\r\n") else b"\r\n.\r\n"))
        out["eom"] = c.reply(timeout=15)
    c.cmd("QUIT")
    c.close()
    return out


def test_daemon_name_per_listener(make_server, milter):
    """milter_macro_daemon_name per listener (master.cf's -o
    milter_macro_daemon_name=ORIGINATING on submission): the milter sees
    that listener's {daemon_name}, port 25 keeps the global one."""
    import smtplib
    port = free_port()
    srv = start(make_server, milter, "listeners = orig", f"orig/inet/listen = 127.0.0.1:{port}",
                "orig/inet/milter_macro_daemon_name = ORIGINATING")
    for p in (port, srv.port):
        s = smtplib.SMTP("127.0.0.1", p, local_hostname=CLIENT_HELO, timeout=10)
        s.ehlo()
        s.quit()
    names = [m["{daemon_name}"] for m in milter.all_macros("connect")]
    assert names == ["ORIGINATING", "mx.test.example"], names


def queued_id(reply):
    return reply.rsplit(" ", 1)[-1]


def test_pass_through_sees_every_stage_and_macros(make_server, milter):
    srv = start(make_server, milter)
    r = session(srv)
    assert r["eom"].startswith("250 2.0.0 Ok: queued as ")
    srv.wait_delivered(RCPT, 1)
    st = milter.stages()
    for stage in ("connect", "helo", "mail", "rcpt", "data", "header", "eoh", "body", "eom"):
        assert stage in st, (stage, st)
    assert st.index("connect") < st.index("helo") < st.index("mail") < st.index("rcpt") \
        < st.index("data") < st.index("header") < st.index("eoh") < st.index("body") \
        < st.index("eom")
    conn = milter.macros("connect")
    assert conn["j"] == "mx.test.example"
    assert conn["{daemon_name}"] == "mx.test.example"
    assert conn["_"].endswith("[127.0.0.1]")
    assert conn["v"].startswith("mailwarden ")
    assert milter.macros("mail")["{mail_addr}"] == "sender@example.org"
    assert milter.macros("rcpt")["{rcpt_addr}"] == RCPT
    assert milter.macros("eom")["i"] == queued_id(r["eom"])
    assert milter.args("mail")[0] == b"<sender@example.org>\0"
    assert milter.args("rcpt")[0] == f"<{RCPT}>\0".encode()
    # The connect event: host name, family, port, address.
    c = milter.args("connect")[0]
    assert c.split(b"\0")[0] == b"localhost"
    assert b"4" in c and c.endswith(b"127.0.0.1\0")
    # Headers are name and value; the body comes with CRLF.
    hdrs = [a.split(b"\0")[0] for a in milter.args("header")]
    assert b"Received" in hdrs and b"Subject" in hdrs
    assert b"".join(milter.args("body")) == b"Hello.\r\n"


def test_macro_defaults_fill_macros_without_value(make_server, milter):
    """milter_macro_defaults: a macro a milter is sent that has no value in
    the session takes its default; one with a value keeps it."""
    srv = start(make_server, milter,
                "milter_macro_defaults = {auth_type}=none, { {auth_authen} = no one, really },"
                " {mail_addr}=never")
    r = session(srv)
    assert r["eom"].startswith("250"), r
    mail = milter.macros("mail")
    assert mail["{auth_type}"] == "none", mail
    assert mail["{auth_authen}"] == "no one, really", mail
    assert mail["{mail_addr}"] == "sender@example.org", mail
    assert "{auth_author}" not in mail     # no value, no default: not sent


def test_macro_defaults_syntax_error_is_refused(make_server):
    srv = make_server(extra=["milter_macro_defaults = {auth_type=none"], start=False)
    out = os.popen(f"{os.environ.get('MAILWARDEN_BIN', './mailwarden')} -c {srv.conf} "
                   "check-config 2>&1; echo rc=$?").read()
    assert "milter_macro_defaults: unbalanced braces" in out, out
    assert "rc=0" not in out


def test_unknown_command_event(make_server, milter):
    """SMFIC_UNKNOWN: a command the engine does not know goes to the milter
    (its verb, as Postfix sends it; the milter_unknown_command_macros);
    its reject is the reply, otherwise the usual 500; a slow answer parks
    the command like any other stage."""
    milter.script["unknown"] = lambda arg: (
        ("replycode", "550 5.5.1 not here") if arg.startswith(b"FOO") else
        ("sleep", 1, "reject") if arg.startswith(b"SLOW") else "continue")
    srv = start(make_server, milter, "milter_unknown_command_macros = {client_addr} i")
    c = srv.conn()
    assert c.cmd(f"EHLO {CLIENT_HELO}").startswith("250")
    assert c.cmd("FOO bar baz") == "550 5.5.1 not here"
    assert c.cmd("BAR") == "500 5.5.2 Error: command not recognized"
    assert c.cmd("SLOW") == "550 5.7.1 Command rejected"
    assert c.cmd("MAIL FROM:<sender@example.org>").startswith("250")
    assert c.cmd("XYZZY") == "500 5.5.2 Error: command not recognized"
    assert c.cmd(f"RCPT TO:<{RCPT}>").startswith("250")
    c.cmd("QUIT")
    c.close()
    assert milter.args("unknown") == [b"FOO\0", b"BAR\0", b"SLOW\0", b"XYZZY\0"]
    assert milter.macros("unknown") == {"{client_addr}": "127.0.0.1"}   # i: no value
    st = milter.stages()
    assert st.index("connect") < st.index("helo") < st.index("unknown")
    srv.wait_log(re.escape("NOQUEUE: milter-reject: UNKNOWN from localhost[127.0.0.1]: "
                           "550 5.5.1 not here; proto=ESMTP helo=<"))
    srv.wait_log(re.escape(" unknown=0/4 "))     # the parked SLOW counted once


@pytest.mark.parametrize("flag", ["NOUNKNOWN", "NR_UNKN"])
def test_unknown_command_flags(make_server, milter, flag):
    """SMFIP_NOUNKNOWN: the milter is not told; SMFIP_NR_UNKN: told, no
    reply awaited (the session goes on in step)."""
    milter.protocol = SMFIP_NOUNKNOWN if flag == "NOUNKNOWN" else SMFIP_NR_UNKN
    milter.script["unknown"] = "reject"    # never sent as a reply
    srv = start(make_server, milter)
    c = srv.conn()
    assert c.cmd("FOO").startswith("500 5.5.2")   # before HELO: connect comes first
    assert c.cmd(f"EHLO {CLIENT_HELO}").startswith("250")
    assert c.cmd("BAR").startswith("500 5.5.2")
    assert c.cmd("MAIL FROM:<sender@example.org>").startswith("250")
    c.cmd("QUIT")
    c.close()
    want = [] if flag == "NOUNKNOWN" else [b"FOO\0", b"BAR\0"]
    assert milter.args("unknown") == want
    assert milter.stages()[0] == "connect"


@pytest.mark.parametrize("stage,code", [
    ("helo", "554 5.7.1"), ("mail", "550 5.7.1"), ("rcpt", "550 5.7.1"),
    ("data", "550 5.7.1"), ("eom", "550 5.7.1"), ("header", "550 5.7.1"),
    ("body", "550 5.7.1"),
])
def test_reject_at_each_stage(make_server, milter, stage, code):
    milter.script[stage] = "reject"
    srv = start(make_server, milter)
    r = session(srv)
    replies = [r["ehlo"], r["mail"], *r["rcpt"], r["data"], r["eom"] or ""]
    assert any(x.startswith(code + " Command rejected") for x in replies), replies
    verb = {"helo": "EHLO", "mail": "MAIL", "rcpt": "RCPT", "data": "DATA"}.get(stage)
    if verb:
        srv.wait_log(rf"NOQUEUE: milter-reject: {verb} from localhost\[127\.0\.0\.1\]: "
                     rf"{code} Command rejected;.* proto=ESMTP helo=<{CLIENT_HELO}>")
    else:
        srv.wait_log(r"[0-9A-F]+: milter-reject: END-OF-MESSAGE from "
                     r"localhost\[127\.0\.0\.1\]: 5\.7\.1 Command rejected; "
                     rf"from=<sender@example\.org> to=<{RCPT}> proto=ESMTP "
                     rf"helo=<{CLIENT_HELO}>")
    if stage == "helo":
        # Postfix's (and Sendmail's) way: EHLO gets its 250, MAIL the reject.
        assert r["ehlo"].startswith("250") and r["mail"].startswith(code), r
    time.sleep(0.5)
    assert srv.messages(RCPT) == []
    assert srv.spool_files() == []


def test_connect_reject_answers_every_command(make_server, milter):
    milter.script["connect"] = "reject"
    srv = start(make_server, milter)
    r = session(srv)
    assert r["ehlo"].startswith("250")
    assert r["mail"].startswith("554 5.7.1 Command rejected")
    assert r["rcpt"][0].startswith("503")
    # Only the connect event was sent: nothing else reaches the milter.
    assert milter.stages()[0] == "connect"
    assert "helo" not in milter.stages() and "mail" not in milter.stages()
    srv.wait_log(r"NOQUEUE: milter-reject: CONNECT from localhost\[127\.0\.0\.1\]: "
                 r"554 5\.7\.1 Command rejected")


def test_rcpt_reject_is_per_recipient(make_server, milter):
    milter.script["rcpt"] = lambda a: "reject" if b"bob" in a else "continue"
    srv = start(make_server, milter)
    r = session(srv, rcpts=("bob@example.net", RCPT))
    assert r["rcpt"][0].startswith("550 5.7.1")
    assert r["rcpt"][1].startswith("250")
    assert r["eom"].startswith("250")
    srv.wait_delivered(RCPT, 1)
    assert srv.messages("bob@example.net") == []


def test_replycode_and_tempfail(make_server, milter):
    milter.script["mail"] = ("replycode", "550 5.7.0 Go away, spammer")
    srv = start(make_server, milter)
    r = session(srv)
    assert r["mail"] == "550 5.7.0 Go away, spammer"
    milter.script["mail"] = "continue"
    milter.script["eom"] = "tempfail"
    r = session(srv)
    assert r["eom"].startswith("451 4.7.1 Service unavailable - try again later")
    srv.wait_log(r"milter-reject: END-OF-MESSAGE from .*: 4\.7\.1 Service unavailable")
    milter.script["eom"] = ("replycode", "554 5.7.1 Virus found: EICAR")
    r = session(srv)
    assert r["eom"] == "554 5.7.1 Virus found: EICAR"
    time.sleep(0.3)
    assert srv.messages(RCPT) == [] and srv.spool_files() == []


def test_multiline_replycode(make_server, milter):
    milter.script["rcpt"] = ("replycode", "550-5.7.1 first line\r\n550 5.7.1 second line")
    srv = start(make_server, milter)
    r = session(srv)
    assert r["rcpt"][0] == "550-5.7.1 first line\n550 5.7.1 second line"


def test_discard(make_server, milter):
    milter.script["eom"] = "discard"
    srv = start(make_server, milter)
    r = session(srv)
    assert r["eom"].startswith("250 2.0.0 Ok: queued as ")
    srv.wait_log(r"milter-discard: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: "
                 r"milter triggers DISCARD action")
    time.sleep(0.5)
    assert srv.messages(RCPT) == [] and srv.spool_files() == []


def test_discard_at_rcpt_discards_the_message(make_server, milter):
    milter.script["rcpt"] = "discard"
    srv = start(make_server, milter)
    r = session(srv)
    assert r["rcpt"][0].startswith("250")
    assert r["eom"].startswith("250")
    srv.wait_log("milter-discard")
    assert "eom" not in milter.stages()
    time.sleep(0.3)
    assert srv.messages(RCPT) == []


def test_quarantine_goes_to_hold(make_server, milter):
    milter.eom_mods = [("quarantine", "looks odd")]
    srv = start(make_server, milter)
    r = session(srv)
    assert r["eom"].startswith("250 2.0.0 Ok: queued as ")
    qid = queued_id(r["eom"])
    srv.wait_log(rf"{qid}: quarantine reason: looks odd")
    srv.wait_log(rf"{qid}: milter-hold: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: "
                 rf"milter triggers HOLD action; from=<sender@example\.org> to=<{RCPT}>")
    time.sleep(1)
    assert srv.messages(RCPT) == []
    assert os.path.exists(os.path.join(srv.spool, "hold", qid))


def test_every_modification_reaches_the_mailbox(make_server, milter):
    milter.eom_mods = [
        ("addheader", "X-Added", "added value"),
        ("insheader", 0, "X-Top", "at the top"),
        ("chgheader", 1, "Subject", "changed subject"),
        ("chgheader", 1, "X-Drop", ""),
        ("replbody", b"New body line 1\r\nline 2\r\n"),
        ("addrcpt", "<bob@example.net>"),
        ("delrcpt", "<carol@example.net>"),
        ("chgfrom", "<changed@example.org>"),
    ]
    srv = start(make_server, milter)
    body = ("From: sender@example.org\r\nTo: alice@example.com\r\nSubject: original\r\n"
            "X-Drop: remove me\r\nMessage-ID: <m1@client.test.example>\r\n\r\nold body\r\n")
    r = session(srv, rcpts=(RCPT, "carol@example.net"), body=body)
    assert r["eom"].startswith("250 2.0.0 Ok: queued as ")
    srv.wait_delivered(RCPT, 1)
    srv.wait_delivered("bob@example.net", 1)
    msg = srv.messages(RCPT)[0].decode()
    head, _, text = msg.partition("\n\n")
    lines = head.split("\n")
    # Local delivery puts Return-Path and Delivered-To first; X-Top is
    # the first header of the message itself, above our Received.
    assert lines[2] == "X-Top: at the top", lines
    assert lines[3].startswith("Received: "), lines
    assert "X-Added: added value" in lines
    assert "Subject: changed subject" in lines
    assert not any(l.startswith("Subject: original") for l in lines)
    assert not any(l.startswith("X-Drop") for l in lines)
    assert text == "New body line 1\nline 2\n"
    assert lines[0] == "Return-Path: <changed@example.org>"
    time.sleep(0.5)
    assert srv.messages("carol@example.net") == []


def test_skipped_stages_and_no_reply_flags(make_server, milter):
    milter.protocol = SMFIP_NOHELO | SMFIP_NR_HDR | SMFIP_NOBODY
    milter.eom_mods = [("addheader", "X-Seen", "yes")]
    srv = start(make_server, milter)
    r = session(srv)
    assert r["eom"].startswith("250")
    st = milter.stages()
    assert "helo" not in st and "body" not in st and "header" in st
    srv.wait_delivered(RCPT, 1)
    assert b"X-Seen: yes" in srv.messages(RCPT)[0]


def test_accept_ends_the_milters_part(make_server, milter):
    milter.script["mail"] = "accept"
    milter.eom_mods = [("addheader", "X-Never", "x")]
    srv = start(make_server, milter)
    r = session(srv)
    assert r["eom"].startswith("250")
    srv.wait_delivered(RCPT, 1)
    assert "rcpt" not in milter.stages() and "eom" not in milter.stages()
    assert b"X-Never" not in srv.messages(RCPT)[0]


@pytest.mark.parametrize("stage", ["mail", "eom", "body"])
def test_hang_times_out_to_tempfail(make_server, milter, stage):
    milter.script[stage] = "hang"
    srv = start(make_server, milter)
    t0 = time.time()
    r = session(srv)
    took = time.time() - t0
    replies = [r["mail"], r["eom"] or ""]
    assert any(x.startswith("451 4.7.1 Service unavailable - try again later")
               for x in replies), r
    assert took < 10
    srv.wait_log(r"warning: milter inet:127\.0\.0\.1:\d+: can't read reply: timeout")
    assert srv.spool_files() == []


def test_hang_with_default_action_accept_delivers(make_server, milter):
    milter.script["eom"] = "hang"
    srv = start(make_server, f"{{ {milter.spec}, default_action=accept, content_timeout=1s }}")
    r = session(srv)
    assert r["eom"].startswith("250 2.0.0 Ok: queued as ")
    srv.wait_delivered(RCPT, 1)


@pytest.mark.parametrize("action,prefix", [("reject", "550 5.7.1"), ("tempfail", "451 4.7.1")])
def test_milter_default_action(make_server, milter, action, prefix):
    milter.script["rcpt"] = "close"
    srv = start(make_server, milter, f"milter_default_action = {action}")
    r = session(srv)
    assert r["rcpt"][0].startswith(prefix), r
    # The failed milter answers its default for the rest of the session.
    assert r["data"].startswith("5") or r["data"].startswith("4")


def test_close_mid_message_and_garbage(make_server, milter):
    milter.script["body"] = "close"
    srv = start(make_server, milter)
    r = session(srv)
    assert r["eom"].startswith("451 4.7.1"), r
    milter.script["body"] = "garbage"
    r = session(srv)
    assert r["eom"].startswith("451 4.7.1"), r
    srv.wait_log("bad packet length")
    # A new session gets a new connection and its mail through.
    milter.script["body"] = "continue"
    r = session(srv)
    assert r["eom"].startswith("250"), r
    srv.wait_delivered(RCPT, 1)
    assert srv.spool_files() == []


@pytest.mark.parametrize("bad", ["unknown reply", "2xx replycode", "change not negotiated"])
def test_replies_outside_the_protocol(make_server, milter, bad):
    if bad == "unknown reply":
        milter.script["eom"] = b"Z"
    elif bad == "2xx replycode":
        milter.script["eom"] = b"y299 not an error reply\0"
    else:
        milter.eom_mods = [("addheader", "X-Not", "negotiated")]
        milter.actions = 0
    srv = start(make_server, milter)
    r = session(srv)
    assert r["eom"].startswith("451 4.7.1 Service unavailable"), r
    srv.wait_log(r"warning: milter inet:127\.0\.0\.1:\d+: (unexpected or not negotiated reply|"
                 r"bad SMFIR_REPLYCODE)")
    time.sleep(0.3)
    assert srv.messages(RCPT) == [] and srv.spool_files() == []


def test_header_leading_space(make_server, milter):
    milter.protocol = SMFIP_HDR_LEADSPC
    milter.eom_mods = [("addheader", "X-Lead", "  two spaces")]
    srv = start(make_server, milter)
    body = "Subject:no space\r\nX-Tab:\tx\r\nTo: a@example.com\r\n\r\nb\r\n"
    assert session(srv, body=body)["eom"].startswith("250")
    hdrs = {a.split(b"\0")[0]: a.split(b"\0")[1] for a in milter.args("header")}
    assert hdrs[b"Subject"] == b"no space" and hdrs[b"X-Tab"] == b"\tx"
    assert hdrs[b"To"] == b" a@example.com"
    srv.wait_delivered(RCPT, 1)
    assert b"\nX-Lead:  two spaces\n" in srv.messages(RCPT)[0]


def test_large_message_and_large_replacement(make_server, milter):
    line = "0123456789" * 7 + "\r\n"
    body = "".join(f"{i:06d} {line}" for i in range(5000))      # about 390 KB
    new = b"".join(b"new %06d " % i + b"x" * 60 + b"\r\n" for i in range(3000))
    milter.eom_mods = [("replbody", new[:100000]), ("replbody", new[100000:])]
    srv = start(make_server, milter)
    msg = "Subject: big\r\nTo: a@example.com\r\n\r\n" + body
    assert session(srv, body=msg)["eom"].startswith("250")
    got = b"".join(milter.args("body"))
    assert got == body.encode()
    assert max(len(b) for b in milter.args("body")) <= 65535
    srv.wait_delivered(RCPT, 1)
    delivered = srv.messages(RCPT)[0]
    assert delivered.split(b"\n\n", 1)[1] == new.replace(b"\r\n", b"\n")


def test_replacement_body_with_crlf_cut_between_packets(make_server, milter):
    milter.eom_mods = [("replbody", b"one\r"), ("replbody", b"\ntwo\r\n")]
    srv = start(make_server, milter)
    assert session(srv)["eom"].startswith("250")
    srv.wait_delivered(RCPT, 1)
    assert srv.messages(RCPT)[0].split(b"\n\n", 1)[1] == b"one\ntwo\n"


def test_second_milter_body_replaces_the_first(make_server, milter):
    """Each milter sees the body of the earlier ones; a later replacement
    replaces it (it is not appended to the earlier replacement)."""
    other = ScriptMilter()
    try:
        milter.eom_mods = [("replbody", b"first body\r\n")]
        other.eom_mods = [("replbody", b"second body\r\n")]
        srv = start(make_server, f"{milter.spec}, {other.spec}")
        assert session(srv)["eom"].startswith("250")
        assert b"".join(other.args("body")) == b"first body\r\n"
        srv.wait_delivered(RCPT, 1)
        assert srv.messages(RCPT)[0].split(b"\n\n", 1)[1] == b"second body\n"
    finally:
        other.close()


def test_no_reply_body_larger_than_a_packet_buffer(make_server, milter):
    """With SMFIP_NR_BODY every chunk is queued at once: a body of several
    MB reaches the milter whole (the output buffer once held 2 MB)."""
    milter.protocol = SMFIP_NR_BODY
    line = "0123456789" * 7 + "\r\n"
    body = "".join(f"{i:06d} {line}" for i in range(40000))      # about 3 MB
    srv = start(make_server, milter)
    msg = "Subject: big\r\nTo: a@example.com\r\n\r\n" + body
    assert session(srv, body=msg)["eom"].startswith("250")
    assert b"".join(milter.args("body")) == body.encode()


def test_unreachable_milter(make_server):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()      # nothing listens there
    srv = start(make_server, f"inet:127.0.0.1:{port}")
    r = session(srv)
    assert r["ehlo"].startswith("250"), r
    assert r["mail"].startswith("451 4.7.1 Service unavailable"), r
    srv.wait_log(rf"warning: milter inet:127\.0\.0\.1:{port}: can't connect")
    srv2 = start(make_server, f"{{ inet:127.0.0.1:{port}, default_action=accept }}")
    r = session(srv2)
    assert r["eom"].startswith("250")


def test_progress_keeps_a_slow_milter_alive(make_server, milter):
    milter.script["eom"] = ("progress", 3, "continue")
    srv = start(make_server, milter)
    r = session(srv)
    assert r["eom"].startswith("250"), r


def test_slow_milter_delays_only_its_session(make_server, milter):
    milter.script["mail"] = lambda a: ("sleep", 3, "continue") if b"slow" in a else "continue"
    srv = start(make_server, milter, "milter_command_timeout = 10s")
    res = {}

    def slow():
        res["slow"] = session(srv, sender="slow@example.org")

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    t0 = time.time()
    r = session(srv)
    fast = time.time() - t0
    t.join()
    assert r["eom"].startswith("250") and res["slow"]["eom"].startswith("250")
    assert fast < 2, fast


def test_connection_limit_queues_sessions(make_server, milter):
    srv = start(make_server, milter, "milter_connection_limit = 1")
    c1 = srv.conn()
    assert c1.cmd(f"EHLO {CLIENT_HELO}").startswith("250")
    res = {}

    def second():
        res["r"] = session(srv)

    t = threading.Thread(target=second)
    t.start()
    time.sleep(0.8)
    assert "r" not in res            # waiting for the one connection
    c1.cmd("QUIT")
    t.join(10)
    assert res["r"]["eom"].startswith("250"), res
    assert milter.connections == 2


def test_unix_socket_under_the_queue_directory(make_server, tmp_path):
    srv = make_server(start=False)
    os.makedirs(os.path.join(srv.spool, "milter"), exist_ok=True)
    path = os.path.join(srv.spool, "milter", "sock")
    m = ScriptMilter(unix_path=path)
    try:
        m.eom_mods = [("addheader", "X-Unix", "yes")]
        srv.extra += ["smtpd_milters = unix:milter/sock"]
        srv.write_config()
        srv.start()
        r = session(srv)
        assert r["eom"].startswith("250"), r
        srv.wait_delivered(RCPT, 1)
        assert b"X-Unix: yes" in srv.messages(RCPT)[0]
    finally:
        m.close()


def test_unix_socket_outside_the_chroot_is_refused(make_server, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the engine chroots only when started as root")
    srv = make_server(extra=["smtpd_milters = unix:/run/opendkim/opendkim.sock"],
                      start=False)
    out = os.popen(f"{os.environ.get('MAILWARDEN_BIN', './mailwarden')} -c {srv.conf} "
                   "check-config 2>&1; echo rc=$?").read()
    assert "cannot reach /run/opendkim/opendkim.sock" in out, out
    assert "rc=0" not in out


def test_per_listener_override_and_milter_maps(make_server, milter, tmp_path):
    other = ScriptMilter()
    try:
        other.script["mail"] = ("replycode", "550 5.7.1 from the override")
        srv = start(make_server, milter, f"smtpd/inet/smtpd_milters = {other.spec}")
        r = session(srv)
        assert r["mail"] == "550 5.7.1 from the override"
        assert milter.connections == 0
    finally:
        other.close()
    maps = tmp_path / "milter_maps"
    maps.write_text("127.0.0.1 DISABLE\n")
    milter.script["mail"] = "reject"
    srv2 = start(make_server, milter, f"smtpd_milter_maps = texthash:{maps}")
    r = session(srv2)
    assert r["eom"].startswith("250"), r
    # A client's own list from the map, with no global smtpd_milters.
    maps2 = tmp_path / "milter_maps2"
    maps2.write_text(f"127.0.0.1 {{ {milter.spec}, default_action=accept }}\n")
    srv3 = make_server(extra=[f"smtpd_milter_maps = texthash:{maps2}"])
    r = session(srv3)
    assert r["mail"].startswith("550 5.7.1 Command rejected"), r


def test_pipelined_session_and_two_messages(make_server, milter):
    milter.eom_mods = [("addheader", "X-Count", "1")]
    srv = start(make_server, milter)
    c = srv.conn()
    c.cmd(f"EHLO {CLIENT_HELO}")
    msg = make_message().encode()
    for _ in range(2):
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n")
        rs = c.replies(3)
        assert rs[0].startswith("250") and rs[1].startswith("250") and rs[2].startswith("354"), rs
        c.send(msg + b".\r\n")
        assert c.reply().startswith("250 2.0.0 Ok: queued as ")
    c.cmd("QUIT")
    srv.wait_delivered(RCPT, 2)
    assert all(b"X-Count: 1" in m for m in srv.messages(RCPT))
    assert milter.connections == 1


# ---- OpenDKIM (Debian's) signing on the submission listener ---------------

def test_opendkim_signs_authenticated_submission(make_server, tmp_path):
    if not os.path.exists(OpenDkim.EXE):
        pytest.skip("opendkim not installed (scripts/install-deps.sh)")
    dkim = pytest.importorskip("dkim")
    import smtplib
    import dnsfix
    from tlsfix import TlsFiles

    tls = TlsFiles()
    port = free_port()
    # The milter only on the submission listener (per-listener override);
    # its socket under queue_directory, named relative to it, as the
    # chrooted engine sees it (docs/milter.md).
    srv = make_server(extra=tls.config(
        f"submission_listen = 127.0.0.1:{port}",
        "submission/inet/smtpd_milters = unix:opendkim/opendkim.sock"), start=False)
    os.makedirs(os.path.join(srv.spool, "opendkim"), exist_ok=True)
    od = OpenDkim(os.path.join(srv.spool, "opendkim", "opendkim.sock"))
    dns = dnsfix.DnsServer(extra_args=[f"--txt-record=test._domainkey.example.com,{od.txt}"])
    try:
        od.start()
        dns.start()
        srv.start()
        s = smtplib.SMTP("127.0.0.1", port, local_hostname=CLIENT_HELO, timeout=15)
        s._host = "mx.test.example"
        s.ehlo()
        s.starttls(context=tls.client_context())
        s.ehlo()
        s.login("alice@example.com", "alice-secret")
        msg = make_message(subject="signed", frm="alice@example.com",
                           body="A signed message.\r\n")
        s.sendmail("alice@example.com", ["alice@example.com"], msg)
        s.quit()
        # Mail on port 25 from the same client does not go to the milter.
        srv.send_mail(RCPT, make_message(subject="unsigned"))
        srv.wait_delivered(RCPT, 2)
        msgs = srv.messages(RCPT)
        signed = [m for m in msgs if b"Subject: signed" in m]
        unsigned = [m for m in msgs if b"Subject: unsigned" in m]
        assert signed and unsigned
        assert b"DKIM-Signature:" in signed[0], od.logtext()
        assert b"DKIM-Signature:" not in unsigned[0]
        assert dns.query("test._domainkey.example.com", "TXT") == [od.txt]

        def dnsfunc(name, timeout=5):
            name = name.decode() if isinstance(name, bytes) else name
            ans = dns.query(name.rstrip("."), "TXT")
            return ans[0].encode() if isinstance(ans, list) and ans else None

        wire = signed[0].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        assert dkim.verify(wire, dnsfunc=dnsfunc), od.logtext()
        # A changed body no longer verifies: the check can fail.
        assert not dkim.verify(wire.replace(b"A signed message.", b"A forged message."),
                               dnsfunc=dnsfunc)
    finally:
        od.stop()
        dns.stop()


def test_opendkim_verifier_adds_authentication_results(make_server, tmp_path):
    """The signed message of the test above, sent again on port 25 where a
    second OpenDKIM verifies (Mode v, keys from the test's dnsmasq): its
    Authentication-Results header says dkim=pass in the delivered file, and
    dkim=fail for a copy whose body was changed on the way."""
    if not os.path.exists(OpenDkim.EXE):
        pytest.skip("opendkim not installed (scripts/install-deps.sh)")
    import smtplib
    import dnsfix
    from tlsfix import TlsFiles

    tls = TlsFiles()
    port = free_port()
    vport = free_port()
    srv = make_server(extra=tls.config(
        f"submission_listen = 127.0.0.1:{port}",
        "submission/inet/smtpd_milters = unix:opendkim/opendkim.sock",
        f"smtpd_milters = inet:127.0.0.1:{vport}"), start=False)
    os.makedirs(os.path.join(srv.spool, "opendkim"), exist_ok=True)
    signer = OpenDkim(os.path.join(srv.spool, "opendkim", "opendkim.sock"))
    dns = dnsfix.DnsServer(extra_args=[f"--txt-record=test._domainkey.example.com,{signer.txt}"])
    dns.start()
    verifier = OpenDkim(f"inet:{vport}@127.0.0.1", mode="v", key=signer.key,
                        nameserver=f"127.0.0.1@{dns.port}")
    try:
        signer.start()
        verifier.start()
        srv.start()
        s = smtplib.SMTP("127.0.0.1", port, local_hostname=CLIENT_HELO, timeout=15)
        s._host = "mx.test.example"
        s.ehlo()
        s.starttls(context=tls.client_context())
        s.ehlo()
        s.login("alice@example.com", "alice-secret")
        s.sendmail("alice@example.com", ["alice@example.com"],
                   make_message(subject="signed", frm="alice@example.com",
                                body="A signed message.\r\n"))
        s.quit()
        srv.wait_delivered(RCPT, 1)
        first = srv.messages(RCPT)[0]
        assert b"DKIM-Signature:" in first, signer.logtext()
        # What left us: drop the lines local delivery added, CRLF again.
        lines = first.split(b"\n")
        assert lines[0].startswith(b"Return-Path:") and lines[1].startswith(b"Delivered-To:")
        wire = b"\r\n".join(lines[2:]).decode()
        srv.send_mail("bob@example.net", wire, sender="alice@example.com")
        srv.send_mail("bob@example.net", wire.replace("A signed message.", "A forged message."),
                      sender="alice@example.com")
        srv.wait_delivered("bob@example.net", 2)
        got = {(b"forged" in m): m for m in srv.messages("bob@example.net")}
        head_ok = got[False].split(b"\n\n")[0]
        head_bad = got[True].split(b"\n\n")[0]
        assert b"\nAuthentication-Results: mx.test.example;\n\tdkim=pass" in head_ok, \
            (head_ok, verifier.logtext())
        assert b'dkim=fail reason="signature verification failed"' in head_bad, \
            (head_bad, verifier.logtext())
    finally:
        signer.stop()
        verifier.stop()
        dns.stop()
