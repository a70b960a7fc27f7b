"""
The setgid sendmail copy (`make install` puts one in sbin/ as Postfix's
postdrop is), run by an ordinary user (nobody):

- whatever argv[0] or subcommand, a set-gid run is only sendmail or
  mailq: `exec -a mailwarden SG scan ...` and the other subcommands are
  refused with the group already given up;
- the group is given up right after the maildrop file is created: while
  sendmail waits for its message on stdin, /proc/PID/status shows no
  mwdrop left (real, effective, saved, file system);
- -C/-c from a non-root user are refused unless the directory is listed
  in the default config's alternate_config_directories;
- sendmail and mailq work with a config whose TLS key and passwd-file are
  root-only 0600 (they read neither); mailq shows the deferred message
  and its reason through the queue manager's public/showq, never by
  reading the spool; authorized_mailq_users restricts it;
- public/qmgr is 0620 group mwdrop, public/showq 0666.

Also the record readers (issue 10): a maildrop file or a queue file whose
end record claims 18446744073709551615 bytes is refused with a log line,
moved to corrupt/, and not retried.
"""
import grp
import os
import pathlib
import re
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BIN
from sgfix import trusted_config_dir
from tlsfix import TlsFiles

GROUP = "mwdrop"
NOBODY = 65534
DEFER = ["virtual_uid_maps = static:5", "virtual_minimum_uid = 100"]
HEADER = "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"
ENV = {"PATH": "/usr/bin:/bin", "ASAN_OPTIONS": "detect_leaks=1"}


@pytest.fixture(scope="module")
def secrets():
    """A TLS key and a passwd-file only root may read."""
    t = TlsFiles()
    for p in (t.key, t.passwd):
        os.chmod(p, 0o600)
        assert os.stat(p).st_uid == 0
    yield t
    shutil.rmtree(t.dir, ignore_errors=True)


@pytest.fixture
def sg(make_server, secrets):
    """(server, setgid copy): the server defers mail (reasons in the log),
    names root-only secrets; the copy sits in a directory only root and
    nobody's group can enter."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a setgid binary and run as nobody")
    if subprocess.run(["getent", "group", GROUP], capture_output=True).returncode != 0:
        subprocess.run(["groupadd", "--system", GROUP], check=True)
    s = make_server(extra=DEFER + secrets.config())
    d = tempfile.mkdtemp(prefix="mw-sgbin-")
    os.chown(d, 0, NOBODY)
    os.chmod(d, 0o710)
    path = os.path.join(d, "sendmail-sg")
    shutil.copy(BIN, path)
    shutil.chown(path, "root", GROUP)
    os.chmod(path, 0o2755)
    with trusted_config_dir(s.dir):
        yield s, path
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def tmp_path():
    """A temporary directory nobody can enter (pytest's own is 0700)."""
    d = tempfile.mkdtemp(prefix="mw-sgtest-")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def as_nobody(argv0, binpath, args, data=b"", **kw):
    """Run binpath as nobody with argv[0] = argv0 (bash's exec -a)."""
    cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
           "/bin/bash", "-c", 'exec -a "$0" "$@"', argv0, binpath] + list(args)
    return subprocess.run(cmd, input=data, capture_output=True, timeout=30, env=ENV, **kw)


def wait_path(path, timeout=10):
    """The queue manager binds its sockets after the banner: wait for one."""
    deadline = time.time() + timeout
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.05)
    assert os.path.exists(path), path


def maildrop(s):
    return sorted(os.listdir(os.path.join(s.spool, "maildrop")))


def test_subcommands_refused(sg, tmp_path):
    s, path = sg
    log = tmp_path / "auth.log"
    log.write_text("Jan  1 00:00:00 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2\n")
    os.chmod(tmp_path, 0o755)
    os.chmod(log, 0o644)
    for args in (["scan", str(log), "sshd"], ["check-config"], ["params"], ["status"],
                 ["-c", s.conf, "passwd"], ["-c", s.conf, "queue", "flush"], ["reload"]):
        p = as_nobody("mailwarden", path, args)
        assert p.returncode == 64, (args, p)
        assert b"runs only as sendmail or mailq" in p.stderr, (args, p.stderr)
        assert p.stdout == b"", (args, p.stdout)
    assert maildrop(s) == []


