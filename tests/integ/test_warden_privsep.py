"""Privilege separation of the ban engine (issue 10), as root:

- the symlink attack of the issue: symlinks planted in every directory
  mail_owner can write (private/ with the old names .bans.tmp, bans,
  warden; incoming/ ...), all pointing at a root-owned checksummed canary
  outside the spool; bans caused by real SMTP AUTH failures and by forged
  datagrams written on the smtp engine's own event socket: the canary is
  unchanged, the bans work (warden/bans, the engine refuses the client);
- the warden and firewall processes as /proc shows them: the warden runs
  as warden_owner with no capability, NoNewPrivs; the firewall keeps root
  with command actions, only CAP_NET_ADMIN without; data_directory 0700,
  warden.db and its WAL 0600, all owned by warden_owner;
- the firewall refuses hostile requests spoken to it directly through the
  `firewall-peer` seam: unknown types, truncated and oversized messages,
  unknown jails, 0.0.0.0/0 and ::/0, prefixes outside the jail's limits,
  host bits set, bans before the jail starts; shell metacharacters in the
  user and matched text reach the command escaped (nothing runs).
"""
import grp
import hashlib
import os
import pwd
import re
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import BIN, pids_with, proc_status
from evsock import event_socket, event_bytes
from test_tls_auth import b64, starttls_conn, tls  # noqa: F401  (fixture)
from test_warden import ACTION, cli, jail_server, read, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="privilege separation needs root")

WEV_AUTH_FAIL = 1
MSG_FW_START, MSG_FW_STOP, MSG_FW_BAN, MSG_FW_UNBAN, MSG_FW_RESTORE, MSG_FW_RELOAD, \
    MSG_FW_REPLY = range(4, 11)
FW_OK, FW_FAILED, FW_REFUSED = 0, 1, 2


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


status_fields = proc_status


def sockets(pid):
    links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    return [x for x in links if x.startswith("socket:")]


def child_named(s, comm, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for k in pids_with(4, s.proc.pid):
            try:
                with open(f"/proc/{k}/comm") as f:
                    if f.read().strip() == comm:
                        return k
            except OSError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"no child process named {comm}")


@pytest.fixture
def auth_server(make_server, tls, tmp_path):  # noqa: F811
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "testlog.conf").write_text(ACTION)
    out = tmp_path / "actions.out"
    s = make_server(extra=tls.config(
        f"warden_action_path = {adir}",
        f"warden_logtarget = {tmp_path / 'warden.log'}",
        "[mw-auth]",
        "enabled = true",
        "filter = mailwarden[mode=auth]",
        "maxretry = 2",
        "ignoreself = false",
        f"action = testlog[out={out}]"))
    s.out, s.wlog = str(out), str(tmp_path / "warden.log")
    wait_for(lambda: "Jail 'mw-auth' started" in read(s.wlog), what="the jail")
    return s


def plant(s, canary):
    """Symlinks to canary in every directory mail_owner may write."""
    mw = pwd.getpwnam("mailwarden").pw_uid
    priv = os.path.join(s.spool, "private")
    if not os.path.isdir(priv):  # the old layout, as a compromised engine finds it
        os.mkdir(priv, 0o700)
        os.chown(priv, mw, -1)
    links = []
    for root, dirs, _ in os.walk(s.spool):
        st = os.stat(root)
        if st.st_uid != mw:
            continue
        for name in (".bans.tmp", "bans", "warden", "warden.db", ".warden.tmp"):
            p = os.path.join(root, name)
            if not os.path.lexists(p):
                os.symlink(canary, p)
                links.append(p)
    assert os.path.join(priv, ".bans.tmp") in links
    return links


