"""`mailwarden import-postfix` (issue 15): Debian 12's main.cf as
dpkg-reconfigure writes it, plus a typical multi-domain set-up (virtual
mailboxes and aliases, Dovecot SASL and LMTP, DNSBL/RHSBL restrictions, a
spawned policyd-spf, milters) and Debian's master.cf with submission and
smtps opened. The written mailwarden.conf passes check-config; the report
says of every key mapped, dropped (why) or not supported (what is lost);
$name references stay as written; -o overrides become ROLE/inet/KEY with
the admin's own $mua_* parameters written in place."""
import os
import re
import subprocess

import pytest

from conftest import BIN
from tlsfix import TlsFiles

MAIN_CF = """\
# See /usr/share/postfix/main.cf.dist for a commented, more complete version


# Debian specific:  Specifying a file name will cause the first
# line of that file to be used as the name.  The Debian default
# is /etc/mailname.
#myorigin = /etc/mailname

smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no

# appending .domain is the MUA's job.
append_dot_mydomain = no

# Uncomment the next line to generate "delayed mail" warnings
#delay_warning_time = 4h

readme_directory = no

# See http://www.postfix.org/COMPATIBILITY_README.html -- default to 3.6 on
# fresh installs.
compatibility_level = 3.6



# TLS parameters
smtpd_tls_cert_file={cert}
smtpd_tls_key_file={key}
smtpd_tls_security_level=may

smtp_tls_CApath=/etc/ssl/certs
smtp_tls_security_level=may
smtp_tls_session_cache_database = btree:${{data_directory}}/smtp_scache


smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
myhostname = mail.alpha.example
alias_maps = hash:{d}/aliases
alias_database = hash:{d}/aliases
myorigin = {d}/mailname
mydestination = $myhostname, localhost.alpha.example, localhost
relayhost = 
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
mailbox_size_limit = 0
recipient_delimiter = +
inet_interfaces = all
inet_protocols = all

# hosted domains: virtual mailboxes delivered by Dovecot over LMTP
virtual_mailbox_domains = alpha.example, beta.example, gamma.example
virtual_mailbox_base = /var/mail/vhosts
virtual_mailbox_maps = hash:{d}/vmailbox
virtual_alias_maps = hash:{d}/virtual
virtual_uid_maps = static:5000
virtual_gid_maps = static:5000
virtual_transport = lmtp:unix:private/dovecot-lmtp

smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = yes
smtpd_sasl_security_options = noanonymous, noplaintext
smtpd_tls_auth_only = yes
broken_sasl_auth_clients = yes

smtpd_helo_required = yes
disable_vrfy_command = yes
smtpd_helo_restrictions = permit_mynetworks, reject_invalid_helo_hostname,
    reject_no_such_check example.org, reject_non_fqdn_helo_hostname
smtpd_sender_restrictions = reject_non_fqdn_sender, reject_unknown_sender_domain
smtpd_recipient_restrictions =
    permit_mynetworks,
    permit_sasl_authenticated,
    reject_unauth_destination,
    reject_rbl_client zen.spamhaus.org,
    reject_rhsbl_sender dbl.spamhaus.org,
    check_policy_service unix:private/policyd-spf
policyd-spf_time_limit = 3600
mua_client_restrictions = permit_sasl_authenticated, reject
mua_sender_restrictions = reject_sender_login_mismatch, permit_sasl_authenticated, reject
smtpd_sender_login_maps = hash:{d}/sender_login
mynetworks_style = subnet

smtpd_milters = inet:localhost:8891
non_smtpd_milters = $smtpd_milters
header_checks = regexp:/etc/postfix/header_checks
"""

MASTER_CF = """\
# ==========================================================================
# service type  private unpriv  chroot  wakeup  maxproc command + args
# ==========================================================================
smtp      inet  n       -       y       -       -       smtpd
#smtp      inet  n       -       y       -       1       postscreen
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_reject_unlisted_recipient=no
  -o smtpd_client_restrictions=$mua_client_restrictions
  -o smtpd_sender_restrictions=$mua_sender_restrictions
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o milter_macro_daemon_name=ORIGINATING
smtps     inet  n       -       y       -       -       smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
pickup    unix  n       -       y       60      1       pickup
cleanup   unix  n       -       y       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       y       1000?   1       tlsmgr
rewrite   unix  -       -       y       -       -       trivial-rewrite
bounce    unix  -       -       y       -       0       bounce
smtp      unix  -       -       y       -       -       smtp
relay     unix  -       -       y       -       -       smtp
        -o syslog_name=postfix/$service_name
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       y       -       -       lmtp
postlog   unix-dgram n  -       n       -       1       postlogd
maildrop  unix  -       n       n       -       -       pipe
  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}
policyd-spf  unix  -       n       n       -       0       spawn
  user=policyd-spf argv=/usr/bin/policyd-spf
"""


