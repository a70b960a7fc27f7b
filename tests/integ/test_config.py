"""Configuration: check-config accepts good files, and refuses bad ones
naming file, line and key; the server refuses to start on them the same
way; main.cf syntax (continuations, $name expansion, lists) and
fail2ban [sections]."""
import os
import re
import subprocess
import tempfile

import pytest

from conftest import BIN, HOSTNAME


@pytest.fixture
def cdir():
    d = tempfile.mkdtemp(prefix="mw-conf-")
    os.chmod(d, 0o755)
    with open(os.path.join(d, "vmailbox"), "w") as f:
        f.write("alice@example.com example.com/alice/\nbob@example.net example.net/bob/\n")
    with open(os.path.join(d, "valias"), "w") as f:
        f.write("abuse@example.com alice@example.com\n")
    yield d
    subprocess.run(["rm", "-rf", d])


def base_lines(d):
    return [
        "# test config",
        "smtpd_listen = 127.0.0.1:1",
        f"queue_directory = {d}/spool",
        f"virtual_mailbox_base = {d}/mail",
        f"maillog_file = {d}/maillog",
        f"myhostname = {HOSTNAME}",
        "mydestination = localhost",
        "virtual_mailbox_domains = example.com example.net",
        f"virtual_mailbox_maps = texthash:{d}/vmailbox",
        f"virtual_alias_maps = texthash:{d}/valias",
    ]


def write_conf(d, lines, name="mailwarden.conf"):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write("\n".join(lines) + "\n")
    return p


