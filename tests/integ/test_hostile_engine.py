"""A compromised smtp engine talks to the root master (as root): the test
takes a copy of the engine's own end of its channel to the master with
pidfd_getfd(2), as code running in the engine could use it, and sends
what an attacker would: unknown and other processes' message types,
truncated and oversized fields, queue ids with paths. The master passes
nothing of it on, logs each refusal, and mail keeps flowing; a canary
outside the spool never changes (docs/security.md, master row)."""
import hashlib
import os
import socket
import struct

import pytest

from conftest import make_message
from evsock import engine_socket

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="privilege separation needs root")

MSG_QUEUED, MSG_FW_BAN, MSG_LOCAL_ITEM, MSG_SANDBOX_VIOLATION = 1, 6, 16, 24


def master_channel(s):
    """A copy of the engine's SOCK_SEQPACKET socket to the master."""
    return engine_socket(s, socket.SOCK_SEQPACKET)


def hdr(t):
    return struct.pack(">HH", t, 0)


def put_str(v):
    b = v.encode() if isinstance(v, str) else v
    return struct.pack(">I", len(b)) + b + b"\0"


def test_master_refuses_what_a_compromised_engine_sends(server, tmp_path):
    s = server
    canary = tmp_path / "canary"
    canary.write_bytes(b"root-owned canary\n")
    digest = hashlib.sha256(canary.read_bytes()).hexdigest()
    # a file the engine could name: ids with paths must never reach the qmgr
    target = os.path.join(s.spool, "incoming", "..", "..", "canary-link")
    os.symlink(str(canary), target)
    ch = master_channel(s)
    try:
        bad = [
            hdr(99) + b"junk",                               # unknown type
            hdr(MSG_FW_BAN) + put_str("jail"),               # the firewall's request
            hdr(MSG_LOCAL_ITEM) + struct.pack(">II", 1, 1),  # local delivery's request
            hdr(MSG_QUEUED) + put_str("../../canary-link"),  # a path, not a queue id
            hdr(MSG_QUEUED) + put_str("/etc/passwd"),
            hdr(MSG_QUEUED) + put_str(".hidden"),
            hdr(MSG_QUEUED) + struct.pack(">I", 0xFFFFFFF0) + b"ABC",   # length past the end
            hdr(MSG_QUEUED) + put_str("ABCDEF") + b"trailing",  # leftover bytes
            hdr(MSG_QUEUED),                                 # no field at all
            hdr(MSG_SANDBOX_VIOLATION) + b"\1",              # truncated report
            b"\0",                                           # shorter than a header
        ]
        for d in bad:
            ch.send(d)
    finally:
        ch.close()
    s.wait_log(r"process smtpd pid \d+: unexpected message type 99 ignored")
    s.wait_log(r"process smtpd pid \d+: unexpected message type %d ignored" % MSG_FW_BAN)
    s.wait_log(r"process smtpd pid \d+: unexpected message type %d ignored" % MSG_LOCAL_ITEM)
    s.wait_log(r"process smtpd pid \d+: malformed queue id hint ignored")
    s.wait_log(r"malformed seccomp report from process smtpd")
    log = s.log()
    assert log.count("malformed queue id hint ignored") >= 6, log[-3000:]
    # nothing followed, the master and the mail system still work
    assert hashlib.sha256(canary.read_bytes()).hexdigest() == digest
    assert os.readlink(target) == str(canary)
    assert s.proc.poll() is None
    r = s.send_mail("alice@example.com", make_message(subject="after the hostile engine"))
    assert r.startswith("250 2.0.0 Ok: queued as ")
    s.wait_delivered("alice@example.com", 1)
    os.unlink(target)
