"""Reject log lines in Postfix's format (issue 3), and Debian's fail2ban
postfix filter (/etc/fail2ban/filter.d/postfix.conf, modes rbl and more)
matching them when syslog_name = postfix; config errors in restriction
lists refused at start with file, line and key."""
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import BIN
from dnsfix import RCPT, log_tail, policy_extra, tx

FAIL2BAN = shutil.which("fail2ban-regex")
FILTER = "/etc/fail2ban/filter.d/postfix.conf"


def test_rbl_reject_log_line(make_server, dns):
    s = make_server(extra=policy_extra(dns, "smtpd_client_restrictions = reject_rbl_client dnsbl.test"))
    r = tx(s, "127.0.0.13", helo="x", sender="a@b.test", rcpt=RCPT)
    assert r["rcpt"].startswith("554 5.7.1"), (r, log_tail(s))
    # the example line, exactly
    s.wait_log(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ postfix/smtpd\[\d+\]: "
               r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.13\]: 554 5\.7\.1 Service "
               r"unavailable; Client host \[127\.0\.0\.13\] blocked using dnsbl\.test; "
               r"from=<a@b\.test> to=<alice@example\.com> proto=ESMTP helo=<x>$")
    # the TXT record is part of the reply, hence of the line
    tx(s, "127.0.0.5", helo="x")
    s.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.5\]: 554 5\.7\.1 Service "
               r"unavailable; Client host \[127\.0\.0\.5\] blocked using dnsbl\.test; listed "
               r"for testing; from=<a@b\.test> to=<alice@example\.com> proto=ESMTP helo=<x>$")


def test_client_name_in_log(make_server, dns):
    """Forward-confirmed clients are logged name[addr], others unknown[addr]
    (connect lines too)."""
    s = make_server(extra=policy_extra(dns, "smtpd_client_restrictions = reject"))
    tx(s, "127.0.0.2")
    tx(s, "127.0.0.3")
    s.wait_log(r"postfix/smtpd\[\d+\]: connect from good\.test\[127\.0\.0\.2\]$")
    s.wait_log(r"postfix/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.3\]$")
    s.wait_log(r"NOQUEUE: reject: RCPT from good\.test\[127\.0\.0\.2\]: 554 5\.7\.1 "
               r"<good\.test\[127\.0\.0\.2\]>: Client host rejected: Access denied; "
               r"from=<a@b\.test> to=<alice@example\.com> proto=ESMTP helo=<good\.test>$")


def fail2ban(logfile, mode):
    r = subprocess.run([FAIL2BAN, "--print-all-matched", logfile, f"postfix[mode={mode}]"],
                       capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr
    m = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed", out, re.M)
    assert m, out
    ips = re.findall(r"^\|\s+(\S+)\s+\(", out, re.M)
    return int(m.group(3)), out


@pytest.mark.skipif(not FAIL2BAN or not os.path.exists(FILTER), reason="fail2ban not installed")
def test_fail2ban_postfix_filter(make_server, dns):
    s = make_server(extra=policy_extra(
        dns,
        "smtpd_client_restrictions = reject_rbl_client dnsbl.test, "
        "reject_unknown_client_hostname",
        "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, reject_unknown_helo_hostname",
        "smtpd_sender_restrictions = reject_unknown_sender_domain"))
    rbl = ["127.0.0.5", "127.0.0.13", "127.0.0.14"]
    for ip in rbl:                                      # 554 5.7.1 Service unavailable
        assert tx(s, ip)["rcpt"].startswith("554 5.7.1 Service unavailable"), log_tail(s)
    assert tx(s, "127.0.0.3")["rcpt"].startswith("450 4.7.25 Client host rejected")
    assert tx(s, "127.0.0.6")["rcpt"].startswith("450 4.7.25 Client host rejected")
    assert tx(s, "127.0.0.2", helo="nohost.test")["rcpt"].startswith("450 4.7.1 <nohost.test>")
    assert tx(s, "127.0.0.2", helo="box")["rcpt"].startswith("504 5.5.2 <box>")
    assert tx(s, "127.0.0.2", sender="a@nope.test")["rcpt"].startswith("450 4.1.8")
    assert tx(s, "127.0.0.2", sender="a@good.test",
              rcpt="x@mx.test")["rcpt"].startswith("554 5.7.1 <x@mx.test>")
    # and lines that must not count
    assert tx(s, "127.0.0.2", sender="a@good.test")["rcpt"].startswith("250")
    rejects = [l for l in s.log().splitlines() if "NOQUEUE: reject: RCPT from" in l]
    assert len(rejects) == 9, log_tail(s)

    n, out = fail2ban(s.maillog, "rbl")
    assert n == len(rbl), out + log_tail(s)
    n, out = fail2ban(s.maillog, "more")
    assert n == len(rejects), out + log_tail(s)
    for ip in rbl + ["127.0.0.3", "127.0.0.6", "127.0.0.2"]:
        assert ip in out, (ip, out)


# ---- configuration errors ---------------------------------------------------

def refused(make_server, lines):
    s = make_server(extra=lines, start=False)
    r = subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True, text=True,
                       timeout=20, stdin=subprocess.DEVNULL)
    out = r.stdout + r.stderr
    # the server itself refuses to start the same way
    p = subprocess.Popen([BIN, "-c", s.conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        pout, _ = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        pout, _ = p.communicate()
        pout += "\n(started and kept running: killed)"
    return r.returncode, out, p.returncode, pout, s


def line_of(conf, key):
    with open(conf) as f:
        for i, l in enumerate(f, 1):
            if l.startswith(key + " ") or l.startswith(key + "="):
                return i
    raise AssertionError(key)


@pytest.mark.parametrize("key,value,what", [
    ("smtpd_client_restrictions", "permit_mynetworks, reject_everything_bad", "reject_everything_bad"),
    ("smtpd_sender_restrictions", "check_sender_access texthash:/nonexistent/senders", "/nonexistent/senders"),
    ("smtpd_client_restrictions", "check_client_access cidr:/nonexistent/clients.cidr", "/nonexistent/clients.cidr"),
    ("smtpd_client_restrictions", "reject_rbl_client", "reject_rbl_client"),
    ("smtpd_recipient_restrictions", "check_policy_service", "check_policy_service"),
])
def test_config_errors_refused(make_server, dns, key, value, what):
    rc, out, prc, pout, s = refused(make_server, policy_extra(dns, f"{key} = {value}"))
    line = line_of(s.conf, key)
    for code, text in ((rc, out), (prc, pout)):
        assert code != 0, f"accepted: {key} = {value}\n{text}"
        assert s.conf in text, text
        assert re.search(rf"\bline {line}\b", text), (line, text)
        assert key in text, text
        assert what in text, text


def test_unreachable_permit_is_fine(make_server, dns):
    """'a permit after a list that cannot reach it is fine'."""
    s = make_server(extra=policy_extra(dns, "smtpd_client_restrictions = reject, permit"))
    assert tx(s, "127.0.0.2")["rcpt"].startswith("554 5.7.1"), log_tail(s)
