"""
Network namespaces for tests that need the real kernel firewall: a server
host and an attacker host joined by a veth pair, documentation addresses
only (192.0.2.0/24). Sockets for the attacker side are made in a thread
that has entered the attacker's namespace; a socket keeps its namespace
after the thread is gone, so the test uses it normally.
"""
import ctypes
import os
import socket
import subprocess
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def in_netns(name, fn):
    """Run fn() in a thread inside network namespace `name`; return its result."""
    out = {}

    def run():
        try:
            fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns {name}: {os.strerror(e)}")
            finally:
                os.close(fd)
            out["v"] = fn()
        except BaseException as e:   # re-raised in the caller
            out["e"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "e" in out:
        raise out["e"]
    return out["v"]


class Pair:
    """Two namespaces: srv (192.0.2.1) and atk (192.0.2.66 and .67)."""

    SERVER = "192.0.2.1"
    ATTACKER = "192.0.2.66"
    OTHER = "192.0.2.67"

    def __init__(self):
        tag = f"{os.getpid() % 100000}"
        self.srv, self.atk = f"mwsrv{tag}", f"mwatk{tag}"
        self.up = False

    def create(self):
        sh("ip", "netns", "add", self.srv)
        sh("ip", "netns", "add", self.atk)
        self.up = True
        sh("ip", "link", "add", "mwv0", "netns", self.srv, "type", "veth",
           "peer", "name", "mwv1", "netns", self.atk)
        for ns, dev, addrs in ((self.srv, "mwv0", [self.SERVER]),
                               (self.atk, "mwv1", [self.ATTACKER, self.OTHER])):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            for a in addrs:
                sh("ip", "-n", ns, "addr", "add", f"{a}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        return self

    def destroy(self):
        if self.up:
            sh("ip", "netns", "del", self.srv, check=False)
            sh("ip", "netns", "del", self.atk, check=False)
            self.up = False

    def connect(self, port, source, timeout=2.0):
        """A TCP connection from the attacker host (source address) to the
        server; raises socket.timeout / OSError when it gets no answer."""
        def mk():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.bind((source, 0))
            try:
                s.connect((self.SERVER, port))
            except BaseException:
                s.close()
                raise
            return s
        return in_netns(self.atk, mk)

    def nft_ruleset(self):
        return sh("ip", "netns", "exec", self.srv, "nft", "list", "ruleset").stdout
