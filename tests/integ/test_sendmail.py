"""
Local submission: `mailwarden sendmail` run as an ordinary user (nobody)
through a setgid copy of the binary writes into maildrop/, the queue
process picks it up (pickup log line with the file owner's uid), adds
Date/From/Message-ID when missing, and delivers to a virtual mailbox.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, HOSTNAME
from sgfix import trusted_config_dir

GROUP = "mwdrop"
NOBODY = 65534


@pytest.fixture
def sgbin(make_server):
    """(server, path of a setgid-mwdrop copy of the binary)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a setgid binary and run as nobody")
    if subprocess.run(["getent", "group", GROUP], capture_output=True).returncode != 0:
        subprocess.run(["groupadd", "--system", GROUP], check=True)
    s = make_server()
    path = os.path.join(s.dir, "sendmail-sg")
    shutil.copy(BIN, path)
    shutil.chown(path, "root", GROUP)
    os.chmod(path, 0o2755)
    with trusted_config_dir(s.dir):   # nobody may name s.conf with -c
        yield s, path


def run_as_nobody(binpath, conf, args, data, check=True):
    cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
           binpath, "-c", conf, "sendmail"] + args
    env = {"PATH": "/usr/bin:/bin", "ASAN_OPTIONS": "detect_leaks=1"}
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=20, env=env)
    if check:
        assert p.returncode == 0, (p.returncode, p.stderr)
    return p


def test_maildrop_layout(sgbin):
    s, _ = sgbin
    st = os.stat(os.path.join(s.spool, "maildrop"))
    assert st.st_mode & 0o7777 == 0o1730
    import grp
    assert st.st_gid == grp.getgrnam(GROUP).gr_gid


def test_sendmail_t_as_nobody(sgbin):
    s, sg = sgbin
    msg = (b"To: Alice <alice@example.com>\n"
           b"Bcc: bob@example.net\n"
           b"Subject: cron output\n"
           b"\n"
           b"line one\n"
           b"..leading dot\n")
    run_as_nobody(sg, s.conf, ["-t"], msg)
    a = s.wait_delivered("alice@example.com", 1)
    s.wait_delivered("bob@example.net", 1)
    body = open(a[0], "rb").read().decode()
    head = body.split("\n\n", 1)[0]
    assert "Bcc:" not in body
    assert re.search(r"^Received: by %s \(mailwarden, from userid %d\)" % (re.escape(HOSTNAME), NOBODY),
                     head, re.M)
    m = re.search(r"^Message-Id: <(\d{14})\.([0-9A-F]+)@%s>$" % re.escape(HOSTNAME), head, re.M)
    assert m, head
    qid = m.group(2)
    assert re.search(r"^Date: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", head, re.M)
    assert re.search(r"^From: nobody@%s$" % re.escape(HOSTNAME), head, re.M)
    assert "..leading dot" in body          # no SMTP dot-unstuffing in sendmail mode
    s.wait_log(r"pickup\[\d+\]: %s: uid=%d from=<nobody@%s>" % (qid, NOBODY, re.escape(HOSTNAME)))
    s.wait_log(r"cleanup\[\d+\]: %s: message-id=<\d{14}\.%s@%s>" % (qid, qid, re.escape(HOSTNAME)))
    assert os.listdir(os.path.join(s.spool, "maildrop")) == []


def test_f_F_i_and_existing_headers(sgbin):
    s, sg = sgbin
    msg = (b"Subject: dots\nMessage-ID: <keep.me@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\n"
           b"before\n.\nafter\n")
    run_as_nobody(sg, s.conf, ["-i", "-f", "robot@example.org", "-F", "Cron Daemon",
                               "alice@example.com"], msg)
    a = s.wait_delivered("alice@example.com", 1)
    body = open(a[0], "rb").read().decode()
    assert "before\n.\nafter\n" in body       # -i: a lone dot does not end input
    assert body.count("Message-ID:") == 1 and "<keep.me@example.org>" in body
    assert body.count("Date:") == 1
    assert "From: Cron Daemon <robot@example.org>\n" in body
    s.wait_log(r"pickup\[\d+\]: [0-9A-F]+: uid=%d from=<robot@example.org>" % NOBODY)
    s.wait_log(r"cleanup\[\d+\]: [0-9A-F]+: message-id=<keep.me@example.org>")

    # without -i a lone dot ends the message; -oi is the same as -i
    run_as_nobody(sg, s.conf, ["bob@example.net"], b"Subject: x\n\nfirst\n.\nnot sent\n")
    b = s.wait_delivered("bob@example.net", 1)
    text = open(b[0], "rb").read().decode()
    assert "first\n" in text and "not sent" not in text
    run_as_nobody(sg, s.conf, ["-oi", "-oem", "-v", "--", "carol@example.net"],
                  b"Subject: y\n\n.\nkept\n")
    c = s.wait_delivered("carol@example.net", 1)
    assert "\n.\nkept\n" in open(c[0], "rb").read().decode()


