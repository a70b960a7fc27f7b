"""Recipients: virtual mailboxes, virtual aliases (and catch-all), unknown
users rejected at RCPT, relay control by mynetworks, alias loops."""
import os
import time

from conftest import make_message


def rcpt_reply(s, rcpt, source=None, sender="sender@example.org"):
    c = s.conn(source=source)
    c.cmd("EHLO client.test.example")
    assert c.cmd(f"MAIL FROM:<{sender}>") == "250 2.1.0 Ok"
    r = c.cmd(f"RCPT TO:<{rcpt}>")
    c.cmd("QUIT")
    c.close()
    return r


def test_virtual_mailbox_user_delivered(server):
    r = server.send_mail("alice@example.com", make_message(subject="to alice"))
    assert r.startswith("250 2.0.0 Ok: queued as ")
    files = server.wait_delivered("alice@example.com", 1)
    assert files[0].startswith(os.path.join(server.dir, "mail", "example.com", "alice", "new") + "/")
    with open(files[0], "rb") as f:
        assert b"Subject: to alice" in f.read()
    # Maildir layout: tmp/ and cur/ exist too
    base = os.path.join(server.dir, "mail", "example.com", "alice")
    assert os.path.isdir(os.path.join(base, "tmp"))
    assert os.path.isdir(os.path.join(base, "cur"))
    assert os.listdir(os.path.join(base, "tmp")) == []


def test_second_domain_delivered(server):
    server.send_mail("bob@example.net", make_message(subject="to bob", to="bob@example.net"))
    server.wait_delivered(os.path.join(server.dir, "mail", "example.net", "bob", "new"), 1)


def test_address_case_insensitive(server):
    # Postfix lowercases addresses for table lookups
    assert rcpt_reply(server, "Alice@Example.COM") == "250 2.1.5 Ok"


def test_unknown_user_rejected(server):
    assert rcpt_reply(server, "nobody@example.com") == \
        "550 5.1.1 <nobody@example.com>: Recipient address rejected: " \
        "User unknown in virtual mailbox table"
    assert rcpt_reply(server, "nobody@example.net") == \
        "550 5.1.1 <nobody@example.net>: Recipient address rejected: " \
        "User unknown in virtual mailbox table"


def test_unknown_local_user_rejected(server):
    # mydestination = localhost: local users are system accounts + aliases
    r = rcpt_reply(server, "no-such-user-xyz@localhost")
    assert r.startswith("550 5.1.1 <no-such-user-xyz@localhost>: Recipient address rejected: "), r
    assert "User unknown in local recipient table" in r, r


def test_virtual_alias_delivers_to_target(server):
    server.send_mail("abuse@example.com", make_message(subject="abuse report", to="abuse@example.com"))
    files = server.wait_delivered("postmaster@example.com", 1)
    with open(files[0], "rb") as f:
        data = f.read()
    assert b"Subject: abuse report" in data
    # cross-domain alias
    server.send_mail("alice@example.net", make_message(subject="cross", to="alice@example.net"))
    files = server.wait_delivered("alice@example.com", 1)
    with open(files[0], "rb") as f:
        assert b"Subject: cross" in f.read()
    time.sleep(0.3)
    assert not os.path.exists(os.path.join(server.dir, "mail", "example.net", "alice"))
    server.wait_log(r"to=<postmaster@example\.com>, orig_to=<abuse@example\.com>, relay=virtual, .*status=sent")


def test_alias_to_several(make_server):
    s = make_server(valias={"team@example.com": "alice@example.com, bob@example.net"})
    s.send_mail("team@example.com", make_message(subject="team", to="team@example.com"))
    s.wait_delivered("alice@example.com", 1)
    s.wait_delivered("bob@example.net", 1)


def test_catch_all_alias(make_server):
    s = make_server(valias={
        "@example.net": "bob@example.net",
        # with a catch-all, Postfix needs the self-mapping for bob himself
        "bob@example.net": "bob@example.net",
    })
    assert rcpt_reply(s, "anything-at-all@example.net") == "250 2.1.5 Ok"
    s.send_mail("whoever@example.net", make_message(subject="catch-all", to="whoever@example.net"))
    files = s.wait_delivered("bob@example.net", 1)
    with open(files[0], "rb") as f:
        assert b"Subject: catch-all" in f.read()
    # the other domain has no catch-all
    assert rcpt_reply(s, "whoever@example.com").startswith("550 5.1.1")


