"""
fail2ban's stock firewall actions against the real kernel (issue 12), in
a server namespace with an attacker host (netns.py): the issue's exact
`iptables-multiport[name=postfix, port="smtp,465,submission,imap,imaps,
pop3,pop3s", protocol=tcp]` bans after maxretry failed SMTP logins,
`iptables -L f2b-postfix -n` lists the address, the attacker's
connections to each listed port are refused (the action's REJECT
--reject-with icmp-port-unreachable) while the host's other address still
gets in; unban removes the rule and stop removes the chain. The same for
`nftables-multiport` (fail2ban's stop removes its set and rules) and for
the built-in nft action (its stop drops table inet mailwarden).
"""
import os
import shutil
import socket
import time

import pytest

from netns import Pair, in_netns, sh
from test_netns_ban import PORT, NsServer, fail_auth
from tlsfix import TlsFiles

PORTS = {"smtp": 25, "465": 465, "submission": 587, "imap": 143, "imaps": 993, "pop3": 110,
         "pop3s": 995}
PORTLIST = "smtp,465,submission,imap,imaps,pop3,pop3s"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("iptables") or not shutil.which("nft") or
    not os.path.isdir("/etc/fail2ban/action.d"),
    reason="needs root, iptables, nftables and fail2ban's action.d")


@pytest.fixture
def pair():
    p = Pair().create()
    # the kernel rate-limits ICMP errors (a burst of 6): every REJECT answered
    sh("ip", "netns", "exec", p.srv, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
    yield p
    p.destroy()


def listeners(pair):
    """Something listening on each mail port but smtp (mailwarden's)."""
    def mk():
        socks = []
        for port in PORTS.values():
            if port == PORT:
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((Pair.SERVER, port))
            s.listen(16)
            socks.append(s)
        return socks
    return in_netns(pair.srv, mk)


def outcome(pair, port, source):
    """'open', 'refused' (RST or ICMP port unreachable) or 'dropped'."""
    try:
        c = pair.connect(port, source, timeout=1.0)
    except ConnectionRefusedError:
        return "refused"
    except socket.timeout:
        return "dropped"
    c.close()
    return "open"


def in_srv(pair, *cmd, check=False):
    return sh("ip", "netns", "exec", pair.srv, *cmd, check=check)


def wait(fn, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    pytest.fail("timed out waiting for " + what)


def start(pair, action):
    tls = TlsFiles()
    extra = tls.config(
        "smtpd_tls_auth_only = no",
        "smtpd_sasl_failure_delay = 0",
        "warden_action_path = /etc/fail2ban/action.d",
        "[postfix-sasl]",
        "enabled = true",
        "filter = postfix[mode=auth]",
        "logpath = MAILLOG",
        "maxretry = 3",
        "findtime = 1d",
        "bantime = 1h",
        "action = " + action,
    )
    srv = NsServer(pair, extra)
    srv.extra = [e.replace("MAILLOG", srv.maillog) for e in srv.extra]
    srv.write_config()
    srv.start()
    return srv


def ban_by_failures(pair, srv, banned):
    """maxretry - 1 failures ban nothing, the last one bans."""
    for _ in range(2):
        assert fail_auth(pair, Pair.ATTACKER) == 535
    time.sleep(0.5)
    assert not banned(), "banned before maxretry"
    for port in PORTS.values():
        assert outcome(pair, port, Pair.ATTACKER) == "open", port
    assert fail_auth(pair, Pair.ATTACKER) == 535
    wait(banned, "the ban in the kernel's rules")
    for name, port in PORTS.items():
        assert outcome(pair, port, Pair.ATTACKER) == "refused", name
        assert outcome(pair, port, Pair.OTHER) == "open", name
    st = srv.cli("status", "postfix-sasl").stdout
    assert "Banned IP list:\t192.0.2.66\n" in st, st


def test_iptables_multiport(pair):
    socks = listeners(pair)
    srv = start(pair, 'iptables-multiport[name=postfix, port="%s", protocol=tcp]' % PORTLIST)
    try:
        def listed():
            r = in_srv(pair, "iptables", "-w", "-L", "f2b-postfix", "-n")
            return r.returncode == 0 and "192.0.2.66" in r.stdout and r.stdout
        ban_by_failures(pair, srv, listed)
        rules = listed()
        assert "REJECT" in rules and "reject-with icmp-port-unreachable" in rules, rules
        jump = in_srv(pair, "iptables", "-w", "-S", "INPUT").stdout
        assert "-m multiport --dports 25,465,587,143,993,110,995 -j f2b-postfix" in jump, jump
        # unban: the rule goes, the chain stays
        assert srv.cli("unban", "192.0.2.66").stdout == "1\n"
        wait(lambda: "192.0.2.66" not in in_srv(pair, "iptables", "-w", "-L", "f2b-postfix",
                                                "-n").stdout, "the unban")
        for port in PORTS.values():
            assert outcome(pair, port, Pair.ATTACKER) == "open", port
        # ban again by hand, then stop: chain and jump gone
        assert srv.cli("ban", "postfix-sasl", "192.0.2.66").stdout == "1\n"
        wait(listed, "the manual ban")
    finally:
        problems = srv.stop()
        for s in socks:
            s.close()
    assert not problems, problems
    assert in_srv(pair, "iptables", "-w", "-L", "f2b-postfix", "-n").returncode != 0
    assert "f2b-postfix" not in in_srv(pair, "iptables", "-w", "-S").stdout


def test_nftables_multiport(pair):
    socks = listeners(pair)
    srv = start(pair, 'nftables-multiport[name=postfix, port="%s", protocol=tcp]' % PORTLIST)
    try:
        def listed():
            r = in_srv(pair, "nft", "list", "set", "inet", "f2b-table", "addr-set-postfix")
            return r.returncode == 0 and "192.0.2.66" in r.stdout
        ban_by_failures(pair, srv, listed)
        assert srv.cli("unban", "192.0.2.66").stdout == "1\n"
        wait(lambda: not listed(), "the unban")
        for port in PORTS.values():
            assert outcome(pair, port, Pair.ATTACKER) == "open", port
        assert srv.cli("ban", "postfix-sasl", "192.0.2.66").stdout == "1\n"
        wait(listed, "the manual ban")
    finally:
        problems = srv.stop()
        for s in socks:
            s.close()
    assert not problems, problems
    # fail2ban's actionstop: the set and the rules that use it are gone
    rs = in_srv(pair, "nft", "list", "ruleset").stdout
    assert "addr-set-postfix" not in rs, rs


def test_builtin_nft_stop_drops_its_table(pair):
    socks = listeners(pair)
    srv = start(pair, 'nft[port="%s", protocol=tcp]' % PORTLIST)
    try:
        def listed():
            return "192.0.2.66" in pair.nft_ruleset()
        for _ in range(2):
            assert fail_auth(pair, Pair.ATTACKER) == 535
        assert fail_auth(pair, Pair.ATTACKER) == 535
        wait(listed, "the ban in table inet mailwarden")
        assert "table inet mailwarden" in pair.nft_ruleset()
    finally:
        problems = srv.stop()
        for s in socks:
            s.close()
    assert not problems, problems
    assert "table inet mailwarden" not in pair.nft_ruleset()
