"""
dovecotfix — a real Dovecot (Debian packages dovecot-core, dovecot-lmtpd)
started in a temporary directory, for the SMTP AUTH tests (dovecot SASL
backend) and for later LMTP delivery tests.

    dc = Dovecot().start()      # or the `dovecot` pytest fixture
    Dovecot(extra="auth_username_format = %Lu\n")     # lines added to the config
    Dovecot(secured_only=True)  # the passdb knows the users only for a client
                                # that says "secured" (passwd-%{secured}; an
                                # empty passwd- file for the others)
    dc.auth_socket      UNIX socket of the auth client protocol (mode 0666)
    dc.lmtp_socket      UNIX socket of the LMTP server
    dc.lmtp_port        LMTP on 127.0.0.1:<port>
    dc.users            {login: password} in the passdb (passwd-file)
    dc.maildir(user)    the Maildir LMTP delivers `user` (name@domain) to
    dc.conf             dovecot.conf, for `doveadm -c CONF ...`
    dc.log()            the text of Dovecot's log file
    dc.stop()           SIGTERM to the process group, SIGKILL after 5 s

Nothing system-wide is touched: base_dir, state_dir and the log live in
the temp directory; the mailboxes belong to the system user `mail` (the
mail_uid), the passdb is a passwd-file with {PLAIN} passwords. Needs root
(Dovecot drops to its own users dovecot/dovenull/mail).
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
MAIL_USER = "mail"

DEFAULT_USERS = {
    "alice@example.com": "alice-secret",
    "bob@example.net": "bob pass with spaces",
}


def _free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


CONF = """\
# written by tests/integ/dovecotfix.py
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
instance_name = mw-test-{port}
protocols = lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_verbose = yes
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{d}/mail/%d/%n
mail_uid = {mail_uid}
mail_gid = {mail_gid}
lmtp_save_to_detail_mailbox = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={d}/mail/%d/%n
}}
service auth {{
  unix_listener {auth_listener} {{
    mode = 0666
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
}}
"""


class Dovecot:
    """One Dovecot instance in its own temporary directory."""

    def __init__(self, users=None, extra="", secured_only=False, auth_socket=None):
        """auth_socket: an absolute path for the auth client socket (its
        directory must exist), else run/auth-client in the instance's dir."""
        self.dir = tempfile.mkdtemp(prefix="mw-dovecot-")
        os.chmod(self.dir, 0o755)
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.lmtp_port = _free_port()
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.logfile = os.path.join(self.dir, "dovecot.log")
        self.auth_socket = auth_socket or os.path.join(self.dir, "run", "auth-client")
        self.lmtp_socket = os.path.join(self.dir, "run", "lmtp")
        self.proc = None
        pw = pwd.getpwnam(MAIL_USER)
        self.mail_uid, self.mail_gid = pw.pw_uid, pw.pw_gid
        for sub in ("run", "state"):
            os.mkdir(os.path.join(self.dir, sub), 0o755)
        mail = os.path.join(self.dir, "mail")
        os.mkdir(mail, 0o755)
        os.chown(mail, self.mail_uid, self.mail_gid)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for u, p in self.users.items():
                assert ":" not in u + p and "\n" not in u + p
                f.write(f"{u}:{{PLAIN}}{p}\n")
        os.chmod(os.path.join(self.dir, "passwd"), 0o644)
        conf = CONF
        if secured_only:
            shutil.copy(os.path.join(self.dir, "passwd"), os.path.join(self.dir, "passwd-secured"))
            open(os.path.join(self.dir, "passwd-"), "w").close()
            conf = conf.replace("{d}/passwd\n", "{d}/passwd-%{{secured}}\n")
        with open(self.conf, "w") as f:
            f.write(conf.format(d=self.dir, port=self.lmtp_port,
                                auth_listener=auth_socket or "auth-client",
                                mail_uid=self.mail_uid, mail_gid=self.mail_gid))
            f.write(extra)

    def maildir(self, user):
        """The Maildir of user (name@domain) as LMTP delivers it."""
        name, _, domain = user.partition("@")
        return os.path.join(self.dir, "mail", domain, name)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def start(self, timeout=10.0):
        assert os.geteuid() == 0, "the dovecot fixture needs root"
        self.out = open(os.path.join(self.dir, "stderr"), "ab")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=self.out, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot exited with {self.proc.returncode}:\n"
                                   f"{self.stderr()}\n--- log:\n{self.log()}")
            if self._accepts_unix(self.auth_socket) and self._accepts_unix(self.lmtp_socket) \
                    and self._accepts_tcp(self.lmtp_port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not come up in {timeout}s:\n{self.log()}")

    def stderr(self):
        with open(os.path.join(self.dir, "stderr"), errors="replace") as f:
            return f.read()

    @staticmethod
    def _accepts_unix(path):
        if not os.path.exists(path):
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(path)
                return True
            except OSError:
                return False

    @staticmethod
    def _accepts_tcp(port):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.connect(("127.0.0.1", port))
                return True
            except OSError:
                return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5.0):
        """Stop the master and every child (one process group)."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait()
        # children the master left behind (it normally waits for them)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.out.close()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def dovecot():
    """A started Dovecot (auth + LMTP); stopped and removed at teardown."""
    if not os.path.exists(DOVECOT):
        pytest.skip("dovecot is not installed")
    if os.geteuid() != 0:
        pytest.skip("the dovecot fixture needs root")
    dc = Dovecot().start()
    try:
        yield dc
    finally:
        dc.cleanup()