def test_relay_denied_outside_mynetworks(make_server):
    s = make_server(extra=["mynetworks = 127.0.0.1/32"])
    r = rcpt_reply(s, "x@outside.example", source="127.0.0.2")
    assert r == "554 5.7.1 <x@outside.example>: Relay access denied", r
    s.wait_log(r"NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.2\]: 554 5\.7\.1 "
               r"<x@outside\.example>: Relay access denied; from=<sender@example\.org> "
               r"to=<x@outside\.example> proto=ESMTP helo=<client\.test\.example>")
    # our own domains are still fine from there
    assert rcpt_reply(s, "alice@example.com", source="127.0.0.2") == "250 2.1.5 Ok"
    # and a percent-hack / source route does not sneak past the check
    r = rcpt_reply(s, "x%outside.example@example.com", source="127.0.0.2")
    assert r.startswith("5"), r
    r = rcpt_reply(s, "@example.com:x@outside.example", source="127.0.0.2")
    assert r.startswith("5"), r


def test_default_mynetworks_includes_loopback(server):
    # default mynetworks has 127.0.0.0/8: 127.0.0.2 may relay
    r = rcpt_reply(server, "x@outside.example", source="127.0.0.2")
    assert r == "250 2.1.5 Ok", r


def test_mynetworks_client_may_relay_and_it_is_deferred(make_server):
    s = make_server(extra=["mynetworks = 127.0.0.1/32"])
    r = s.send_mail("someone@outside.example", make_message(subject="out", to="someone@outside.example"))
    assert r.startswith("250 2.0.0 Ok: queued as ")
    qid = r.split()[-1]
    # outbound delivery is a later issue: the message waits, shown as deferred
    s.wait_log(qid + r": to=<someone@outside\.example>, relay=\S+, .*status=deferred")
    assert s.spool_files(), "a deferred message must stay in the queue"


def test_alias_loop_does_not_hang(make_server):
    s = make_server(valias={
        "loop1@example.com": "loop2@example.com",
        "loop2@example.com": "loop1@example.com",
    })
    c = s.conn(timeout=10)
    c.cmd("EHLO client.test.example")
    assert c.cmd("MAIL FROM:<sender@example.org>") == "250 2.1.0 Ok"
    t0 = time.time()
    r = c.cmd("RCPT TO:<loop1@example.com>", timeout=10)
    assert time.time() - t0 < 5, "RCPT with an alias loop took too long"
    assert r[:1] in ("2", "5"), r
    if r.startswith("250"):
        assert c.cmd("DATA").startswith("354")
        c.send(b"Subject: loop\r\n\r\nloop\r\n.\r\n")
        r = c.reply(timeout=10)
        assert r[:1] in ("2", "5"), r
    c.cmd("QUIT")
    c.close()
    # the server is still alive and delivering
    s.send_mail("alice@example.com", make_message(subject="after loop"))
    s.wait_delivered("alice@example.com", 1)


def test_alias_maps_for_local_domain(make_server):
    s = make_server(start=False)
    aliases = os.path.join(s.dir, "aliases")
    with open(aliases, "w") as f:
        f.write("# aliases(5)\npostmaster: alice@example.com\n"
                "team: alice@example.com,\n  bob@example.net\n")
    os.chmod(aliases, 0o644)
    s.extra += [f"alias_maps = hash:{aliases}"]
    s.write_config()
    s.start()
    assert rcpt_reply(s, "postmaster@localhost") == "250 2.1.5 Ok"
    s.send_mail("team@localhost", make_message(subject="to team", to="team@localhost"))
    s.wait_delivered("alice@example.com", 1)
    s.wait_delivered("bob@example.net", 1)


def test_recipient_delimiter(make_server):
    s = make_server(extra=["recipient_delimiter = +"])
    assert rcpt_reply(s, "alice+lists@example.com") == "250 2.1.5 Ok"
    s.send_mail("alice+lists@example.com", make_message(subject="tagged"))
    (path,) = s.wait_delivered("alice@example.com", 1)
    with open(path, "rb") as f:
        data = f.read()
    assert b"Delivered-To: alice+lists@example.com\n" in data or \
        b"Delivered-To: alice@example.com\n" in data, data[:300]
    # without the setting the tag is part of the name
    s2 = make_server()
    assert rcpt_reply(s2, "alice+lists@example.com").startswith("550 5.1.1")
