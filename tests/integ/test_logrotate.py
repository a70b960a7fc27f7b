"""Log rotation as Postfix does it (issue 15): after `mv maillog
maillog.1` and SIGHUP or SIGUSR1 the lines of every process go to the new
maillog; `mailwarden logrotate` renames with maillog_file_rotate_suffix,
reopens and compresses; the shipped logrotate file (debian/
mailwarden.logrotate) run by logrotate(8) itself does the same."""
import glob
import gzip
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BIN, children_by_comm, make_message

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mail(s, subject):
    s.send_mail("alice@example.com", make_message(subject=subject))


def rotate_by_mv(s):
    old = s.maillog + ".1"
    os.rename(s.maillog, old)
    return old


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def test_mv_then_sighup_lines_go_to_new_file(server):
    mail(server, "before")
    server.wait_delivered("alice@example.com", 1)
    server.wait_log(r"status=sent")
    old = rotate_by_mv(server)
    server.sighup()
    server.wait_log(r"master\[\d+\]: reload -- version")
    mail(server, "after")
    server.wait_delivered("alice@example.com", 2)
    # smtpd (a new generation), cleanup, qmgr and virtual delivery: all in the new file
    server.wait_log(r"smtpd\[\d+\]: connect from")
    server.wait_log(r"status=sent")
    new = server.log()
    assert "reload -- version" in new
    before = read(old)
    assert before.count("status=sent") == 1, before
    assert "reload" not in before


def test_sigusr1_reopens_without_restarting(server):
    kids = children_by_comm(server.proc.pid)
    assert {"smtpd", "qmgr", "local"} <= set(kids), kids
    mail(server, "before")
    server.wait_log(r"status=sent")
    old = rotate_by_mv(server)
    os.kill(server.proc.pid, signal.SIGUSR1)
    deadline = time.time() + 5
    while not os.path.exists(server.maillog) and time.time() < deadline:
        time.sleep(0.02)
    assert os.path.exists(server.maillog), "SIGUSR1 did not create a new maillog"
    mail(server, "after")
    server.wait_log(r"status=sent")
    server.wait_log(r"smtpd\[\d+\]: disconnect from")
    assert children_by_comm(server.proc.pid) == kids   # nothing restarted
    assert read(old).count("status=sent") == 1
    assert server.proc.poll() is None


