"""Per-listener overrides (ROLE/inet/KEY, master.cf's -o KEY=VALUE): an
override of a key the engine reads only globally is said so, with its file
and line, by check-config and at start; the keys read per listener change
the behaviour of that listener only."""
import os
import re
import subprocess

from conftest import BIN, Conn, free_port


def check_config(s):
    s.write_config()
    return subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True,
                          text=True, timeout=30)


def line_of(path, text):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.startswith(text):
                return n
    raise AssertionError(f"{text!r} not in {path}")


NOT_APPLIED = "not applied per listener here; the global value applies"


def test_override_without_listener_effect_is_warned(make_server):
    s = make_server(start=False)
    rport = free_port()
    s.extra = ["submission/inet/syslog_name = postfix/submission",
               "listeners = reinject", f"reinject/inet/listen = 127.0.0.1:{rport}",
               "reinject/inet/smtpd_banner = hi",
               "reinject/inet/smtpd_helo_required = yes",
               "smtpd/inet/smtpd_client_restrictions = permit"]
    r = check_config(s)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    conf = os.path.basename(s.conf)
    n = line_of(s.conf, "submission/inet/syslog_name")
    assert re.search(rf"{re.escape(conf)}, line {n}: submission/inet/syslog_name: "
                     + re.escape(NOT_APPLIED), out), out
    n = line_of(s.conf, "reinject/inet/smtpd_banner")
    assert re.search(rf"line {n}: reinject/inet/smtpd_banner: " + re.escape(NOT_APPLIED),
                     out), out
    # keys read per listener, and a named listener's address: no warning
    assert "smtpd_helo_required: not applied" not in out, out
    assert "smtpd_client_restrictions: not applied" not in out, out
    assert "inet/smtpd_listen" not in out and "inet/listen:" not in out, out
    assert out.count(NOT_APPLIED) == 2, out
    # and at start (before the log is open: on stderr)
    s.start()
    assert "submission/inet/syslog_name: " + NOT_APPLIED in s.stderr(), s.stderr()
    c = Conn("127.0.0.1", rport)
    assert c.banner.startswith("220 "), c.banner
    c.close()