def test_symlinks_planted_by_mail_owner_are_never_followed(auth_server, tls, tmp_path):  # noqa: F811
    s = auth_server
    canary = tmp_path / "canary"
    canary.write_text("root-owned canary\n")
    os.chmod(canary, 0o644)
    digest = sha(canary)
    # the bans directory is the warden's: mail_owner cannot plant anything there
    ww = pwd.getpwnam("mwwarden")
    st = os.stat(os.path.join(s.spool, "warden"))
    assert (st.st_uid, st.st_mode & 0o7777) == (ww.pw_uid, 0o755)
    st = os.stat(s.spool)
    assert st.st_uid == 0 and not st.st_mode & 0o022
    links = plant(s, str(canary))
    # forged datagrams on the engine's own event socket: a ban of 192.0.2.66
    with event_socket(s) as ev:
        for _ in range(2):
            ev.send(event_bytes(WEV_AUTH_FAIL, "192.0.2.66", "mallory", "forged"))
        ev.send(b"\x00\x03\x00\x00garbage")
    wait_for(lambda: "192.0.2.66" in read(os.path.join(s.spool, "warden", "bans")),
             what="the forged events' ban")
    s.wait_log(r"warden: malformed event datagram ignored")
    # real AUTH failures from 127.0.0.1: the second one bans it
    c = starttls_conn(s, tls)
    for _ in range(2):
        code, _ = c.docmd("AUTH", "PLAIN " + b64("\0alice@example.com\0wrong"))
        assert code == 535
    c.close()
    wait_for(lambda: "127.0.0.1" in read(os.path.join(s.spool, "warden", "bans")),
             what="the ban of 127.0.0.1")
    assert "[mw-auth] Ban 127.0.0.1" in read(s.wlog)
    wait_for(lambda: "ban 127.0.0.1 mw-auth" in read(s.out), what="the firewall's action")
    # the engine refuses the banned client at once
    with socket.create_connection((s.host, s.port), timeout=5) as raw:
        banner = raw.recv(512)
    assert not banner.startswith(b"220"), banner
    assert sha(canary) == digest and os.stat(canary).st_uid == 0
    for p in links:
        if os.path.basename(os.path.dirname(p)) == "maildrop" and not os.path.lexists(p):
            continue    # pickup moves links in maildrop/ to corrupt/, never follows them
        assert os.readlink(p) == str(canary), p
    # unban the test's own address, or the restart cannot greet it
    assert cli(s, "unban", "127.0.0.1").stdout == "1\n"
    # a restart (master prepares its directories, a new warden writes the
    # bans file again) follows none of them either
    assert s.stop() == []
    s.start()
    wait_for(lambda: read(s.wlog).count("Jail 'mw-auth' started") >= 2, what="restart")
    assert "192.0.2.66" in read(os.path.join(s.spool, "warden", "bans"))
    assert sha(canary) == digest


def test_warden_and_firewall_privileges(auth_server):
    s = auth_server
    ww = pwd.getpwnam("mwwarden")
    w = status_fields(child_named(s, "warden"))
    assert w["Uid"].split() == [str(ww.pw_uid)] * 4, w["Uid"]
    assert w["Gid"].split() == [str(ww.pw_gid)] * 4, w["Gid"]
    want_groups = {ww.pw_gid} | {grp.getgrnam(g).gr_gid for g in ("adm", "systemd-journal")
                                 if g in [x.gr_name for x in grp.getgrall()]}
    assert {int(g) for g in w["Groups"].split()} == want_groups, w["Groups"]
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(w[cap], 16) == 0, (cap, w[cap])
    assert w["NoNewPrivs"] == "1"
    # only its own descriptors: the event socket, the control socket, its
    # firewall, its channel to the master (seccomp reports); none of the
    # master's ends of other children's socketpairs
    assert len(sockets(child_named(s, "warden"))) == 4
    assert len(sockets(child_named(s, "firewall"))) <= 3     # its warden, the master, netlink
    # a command action: the firewall keeps root, as fail2ban runs actions
    f = status_fields(child_named(s, "firewall"))
    assert f["Uid"].split()[1] == "0"
    assert int(f["CapEff"], 16) != 0
    # the state: data_directory 0700, the database and its WAL 0600
    data = os.path.join(s.dir, "data")
    st = os.stat(data)
    assert (st.st_uid, st.st_mode & 0o7777) == (ww.pw_uid, 0o700)
    cli(s, "ban", "mw-auth", "198.51.100.3")   # a write: the WAL exists
    files = [n for n in os.listdir(data) if n.startswith("warden.db")]
    assert "warden.db" in files, files
    for n in files:
        st = os.stat(os.path.join(data, n))
        assert (st.st_uid, st.st_mode & 0o777) == (ww.pw_uid, 0o600), (n, oct(st.st_mode))
    assert not os.path.exists(os.path.join(s.spool, "warden.db"))
    assert not os.path.exists(os.path.join(s.spool, "private", "warden"))
    # the control socket: the master's, root only, and it still works
    st = os.stat(os.path.join(s.spool, "warden.sock"))
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o600)
    assert "198.51.100.3" in cli(s, "banned").stdout