def run_cli(s, *args, check=True):
    r = subprocess.run([BIN, "-c", s.conf, *args], capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def test_logrotate_command_renames_reopens_compresses(server):
    mail(server, "before")
    server.wait_log(r"status=sent")
    r = run_cli(server, "logrotate")
    rotated = glob.glob(server.maillog + ".*")
    assert len(rotated) == 1, rotated
    # Postfix's defaults: suffix %Y%m%d-%H%M%S, compressor gzip
    assert re.fullmatch(re.escape(server.maillog) + r"\.\d{8}-\d{6}\.gz", rotated[0]), rotated
    assert rotated[0][:-3] in r.stdout
    with gzip.open(rotated[0], "rt") as f:
        assert f.read().count("status=sent") == 1
    mail(server, "after")
    server.wait_log(r"status=sent")
    assert server.log().count("status=sent") == 1


def test_logrotate_command_suffix_and_no_compressor(make_server):
    s = make_server(extra=["maillog_file_rotate_suffix = rot-%Y", "maillog_file_compressor ="])
    mail(s, "before")
    s.wait_log(r"status=sent")
    run_cli(s, "logrotate")
    rotated = s.maillog + time.strftime(".rot-%Y")
    assert "status=sent" in read(rotated)
    # the rotated name is taken: refused, nothing renamed over it
    r = run_cli(s, "logrotate", check=False)
    assert r.returncode == 1 and "exists" in r.stderr, r.stderr
    assert "status=sent" in read(rotated)


def test_logrotate_command_without_master(make_server):
    s = make_server(start=False)
    with open(s.maillog, "w") as f:
        f.write("old line\n")
    r = run_cli(s, "logrotate")
    assert "no running master" in r.stderr
    assert glob.glob(s.maillog + ".*.gz")


def test_logrotate_without_maillog_file(tmp_path):
    conf = tmp_path / "m.conf"
    conf.write_text("mydestination = localhost\n")
    r = subprocess.run([BIN, "-c", str(conf), "logrotate"], capture_output=True, text=True)
    assert r.returncode == 1 and "maillog_file is not set" in r.stderr


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate(8) not installed")
def test_shipped_logrotate_file_with_logrotate(make_server):
    s = make_server(start=False)
    logdir = os.path.join(s.dir, "log")
    os.mkdir(logdir)
    s.maillog = os.path.join(logdir, "mail.log")
    s.write_config()
    s.start()
    mail(s, "before")
    s.wait_log(r"status=sent")
    # the shipped file, pointed at this instance's directories
    text = read(os.path.join(ROOT, "debian", "mailwarden.logrotate"))
    assert "/var/log/mailwarden/" in text and "/var/spool/mailwarden/pid/master.pid" in text
    text = text.replace("/var/log/mailwarden/", logdir + "/")
    text = text.replace("/var/spool/mailwarden/", s.spool + "/")
    text = text.replace("/run/systemd/system", os.path.join(s.dir, "no-systemd"))
    conf = os.path.join(s.dir, "logrotate.conf")
    with open(conf, "w") as f:
        f.write(text)
    state = os.path.join(s.dir, "logrotate.state")
    r = subprocess.run(["logrotate", "-v", "-f", "-s", state, conf],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "status=sent" in read(s.maillog + ".1")   # delaycompress: .1 stays plain
    deadline = time.time() + 5
    while not os.path.exists(s.maillog) and time.time() < deadline:
        time.sleep(0.02)
    mail(s, "after")
    s.wait_log(r"status=sent")
    assert read(s.maillog + ".1").count("status=sent") == 1
    # the second rotation compresses the first
    r = subprocess.run(["logrotate", "-f", "-s", state, conf], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    with gzip.open(s.maillog + ".2.gz", "rt") as f:
        assert f.read().count("status=sent") == 1
    mail(s, "third")
    s.wait_log(r"status=sent")
    assert s.log().count("status=sent") == 1


def test_second_master_leaves_the_pid_file_alone(server):
    """A second start on the same configuration fails to bind; the running
    master's pid file must still name it, or `mailwarden logrotate` finds
    no master and the log is never reopened."""
    pidfile = os.path.join(server.spool, "pid", "master.pid")
    assert read(pidfile).strip() == str(server.proc.pid)
    r = subprocess.run([BIN, "-c", server.conf], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert read(pidfile).strip() == str(server.proc.pid)
    mail(server, "before")
    server.wait_log(r"status=sent")
    r = run_cli(server, "logrotate")
    assert "no running master" not in r.stderr, r.stderr
    mail(server, "after")
    server.wait_log(r"status=sent")
    assert server.log().count("status=sent") == 1


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate(8) not installed")
def test_shipped_logrotate_file_spares_a_stale_pid(tmp_path):
    """Without systemd, a master.pid left by a crash that names a pid now
    used by another program: that program gets no SIGUSR1 (its default
    action would end it)."""
    logdir, spool = tmp_path / "log", tmp_path / "spool"
    (spool / "pid").mkdir(parents=True)
    logdir.mkdir()
    (logdir / "mail.log").write_text("a line\n")
    other = subprocess.Popen(["sleep", "60"])
    try:
        (spool / "pid" / "master.pid").write_text(f"{other.pid}\n")
        text = read(os.path.join(ROOT, "debian", "mailwarden.logrotate"))
        text = text.replace("/var/log/mailwarden/", f"{logdir}/")
        text = text.replace("/var/spool/mailwarden/", f"{spool}/")
        text = text.replace("/run/systemd/system", str(tmp_path / "no-systemd"))
        conf = tmp_path / "logrotate.conf"
        conf.write_text(text)
        r = subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(conf)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert (logdir / "mail.log.1").exists()
        time.sleep(0.2)
        assert other.poll() is None, "the stale pid's process was signalled"
    finally:
        other.kill()
        other.wait()
