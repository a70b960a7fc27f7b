"""header_checks, mime_header_checks, nested_header_checks and body_checks
(issue 13) with regexp: and pcre: tables, driven by smtplib: each action
of header_checks(5) (REJECT, DISCARD, HOLD, WARN, INFO, IGNORE, STRIP,
PASS, PREPEND, REPLACE, REDIRECT, BCC, FILTER, DUNNO), the tables from
Postfix's documentation examples, cleanup's log lines, the same actions
from an access map (check_recipient_access), and what fail2ban's postfix
filter makes of the reject lines (`mailwarden scan`)."""
import os
import re
import smtplib
import subprocess
import time

import pytest

from conftest import BIN, make_message

# regexp_table(5) EXAMPLE HEADER FILTER MAP, then one rule per action.
HEADER_CHECKS = r"""# These were once common in junk mail.
/^Subject: make money fast/     REJECT
/^To: friend@public\.com/       REJECT
/^Subject: custom reject/       REJECT 5.7.0 no thanks
/^Subject: defer me/            REJECT 4.7.1 try later
/^Subject: discard me/          DISCARD spam trap
/^Subject: hold me/             HOLD quarantined for review
/^Subject: warn me/             WARN looks odd
/^Subject: info me/             INFO routine
/^X-Ignore-Me:/                 IGNORE
/^X-Strip-Me:/                  STRIP internal header
/^Subject: prepend me/          PREPEND X-Checked: yes
/^X-Replace-Me: (.*)/           REPLACE X-Replaced: was $1
/^Subject: redirect me/         REDIRECT bob@example.net
/^Subject: bcc me/              BCC carol@example.net
/^Subject: filter me/           FILTER smtp:[127.0.0.1]:10025
/^X-Trusted: yes/               PASS trusted sender
/^Subject: dunno/               DUNNO
/^Subject: dunno/               REJECT never reached
"""

# header_checks(5) EXAMPLES: attachment names (pcre, /x, continuation lines)
MIME_CHECKS = r"""/^Content-(Disposition|Type).*name\s*=\s*"?([^;]*(\.|=2E)(
  ade|adp|asp|bas|bat|chm|cmd|com|cpl|crt|dll|exe|
  hlp|ht[at]|
  inf|ins|isp|jse?|lnk|md[betw]|ms[cipt]|nws|
  \{[[:xdigit:]]{8}(?:-[[:xdigit:]]{4}){3}-[[:xdigit:]]{12}\}|
  ops|pcd|pif|prf|reg|sc[frt]|sh[bsm]|swf|
  vb[esx]?|vxd|ws[cfh]))(\?=)?"?\s*(;|$)/x
    REJECT Attachment name "$2" may not end with ".$4"
"""

NESTED_CHECKS = r"""/^Subject: forwarded junk/ REJECT nested junk
"""

# header_checks(5) EXAMPLES body pattern, regexp_table(5) body example.
BODY_CHECKS = r"""# First skip over base 64 encoded text to save CPU cycles.
~^[[:alnum:]+/]{60,}$~          OK
/^<iframe src=(3D)?cid:.* height=(3D)?0 width=(3D)?0>$/
    REJECT IFRAME vulnerability exploit
/^replace this line$/           REPLACE this line was replaced
"""


def write(s, name, text):
    p = os.path.join(s.dir, name)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, 0o644)
    return p


@pytest.fixture
def checked(make_server):
    s = make_server(start=False)
    s.extra = [
        "header_checks = regexp:" + write(s, "header_checks", HEADER_CHECKS),
        "mime_header_checks = pcre:" + write(s, "mime_checks.pcre", MIME_CHECKS),
        "nested_header_checks = regexp:" + write(s, "nested_checks", NESTED_CHECKS),
        "body_checks = regexp:" + write(s, "body_checks", BODY_CHECKS),
        "syslog_name = postfix",      # the fail2ban filter's own prefix
    ]
    s.write_config()
    s.start()
    return s


def data_reply(s, msg, rcpts=("alice@example.com",), sender="sender@example.org"):
    c = s.smtp()
    try:
        c.ehlo("client.example")
        assert c.mail(sender)[0] == 250
        for r in rcpts:
            assert c.rcpt(r)[0] == 250
        code, text = c.data(msg)
        return code, text.decode()
    finally:
        c.quit()


def qid_of(text):
    return text.rsplit(" ", 1)[1]


