"""
`mailwarden queue`: the postqueue -p layout (header, "ID[!] size arrival
sender", indented recipients, "(reason)" lines, trailer), flush, hold,
release and delete (postsuper -d/-h/-H) on mail deferred deterministically
(virtual_uid_maps below virtual_minimum_uid).
"""
import os
import re
import subprocess

from conftest import BIN, make_message

DEFER = ["virtual_uid_maps = static:5", "virtual_minimum_uid = 100"]
HEADER = "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"
MSG_LINE = re.compile(r"^([0-9A-F]{12})(!?) +(\d+) (\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d)  (\S+)$")


def queue(s, *args, check=True):
    p = subprocess.run([BIN, "-c", s.conf, "queue"] + list(args), capture_output=True,
                       text=True, timeout=20)
    if check:
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p


def deferred_one(s, rcpt="alice@example.com", sender="sender@example.org"):
    reply = s.send_mail(rcpt, make_message(), sender=sender)
    qid = reply.rsplit(" ", 1)[1]
    s.wait_log(r"%s: to=<%s>.*status=deferred" % (qid, re.escape(rcpt)))
    for _ in range(100):
        if os.path.exists(os.path.join(s.spool, "deferred", qid)):
            break
        import time
        time.sleep(0.05)
    return qid


def test_empty(make_server):
    s = make_server()
    p = queue(s)
    assert p.stdout == "Mail queue is empty\n"
    p = subprocess.run([BIN, "-c", s.conf, "mailq"], capture_output=True, text=True)
    assert p.stdout == "Mail queue is empty\n"


def test_list_layout(make_server):
    s = make_server(extra=DEFER)
    a = deferred_one(s)
    b = deferred_one(s, rcpt="bob@example.net", sender="")
    out = queue(s).stdout
    lines = out.split("\n")
    assert lines[0] == HEADER
    blocks = out.rstrip("\n").split("\n\n")
    assert len(blocks) == 3                       # two messages and the trailer
    seen = {}
    for blk in blocks[:2]:
        bl = blk.split("\n")
        if bl[0] == HEADER:
            bl = bl[1:]
        m = MSG_LINE.match(bl[0])
        assert m, bl[0]
        seen[m.group(1)] = (m.group(5), bl[1:])
        # the reason, right-aligned to column 78 like showq, then the recipient
        assert bl[1].strip().startswith("(") and bl[1].endswith(")")
        assert len(bl[1]) == 78 or bl[1].startswith("(")
        assert re.match(r"^ {41}\S+@\S+$", bl[2]), bl[2]
    assert seen[a][0] == "sender@example.org"
    assert seen[b][0] == "MAILER-DAEMON"
    assert seen[a][1][1].strip() == "alice@example.com"
    assert "virtual_minimum_uid" in seen[a][1][0] or "uid" in seen[a][1][0]
    assert re.match(r"^-- \d+ Kbytes in 2 Requests\.$", blocks[2])
    # the classic mailq parse (qshape-like): IDs from lines starting with hex
    ids = [l.split()[0].rstrip("*!") for l in lines if re.match(r"^[0-9A-F]", l)]
    assert sorted(ids) == sorted([a, b])


def test_hold_release_delete(make_server):
    s = make_server(extra=DEFER)
    a = deferred_one(s)
    b = deferred_one(s, rcpt="bob@example.net")
    p = queue(s, "hold", a)
    assert "Placed on hold: 1 message" in p.stderr
    assert os.path.exists(os.path.join(s.spool, "hold", a))
    assert not os.path.exists(os.path.join(s.spool, "deferred", a))
    s.wait_log(r"postsuper\[\d+\]: %s: placed on hold" % a)
    out = queue(s).stdout
    assert re.search(r"^%s! +\d+ " % a, out, re.M)
    assert "-- 0 Kbytes in 2 Requests." in out
    p = queue(s, "release", a)
    assert "Released from hold: 1 message" in p.stderr
    assert os.path.exists(os.path.join(s.spool, "deferred", a))
    s.wait_log(r"postsuper\[\d+\]: %s: released from hold" % a)
    p = queue(s, "delete", "NOSUCHID", check=False)
    assert p.returncode == 1 and "no such queue file" in p.stderr
    p = queue(s, "delete", b)
    assert "Deleted: 1 message" in p.stderr
    s.wait_log(r"postsuper\[\d+\]: %s: removed" % b)
    out = queue(s).stdout
    assert b not in out and a in out
    p = queue(s, "hold", "ALL")
    p = queue(s, "delete", "ALL")
    assert "Deleted: 1 message" in p.stderr
    assert queue(s).stdout == "Mail queue is empty\n"


def test_flush(make_server):
    s = make_server(extra=DEFER)
    a = deferred_one(s)
    # fix the cause (a new queue manager after reload), then flush:
    # delivered now instead of after minimal_backoff_time (300 s)
    s.extra = [e for e in s.extra if e not in DEFER]
    s.write_config()
    s.sighup()
    s.wait_log(r"queue manager started", count=2)
    queue(s, "flush")
    s.wait_delivered("alice@example.com", 1, timeout=10)
    s.wait_log(r"%s: removed" % a)
    assert queue(s).stdout == "Mail queue is empty\n"


def test_show(make_server):
    """`queue show ID` prints a queued message as `postcat -q` does, from
    deferred/ and from hold/; unknown and malformed IDs fail."""
    s = make_server(extra=DEFER)
    a = deferred_one(s)
    out = queue(s, "show", a).stdout
    lines = out.splitlines()
    assert lines[0] == f"*** ENVELOPE RECORDS deferred/{a} ***"
    assert re.search(r"^message_size: +\d+ +\d+ +1$", out, re.M)
    assert "sender: sender@example.org\n" in out
    assert "recipient: alice@example.com\n" in out
    assert "named_attribute: log_client_address=127.0.0.1\n" in out
    i = lines.index(f"*** MESSAGE CONTENTS deferred/{a} ***")
    assert lines[i + 1].startswith("Received: from ")
    assert "Subject: test" in lines
    assert lines[-1] == f"*** MESSAGE FILE END deferred/{a} ***"
    queue(s, "hold", a)
    assert queue(s, "show", a).stdout.startswith(f"*** ENVELOPE RECORDS hold/{a} ***")
    p = queue(s, "show", "NOSUCHID", check=False)
    assert p.returncode == 1 and "no such queue file" in p.stderr
    p = queue(s, "show", "../etc", check=False)
    assert p.returncode == 1 and "bad queue ID" in p.stderr
