"""A jail that cannot work is refused at start (and by check-config) with
file and line, instead of a mail server silently running without it."""
import os
import re
import subprocess

import pytest

from conftest import BIN


def check(srv):
    return subprocess.run([BIN, "-c", srv.conf, "check-config"], capture_output=True, text=True)


@pytest.mark.parametrize("lines, want", [
    (["filter = no-such-filter"], "no-such-filter"),
    (["action = smtp.py"], "Python actions are not supported"),
    (["action = no-such-action"], "no-such-action"),
    (["bantime.increment = true", "bantime.formula = __import__('os').system('x')"],
     "bantime.formula"),
    (["bantime = 1 fortnight"], "bantime"),
    (["filter = postfix[mode=nosuch]"], "mode=nosuch: no such mode"),
    (["filter = sshd[mode=bogus]"], "mode=bogus: no such mode"),
])
def test_bad_jail_refused_with_file_and_line(make_server, tmp_path, lines, want):
    srv = make_server(extra=["[sshd]", "enabled = true", "logpath = /dev/null"] + lines,
                      start=False)
    r = check(srv)
    assert r.returncode != 0
    assert srv.conf in r.stderr and "line " in r.stderr and want in r.stderr, r.stderr
    # and the program itself refuses to start
    p = subprocess.run([BIN, "-c", srv.conf], capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and want in p.stderr, p.stderr


def test_bad_regex_in_a_filter_file(make_server, tmp_path):
    d = tmp_path / "filter.d"
    d.mkdir()
    (d / "mine.conf").write_text("[Definition]\nfailregex = ^(unclosed <HOST>\n")
    srv = make_server(extra=["[mine]", "enabled = true", "logpath = /dev/null",
                             f"filter = {d}/mine.conf"], start=False)
    r = check(srv)
    assert r.returncode != 0 and "mine.conf" in r.stderr, r.stderr


def test_option_slip_is_a_warning_naming_the_option(make_server):
    """maxretyr in a jail (issue 12): check-config passes but says which
    option was meant (fail2ban allows free variables in a section); the
    running server logs the same warning."""
    # no action: the started server touches no firewall on the host
    srv = make_server(extra=["[sshd]", "enabled = true", "logpath = /dev/null", "action =",
                             "maxretyr = 2"], start=False)
    r = check(srv)
    assert r.returncode == 0, r.stderr
    assert f"{srv.conf}, line" in r.stderr and \
        "[sshd] maxretyr: unknown option, ignored; did you mean maxretry?" in r.stderr, r.stderr
    srv.start()
    srv.wait_log(r"\[sshd\] maxretyr: unknown option, ignored; did you mean maxretry\?")


def test_main_cf_key_after_a_jail_is_an_error(make_server):
    """A Postfix key written after a [jail] line would silently become a
    jail key (issue 12): check-config and the start refuse it, naming
    file, line and key."""
    srv = make_server(extra=["[sshd]", "enabled = true", "logpath = /dev/null",
                             "smtpd_tls_security_level = maybe"], start=False)
    r = check(srv)
    assert r.returncode != 0
    assert re.search(re.escape(srv.conf) + r", line \d+: smtpd_tls_security_level: a main\.cf "
                     r"parameter inside the \[sshd\] section: move it above the first section",
                     r.stderr), r.stderr
    p = subprocess.run([BIN, "-c", srv.conf], capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and "move it above the first section" in p.stderr, p.stderr