def header_text(raw, name):
    m = re.search(rb"^" + name.encode() + rb":(.*)$", raw, re.M | re.I)
    return m.group(1).strip().decode() if m else None


def test_reject_generic_and_custom(checked):
    s = checked
    code, text = data_reply(s, make_message(subject="Make money fast!!!"))
    assert (code, text) == (550, "5.7.1 message content rejected")
    line = s.wait_log(r"reject: header Subject: Make money fast")[0]
    assert re.search(r"postfix/cleanup\[\d+\]: [0-9A-F]+: reject: header Subject: Make money "
                     r"fast!!! from localhost\[127\.0\.0\.1\]; from=<sender@example\.org> "
                     r"to=<alice@example\.com> proto=ESMTP helo=<client\.example>: 5\.7\.1 "
                     r"message content rejected$", line), line
    assert data_reply(s, make_message(subject="custom reject"))[1] == "5.7.0 no thanks"
    assert data_reply(s, make_message(subject="defer me")) == (451, "4.7.1 try later")
    # the session goes on: the next message is accepted
    assert data_reply(s, make_message(subject="fine"))[0] == 250
    s.wait_delivered("alice@example.com", 1)
    assert not [f for f in s.spool_files() if "/incoming/" in f or "/hold/" in f]


def test_body_reject_and_replace(checked):
    s = checked
    body = "Hi.\r\n<iframe src=3Dcid:abc height=3D0 width=3D0>\r\n"
    assert data_reply(s, make_message(body=body)) == (550, "5.7.1 IFRAME vulnerability exploit")
    s.wait_log(r"reject: body <iframe src=3Dcid:abc height=3D0 width=3D0> from "
               r"localhost\[127\.0\.0\.1\]; .*: 5\.7\.1 IFRAME vulnerability exploit$")
    code, _ = data_reply(s, make_message(body="one\r\nreplace this line\r\ntwo\r\n"))
    assert code == 250
    s.wait_delivered("alice@example.com", 1)
    raw = s.messages("alice@example.com")[0]
    assert b"\none\nthis line was replaced\ntwo\n" in raw.replace(b"\r\n", b"\n"), raw


def test_discard(checked):
    s = checked
    code, text = data_reply(s, make_message(subject="discard me"))
    assert code == 250 and text.startswith("2.0.0 Ok: queued as ")
    s.wait_log(r"%s: discard: header Subject: discard me from .*: spam trap$" % qid_of(text))
    assert data_reply(s, make_message(subject="after"))[0] == 250
    s.wait_delivered("alice@example.com", 1)
    raws = s.messages("alice@example.com")
    assert len(raws) == 1 and b"Subject: after" in raws[0]