def test_killed_firewall_restarts_the_pair(auth_server):
    s = auth_server
    w, f = child_named(s, "warden"), child_named(s, "firewall")
    os.kill(f, 9)
    wait_for(lambda: child_named(s, "warden") != w and child_named(s, "firewall") != f,
             timeout=15, what="a new pair")
    wait_for(lambda: read(s.wlog).count("Jail 'mw-auth' started") >= 2, what="restart")
    assert cli(s, "ban", "mw-auth", "198.51.100.4").stdout == "1\n"
    wait_for(lambda: "ban 198.51.100.4 mw-auth" in read(s.out), what="the action")


# ---- the firewall spoken to directly ----

def put_str(v):
    b = v.encode() if isinstance(v, str) else v
    return struct.pack(">I", len(b)) + b + b"\0"


def net(addr, plen):
    if ":" in addr:
        fam, raw = 6, socket.inet_pton(socket.AF_INET6, addr)
    else:
        fam, raw = 4, socket.inet_pton(socket.AF_INET, addr) + b"\0" * 12
    return struct.pack(">I", fam) + raw + struct.pack(">I", plen)


def hdr(t):
    return struct.pack(">HH", t, 0)


def ban_msg(jail, addr, plen, user="", matches="", t=MSG_FW_BAN, host=""):
    m = hdr(t) + put_str(jail) + net(addr, plen)
    if t == MSG_FW_BAN:
        m += struct.pack(">III", 600, 600, 3) + put_str(user) + put_str(matches) + put_str(host)
    return m


class Peer:
    def __init__(self, conf, stderr):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen([BIN, "-c", conf, "firewall-peer"], stdin=theirs,
                                     stdout=subprocess.DEVNULL, stderr=open(stderr, "ab"))
        theirs.close()
        self.sock.settimeout(10)

    def send(self, data):
        self.sock.send(data)

    def reply(self):
        d = self.sock.recv(70000)
        t, _ = struct.unpack(">HH", d[:4])
        assert t == MSG_FW_REPLY, d
        req, st = struct.unpack(">II", d[4:12])
        n = struct.unpack(">I", d[12:16])[0]
        jail = d[16:16 + n].decode()
        rest = d[17 + n:]
        m = struct.unpack(">I", rest[:4])[0]
        return req, st, jail, rest[4:4 + m].decode()

    def close(self):
        self.sock.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def peer(tmp_path):
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    out = tmp_path / "args.out"
    (adir / "argv.conf").write_text(
        "[Definition]\n"
        "actionstart =\n"
        "actionstop =\n"
        "actioncheck =\n"
        "actionban = printf '%%s|' <ip> <F-USER> <matches> >> <out>; echo >> <out>\n"
        "actionunban = echo unban <ip> >> <out>\n"
        "[Init]\nout = /dev/null\n")
    conf = tmp_path / "fw.conf"
    conf.write_text(
        f"queue_directory = {tmp_path}/spool\n"
        f"data_directory = {tmp_path}/data\n"
        f"warden_action_path = {adir}\n"
        "[evil]\n"
        "enabled = true\n"
        "filter = mailwarden[mode=auth]\n"
        "prefix4 = 24\n"
        "prefix6 = 64\n"
        "ignoreip = 203.0.113.64/26 2001:db8:ffff::/48\n"
        f"action = argv[out={out}]\n")
    stderr = tmp_path / "stderr"
    p = Peer(str(conf), str(stderr))
    p.out, p.err, p.dir = str(out), str(stderr), tmp_path
    yield p
    p.close()