@pytest.fixture(scope="module")
def tls():
    return TlsFiles()


@pytest.fixture
def postfix_dir(tmp_path, tls):
    os.chmod(tmp_path, 0o755)
    d = tmp_path / "postfix"
    d.mkdir()
    (d / "main.cf").write_text(MAIN_CF.format(d=d, cert=tls.cert, key=tls.key))
    (d / "master.cf").write_text(MASTER_CF)
    (d / "mailname").write_text("mail.alpha.example\n")
    (d / "aliases").write_text("postmaster: root\nroot: carol@gamma.example\n")
    (d / "vmailbox").write_text("carol@gamma.example gamma.example/carol/\n"
                                "ann@alpha.example alpha.example/ann/\n")
    (d / "virtual").write_text("abuse@beta.example carol@gamma.example\n")
    (d / "sender_login").write_text("carol@gamma.example carol@gamma.example\n")
    return d


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def report_line(report, verdict, what):
    """The report's line for `what` (a key, "key = value" start, or a
    service), which must carry `verdict`."""
    for line in report.splitlines():
        if re.match(rf"^{re.escape(verdict)}\s+\S.*?\s{{2,}}{re.escape(what)}", line):
            return line
    pytest.fail(f"no '{verdict}' line for {what!r} in:\n{report}")


def test_import_debian_multidomain(postfix_dir, tmp_path):
    out = tmp_path / "mailwarden.conf"
    r = run("import-postfix", "-o", str(out), str(postfix_dir))
    assert r.returncode == 0, r.stdout + r.stderr
    rep = r.stdout
    conf = out.read_text()
    lines = conf.splitlines()
    # the written file passes check-config
    c = run("-c", str(out), "check-config")
    assert c.returncode == 0, c.stderr + conf
    assert "passes check-config" in rep
    # mapped as written: $name kept, file-valued myorigin kept as a path
    for want in ("mydestination = $myhostname, localhost.alpha.example, localhost",
                 "smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)",
                 f"myorigin = {postfix_dir}/mailname",
                 "virtual_mailbox_domains = alpha.example, beta.example, gamma.example",
                 "smtpd_sasl_type = dovecot",
                 "smtpd_sasl_path = private/auth",     # the engine's chroot: queue_directory
                 "virtual_transport = lmtp:unix:$queue_directory/private/dovecot-lmtp",
                 "syslog_name = postfix"):
        assert want in lines, (want, conf)
    report_line(rep, "mapped", "mydestination = $myhostname")
    # harmless keys are dropped with why; lost features say what is lost
    for key in ("biff", "append_dot_mydomain", "readme_directory", "compatibility_level",
                "smtp_tls_session_cache_database", "mailbox_size_limit"):
        assert re.search(rf"^{key}\b", conf, re.M) is None, (key, conf)
        assert "  -- " in report_line(rep, "dropped", f"{key} = ")
    # milters: mapped where this build has them (issue 15's milter part),
    # else what is lost
    if re.search(r"^smtpd_milters = ", run("params").stdout, re.M):
        report_line(rep, "mapped", "smtpd_milters = inet:localhost:8891")
    else:
        assert "milters" in report_line(rep, "not supported", "smtpd_milters = ")
    assert "verified" in report_line(rep, "not supported", "smtp_tls_CApath = ")
    report_line(rep, "not supported", "header_checks = ")
    report_line(rep, "not supported", "broken_sasl_auth_clients = ")
    # the admin's own parameters are written where they are used
    report_line(rep, "dropped", "mua_client_restrictions = ")
    assert "submission/inet/smtpd_client_restrictions = permit_sasl_authenticated, reject" \
        in lines, conf
    assert ("submission/inet/smtpd_sender_restrictions = reject_sender_login_mismatch, "
            "permit_sasl_authenticated, reject") in lines, conf
    assert "submission/inet/smtpd_tls_security_level = encrypt" in lines
    assert "smtps/inet/smtpd_tls_wrappermode = yes" in lines
    # per listener in mailwarden: mapped; a key read only globally: said so
    assert "submission/inet/smtpd_reject_unlisted_recipient = no" in lines, conf
    assert "submission/inet/milter_macro_daemon_name = ORIGINATING" in lines, conf
    report_line(rep, "dropped", "syslog_name=postfix/submission")
    # listeners from master.cf and inet_interfaces/inet_protocols
    for want in ("smtpd_listen = *:25", "submission_listen = *:587", "smtps_listen = *:465"):
        assert want in lines, (want, conf)
    # Postfix's daemons are built in; unused pipe transports are dropped
    report_line(rep, "dropped", "qmgr")
    report_line(rep, "dropped", "maildrop (pipe")
    # the spawned policyd-spf is lost, and its check leaves the list (not
    # every message deferred for a socket nobody serves)
    report_line(rep, "not supported", "policyd-spf (spawn")
    rr = [l for l in lines if l.startswith("smtpd_recipient_restrictions = ")]
    assert rr and "policyd-spf" not in rr[0] and rr[0].endswith("reject_rhsbl_sender dbl.spamhaus.org"), rr
    # a value mailwarden refuses stays as a comment; an unknown restriction
    # alone leaves its list
    assert "# not supported: mynetworks_style = subnet" in lines, conf
    assert "'subnet' is not supported" in report_line(rep, "not supported", "mynetworks_style = ")
    assert ("smtpd_helo_restrictions = permit_mynetworks, reject_invalid_helo_hostname, "
            "reject_non_fqdn_helo_hostname") in lines, conf
    report_line(rep, "not supported", "smtpd_helo_restrictions: reject_no_such_check")
    # the counts
    m = re.search(r"import-postfix: (\d+) mapped, (\d+) dropped \(harmless\), (\d+) not supported",
                  rep)
    assert m and all(int(x) > 0 for x in m.groups()), rep
    # params -n shows the imported file as written
    n = run("-c", str(out), "params", "-n")
    assert n.returncode == 0 and "mydestination = $myhostname, localhost.alpha.example, localhost" \
        in n.stdout.splitlines(), n.stdout
    # never over an existing file
    again = run("import-postfix", "-o", str(out), str(postfix_dir))
    assert again.returncode == 1 and "File exists" in again.stderr, again.stderr
    assert out.read_text() == conf


