"""
outfix — helpers for the outbound (smtp/lmtp client) tests:

    FakeSmtp(host, port=0, rcpt_reply=fn, data_reply=fn, ehlo=[...], tls=(cert, key),
             ehlo_reject=False, starttls_inject=None)
        a scripted SMTP server in a thread; .port, .messages (list of
        dicts: mail, rcpts, data, tls), .commands (every command line),
        .connections (count), .stop(). AUTH (offered with ehlo=[..., "AUTH
        PLAIN LOGIN"]) is accepted whatever the credentials; a hostile
        server: starttls_inject is plaintext sent in the same write as
        "220 Ready to start TLS".
    out_dns(extra)  a dnsmasq (dnsfix.DnsServer) with the outbound zones:
        bdom.test   MX 10 mx.bdom.test -> 127.0.0.2 (instance B)
        fake.test   MX 10 mx.fake.test -> 127.0.0.3 (a FakeSmtp)
        dead.test   MX 10 mx.dead.test -> 127.0.0.4 (nothing listens)
        nullmx.test MX 0 "." (RFC 7505)
        amx.test    no MX, A 127.0.0.3
        mx.test.example  A 127.0.0.2 (the name in tlsfix's certificate)
        nope.test   NXDOMAIN
    fixtures: odns (module), tls (module), fake (factory of FakeSmtp)
"""
import socket
import ssl
import threading

import pytest

import dnsfix
from tlsfix import TlsFiles


def out_dns():
    args = [
        "--mx-host=bdom.test,mx.bdom.test,10", "--host-record=mx.bdom.test,127.0.0.2",
        "--mx-host=fake.test,mx.fake.test,10", "--host-record=mx.fake.test,127.0.0.3",
        "--mx-host=dead.test,mx.dead.test,10", "--host-record=mx.dead.test,127.0.0.4",
        "--mx-host=nullmx.test,.,0",
        "--host-record=amx.test,127.0.0.3",
        "--host-record=mx.test.example,127.0.0.2",
    ]
    return dnsfix.DnsServer(extra_args=args).start()

@pytest.fixture(scope="module")
def odns():
    """out_dns() for a test module."""
    d = out_dns()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def tls():
    """A CA and a server certificate (tlsfix.TlsFiles) for a test module."""
    return TlsFiles()


@pytest.fixture
def fake():
    """Factory of FakeSmtp servers, all stopped after the test."""
    servers = []

    def factory(**kw):
        s = FakeSmtp(**kw)
        servers.append(s)
        return s
    yield factory
    for s in servers:
        s.stop()


class FakeSmtp:
    def __init__(self, host="127.0.0.3", port=0, rcpt_reply=None, data_reply=None,
                 mail_reply=None, ehlo=("PIPELINING", "SIZE 10240000", "8BITMIME"),
                 tls=None, banner="220 fake.test ESMTP", ehlo_reject=False,
                 starttls_inject=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.rcpt_reply = rcpt_reply or (lambda addr, n: "250 2.1.5 Ok")
        self.data_reply = data_reply or (lambda msg, n: "250 2.0.0 Ok: queued as FAKE%d" % n)
        self.mail_reply = mail_reply or (lambda addr, n: "250 2.1.0 Ok")
        self.ehlo = list(ehlo)
        self.banner = banner
        self.ehlo_reject = ehlo_reject     # an old server: EHLO gets 502
        self.tls = tls
        self.starttls_inject = starttls_inject
        self.messages = []
        self.commands = []
        self.connections = 0
        self.rcpt_count = 0
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._session, args=(c,), daemon=True).start()

    def _session(self, c):
        c.settimeout(30)
        f = c.makefile("rb")
        tls = False

        def send(line):
            c.sendall(line.encode() + b"\r\n")

        try:
            send(self.banner)
            if not self.banner.startswith("220"):
                return
            msg = None
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode("utf-8", "replace").rstrip("\r\n")
                with self.lock:
                    self.commands.append(cmd)
                up = cmd.upper()
                if up.startswith("EHLO") and self.ehlo_reject:
                    send("502 5.5.2 Error: command not recognized")
                elif up.startswith("EHLO") or up.startswith("LHLO"):
                    feats = list(self.ehlo)
                    if self.tls and not tls:
                        feats.append("STARTTLS")
                    lines = ["fake.test"] + feats
                    for i, l in enumerate(lines):
                        send(("250 " if i == len(lines) - 1 else "250-") + l)
                elif up.startswith("HELO"):
                    send("250 fake.test")
                elif up == "STARTTLS" and self.tls and not tls:
                    if self.starttls_inject:
                        c.sendall(b"220 2.0.0 Ready to start TLS\r\n" + self.starttls_inject)
                    else:
                        send("220 2.0.0 Ready to start TLS")
                    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                    ctx.load_cert_chain(self.tls[0], self.tls[1])
                    c = ctx.wrap_socket(c, server_side=True)
                    f = c.makefile("rb")
                    tls = True
                elif up.startswith("MAIL FROM:"):
                    with self.lock:
                        n = len(self.messages)
                    r = self.mail_reply(cmd[10:], n)
                    msg = {"mail": cmd[10:], "rcpts": [], "tls": tls} if r.startswith("2") else None
                    send(r)
                elif up.startswith("RCPT TO:"):
                    addr = cmd[8:].split()[0].strip("<>")
                    with self.lock:
                        self.rcpt_count += 1
                        n = self.rcpt_count
                    r = self.rcpt_reply(addr, n)
                    if r.startswith("2") and msg is not None:
                        msg["rcpts"].append(addr)
                    send(r)
                elif up == "DATA":
                    if msg is None or not msg["rcpts"]:
                        send("554 5.5.1 Error: no valid recipients")
                        continue
                    send("354 End data with <CR><LF>.<CR><LF>")
                    data = b""
                    while True:
                        l = f.readline()
                        if not l or l == b".\r\n":
                            break
                        data += l
                    msg["data"] = data
                    with self.lock:
                        self.messages.append(msg)
                        n = len(self.messages)
                    send(self.data_reply(msg, n))
                    msg = None
                elif up.startswith("AUTH PLAIN "):
                    send("235 2.7.0 Authentication successful")
                elif up.startswith("AUTH LOGIN"):
                    send("334 VXNlcm5hbWU6")
                    f.readline()
                    send("334 UGFzc3dvcmQ6")
                    f.readline()
                    send("235 2.7.0 Authentication successful")
                elif up == "RSET":
                    msg = None
                    send("250 2.0.0 Ok")
                elif up == "QUIT":
                    send("221 2.0.0 Bye")
                    return
                elif up == "NOOP":
                    send("250 2.0.0 Ok")
                else:
                    send("502 5.5.2 Error: command not recognized")
        except (OSError, ssl.SSLError):
            return
        finally:
            try:
                c.close()
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