def test_firewall_refuses_hostile_requests(peer):
    p = peer
    pwned = p.dir / "pwned"
    refused = [
        (b"\x00\x63\x00\x00", "unknown request type 99"),
        (hdr(MSG_FW_REPLY) + b"\0" * 8, "unknown request type 10"),
        (b"\x00", "unknown request type 0"),
        (ban_msg("evil", "192.0.2.1", 32)[:20], "malformed ban request"),
        (ban_msg("evil", "192.0.2.1", 32) + b"x", "malformed ban request"),
        (ban_msg("evil", "192.0.2.1", 32, user="u" * 60000), "malformed ban request"),
        (ban_msg("nosuchjail", "192.0.2.1", 32), "unknown jail"),
        (ban_msg("evil", "192.0.2.1", 32, host="198.51.100.1"), "not inside the banned network"),
        (ban_msg("evil", "192.0.2.1", 32), "the jail is not started"),
    ]
    for data, why in refused:
        p.send(data)
        req, st, _, text = p.reply()
        assert st == FW_REFUSED and why in text, (data[:40], st, text)
    p.send(hdr(MSG_FW_START) + put_str("evil"))
    assert p.reply() == (MSG_FW_START, FW_OK, "evil", "")
    for addr, plen, why in [("0.0.0.0", 0, "prefix length /0"), ("::", 0, "prefix length /0"),
                            ("0.0.0.0", 4, "outside"), ("2000::", 12, "outside"),
                            ("192.0.2.1", 24, "host bits"), ("192.0.2.1", 33, "outside"),
                            ("2001:db8::", 129, "malformed")]:
        p.send(ban_msg("evil", addr, plen))
        req, st, jail, text = p.reply()
        assert st == FW_REFUSED and why in text, (addr, plen, text)
    # the jail's ignoreip, applied by the firewall too (a warden that lost
    # its mind cannot ban what the admin excluded): inside it, or covering it
    for addr, plen in [("203.0.113.70", 32), ("203.0.113.0", 24), ("2001:db8:ffff:1::", 64),
                       ("2001:db8::", 32)]:
        p.send(ban_msg("evil", addr, plen))
        req, st, jail, text = p.reply()
        assert st == FW_REFUSED and "ignoreip" in text, (addr, plen, text)
    bad_fam = hdr(MSG_FW_UNBAN) + put_str("evil") + struct.pack(">I", 5) + b"\0" * 16 + \
        struct.pack(">I", 32)
    p.send(bad_fam)
    assert "neither IPv4 nor IPv6" in p.reply()[3]
    p.send(hdr(MSG_FW_RESTORE) + put_str("evil") + struct.pack(">I", 100000))
    assert p.reply()[1] == FW_REFUSED
    # allowed: a host address and the jail's /24, with hostile text escaped
    # (no spaces: fail2ban escapes shell metacharacters, not word breaks)
    hostile_user = f"$(touch${{IFS}}{pwned})"
    hostile_match = f"x;touch${{IFS}}{pwned};`touch${{IFS}}{pwned}`|sh&>{pwned}<$HOME'\"\\"
    p.send(ban_msg("evil", "192.0.2.7", 32, user=hostile_user, matches=hostile_match))
    p.send(ban_msg("evil", "198.51.100.0", 24))
    p.send(ban_msg("evil", "2001:db8:1:2::", 64))
    # a restore keeps what ignoreip allows and drops the rest, with a warning
    restore = hdr(MSG_FW_RESTORE) + put_str("evil") + struct.pack(">I", 2)
    for addr in ("203.0.113.70", "198.51.100.9"):
        restore += net(addr, 32) + struct.pack(">II", 600, 600)
    p.send(restore)
    wait_for(lambda: read(p.out).count("\n") >= 4, what="four actionban commands")
    lines = read(p.out).splitlines()
    assert lines[0] == f"192.0.2.7|{hostile_user}|{hostile_match}|", lines
    assert lines[1].startswith("198.51.100.0/24|") and lines[2].startswith("2001:db8:1:2::/64|")
    assert lines[3].startswith("198.51.100.9|") and len(lines) == 4, lines
    assert "firewall: [evil] not restoring a ban: 203.0.113.70 is inside ignoreip " \
        "203.0.113.64/26" in read(p.err)
    assert not pwned.exists()
    err = read(p.err)
    assert err.count("firewall: refused") >= len(refused) + 13, err
    assert re.search(r"firewall: refused ban request for \[evil\]: 203\.0\.113\.70 is inside "
                     r"ignoreip 203\.0\.113\.64/26", err), err
    assert "firewall: refused ban request for [nosuchjail]: unknown jail" in err


