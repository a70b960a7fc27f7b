"""The master's reload (SIGHUP, src/master/master.c): a reload that fails
keeps the old configuration whole. The DKIM key set is what every later
smtp engine inherits from the master, so it must not be the new one when
another step of the reload (here the Public Suffix List) failed."""
import os
import re
import signal
import time

from conftest import children_by_comm, make_message
from test_dkim import keys, wire_of  # noqa: F401 (keys is a fixture)

RCPT = "alice@example.com"


def selectors(srv, subject):
    wire = [wire_of(m) for m in srv.messages(RCPT) if f"Subject: {subject}".encode() in m][0]
    return re.findall(rb"\bs=(\w+);", wire.split(b"\r\n\r\n")[0])


def test_failed_reload_keeps_the_old_dkim_keys(make_server, keys, tmp_path):  # noqa: F811
    srv = make_server(extra=["dkim_selector = r1", f"dkim_key_directory = {keys['dir']}"])
    srv.send_mail(RCPT, make_message(subject="one", frm="alice@example.com"))
    srv.wait_delivered(RCPT, 1)
    assert selectors(srv, "one") == [b"r1"]
    # the new configuration: another key, and a Public Suffix List with no
    # rule (check-config only opens it; its load fails)
    psl = tmp_path / "psl.dat"
    psl.write_text("// nothing but a comment\n")
    srv.extra = ["dkim_selector = e1", f"dkim_key_directory = {keys['dir']}",
                 "dkim_verify = yes", f"dmarc_public_suffix_list = {psl}"]
    srv.write_config()
    srv.sighup()
    srv.wait_log(r"reload failed, keeping the old configuration: .*no rules")
    # an engine started now (after a crash) has the old configuration: the old key
    engine = children_by_comm(srv.proc.pid)["smtpd"]
    os.kill(engine, signal.SIGKILL)
    srv.wait_log(r"process smtpd pid \d+ exit killed by signal 9")
    deadline = time.time() + 10
    while time.time() < deadline and children_by_comm(srv.proc.pid).get("smtpd") in (None, engine):
        time.sleep(0.05)
    srv.wait_ready()
    srv.send_mail(RCPT, make_message(subject="two", frm="alice@example.com"))
    srv.wait_delivered(RCPT, 2)
    assert selectors(srv, "two") == [b"r1"]
