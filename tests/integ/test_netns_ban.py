"""
End to end with the real kernel firewall (issue 5): mailwarden runs in a
server namespace, an attacker host fails SMTP AUTH maxretry times, and the
built-in nft action makes the kernel drop the attacker's next connection
while a second address of the same host still gets in; the kernel itself
expires a short ban; a SIGKILL of every mailwarden process leaves the ban
in the kernel, and a restart restores it from the database.

The jail is the seed's, pasted as fail2ban users have it (postfix filter
in mode auth over mailwarden's own maillog): it must ban after exactly
maxretry failures, since the engine's events feed it and our own log
lines are not counted a second time.
"""
import base64
import os
import re
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import BIN, CLIENT_HELO, Server
from netns import Pair
from tlsfix import TlsFiles

PORT = 25

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/sbin/nft"),
                                reason="needs root and nftables")


class NsServer(Server):
    """A Server whose processes run inside the server namespace."""

    def __init__(self, pair, extra):
        super().__init__(extra=extra)
        self.pair = pair
        self.host, self.port = Pair.SERVER, PORT
        self.listen = f"{Pair.SERVER}:{PORT}"
        self.write_config()

    def start(self, timeout=10.0):
        self.stderr_f = open(self.stderr_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.pair.srv, BIN, "-c", self.conf],
                                     cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr_f, stderr=self.stderr_f,
                                     start_new_session=True, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                c = self.pair.connect(PORT, Pair.OTHER, timeout=1)
                banner = c.recv(512)
                c.close()
                if banner.startswith(b"220"):
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"no banner in the server namespace\n{self.stderr()}\n{self.log()}")

    def cli(self, *args):
        return subprocess.run([BIN, "-c", self.conf, *args], capture_output=True, text=True,
                              timeout=20)


def smtp_from(pair, source):
    s = smtplib.SMTP(local_hostname=CLIENT_HELO, timeout=5)
    s.sock = pair.connect(PORT, source)
    s.file = None
    code, _ = s.getreply()
    assert code == 220
    s.ehlo()
    return s


def fail_auth(pair, source):
    s = smtp_from(pair, source)
    code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice@example.com\0guess").decode())
    try:
        s.quit()
    except (smtplib.SMTPException, OSError):
        pass
    return code


def dropped(pair, source):
    """True when a TCP connection from source gets no answer at all."""
    try:
        c = pair.connect(PORT, source, timeout=1.0)
    except socket.timeout:
        return True
    except OSError:
        return False          # refused or reset is an answer, not a drop
    c.close()
    return False


@pytest.fixture
def pair():
    p = Pair().create()
    yield p
    p.destroy()


def test_auth_failures_banned_by_the_kernel(pair):
    tls = TlsFiles()
    extra = tls.config(
        "smtpd_tls_auth_only = no",          # plain AUTH keeps the test short
        "smtpd_sasl_failure_delay = 0",
        "[postfix-sasl]",
        "enabled = true",
        "filter = postfix[mode=auth]",
        "logpath = MAILLOG",
        "maxretry = 2",
        "findtime = 1d",
        "bantime = 4",
        "bantime.increment = true",
        "bantime.multipliers = 1 60",
        f'action = nft[port="{PORT}", protocol=tcp]',
    )
    srv = NsServer(pair, extra)
    srv.extra = [e.replace("MAILLOG", srv.maillog) for e in srv.extra]
    srv.write_config()
    try:
        srv.start()
        # One failure is not a ban.
        assert fail_auth(pair, Pair.ATTACKER) == 535
        time.sleep(0.3)
        assert not dropped(pair, Pair.ATTACKER)
        # The second is: the kernel drops the attacker's next SYN.
        assert fail_auth(pair, Pair.ATTACKER) == 535
        t0 = time.monotonic()
        while not dropped(pair, Pair.ATTACKER):
            assert time.monotonic() - t0 < 3, "no ban 3 s after the failure"
        # The other address of the same host still gets in.
        assert not dropped(pair, Pair.OTHER)
        st = srv.cli("status", "postfix-sasl").stdout
        assert "Banned IP list:\t192.0.2.66" in st, st
        assert "192.0.2.66" in pair.nft_ruleset()
        # The kernel expires the 4 s ban by itself.
        deadline = time.monotonic() + 12
        while dropped(pair, Pair.ATTACKER):
            assert time.monotonic() < deadline, "the ban did not expire"
        # Banned again (bantime.increment: 4 s * 60), then SIGKILL.
        assert fail_auth(pair, Pair.ATTACKER) == 535
        assert fail_auth(pair, Pair.ATTACKER) == 535
        t0 = time.monotonic()
        while not dropped(pair, Pair.ATTACKER):
            assert time.monotonic() - t0 < 3
        srv.kill9()
        assert "192.0.2.66" in pair.nft_ruleset()      # the kernel keeps it
        assert dropped(pair, Pair.ATTACKER)
        srv.start()
        assert dropped(pair, Pair.ATTACKER)
        assert not dropped(pair, Pair.OTHER)
        deadline = time.monotonic() + 10
        while "192.0.2.66" not in srv.cli("status", "postfix-sasl").stdout:
            assert time.monotonic() < deadline, srv.log()[-3000:]
            time.sleep(0.2)
        assert re.search(r"Restore Ban 192\.0\.2\.66", srv.log()), srv.log()[-3000:]
        # Failures were counted once each: exactly two per ban.
        bans = re.findall(r"\[postfix-sasl\] Ban 192\.0\.2\.66", srv.log())
        assert len(bans) == 2, srv.log()[-3000:]
    finally:
        problems = srv.stop()
    assert not problems, problems