def check(conf):
    r = subprocess.run([BIN, "-c", conf, "check-config"], capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout + r.stderr


def assert_refused(conf, line, key, also=()):
    rc, out = check(conf)
    assert rc != 0, f"check-config accepted a bad config:\n{out}"
    assert conf in out, f"file name missing from: {out}"
    if line is not None:
        assert re.search(rf"\bline {line}\b", out), f"'line {line}' missing from: {out}"
    assert key in out, f"key {key!r} missing from: {out}"
    for a in also:
        assert a in out, f"{a!r} missing from: {out}"
    return out


def test_good_config_ok(cdir):
    rc, out = check(write_conf(cdir, base_lines(cdir)))
    assert rc == 0, out


def test_unknown_key(cdir):
    lines = base_lines(cdir) + ["smtpd_bogus_parameter = 1"]
    assert_refused(write_conf(cdir, lines), len(lines), "smtpd_bogus_parameter")


def test_bad_time_value(cdir):
    lines = base_lines(cdir)
    lines.insert(3, "smtpd_timeout = 10x")
    assert_refused(write_conf(cdir, lines), 4, "smtpd_timeout")


@pytest.mark.parametrize("key,value", [
    ("message_size_limit", "lots"),
    ("smtpd_recipient_limit", "-5"),
    ("smtpd_hard_error_limit", "twelve"),
    ("smtpd_forbid_bare_newline", "maybe"),
    ("mynetworks", "127.0.0.1/99"),
    ("smtpd_listen", "127.0.0.1:notaport"),
    ("relayhost", "[unclosed.example"),
    ("transport_maps", "texthash:/nonexistent/transport"),
    ("syslog_facility", "mailz"),
    ("virtual_uid_maps", "static:vmail"),       # Postfix needs a number (issue 15)
    ("virtual_gid_maps", "static:mail"),
])
def test_bad_values(cdir, key, value):
    lines = base_lines(cdir) + [f"{key} = {value}"]
    assert_refused(write_conf(cdir, lines), len(lines), key)


def test_missing_map_file(cdir):
    lines = base_lines(cdir)
    idx = next(i for i, l in enumerate(lines) if l.startswith("virtual_mailbox_maps"))
    lines[idx] = f"virtual_mailbox_maps = texthash:{cdir}/does-not-exist"
    assert_refused(write_conf(cdir, lines), idx + 1, "virtual_mailbox_maps",
                   also=(f"{cdir}/does-not-exist",))


def test_hash_map_reads_text_source_or_names_file(cdir):
    # a hash: map pasted from Postfix: the text source file is read
    lines = base_lines(cdir) + [f"virtual_alias_maps = hash:{cdir}/valias"]
    rc, out = check(write_conf(cdir, lines))
    assert rc == 0, out
    # without a text source: refused, naming the file
    lines = base_lines(cdir) + [f"virtual_alias_maps = hash:{cdir}/nope"]
    assert_refused(write_conf(cdir, lines), len(lines), "virtual_alias_maps",
                   also=(f"{cdir}/nope",))


def test_alias_command_refused(cdir):
    with open(os.path.join(cdir, "aliases"), "w") as f:
        f.write("postmaster: root\nprog: |/bin/cat\n")
    lines = base_lines(cdir) + [f"alias_maps = hash:{cdir}/aliases"]
    rc, out = check(write_conf(cdir, lines))
    assert rc != 0, out
    assert f"{cdir}/aliases" in out, out
    assert "|" in out or "command" in out, out


def test_continuation_lines(cdir):
    lines = [l for l in base_lines(cdir) if not l.startswith("virtual_mailbox_domains")]
    lines += ["virtual_mailbox_domains = example.com,",
              "    example.net",
              "\texample.org"]
    rc, out = check(write_conf(cdir, lines))
    assert rc == 0, out
    # a bad key after a continuation gets the right line number
    lines += ["# comment", "", "no_such_key = x"]
    assert_refused(write_conf(cdir, lines), len(lines), "no_such_key")


def test_comment_and_blank_lines(cdir):
    lines = base_lines(cdir) + ["", "   ", "# smtpd_bogus = 1", "#no_such_key = 2"]
    rc, out = check(write_conf(cdir, lines))
    assert rc == 0, out


def test_dollar_expansion_in_running_server(make_server):
    s = make_server(extra=["mydomain = test.example",
                           "smtpd_banner = ${myhostname} hello from $mydomain"])
    c = s.conn()
    assert c.banner == f"220 {HOSTNAME} hello from test.example"
    c.close()


def test_continuation_in_running_server(make_server):
    s = make_server(extra=["virtual_mailbox_domains = example.com,", "  example.net"])
    c = s.conn()
    c.cmd("EHLO client.test.example")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
    assert c.cmd("RCPT TO:<bob@example.net>") == "250 2.1.5 Ok"
    c.close()


def test_jail_sections_free_keys(cdir):
    lines = base_lines(cdir) + [
        "",
        "[DEFAULT]",
        "bantime = 1h",
        "banaction = nftables-multiport",
        "",
        "[postfix-sasl]",
        "enabled = true",
        "filter = postfix[mode=auth]",
        "maxretry = 2",
        "findtime = 1d",
        "bantime = 1w",
        "",
        "[sshd]",
        "enabled = false",
        "port = ssh",
        "logpath = %(sshd_log)s",
        "my_private_interpolation_key = $undefined_thing ${also_undefined}",
        "action = %(action_)s",
        "         %(mta)s-whois[name=%(__name__)s]",
    ]
    rc, out = check(write_conf(cdir, lines))
    assert rc == 0, out


def test_unknown_global_key_before_sections(cdir):
    lines = base_lines(cdir) + ["bantime = 1h", "[sshd]", "enabled = true"]
    assert_refused(write_conf(cdir, lines), len(lines) - 2, "bantime")


def test_per_listener_override_accepted(cdir):
    lines = base_lines(cdir) + ["smtp/inet/smtpd_hard_error_limit = 5"]
    rc, out = check(write_conf(cdir, lines))
    assert rc == 0, out
    lines = base_lines(cdir) + ["smtp/inet/smtpd_no_such_thing = 5"]
    assert_refused(write_conf(cdir, lines), len(lines), "smtpd_no_such_thing")


def test_missing_config_file(cdir):
    rc, out = check(os.path.join(cdir, "nope.conf"))
    assert rc != 0
    assert "nope.conf" in out, out


def test_server_refuses_bad_config(cdir):
    lines = base_lines(cdir)
    lines.insert(5, "smtpd_timeout = soon")
    conf = write_conf(cdir, lines)
    rc_check, out_check = check(conf)
    r = subprocess.run([BIN, "-c", conf], capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert conf in out and re.search(r"\bline 6\b", out) and "smtpd_timeout" in out, out
    # the same message as check-config
    msg = [l for l in out_check.splitlines() if "smtpd_timeout" in l]
    assert msg and any(m.split(conf, 1)[-1] in out for m in msg), (out_check, out)


def test_usage_errors(cdir):
    r = subprocess.run([BIN, "-c", write_conf(cdir, base_lines(cdir)), "no-such-subcommand"],
                       capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    r = subprocess.run([BIN, "--no-such-option"], capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    assert r.returncode != 0


def test_every_error_in_one_run(cdir):
    """check-config goes on after an error (issue 15): unknown keys, bad
    values, a bad override, a bad section header, a missing map and a
    subsystem's check are all reported, each with file and line, then
    their count; exit status 1."""
    lines = base_lines(cdir) + [
        "biff = no",                                    # 11
        "smtpd_timeout = soon",                         # 12
        "submission/inet/smtpd_timeout = never",        # 13
        f"transport_maps = texthash:{cdir}/nope",       # 14
        "smtpd_tls_security_level = encrypt",           # 15: engine check (no cert)
        "readme_directory = /usr/share/doc/postfix",    # 16
        "[bad",                                         # 17
        "x = 1",
    ]
    conf = write_conf(cdir, lines)
    rc, out = check(conf)
    assert rc == 1, out
    for line, key in ((11, "biff"), (12, "smtpd_timeout"), (13, "submission/inet/smtpd_timeout"),
                      (14, "transport_maps"), (16, "readme_directory"), (17, "bad section")):
        assert re.search(rf"{re.escape(conf)}, line {line}: {re.escape(key)}", out), (key, out)
    assert "smtpd_tls_cert_file" in out, out
    assert re.search(rf"mailwarden: 7 errors in {re.escape(conf)}$", out.strip()), out
    # the server itself still stops at the first
    r = subprocess.run([BIN, "-c", conf], capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    assert r.returncode != 0 and "line 11: biff" in r.stderr and "smtpd_timeout" not in r.stderr


def test_params_n_prints_what_the_file_sets(cdir):
    """`mailwarden params -n` is `postconf -n`: the keys the file sets,
    sorted, as written ($name kept, continuation lines joined), then the
    per-listener overrides; nothing defaulted."""
    lines = base_lines(cdir) + ["myorigin = $mydomain", "smtpd_banner = $myhostname ESMTP",
                                "  (continued)", "submission/inet/smtpd_tls_security_level = may"]
    conf = write_conf(cdir, lines)
    r = subprocess.run([BIN, "-c", conf, "params", "-n"], capture_output=True, text=True,
                       timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert "myorigin = $mydomain" in out, out
    assert "smtpd_banner = $myhostname ESMTP (continued)" in out, out
    assert out[-1] == "submission/inet/smtpd_tls_security_level = may", out
    names = [l.split(" = ")[0] for l in out[:-1]]
    assert names == sorted(names) and len(names) == 11, names
    assert not any(l.startswith("smtpd_timeout") for l in out), out


def test_every_bad_restriction_list_in_one_run(cdir):
    """Each restriction list that does not parse is its own error, an
    override named as ROLE/inet/KEY; one run, the count at the end."""
    lines = base_lines(cdir) + [
        "smtpd_helo_restrictions = reject_no_such_thing",             # 11
        "smtpd_sender_restrictions = permit, reject_also_unknown",    # 12
        "submission/inet/smtpd_client_restrictions = bogus_check",    # 13
    ]
    conf = write_conf(cdir, lines)
    rc, out = check(conf)
    assert rc == 1, out
    assert f"{conf}, line 11: smtpd_helo_restrictions: unknown restriction 'reject_no_such_thing'" in out
    assert f"{conf}, line 12: smtpd_sender_restrictions: unknown restriction 'reject_also_unknown'" in out
    assert f"{conf}: submission/inet/smtpd_client_restrictions: unknown restriction 'bogus_check'" in out
    assert out.strip().endswith(f"mailwarden: 3 errors in {conf}"), out