def test_firewall_without_command_actions_keeps_only_net_admin(tmp_path):
    os.chmod(tmp_path, 0o755)
    conf = tmp_path / "fw.conf"
    conf.write_text(
        f"queue_directory = {tmp_path}/spool\n"
        "[nftonly]\n"
        "enabled = true\n"
        "filter = mailwarden[mode=auth]\n"
        "action = nft\n")
    p = Peer(str(conf), str(tmp_path / "stderr"))
    try:
        wait_for(lambda: "firewall started" in read(str(tmp_path / "stderr")), what="start")
        st = status_fields(p.proc.pid)
        net_admin = 1 << 12
        assert int(st["CapEff"], 16) == net_admin, st["CapEff"]
        assert int(st["CapPrm"], 16) == net_admin, st["CapPrm"]
        assert int(st["CapBnd"], 16) == net_admin, st["CapBnd"]
        assert st["NoNewPrivs"] == "1"
        assert "CAP_NET_ADMIN only" in read(str(tmp_path / "stderr"))
    finally:
        p.close()


# ---- the master's start-up checks ----

def start_fails(make_server, tmp_path, *extra, prep=None):
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir(exist_ok=True)
    (adir / "testlog.conf").write_text(ACTION)
    s = make_server(extra=[f"warden_action_path = {adir}", *extra, "[j]", "enabled = true",
                           "filter = mailwarden[mode=auth]", "action = testlog"], start=False)
    if prep:
        prep(s)
    r = subprocess.run([BIN, "-c", s.conf], capture_output=True, text=True, timeout=20,
                       cwd=s.dir)
    assert r.returncode != 0
    return r.stderr + read(s.maillog)


def test_missing_warden_owner_is_fatal_naming_the_key(make_server, tmp_path):
    out = start_fails(make_server, tmp_path, "warden_owner = no-such-warden-user")
    assert "warden_owner user 'no-such-warden-user' does not exist (create it:" in out, out