def test_import_to_stdout_without_master_cf(postfix_dir):
    """No master.cf is Postfix's default: one smtp listener. The
    configuration goes to stdout, the report to stderr."""
    os.unlink(postfix_dir / "master.cf")
    (postfix_dir / "main.cf").write_text(
        "myhostname = mx.alpha.example\ninet_interfaces = loopback-only\n"
        "inet_protocols = ipv4\nbiff = no\n")
    r = run("import-postfix", str(postfix_dir))
    assert r.returncode == 0, r.stderr
    assert "smtpd_listen = 127.0.0.1:25" in r.stdout.splitlines(), r.stdout
    assert "submission_listen" not in r.stdout
    assert "myhostname = mx.alpha.example" in r.stdout.splitlines()
    report_line(r.stderr, "dropped", "biff = no")
    assert "passes check-config" in r.stderr


def test_import_missing_main_cf(tmp_path):
    r = run("import-postfix", str(tmp_path / "nope"))
    assert r.returncode == 1 and "main.cf" in r.stderr, r.stderr


# FILTER_README's amavis set-up: the filter transport and the re-injection
# listener on 127.0.0.1:10025 with its -o settings.
AMAVIS_MASTER_CF = """\
smtp      inet  n       -       y       -       -       smtpd
  -o receive_override_options=no_address_mappings
smtp-amavis unix -      -       n       -       2       smtp
  -o smtp_data_done_timeout=1200
  -o smtp_send_xforward_command=yes
127.0.0.1:10025 inet n  -       n       -       -       smtpd
  -o content_filter=
  -o smtpd_delay_reject=no
  -o smtpd_client_restrictions=permit_mynetworks,reject
  -o smtpd_helo_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
  -o smtpd_error_sleep_time=0
  -o receive_override_options=no_header_body_checks,no_unknown_recipient_checks,no_milters
"""