def test_group_dropped_after_open(sg):
    s, path = sg
    cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
           path, "-c", s.conf, "sendmail", "alice@example.net"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=ENV)
    mwdrop = grp.getgrnam(GROUP).gr_gid
    status = ""
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            names = maildrop(s)
            status = open(f"/proc/{p.pid}/status").read()
            gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
            if names and str(mwdrop) not in gids:
                break
            time.sleep(0.05)
        # the drop file exists, not ready yet (0600), and the group is gone
        assert len(names) == 1, names
        st = os.stat(os.path.join(s.spool, "maildrop", names[0]))
        assert st.st_uid == NOBODY and stat.S_IMODE(st.st_mode) == 0o600
        assert gids == [str(NOBODY)] * 4, status
        groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
        assert str(mwdrop) not in groups
        assert p.poll() is None                   # still waiting on stdin
        out, err = p.communicate(b"Subject: stopped\n\nafter the drop\n", timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    s.wait_log(r"pickup\[\d+\]: [0-9A-F]+: uid=%d from=<nobody@" % NOBODY)


def test_config_option_needs_root_or_listed_dir(sg, tmp_path):
    s, path = sg
    other = tmp_path / "other"
    other.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(other, 0o755)
    conf = other / "mailwarden.conf"
    shutil.copy(s.conf, conf)
    os.chmod(conf, 0o644)
    for args in (["-C", str(conf), "alice@example.net"], ["-C" + str(conf), "alice@example.net"]):
        p = as_nobody("sendmail", path, args, b"Subject: x\n\nx\n")
        assert p.returncode == 77, p
        assert b"-C option requires root privileges" in p.stderr, p.stderr
        assert b"unauthorized configuration directory name: %s" % str(other).encode() in p.stderr
    p = as_nobody("mailwarden", path, ["-c", str(conf), "sendmail", "alice@example.net"],
                  b"Subject: x\n\nx\n")
    assert p.returncode == 77 and b"unauthorized configuration directory" in p.stderr, p
    p = as_nobody("mailq", path, ["-C", str(conf)])
    assert p.returncode == 77 and b"unauthorized configuration directory" in p.stderr, p
    assert maildrop(s) == []
    # root may name any config, even through the set-gid copy
    p = subprocess.run(["/bin/bash", "-c", 'exec -a sendmail "$0" "$@"', path, "-C", str(conf),
                        "alice@example.net"], input=b"Subject: root\n\nx\n",
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    # the listed directory (the server's, see the fixture) is accepted
    p = as_nobody("sendmail", path, ["-C", s.conf, "alice@example.net"], b"Subject: ok\n\nx\n")
    assert p.returncode == 0, p.stderr


def test_sendmail_and_mailq_with_root_only_secrets(sg):
    s, path = sg
    # the whole program as nobody cannot even check this config ...
    p = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        BIN, "-c", s.conf, "check-config"], capture_output=True, timeout=30)
    assert p.returncode != 0 and b"cannot open key file" in p.stderr, p
    # ... but sendmail and mailq work: they open neither the key nor the passwd-file
    p = as_nobody("sendmail", path, ["-C", s.conf, "alice@example.com"],
                  b"Subject: deferred\n\nwaits\n")
    assert p.returncode == 0, p.stderr
    s.wait_log(r"([0-9A-F]{12}): to=<alice@example\.com>.*status=deferred")
    qid = re.search(r"([0-9A-F]{12}): to=<alice@example\.com>.*status=deferred", s.log()).group(1)
    for _ in range(100):
        if os.path.exists(os.path.join(s.spool, "deferred", qid)):
            break
        time.sleep(0.05)
    # nobody cannot read the spool itself ...
    r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        "ls", os.path.join(s.spool, "deferred")], capture_output=True)
    assert r.returncode != 0
    wait_path(os.path.join(s.spool, "public", "showq"))
    # ... yet mailq (argv[0]), sendmail -bp and plain `mailwarden mailq` list it
    outs = []
    for argv0, binpath, args in (("mailq", path, ["-C", s.conf]),
                                 ("sendmail", path, ["-C", s.conf, "-bp"]),
                                 ("mailwarden", path, ["-c", s.conf, "mailq"]),
                                 ("mailwarden", BIN, ["-c", s.conf, "mailq"])):
        p = as_nobody(argv0, binpath, args)
        assert p.returncode == 0, (argv0, p)
        outs.append(p.stdout.decode())
    for out in outs:
        lines = out.split("\n")
        assert lines[0] == HEADER, out
        assert re.match(r"^%s +\d+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d  nobody@" % qid, lines[1]), out
        assert lines[2].strip().startswith("(") and lines[2].endswith(")"), out
        assert "uid" in lines[2], out
        assert lines[3].strip() == "alice@example.com", out
        assert re.search(r"\n-- \d+ Kbytes in 1 Request\.\n$", out), out