def test_data_directory_in_a_world_writable_parent_is_refused(make_server, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    out = start_fails(make_server, tmp_path, f"data_directory = {shared}/data")
    assert "is writable by a user other than root: refusing" in out, out
    assert not (shared / "data").exists()


def test_planted_bans_directory_symlink_is_refused(make_server, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    os.chmod(target, 0o700)

    def prep(s):
        os.makedirs(s.spool, 0o755, exist_ok=True)
        os.symlink(target, os.path.join(s.spool, "warden"))
    out = start_fails(make_server, tmp_path, prep=prep)
    assert "must be a directory, not a symbolic link" in out, out
    st = os.stat(target)
    assert (st.st_uid, st.st_mode & 0o7777) == (0, 0o700)


def test_old_database_in_queue_directory_is_moved_to_data_directory(make_server, tmp_path):
    """Before data_directory, warden_dbfile defaulted to
    $queue_directory/warden.db: a server upgraded in place keeps its bans.
    With warden_dbfile at its default and no database in data_directory,
    the master moves the old file (and its WAL) there, owned by
    warden_owner, 0600, and logs it."""
    s = jail_server(make_server, tmp_path, [
        "[j]", "enabled = true", "filter = mailwarden[mode=auth]", "action = testlog[out={out}]"])
    cli(s, "ban", "j", "198.51.100.9")
    s.stop()
    # the old layout: the database (and its WAL) in queue_directory, root's
    old = os.path.join(s.spool, "warden.db")
    data = os.path.join(s.dir, "data")
    for n in os.listdir(data):
        if n.startswith("warden.db"):
            os.rename(os.path.join(data, n), os.path.join(s.spool, n))
            os.chown(os.path.join(s.spool, n), 0, 0)
    assert os.path.exists(old)
    s.start()
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden answering")
    new = os.path.join(s.dir, "data", "warden.db")
    assert not os.path.exists(old) and os.path.exists(new)
    st = os.stat(new)
    assert (st.st_uid, st.st_mode & 0o777) == (pwd.getpwnam("mwwarden").pw_uid, 0o600)
    assert "198.51.100.9" in cli(s, "banned").stdout
    s.wait_log(r"ban database moved from .*/warden\.db to .*/data/warden\.db")


def test_failed_copy_of_old_database_leaves_nothing_half_moved(make_server, tmp_path):
    """data_directory on another file system (a copy, not a rename) with
    no room for the old database: the start fails, and no partial
    warden.db is left in data_directory to be taken for the moved one at
    the next start (the old file, its WAL, stay whole in queue_directory);
    with room, the next start moves them."""
    s = jail_server(make_server, tmp_path, [
        "[j]", "enabled = true", "filter = mailwarden[mode=auth]", "action = testlog[out={out}]"])
    cli(s, "ban", "j", "198.51.100.10")
    s.stop()
    data = os.path.join(s.dir, "data")
    for n in os.listdir(data):
        if n.startswith("warden.db"):
            os.rename(os.path.join(data, n), os.path.join(s.spool, n))
            os.chown(os.path.join(s.spool, n), 0, 0)
    old = os.path.join(s.spool, "warden.db")
    before = {n: sha(os.path.join(s.spool, n)) for n in os.listdir(s.spool)
              if n.startswith("warden.db")}
    assert os.path.getsize(old) > 8192
    ww = pwd.getpwnam("mwwarden")
    s.allow_fatal = True
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k,mode=0700,uid=%d,gid=%d"
                    % (ww.pw_uid, ww.pw_gid), "mw-rvdata", data], check=True)
    try:
        p = subprocess.Popen([BIN, "-c", s.conf], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=s.dir, start_new_session=True)
        try:
            _, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGTERM)
            p.communicate()
            pytest.fail("mailwarden started on a truncated copy:\n" + read(s.maillog))
        assert p.returncode != 0
        assert "copy warden.db: No space left on device" in err + read(s.maillog)
        assert [n for n in os.listdir(data) if n.startswith("warden.db")] == []
        assert {n: sha(os.path.join(s.spool, n)) for n in before} == before
    finally:
        subprocess.run(["umount", data], check=True)
    s.start()
    wait_for(lambda: cli(s, "status", check=False).returncode == 0, what="the warden answering")
    assert not os.path.exists(old) and os.path.exists(os.path.join(data, "warden.db"))
    assert "198.51.100.10" in cli(s, "banned").stdout