def test_nobody_cannot_read_maildrop(sgbin):
    s, sg = sgbin
    s.stop()                                  # leave the file in maildrop/
    s.proc = None
    run_as_nobody(sg, s.conf, ["alice@example.com"], b"Subject: secret\n\nsecret text\n")
    drop = os.path.join(s.spool, "maildrop")
    names = os.listdir(drop)
    assert len(names) == 1
    st = os.stat(os.path.join(drop, names[0]))
    assert st.st_uid == NOBODY and st.st_mode & 0o7777 == 0o644
    for cmd in (["ls", drop], ["cat", os.path.join(drop, names[0])]):
        p = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                            "--clear-groups"] + cmd, capture_output=True)
        assert p.returncode != 0 and b"Permission denied" in p.stderr, p
    # even through the setgid binary's group, the directory cannot be listed
    s.start()
    a = s.wait_delivered("alice@example.com", 1)
    assert "secret text" in open(a[0], "rb").read().decode()
    s.wait_log(r"pickup\[\d+\]: [0-9A-F]+: uid=%d from=<nobody@" % NOBODY)


def test_errors(sgbin):
    s, sg = sgbin
    p = run_as_nobody(sg, s.conf, ["-t"], b"Subject: no rcpt\n\nx\n", check=False)
    assert p.returncode == 64 and b"No recipient addresses found" in p.stderr
    # the plain binary (not setgid) cannot write the drop point as nobody
    p = run_as_nobody(BIN, s.conf, ["alice@example.com"], b"Subject: x\n\nx\n", check=False)
    assert p.returncode == 75 and b"setgid" in p.stderr, p.stderr
    p = run_as_nobody(sg, s.conf, ["-Y"], b"", check=False)
    assert p.returncode == 64


def test_bs_smtp(sgbin):
    s, sg = sgbin
    dialog = (b"EHLO me\r\nMAIL FROM:<smtp@example.org>\r\nRCPT TO:<alice@example.com>\r\n"
              b"DATA\r\nSubject: bs\r\n\r\n..dotted\r\n.\r\nQUIT\r\n")
    p = run_as_nobody(sg, s.conf, ["-bs"], dialog)
    out = p.stdout.decode()
    assert out.startswith("220 ") and "250 2.0.0 Ok: queued" in out and "221 " in out, out
    a = s.wait_delivered("alice@example.com", 1)
    body = open(a[0], "rb").read().decode()
    assert "\n.dotted\n" in body and "Message-Id: <" in body
    s.wait_log(r"pickup\[\d+\]: [0-9A-F]+: uid=%d from=<smtp@example.org>" % NOBODY)


def test_root_plain_binary(make_server):
    """root needs no setgid bit; also runs sendmail under LeakSanitizer."""
    s = make_server()
    p = subprocess.run([BIN, "-c", s.conf, "sendmail", "-t", "-F", 'Dr. "Root"'],
                       input=b"To: alice@example.com, bob@example.net\nSubject: r\n\nhi\n",
                       capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    a = s.wait_delivered("alice@example.com", 1)
    s.wait_delivered("bob@example.net", 1)
    body = open(a[0], "rb").read().decode()
    assert 'From: "Dr. \\"Root\\"" <root@' in body, body
    s.wait_log(r"pickup\[\d+\]: [0-9A-F]+: uid=0 from=<root@")


def test_bare_recipient_gets_myorigin_from_mailname(make_server, tmp_path):
    """Debian's myorigin = /etc/mailname: the file's first line is the
    origin (not the literal path), and `sendmail alice` goes to
    alice@$myorigin as Postfix's cleanup appends it (before: @localhost)."""
    mailname = tmp_path / "mailname"
    mailname.write_text("example.com\n")
    os.chmod(tmp_path, 0o755)
    s = make_server(extra=[f"myorigin = {mailname}"])
    p = subprocess.run([BIN, "-c", s.conf, "sendmail", "alice"],
                       input=b"Subject: bare\n\nhi\n", capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    a = s.wait_delivered("alice@example.com", 1)
    body = open(a[0], "rb").read().decode()
    assert re.search(r"^From: root@example\.com$", body, re.M), body
    s.wait_log(r"pickup\[\d+\]: [0-9A-F]+: uid=0 from=<root@example\.com>")
