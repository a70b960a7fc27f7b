"""SIGHUP reloads the maps (and the config) without a restart."""
import os
import time

from conftest import make_message
from test_recipients import rcpt_reply


def test_sighup_reloads_maps(server):
    assert rcpt_reply(server, "dave@example.com").startswith("550 5.1.1")
    with open(server.vmailbox_path, "a") as f:
        f.write("dave@example.com\texample.com/dave/\n")
    with open(server.valias_path, "a") as f:
        f.write("david@example.com\tdave@example.com\n")
    server.sighup()
    deadline = time.time() + 5
    r = ""
    while time.time() < deadline:
        r = rcpt_reply(server, "dave@example.com")
        if r.startswith("250"):
            break
        time.sleep(0.2)
    assert r == "250 2.1.5 Ok", f"after SIGHUP: {r}"
    assert rcpt_reply(server, "david@example.com") == "250 2.1.5 Ok"
    server.send_mail("david@example.com", make_message(subject="new user", to="david@example.com"))
    server.wait_delivered("dave@example.com", 1)
    # still the same process: reload, not restart
    assert server.proc.poll() is None


def test_sighup_keeps_serving_and_queue(server):
    c = server.conn()
    c.cmd("EHLO client.test.example")
    server.sighup()
    time.sleep(0.5)
    # a session open across the reload still works
    assert c.cmd("MAIL FROM:<sender@example.org>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<alice@example.com>") == "250 2.1.5 Ok"
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: across reload\r\n\r\nx\r\n.\r\n")
    assert c.reply().startswith("250 2.0.0 Ok: queued as ")
    c.close()
    for i in range(3):
        server.sighup()
        time.sleep(0.1)
    server.send_mail("bob@example.net", make_message(to="bob@example.net"))
    server.wait_delivered("alice@example.com", 1)
    server.wait_delivered("bob@example.net", 1)
    assert server.proc.poll() is None


def test_sigterm_lets_a_message_in_flight_finish(make_server):
    import signal
    s = make_server()
    c = s.conn()
    assert c.cmd("EHLO client.test.example").startswith("250")
    assert c.cmd("MAIL FROM:<sender@example.org>").startswith("250")
    assert c.cmd("RCPT TO:<alice@example.com>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
    os.kill(s.proc.pid, signal.SIGTERM)
    time.sleep(0.5)
    c.send(b"second half\r\n.\r\n")
    r = c.reply(timeout=10)
    assert r.startswith("250 2.0.0 Ok: queued as "), f"message in flight at SIGTERM: {r!r}"
    c.close()
    s.proc.wait(timeout=15)
    assert s.proc.returncode == 0
    # acknowledged, so it is delivered before the exit or after the next start
    s.start()
    (path,) = s.wait_delivered("alice@example.com", 1)
    with open(path, "rb") as f:
        data = f.read()
    assert b"first half\nsecond half\n" in data