def test_hold_and_queue_listing(checked):
    s = checked
    code, text = data_reply(s, make_message(subject="hold me"))
    assert code == 250
    qid = qid_of(text)
    s.wait_log(r"%s: hold: header Subject: hold me from .*: quarantined for review$" % qid)
    assert os.path.exists(os.path.join(s.spool, "hold", qid))
    p = subprocess.run([BIN, "-c", s.conf, "queue", "list"], capture_output=True, text=True,
                       timeout=20)
    assert re.search(r"^%s!\s+\d+ " % qid, p.stdout, re.M), (p.stdout, p.stderr)
    p = subprocess.run([BIN, "-c", s.conf, "queue", "show", qid], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert "sender: sender@example.org" in p.stdout
    assert "recipient: alice@example.com" in p.stdout
    assert "Subject: hold me" in p.stdout
    assert list(os.listdir(s.mailbox("alice@example.com")) if os.path.isdir(
        s.mailbox("alice@example.com")) else []) == []


def test_warn_info_ignore_strip_prepend_replace(checked):
    s = checked
    msg = ("From: sender@example.org\r\nTo: alice@example.com\r\nSubject: warn me\r\n"
           "X-Ignore-Me: a\r\nX-Strip-Me: b\r\nX-Replace-Me: old value\r\n\r\nbody\r\n")
    assert data_reply(s, msg)[0] == 250
    assert data_reply(s, make_message(subject="info me"))[0] == 250
    assert data_reply(s, make_message(subject="prepend me"))[0] == 250
    s.wait_delivered("alice@example.com", 3)
    s.wait_log(r"warning: header Subject: warn me from .*: looks odd$")
    s.wait_log(r"info: header Subject: info me from .*: routine$")
    s.wait_log(r"strip: header X-Strip-Me: b from .*: internal header$")
    s.wait_log(r"replace: header X-Replace-Me: old value from .*: X-Replaced: was old value$")
    s.wait_log(r"prepend: header Subject: prepend me from .*: X-Checked: yes$")
    raws = {header_text(r, "Subject"): r for r in s.messages("alice@example.com")}
    w = raws["warn me"]
    assert header_text(w, "X-Ignore-Me") is None and header_text(w, "X-Strip-Me") is None
    assert header_text(w, "X-Replace-Me") is None
    assert header_text(w, "X-Replaced") == "was old value"
    p = raws["prepend me"].replace(b"\r\n", b"\n")
    assert b"X-Checked: yes\nSubject: prepend me\n" in p
    assert not re.search(r"(ignore|IGNORE).*X-Ignore-Me", s.log())


def test_redirect_bcc(checked):
    s = checked
    assert data_reply(s, make_message(subject="redirect me"))[0] == 250
    s.wait_delivered("bob@example.net", 1)
    assert data_reply(s, make_message(subject="bcc me"))[0] == 250
    s.wait_delivered("carol@example.net", 1)
    s.wait_delivered("alice@example.com", 1)
    s.wait_log(r"redirect: header Subject: redirect me from .*: bob@example\.net$")
    s.wait_log(r"bcc: header Subject: bcc me from .*: carol@example\.net$")
    # the redirected message went to bob only
    assert [header_text(r, "Subject") for r in s.messages("alice@example.com")] == ["bcc me"]


def test_filter_recorded(checked):
    s = checked
    code, text = data_reply(s, make_message(subject="filter me"))
    assert code == 250
    s.wait_log(r"%s: filter: header Subject: filter me from .*: smtp:\[127\.0\.0\.1\]:10025$"
               % qid_of(text))
    # the message goes to that content filter, not to alice; nothing
    # listens there (test_content_filter.py has a filter that does)
    s.wait_log(r"%s: to=<alice@example\.com>, .*status=deferred \(.*127\.0\.0\.1.*10025"
               % qid_of(text))
    assert list_dir(s.mailbox("alice@example.com")) == []


def test_pass_and_dunno(checked):
    s = checked
    msg = ("From: sender@example.org\r\nTo: alice@example.com\r\nX-Trusted: yes\r\n"
           "Subject: make money fast\r\n\r\nbody\r\n")
    assert data_reply(s, msg)[0] == 250
    s.wait_log(r"pass: header X-Trusted: yes from .*: trusted sender$")
    assert data_reply(s, make_message(subject="dunno"))[0] == 250
    s.wait_delivered("alice@example.com", 2)


MULTIPART = (
    "From: sender@example.org\r\nTo: alice@example.com\r\nSubject: {subject}\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n"
    "preamble\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    "--XYZ\r\n{part}\r\n--XYZ--\r\n")


def test_mime_and_nested_headers(checked):
    s = checked
    part = ("Content-Type: application/octet-stream; name=\"invoice.pdf.exe\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nAAAA")
    code, text = data_reply(s, MULTIPART.format(subject="invoice", part=part))
    assert (code, text) == (550, "5.7.1 Attachment name \"invoice.pdf.exe\" may not end "
                                 "with \".exe\"")
    nested = ("Content-Type: message/rfc822\r\n\r\nFrom: x@example.org\r\n"
              "Subject: forwarded junk\r\n\r\nnested body")
    code, text = data_reply(s, MULTIPART.format(subject="fwd", part=nested))
    assert (code, text) == (550, "5.7.1 nested junk")
    # the same Subject in the primary headers is not a nested header
    assert data_reply(s, make_message(subject="forwarded junk"))[0] == 250
    ok = ("Content-Type: application/pdf; name=\"invoice.pdf\"\r\n\r\nAAAA")
    assert data_reply(s, MULTIPART.format(subject="ok", part=ok))[0] == 250
    s.wait_delivered("alice@example.com", 2)


ACCESS = """\
hold@example.com        HOLD
discard@example.com     DISCARD
redirect@example.com    REDIRECT bob@example.net
bcc@example.com         BCC carol@example.net
filter@example.com      FILTER lmtp:unix:/run/filter
"""


def test_access_map_actions(make_server):
    s = make_server(start=False)
    s.vmailbox.update({f"{w}@example.com": f"example.com/{w}/"
                       for w in ("hold", "discard", "redirect", "bcc", "filter")})
    from conftest import write_map
    write_map(s.vmailbox_path, s.vmailbox)
    s.extra = ["smtpd_recipient_restrictions = check_recipient_access texthash:" +
               write(s, "access", ACCESS) + ", permit_mynetworks, reject_unauth_destination"]
    s.write_config()
    s.start()
    code, text = data_reply(s, make_message(to="hold@example.com"), rcpts=["hold@example.com"])
    assert code == 250
    qid = qid_of(text)
    s.wait_log(r"NOQUEUE: hold: RCPT from localhost\[127\.0\.0\.1\]: <hold@example\.com>: "
               r"Recipient address triggers HOLD action; from=<sender@example\.org> "
               r"to=<hold@example\.com> proto=ESMTP helo=<client\.example>")
    assert os.path.exists(os.path.join(s.spool, "hold", qid))
    code, text = data_reply(s, make_message(), rcpts=["discard@example.com"])
    assert code == 250
    s.wait_log(r"discard: RCPT from .*: <discard@example\.com>: Recipient address triggers "
               r"DISCARD action")
    assert data_reply(s, make_message(), rcpts=["redirect@example.com"])[0] == 250
    s.wait_delivered("bob@example.net", 1)
    assert data_reply(s, make_message(), rcpts=["bcc@example.com"])[0] == 250
    s.wait_delivered("carol@example.net", 1)
    s.wait_delivered("bcc@example.com", 1)
    assert data_reply(s, make_message(), rcpts=["filter@example.com"])[0] == 250
    s.wait_log(r"filter: RCPT from .*: <filter@example\.com>: Recipient address triggers "
               r"FILTER lmtp:unix:/run/filter")
    # handed to that filter (absent here: deferred), not delivered
    s.wait_log(r"to=<filter@example\.com>, .*status=deferred")
    assert list_dir(s.mailbox("filter@example.com")) == []
    assert list_dir(s.mailbox("discard@example.com")) == []
    assert list_dir(s.mailbox("redirect@example.com")) == []


def list_dir(p):
    return os.listdir(p) if os.path.isdir(p) else []


def test_bad_table_refused(make_server):
    s = make_server(start=False)
    s.extra = ["header_checks = regexp:" + write(s, "bad", "/unterminated REJECT\n")]
    s.write_config()
    p = subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True, text=True,
                       timeout=20)
    assert p.returncode != 0
    assert "line 1: missing closing delimiter /" in p.stdout + p.stderr


def test_fail2ban_postfix_filter_on_reject_lines(checked, tmp_path):
    """fail2ban's postfix filter has no mode for cleanup's "reject: header"
    and "reject: body" lines (its normal mode wants "reject: RCPT|DATA|...
    from"): `mailwarden scan` with each mode finds no failure in them,
    while the smtpd reject of the same log is found."""
    s = checked
    data_reply(s, make_message(subject="make money fast"))
    data_reply(s, make_message(body="<iframe src=cid:x height=0 width=0>\r\n"))
    c = s.smtp()
    c.ehlo("client.example")
    c.mail("sender@example.org")
    assert c.rcpt("nobody@example.com")[0] == 550     # User unknown: the filter's case
    c.quit()
    s.wait_log(r"reject: RCPT from")
    s.wait_log(r"reject: body")
    log = tmp_path / "maillog"
    log.write_text(s.log())
    for mode in ("more", "normal", "aggressive", "extra"):
        p = subprocess.run([BIN, "scan", str(log), f"postfix[mode={mode}]"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        matched = re.search(r"Lines: \d+, matched: (\d+),", p.stdout)
        assert matched and matched.group(1) == "1", (mode, p.stdout)


def sendmail(s, sender, rcpt, msg):
    p = subprocess.run([BIN, "-c", s.conf, "sendmail", "-f", sender, rcpt], input=msg.encode(),
                       capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr


def test_sendmail_mail_is_checked(checked):
    """Mail from the sendmail command goes through the same tables (pickup),
    logged "from local"; a REJECT returns it to the sender as a DSN."""
    s = checked
    sendmail(s, "alice@example.com", "bob@example.net",
             "Subject: make money fast\n\nbuy now\n")
    s.wait_log(r"postfix/cleanup\[\d+\]: [0-9A-F]+: reject: header Subject: make money fast "
               r"from local; from=<alice@example\.com> to=<bob@example\.net>: 5\.7\.1 message "
               r"content rejected$")
    qid = re.search(r": ([0-9A-F]+): reject: header", s.log()).group(1)
    s.wait_log(r"postfix/pickup\[\d+\]: %s: uid=\d+ from=<alice@example\.com>" % qid)
    s.wait_log(r"postfix/bounce\[\d+\]: %s: sender non-delivery notification: [0-9A-F]+$" % qid)
    s.wait_delivered("alice@example.com", 1)
    dsn = s.messages("alice@example.com")[0]
    assert b"Undelivered Mail Returned to Sender" in dsn
    assert b"5.7.1 message content rejected" in dsn
    sendmail(s, "alice@example.com", "bob@example.net", "Subject: discard me\n\nx\n")
    s.wait_log(r"discard: header Subject: discard me from local;")
    sendmail(s, "alice@example.com", "bob@example.net",
             "Subject: prepend me\nX-Strip-Me: 1\n\nreplace this line\n")
    s.wait_delivered("bob@example.net", 1)
    raw = s.messages("bob@example.net")[0].replace(b"\r\n", b"\n")
    assert b"X-Checked: yes\nSubject: prepend me\n" in raw and b"X-Strip-Me" not in raw
    assert b"\nthis line was replaced\n" in raw
    sendmail(s, "alice@example.com", "bob@example.net", "Subject: hold me\n\nx\n")
    line = s.wait_log(r"hold: header Subject: hold me from local;")[0]
    qid = re.search(r": ([0-9A-F]+): hold:", line).group(1)
    for _ in range(100):
        if os.path.exists(os.path.join(s.spool, "hold", qid)):
            break
        time.sleep(0.05)
    assert os.path.exists(os.path.join(s.spool, "hold", qid))
    assert len(s.messages("bob@example.net")) == 1


MILTER_HBC = r"""/^X-Spam-Flag: YES/      REJECT 5.7.1 spam says the milter
/^X-Milter-Drop:/         STRIP
/^X-Milter-Old: (.*)/     REPLACE X-Milter-New: $1
/^X-Milter-Bcc:/          BCC carol@example.net
"""


def test_milter_header_checks(make_server):
    """milter_header_checks: headers a milter adds are checked before
    they are written (REJECT, STRIP, REPLACE, BCC)."""
    from milterfix import ScriptMilter
    m = ScriptMilter()
    try:
        s = make_server(start=False)
        s.extra = [f"smtpd_milters = {m.spec}",
                   "milter_header_checks = regexp:" + write(s, "mhbc", MILTER_HBC)]
        s.write_config()
        s.start()
        m.eom_mods = [("addheader", "X-Milter-Drop", "x"), ("addheader", "X-Milter-Old", "v1"),
                      ("addheader", "X-Milter-Bcc", "y"), ("addheader", "X-Kept", "z")]
        assert data_reply(s, make_message(subject="m1"))[0] == 250
        s.wait_delivered("carol@example.net", 1)
        raw = s.wait_delivered("alice@example.com", 1) and s.messages("alice@example.com")[0]
        assert header_text(raw, "X-Milter-Drop") is None
        assert header_text(raw, "X-Milter-Old") is None
        assert header_text(raw, "X-Milter-New") == "v1"
        assert header_text(raw, "X-Kept") == "z"
        s.wait_log(r"strip: header X-Milter-Drop: x from localhost\[127\.0\.0\.1\];")
        m.eom_mods = [("addheader", "X-Spam-Flag", "YES")]
        assert data_reply(s, make_message(subject="m2")) == (550, "5.7.1 spam says the milter")
        s.wait_log(r"reject: header X-Spam-Flag: YES from .*: 5\.7\.1 spam says the milter$")
    finally:
        m.close()


def test_filter_kept_when_a_milter_changes_the_message(make_server):
    """A header_checks FILTER survives a milter's header change: the
    milters' rewrite of the queue file keeps the F record, so the message
    still goes to the filter and not to its recipient."""
    from milterfix import ScriptMilter
    m = ScriptMilter()
    try:
        s = make_server(start=False)
        s.extra = [f"smtpd_milters = {m.spec}",
                   "header_checks = regexp:" + write(s, "header_checks", HEADER_CHECKS)]
        s.write_config()
        s.start()
        m.eom_mods = [("addheader", "X-Milter", "seen")]
        code, text = data_reply(s, make_message(subject="filter me"))
        assert code == 250
        s.wait_log(r"%s: to=<alice@example\.com>, .*status=deferred \(.*127\.0\.0\.1.*10025"
                   % qid_of(text))
        assert list_dir(s.mailbox("alice@example.com")) == []
    finally:
        m.close()


def test_non_smtpd_milters(make_server):
    """non_smtpd_milters: mail from the sendmail command goes through the
    milters (connect from localhost [127.0.0.1], HELO localhost, the
    envelope, the message) before it is queued; changes are kept, a
    reject returns the message to its sender, discard drops it."""
    from milterfix import ScriptMilter
    m = ScriptMilter()
    try:
        s = make_server(start=False)
        s.extra = [f"non_smtpd_milters = {m.spec}"]
        s.write_config()
        s.start()
        m.eom_mods = [("addheader", "X-Local-Milter", "seen")]
        sendmail(s, "alice@example.com", "bob@example.net", "Subject: one\n\nhello\n")
        s.wait_delivered("bob@example.net", 1)
        raw = s.messages("bob@example.net")[0]
        assert header_text(raw, "X-Local-Milter") == "seen"
        assert m.args("connect")[0].startswith(b"localhost\0")
        assert m.args("helo")[0] == b"localhost\0"
        assert b"alice@example.com" in m.args("mail")[0]
        assert b"bob@example.net" in m.args("rcpt")[0]
        m.eom_mods = []
        m.script["eom"] = ("replycode", "550 5.7.0 not from here")
        sendmail(s, "alice@example.com", "bob@example.net", "Subject: two\n\nhello\n")
        s.wait_log(r"milter-reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: 5\.7\.0 not "
                   r"from here; from=<alice@example\.com> to=<bob@example\.net>")
        s.wait_delivered("alice@example.com", 1)
        assert b"5.7.0 not from here" in s.messages("alice@example.com")[0]
        m.script["eom"] = "discard"
        sendmail(s, "alice@example.com", "bob@example.net", "Subject: three\n\nhello\n")
        s.wait_log(r"milter-discard: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]")
        time.sleep(0.5)
        assert len(s.messages("bob@example.net")) == 1
        assert os.listdir(os.path.join(s.spool, "maildrop")) == []
    finally:
        m.close()


def test_policy_service_actions(make_server):
    """A policy service (smtpd_access_policy) answering HOLD or BCC: the
    same actions as from an access map."""
    import socket
    import threading
    answers = {"hold@example.com": "HOLD policy says hold",
               "bcc@example.com": "BCC carol@example.net"}
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    port = ls.getsockname()[1]

    def serve():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            with c:
                data = b""
                while True:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                    while b"\n\n" in data:
                        req, data = data.split(b"\n\n", 1)
                        attrs = dict(l.split("=", 1) for l in req.decode().splitlines() if "=" in l)
                        act = answers.get(attrs.get("recipient", ""), "DUNNO")
                        c.sendall(f"action={act}\n\n".encode())
    threading.Thread(target=serve, daemon=True).start()
    try:
        s = make_server(start=False)
        s.vmailbox.update({"hold@example.com": "example.com/hold/",
                           "bcc@example.com": "example.com/bcc/"})
        from conftest import write_map
        write_map(s.vmailbox_path, s.vmailbox)
        s.extra = [f"smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:{port}, "
                   "permit_mynetworks, reject_unauth_destination"]
        s.write_config()
        s.start()
        code, text = data_reply(s, make_message(), rcpts=["hold@example.com"])
        assert code == 250
        s.wait_log(r"NOQUEUE: hold: RCPT from .*: <hold@example\.com>: Recipient address "
                   r"policy says hold;")
        qid = qid_of(text)
        for _ in range(100):
            if os.path.exists(os.path.join(s.spool, "hold", qid)):
                break
            time.sleep(0.05)
        assert os.path.exists(os.path.join(s.spool, "hold", qid))
        assert data_reply(s, make_message(), rcpts=["bcc@example.com"])[0] == 250
        s.wait_delivered("carol@example.net", 1)
        s.wait_delivered("bcc@example.com", 1)
    finally:
        ls.close()
