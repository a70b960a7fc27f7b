"""`mailwarden report` (issue 15): one self-contained HTML page (inline
SVG, no script, no network) drawn from the mail and ban logs. A log with
known lines goes in; headless Chromium (Debian's chromium) renders the
page, the data points read back from its DOM match the log, and a
screenshot is produced."""
import html.parser
import os
import shutil
import subprocess
import time

import pytest

from conftest import BIN

CHROMIUM = shutil.which("chromium")


def syslog_stamp(t):
    return time.strftime("%b %e %H:%M:%S", time.localtime(t))


def hour_key(t):
    return time.strftime("%Y-%m-%dT%H:00", time.localtime(t))


class Dom(html.parser.HTMLParser):
    """The drawn values: circles (series, hour, value) and bars."""

    def __init__(self):
        super().__init__()
        self.points = {}
        self.bars = {}
        self.svgs = []
        self.scripts = 0
        self.chart = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.chart = a.get("id")
            self.svgs.append(self.chart)
        elif tag == "script":
            self.scripts += 1
        elif tag == "circle" and "data-series" in a:
            self.points[(self.chart, a["data-series"], a["data-t"])] = int(a["data-v"])
        elif tag == "rect" and "data-label" in a:
            self.bars[(self.chart, a["data-label"])] = int(a["data-v"])


def chromium(*args, tmp):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", f"--user-data-dir={tmp}/profile", *args],
                          capture_output=True, text=True, timeout=120)


