"""Metrics (issue 15): metrics_listen serves Prometheus text format from
the master, with counters that the engine, the queue manager and the ban
engine keep in one shared page; promtool checks the page; a real
Prometheus server (Debian's prometheus) scrapes it and answers a query."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, free_port


def scrape(port, path="/metrics"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


def value(text, name, labels=""):
    m = re.search(r"^" + re.escape(name + (("{" + labels + "}") if labels else "")) +
                  r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def wait_value(port, name, labels, want, timeout=10):
    deadline = time.time() + timeout
    while True:
        text = scrape(port)
        v = value(text, name, labels)
        if v is not None and v >= want or time.time() > deadline:
            return v, text
        time.sleep(0.1)


@pytest.fixture
def metrics_server(make_server, tmp_path):
    auth = tmp_path / "auth.log"
    auth.write_text("")
    port = free_port()
    s = make_server(extra=[
        f"metrics_listen = 127.0.0.1:{port}",
        f"warden_logtarget = {tmp_path / 'warden.log'}",
        "[sshd]", "enabled = true", "filter = sshd", f"logpath = {auth}", "action =",
        "maxretry = 2", "findtime = 600", "bantime = 600",
    ])
    s.metrics_port = port
    s.auth_log = auth
    return s


def sshd_fail(path, addr):
    line = (time.strftime("%b %d %H:%M:%S") +
            f" host sshd[123]: Failed password for root from {addr} port 2222 ssh2\n")
    with open(path, "a") as f:
        f.write(line)


def test_counters_from_every_process(metrics_server):
    s = metrics_server
    port = s.metrics_port
    text = scrape(port)
    for name in ("mailwarden_smtpd_connections_total", "mailwarden_messages_received_total",
                 "mailwarden_delivery_delay_seconds", "mailwarden_bans_total",
                 "mailwarden_dns_query_duration_seconds"):
        assert f"# TYPE {name} " in text, name
    # engine: a connection, a message, an unknown recipient refused
    s.send_mail(["alice@example.com"], "Subject: m\r\n\r\nbody\r\n")
    c = s.conn()
    c.reply()
    assert c.cmd("HELO client.example").startswith("250")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
    assert c.cmd("RCPT TO:<nobody@example.com>").startswith("550")
    c.cmd("QUIT")
    c.close()
    v, text = wait_value(port, "mailwarden_messages_received_total", 'source="smtpd"', 1)
    assert v == 1, text
    assert value(text, "mailwarden_smtpd_connections_total", 'listener="smtp"') >= 2
    assert value(text, "mailwarden_smtpd_rejects_total", 'reason="recipient"') == 1, text
    # queue manager: delivered, with its delay in the histogram
    v, text = wait_value(port, "mailwarden_messages_delivered_total", "", 1)
    assert v == 1, text
    assert value(text, "mailwarden_delivery_delay_seconds_count") == 1
    assert value(text, "mailwarden_delivery_delay_seconds_bucket", 'le="+Inf"') == 1
    # ban engine: two failures, one ban in force
    for _ in range(2):
        sshd_fail(s.auth_log, "192.0.2.7")
    v, text = wait_value(port, "mailwarden_bans_total", 'jail="sshd"', 1)
    assert v == 1, text
    assert value(text, "mailwarden_jail_failures_total", 'jail="sshd"') == 2
    assert value(text, "mailwarden_bans_active", 'jail="sshd"') == 1


def test_promtool_and_http(metrics_server):
    s = metrics_server
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (package prometheus) not installed")
    s.send_mail(["alice@example.com"], "Subject: m\r\n\r\nbody\r\n")
    wait_value(s.metrics_port, "mailwarden_messages_delivered_total", "", 1)
    text = scrape(s.metrics_port)
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    # anything but GET /metrics: refused, the loop goes on
    with pytest.raises(urllib.error.HTTPError) as e:
        scrape(s.metrics_port, "/other")
    assert e.value.code == 404
    # a scraper that connects and says nothing holds no one up
    idle = [socket.create_connection(("127.0.0.1", s.metrics_port)) for _ in range(3)]
    slow = socket.create_connection(("127.0.0.1", s.metrics_port))
    slow.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")   # and never reads
    t = time.time()
    assert "mailwarden_smtpd_connections_total" in scrape(s.metrics_port)
    assert time.time() - t < 1
    assert s.smtp().noop()[0] == 250
    for x in idle + [slow]:
        x.close()


def test_remote_address_refused(make_server):
    s = make_server(extra=["metrics_listen = 0.0.0.0:9154"], start=False)
    r = subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0
    assert "metrics_listen = 0.0.0.0:9154: not a loopback address" in r.stderr
    s.extra.append("metrics_allow_remote = yes")
    s.write_config()
    r = subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr


def test_real_prometheus_scrapes(metrics_server, tmp_path):
    s = metrics_server
    prom = shutil.which("prometheus")
    if prom is None:
        pytest.skip("prometheus not installed")
    for _ in range(3):
        s.send_mail(["alice@example.com"], "Subject: m\r\n\r\nbody\r\n")
    wait_value(s.metrics_port, "mailwarden_messages_received_total", 'source="smtpd"', 3)
    conf = tmp_path / "prometheus.yml"
    conf.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: mailwarden\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{s.metrics_port}']\n")
    pport = free_port()
    data = tempfile.mkdtemp(prefix="mw-prom-")
    p = subprocess.Popen([prom, f"--config.file={conf}", f"--storage.tsdb.path={data}",
                          f"--web.listen-address=127.0.0.1:{pport}"],
                         stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prom.log", "w"))
    try:
        q = "http://127.0.0.1:%d/api/v1/query?query=mailwarden_messages_received_total" % pport
        deadline = time.time() + 60
        result = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(q, timeout=5) as r:
                    body = json.load(r)
                result = body["data"]["result"]
                if result:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert result, (tmp_path / "prom.log").read_text()[-2000:]
        got = {r["metric"]["source"]: float(r["value"][1]) for r in result}
        assert got["smtpd"] == 3, result
        assert result[0]["metric"]["job"] == "mailwarden"
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        shutil.rmtree(data, ignore_errors=True)


def test_dns_latency_and_rejects_by_reason(make_server, dns):
    """A real DNS server (dnsfix.py): the DNSBL reject is counted as
    reason dnsbl, answers feed the latency histogram, a lookup that times
    out is counted as a timeout error."""
    from dnsfix import policy_extra, tx
    port = free_port()
    s = make_server(extra=policy_extra(
        dns, f"metrics_listen = 127.0.0.1:{port}",
        "smtpd_client_restrictions = reject_rbl_client dnsbl.test"))
    r = tx(s, "127.0.0.5")                   # listed in dnsbl.test
    assert r["rcpt"].startswith("554"), r
    r = tx(s, "127.0.0.8")                   # its PTR lookup times out
    v, text = wait_value(port, "mailwarden_dns_errors_total", 'error="timeout"', 1, timeout=15)
    assert v >= 1, text
    assert value(text, "mailwarden_smtpd_rejects_total", 'reason="dnsbl"') == 1, text
    assert value(text, "mailwarden_dns_query_duration_seconds_count") >= 2, text
    assert value(text, "mailwarden_dns_query_duration_seconds_bucket", 'le="0.25"') >= 2, text


def test_accept_backs_off_when_out_of_descriptors(make_server):
    """accept() failing with EMFILE (the master's NOFILE limit reached,
    prlimit here) pauses the metrics listener for a moment and logs once,
    instead of the loop waking at once for the same pending connection
    and logging it every time; scrapes work again once descriptors are
    free."""
    import resource
    port = free_port()
    s = make_server(extra=[f"metrics_listen = 127.0.0.1:{port}"])
    scrape(port)
    pid = s.proc.pid
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    nfd = len(os.listdir(f"/proc/{pid}/fd"))
    held = []
    try:
        # two descriptors left: two scrapes held open, the third has none
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (nfd + 2, old[1]))
        for _ in range(4):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        s.wait_log(r"metrics: accept: Too many open files")
        time.sleep(2.5)
        lines = [ln for ln in s.log().splitlines() if "metrics: accept: " in ln]
        assert len(lines) == 1, (len(lines), lines[:5])
        assert "not accepting for 1000 ms" in lines[0], lines[0]
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        for c in held:
            c.close()
    # the held scrapes are gone, the limit is back: the listener answers
    deadline = time.time() + 10
    while True:
        try:
            text = scrape(port)
            break
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            assert time.time() < deadline
            time.sleep(0.2)
    assert "mailwarden_" in text