def test_import_content_filter_named_listener(postfix_dir):
    """The amavis pattern: content_filter through a master.cf smtp
    transport becomes smtp:, the 10025 smtpd entry a named listener with
    its -o settings."""
    (postfix_dir / "master.cf").write_text(AMAVIS_MASTER_CF)
    (postfix_dir / "main.cf").write_text(
        "myhostname = mx.alpha.example\ninet_interfaces = loopback-only\n"
        "inet_protocols = ipv4\ncontent_filter = smtp-amavis:[127.0.0.1]:10024\n")
    r = run("import-postfix", str(postfix_dir))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for want in ("content_filter = smtp:[127.0.0.1]:10024",
                 "smtpd/inet/receive_override_options = no_address_mappings",
                 "listeners = smtpd-10025",
                 "smtpd-10025/inet/listen = 127.0.0.1:10025",
                 "smtpd-10025/inet/content_filter = ",
                 "smtpd-10025/inet/smtpd_recipient_restrictions = permit_mynetworks,reject",
                 "smtpd-10025/inet/receive_override_options = no_header_body_checks,"
                 "no_unknown_recipient_checks,no_milters",
                 "smtpd_listen = 127.0.0.1:25"):
        assert want in lines, (want, r.stdout)
    assert "10025" not in [l for l in lines if l.startswith("smtpd_listen")][0]
    report_line(r.stderr, "mapped", "127.0.0.1:10025")
    assert "passes check-config" in r.stderr, r.stderr


def test_import_named_listeners_whose_ports_share_a_prefix(postfix_dir):
    """Two smtpd entries with -o settings on 10025 and 1002: two named
    listeners, the second not taken for a repeat of the first (smtpd-1002
    is a prefix of smtpd-10025)."""
    (postfix_dir / "master.cf").write_text(
        "smtp      inet  n       -       y       -       -       smtpd\n"
        "127.0.0.1:10025 inet n  -       n       -       -       smtpd\n"
        "  -o smtpd_recipient_restrictions=permit_mynetworks,reject\n"
        "127.0.0.1:1002 inet n  -       n       -       -       smtpd\n"
        "  -o smtpd_helo_restrictions=\n")
    (postfix_dir / "main.cf").write_text(
        "myhostname = mx.alpha.example\ninet_interfaces = loopback-only\n"
        "inet_protocols = ipv4\n")
    r = run("import-postfix", str(postfix_dir))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for want in ("listeners = smtpd-10025, smtpd-1002",
                 "smtpd-10025/inet/listen = 127.0.0.1:10025",
                 "smtpd-1002/inet/listen = 127.0.0.1:1002",
                 "smtpd-1002/inet/smtpd_helo_restrictions = "):
        assert want in lines, (want, r.stdout)
    assert "second entry" not in r.stderr, r.stderr


# Postfix 3.0's master.cf: -o { name = value } keeps the white space of a
# value (and allows it around '='); FILTER_README's re-injection keys that
# mailwarden reads only globally are reported as such, not as mapped.
BRACES_MASTER_CF = """\
smtp      inet  n       -       y       -       -       smtpd
127.0.0.1:10025 inet n  -       n       -       -       smtpd
  -o { content_filter = }
  -o { smtpd_recipient_restrictions = permit_mynetworks, reject }
  -o {smtpd_helo_required=yes}
  -o mynetworks=127.0.0.0/8
  -o smtpd_error_sleep_time=0
  -o { smtpd_authorized_xforward_hosts = 127.0.0.0/8 }
  -o { milter_macro_daemon_name = ORIGINATING }
  -o smtpd_tls_cert_file=/nonexistent/cert.pem
"""


def test_import_master_cf_braces(postfix_dir):
    (postfix_dir / "master.cf").write_text(BRACES_MASTER_CF)
    (postfix_dir / "main.cf").write_text(
        "myhostname = mx.alpha.example\ninet_interfaces = loopback-only\n"
        "inet_protocols = ipv4\n")
    r = run("import-postfix", str(postfix_dir))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    for want in ("smtpd-10025/inet/content_filter = ",
                 "smtpd-10025/inet/smtpd_recipient_restrictions = permit_mynetworks, reject",
                 "smtpd-10025/inet/smtpd_helo_required = yes",
                 "smtpd-10025/inet/mynetworks = 127.0.0.0/8",
                 "smtpd-10025/inet/smtpd_error_sleep_time = 0"):
        assert want in lines, (want, r.stdout)
    assert "smtpd-10025/inet/milter_macro_daemon_name = ORIGINATING" in lines, r.stdout
    assert not any("smtpd_tls_cert_file" in l for l in lines), r.stdout
    assert "not applied per listener" in report_line(
        r.stderr, "not supported", "smtpd_tls_cert_file=/nonexistent/cert.pem")
    report_line(r.stderr, "not supported", "smtpd_authorized_xforward_hosts=127.0.0.0/8")
    assert "passes check-config" in r.stderr, r.stderr