def write_logs(d):
    now = time.time()
    a = now - 2 * 3600          # two hours ago
    b = now - 3600              # one hour ago
    old = now - 8 * 86400       # outside --since 1d
    host = "mx.test.example"
    mail = []

    def ln(t, proc, text):
        mail.append(f"{syslog_stamp(t)} {host} postfix/{proc}[42]: {text}")

    ln(old, "cleanup", "4OLD0000001: message-id=<old@x>")
    for i in range(3):
        ln(a, "cleanup", f"4A000000{i}: message-id=<a{i}@x>")
    ln(a, "smtp", "4A0000000: to=<x@ext.example>, relay=mx.ext.example[192.0.2.5]:25, "
       "delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok)")
    ln(a, "virtual", "4A0000001: to=<alice@example.com>, relay=virtual, delay=0.1, "
       "delays=0.1/0/0/0, dsn=2.0.0, status=sent (delivered to maildir)")
    ln(a, "smtp", "4A0000002: to=<y@ext.example>, relay=none, delay=3, delays=1/0/2/0, "
       "dsn=5.1.1, status=bounced (host said: 550 5.1.1 unknown user)")
    ln(a, "smtpd", "NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 554 5.7.1 Service "
       "unavailable; Client host [198.51.100.7] blocked using zen.test; from=<s@x> "
       "to=<alice@example.com> proto=ESMTP helo=<h>")
    ln(a, "smtpd", "NOQUEUE: reject: RCPT from unknown[198.51.100.9]: 550 5.1.1 "
       "<nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox "
       "table; from=<s@x> to=<nobody@example.com> proto=ESMTP helo=<h>")
    for user, ip in (("admin", "203.0.113.5"), ("admin", "203.0.113.5"),
                     ("root", "2001:db8:1::5")):
        ln(a, "smtpd", f"warning: unknown[{ip}]: SASL LOGIN authentication failed: "
           f"UGFzc3dvcmQ6, sasl_username={user}")
    ln(b, "cleanup", "4B0000000: message-id=<b0@x>")
    ln(b, "virtual", "4B0000000: to=<alice@example.com>, relay=virtual, delay=0.1, "
       "delays=0.1/0/0/0, dsn=2.0.0, status=sent (delivered to maildir)")
    ln(b, "qmgr", "4A0000000: removed")
    ln(b, "qmgr", "4A0000001: removed")
    ln(b, "smtpd", "NOQUEUE: reject: RCPT from unknown[198.51.100.20]: 554 5.7.1 "
       "<z@ext.example>: Relay access denied; from=<s@x> to=<z@ext.example> proto=ESMTP "
       "helo=<h>")
    ln(b, "smtpd", "warning: unknown[203.0.113.77]: SASL PLAIN authentication failed: "
       "authentication failure, sasl_username=admin")
    # a backend failure is not the client's: not counted
    ln(b, "smtpd", "warning: unknown[203.0.113.78]: SASL PLAIN authentication failed: "
       "Connection lost to authentication server")
    ml = os.path.join(d, "maillog")
    with open(ml, "w") as f:
        f.write("\n".join(mail) + "\n")

    def f2b(t):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + ",123"

    fl = os.path.join(d, "fail2ban.log")
    with open(fl, "w") as f:
        f.write(f"{f2b(a)} fail2ban.actions        [7]: NOTICE  [postfix-sasl] Ban 203.0.113.5\n"
                f"{f2b(b)} fail2ban.actions        [7]: NOTICE  [sshd] Ban 198.51.100.7\n"
                f"{f2b(b)} fail2ban.actions        [7]: NOTICE  [sshd] Restore Ban 192.0.2.99\n"
                f"{f2b(b)} fail2ban.filter         [7]: INFO    [sshd] Found 192.0.2.99\n")
    return ml, fl, a, b


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_report_renders_with_the_log_numbers(make_server, tmp_path):
    os.chmod(tmp_path, 0o755)
    s = make_server(start=False)
    ml, fl, a, b = write_logs(str(tmp_path))
    out = tmp_path / "report.html"
    r = subprocess.run([BIN, "-c", s.conf, "report", "--since", "1d", "-o", str(out),
                        "--log", ml, "--log", fl], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    # self-contained: no script, nothing fetched
    assert "<script" not in page
    for ref in ("src=", "href=", "url(", "@import"):
        assert ref not in page, ref
    assert page.count("http") == page.count('xmlns="http://www.w3.org/2000/svg"')

    dom_run = chromium("--dump-dom", f"file://{out}", tmp=tmp_path)
    assert dom_run.returncode == 0, dom_run.stderr[-2000:]
    dom = Dom()
    dom.feed(dom_run.stdout)
    assert dom.svgs == ["mail", "abuse", "queue", "prefixes", "logins", "reasons"]
    assert dom.scripts == 0
    ha, hb = hour_key(a), hour_key(b)
    want = {
        ("mail", "in", ha): 3, ("mail", "out", ha): 2, ("mail", "bounced", ha): 1,
        ("mail", "rejected", ha): 2,
        ("mail", "in", hb): 1, ("mail", "out", hb): 1, ("mail", "rejected", hb): 1,
        ("abuse", "auth failures", ha): 3, ("abuse", "auth failures", hb): 1,
        ("abuse", "bans postfix-sasl", ha): 1, ("abuse", "bans sshd", hb): 1,
        ("queue", "queue", ha): 3, ("queue", "queue", hb): 2,
    }
    assert dom.points == want
    assert dom.bars == {
        ("prefixes", "203.0.113.0/24"): 3, ("prefixes", "198.51.100.0/24"): 3,
        ("prefixes", "2001:db8:1::/64"): 1,
        ("logins", "admin"): 3, ("logins", "root"): 1,
        ("reasons", "dnsbl"): 1, ("reasons", "recipient"): 1, ("reasons", "relay"): 1,
    }

    shot = tmp_path / "report.png"
    r = chromium(f"--screenshot={shot}", "--window-size=1100,2400", f"file://{out}",
                 tmp=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000, len(data)


def test_report_of_a_running_server(make_server):
    """The real log of a server that took a message: the default inputs
    (maillog_file), written to stdout."""
    s = make_server()
    s.send_mail(["alice@example.com"], "Subject: r\r\n\r\nbody\r\n")
    s.wait_log(r"status=sent")
    r = subprocess.run([BIN, "-c", s.conf, "report", "--since", "2h"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert '<td data-total="in">1</td>' in r.stdout
    assert '<td data-total="out">1</td>' in r.stdout
    assert r.stdout.rstrip().endswith("</html>")
    r = subprocess.run([BIN, "-c", s.conf, "report", "--since", "1y"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "--since 1y" in r.stderr


def test_report_counts_the_queue_now(make_server, tmp_path):
    """The queue chart is estimated from the log; the messages really in
    queue_directory at report time are shown apart, labelled, when it is
    readable (here as root: two deferred messages), and a note instead
    when it is not (a user who cannot read the spool)."""
    s = make_server(extra=["virtual_uid_maps = static:5", "virtual_minimum_uid = 100"])
    for i in range(2):
        s.send_mail(["alice@example.com"], f"Subject: q{i}\r\n\r\nbody\r\n")
    s.wait_log(r"status=deferred", count=2)
    deadline = time.time() + 10
    while len(os.listdir(os.path.join(s.spool, "deferred"))) < 2:
        assert time.time() < deadline
        time.sleep(0.05)
    r = subprocess.run([BIN, "-c", s.conf, "report", "--since", "2h"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f'<p id="queue-now" data-queue-now="2">Queue now: <b>2</b> messages, counted in ' \
        f'{s.spool} when this report was made (not from the log): maildrop ' \
        '<span data-queue-dir="maildrop">0</span>, incoming <span data-queue-dir="incoming">0' \
        '</span>, deferred <span data-queue-dir="deferred">2</span>, hold ' \
        '<span data-queue-dir="hold">0</span>.</p>' in r.stdout, r.stdout[-3000:]
    assert "Queue size, estimated from the log" in r.stdout
    # nobody cannot read the queue: said so, no number
    log = tmp_path / "empty.log"
    log.write_text("")
    os.chmod(tmp_path, 0o755)
    os.chmod(log, 0o644)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        BIN, "-c", s.conf, "report", "--since", "2h", "--log", str(log)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert '<p id="queue-now" class="none">Queue now: not counted (' in r.stdout, \
        r.stdout[-3000:]
    assert "data-queue-now" not in r.stdout