def test_mailq_restricted(make_server):
    s = make_server(extra=DEFER + ["authorized_mailq_users = root"])
    wait_path(os.path.join(s.spool, "public", "showq"))
    p = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        BIN, "-c", s.conf, "mailq"], capture_output=True, timeout=30)
    assert p.returncode == 77, p
    assert re.search(rb"mailq: fatal: User nobody\(65534\) is not allowed to view the mail queue",
                     p.stderr), p.stderr
    s.wait_log(r"showq: uid 65534 is not allowed to view the mail queue")
    # root reads the queue itself
    p = subprocess.run([BIN, "-c", s.conf, "mailq"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout == "Mail queue is empty\n", p


def test_mailq_users_table_and_negation(make_server, tmp_path):
    """authorized_mailq_users in Postfix's list syntax: a texthash: table
    lets its keys in (value ignored), "!nobody" before static:anyone keeps
    nobody out, first match decides; a missing table fails check-config
    naming the key."""
    users = tmp_path / "mailq_users"
    users.write_text("nobody yes\n")
    s = make_server(extra=DEFER + [f"authorized_mailq_users = texthash:{users}"])
    wait_path(os.path.join(s.spool, "public", "showq"))
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                 BIN, "-c", s.conf, "mailq"]
    p = subprocess.run(as_nobody, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout == "Mail queue is empty\n", p
    s.stop()
    s.extra = [e for e in s.extra if not e.startswith("authorized_mailq_users")]
    s.extra.append("authorized_mailq_users = !nobody, static:anyone")
    s.write_config()
    s.start()
    # the old socket file stays until the new queue manager binds its own:
    # ask until it answers (69: not listening yet)
    deadline = time.time() + 15
    while True:
        p = subprocess.run(as_nobody, capture_output=True, timeout=30)
        if p.returncode != 69 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert p.returncode == 77, p
    s.wait_log(r"showq: uid 65534 is not allowed to view the mail queue")
    bad = tmp_path / "bad.conf"
    bad.write_text(open(s.conf).read().replace("authorized_mailq_users = !nobody, static:anyone",
                                               f"authorized_mailq_users = texthash:{tmp_path}/missing"))
    p = subprocess.run([BIN, "-c", str(bad), "check-config"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1, p
    assert re.search(r"line \d+: authorized_mailq_users: .*missing", p.stderr), p.stderr


def test_public_sockets(sg):
    s, _ = sg
    pub = os.path.join(s.spool, "public")
    wait_path(os.path.join(pub, "showq"))
    assert stat.S_IMODE(os.stat(pub).st_mode) == 0o2711     # sockets inherit the group
    q = os.stat(os.path.join(pub, "qmgr"))
    assert stat.S_ISSOCK(q.st_mode) and stat.S_IMODE(q.st_mode) == 0o620
    assert q.st_gid == grp.getgrnam(GROUP).gr_gid
    sq = os.stat(os.path.join(pub, "showq"))
    assert stat.S_ISSOCK(sq.st_mode) and stat.S_IMODE(sq.st_mode) == 0o666


# ---- record readers: wrapped lengths ---------------------------------------

WRAP = b"18446744073709551615"


def test_wrapped_maildrop_end_record(server):
    s = server
    drop = os.path.join(s.spool, "maildrop")
    bad = {"AAAAAAAAAAAAAAA1": b"MWD1\nR alice@example.com\nB\nE " + WRAP + b"\n",
           "AAAAAAAAAAAAAAA2": b"MWD1\nR alice@example.com\nB\nhello\nE " + WRAP + b"\n",
           "AAAAAAAAAAAAAAA3": b"MWD1\nR alice@example.com\nB\nhello\nE -1\n",
           "AAAAAAAAAAAAAAA4": b"MWD1\nR alice@example.com\nB\nhello\nE 6\n"}
    for name, data in bad.items():
        tmp = os.path.join(s.spool, ".tmp-" + name)   # complete before it appears
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, NOBODY, NOBODY)
        os.chmod(tmp, 0o644)
        os.rename(tmp, os.path.join(drop, name))
    for name in bad:
        s.wait_log(r"pickup\[\d+\]: warning: maildrop/%s: uid=%d: no valid end record: moved to corrupt"
                   % (name, NOBODY))
    for name, data in bad.items():
        assert open(os.path.join(s.spool, "corrupt", name), "rb").read() == data
    assert maildrop(s) == []
    # a good message afterwards goes through, and the bad ones are not retried
    s.send_mail("alice@example.com", b"Subject: after\r\n\r\nok\r\n")
    s.wait_delivered("alice@example.com", 1)
    time.sleep(0.5)
    for name in bad:
        assert len(re.findall(r"maildrop/%s:" % name, s.log())) == 1


def test_wrapped_queue_file_end_record(server):
    s = server
    qid = "ABCDEF012345"
    data = (b"MW1\nT 1700000000.0\nC localhost 127.0.0.1\nH x\nP ESMTP\nS s@example.org\n"
            b"R- alice@example.com\nB\nE " + WRAP + b"\n")
    path = os.path.join(s.spool, "incoming", qid)
    with open(path, "wb") as f:
        f.write(data)
    owner = os.stat(os.path.dirname(path))        # written as by the engine
    os.chown(path, owner.st_uid, owner.st_gid)
    os.chmod(path, 0o600)
    old = time.time() - 3600                      # its writer is long gone
    os.utime(path, (old, old))
    subprocess.run([BIN, "-c", s.conf, "queue", "flush"], check=True, capture_output=True,
                   timeout=20)
    s.wait_log(r"%s: bad end record: length does not match the body: moved to corrupt" % qid)
    assert open(os.path.join(s.spool, "corrupt", qid), "rb").read() == data
    assert not os.path.exists(path)


def test_maildrop_symlink_not_followed(server, tmp_path):
    """A symbolic link in maildrop/ is moved to corrupt/ as it is (never
    followed, never retried); its target is untouched."""
    s = server
    target = tmp_path / "target"
    target.write_bytes(b"MWD1\nR alice@example.com\nB\nhi\nE 2\n")
    os.chmod(target, 0o644)
    before = target.read_bytes()
    os.symlink(target, os.path.join(s.spool, "maildrop", "AAAAAAAAAAAAAAA5"))
    # a symlink wakes no inotify watch: a real submission makes pickup scan now
    p = subprocess.run([BIN, "-c", s.conf, "sendmail", "alice@example.com"],
                       input=b"Subject: wake\n\nx\n", capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    s.wait_log(r"pickup\[\d+\]: warning: maildrop/AAAAAAAAAAAAAAA5: uid=\d+: a symbolic link: "
               r"moved to corrupt")
    s.wait_delivered("alice@example.com", 1)
    moved = os.path.join(s.spool, "corrupt", "AAAAAAAAAAAAAAA5")
    assert os.path.islink(moved)
    assert target.read_bytes() == before
    assert maildrop(s) == []


def test_abandoned_drop_file_removed(sg):
    """sendmail gives up (no recipients) after creating its file and
    giving up the group: the file is left empty, mode 0000, and pickup
    removes it at once (sendmail can no longer unlink it)."""
    s, path = sg
    p = as_nobody("sendmail", path, ["-C", s.conf, "-t"], b"Subject: no rcpt\n\nx\n")
    assert p.returncode == 64 and b"No recipient addresses found" in p.stderr, p
    deadline = time.time() + 10
    while maildrop(s) and time.time() < deadline:
        time.sleep(0.05)
    assert maildrop(s) == []
    assert os.listdir(os.path.join(s.spool, "corrupt")) == []
