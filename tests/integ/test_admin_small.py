"""Small things admins notice (issue 15): ps shows each process's role,
--help and -h work, and a failed start says why on the terminal."""
import socket
import subprocess
import time

from conftest import BIN, pids_with


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode().strip()


def test_ps_titles(make_server, tmp_path):
    auth = tmp_path / "auth.log"
    auth.write_text("")
    s = make_server(extra=[
        f"warden_logtarget = {tmp_path / 'warden.log'}",
        "[sshd]", "enabled = true", "filter = sshd", f"logpath = {auth}", "action =",
    ])
    assert cmdline(s.proc.pid) == f"mailwarden: master -c {s.conf}"
    deadline = time.time() + 10
    want = {f"mailwarden: {r} -c {s.conf}" for r in ("smtpd", "qmgr", "local", "warden", "firewall")}
    while time.time() < deadline:
        titles = {cmdline(k) for k in pids_with(4, s.proc.pid)}
        if want <= titles:
            break
        time.sleep(0.05)
    assert want <= titles, titles
    r = subprocess.run(["ps", "-o", "args=", "--ppid", str(s.proc.pid)], capture_output=True,
                       text=True)
    assert "mailwarden: smtpd -c" in r.stdout, r.stdout


def test_help():
    for flag in ("--help", "-h", "help"):
        r = subprocess.run([BIN, flag], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, (flag, r.stderr)
        assert r.stdout.startswith("usage: mailwarden"), flag
        assert "logrotate" in r.stdout
    r = subprocess.run([BIN, "--bogus"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "usage:" in r.stderr


def test_port_in_use_on_stderr(make_server):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        s = make_server(listen=f"127.0.0.1:{port}", start=False)
        r = subprocess.run([BIN, "-c", s.conf], capture_output=True, text=True, timeout=20)
        assert r.returncode == 1
        assert "fatal:" in r.stderr and f"127.0.0.1:{port}" in r.stderr, r.stderr
        assert "Address already in use" in r.stderr, r.stderr
        assert "fatal:" in s.log()      # and in the log as before
    finally:
        busy.close()
