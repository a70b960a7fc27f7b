"""
Bans shared through Redis (issue 16, docs/cluster.md): three nodes A, B,
C in three network namespaces, Debian's redis-server (ACL user and
password) in a fourth, an attacker host in a fifth. The nodes reach the
attacker over one bridge (192.0.2.0/24) and Redis over another
(198.51.100.0/24), so a node can be cut from Redis alone.

- one AUTH failure on A and one on B: the attacker is in the kernel set
  of A, B and C within 100 ms of the second failure; a bystander is not;
- `why` on C names the node that saw each failure; unban on C lifts the
  ban on A and B;
- a ban from the cluster is input: C's ignoreip wins, 0/0 is refused;
- a successful login on B clears A's failure and allows the login's
  typos on every node (success-clears fleet-wide);
- Redis killed: A still bans locally; Redis restarted empty: the ban is
  back in Redis and reaches B and C;
- A cut from Redis bans locally; healed, its ban reaches B and C;
- over TLS (rediss://, the server's certificate verified) the same ban
  propagates; a certificate for another address is refused and logged.
"""
import base64
import json
import os
import re
import shutil
import smtplib
import subprocess
import time

import pytest

from conftest import BIN, CLIENT_HELO, Server
from netns import in_netns, sh
from tlsfix import TlsFiles

PORT = 25
REDIS = "198.51.100.10"
ATTACKER, BYSTANDER, ATK2, ATK3, ATK4 = ("192.0.2.66", "192.0.2.67", "192.0.2.68", "192.0.2.69",
                                        "192.0.2.70")
NODES = {"a": ("192.0.2.1", "198.51.100.1"), "b": ("192.0.2.2", "198.51.100.2"),
         "c": ("192.0.2.3", "198.51.100.3")}

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/usr/sbin/nft") or not shutil.which("redis-server"),
    reason="needs root, nftables and redis-server")


class Net:
    """The namespaces, bridges and links; Redis in its own namespace."""

    def __init__(self):
        tag = os.getpid() % 100000
        self.atk, self.red = f"mwcatk{tag}", f"mwcred{tag}"
        self.ns = {n: f"mwc{n}{tag}" for n in NODES}
        self.redis = None
        self.dir = None

    def create(self):
        for ns in (self.atk, self.red, *self.ns.values()):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for ns, br, addrs in ((self.atk, "br0", [ATTACKER, BYSTANDER, ATK2, ATK3, ATK4]),
                              (self.red, "br1", [REDIS])):
            sh("ip", "-n", ns, "link", "add", br, "type", "bridge")
            for a in addrs:
                sh("ip", "-n", ns, "addr", "add", f"{a}/24", "dev", br)
            sh("ip", "-n", ns, "link", "set", br, "up")
        for n, (mail_ip, redis_ip) in NODES.items():
            ns = self.ns[n]
            for dev, peer, other, br, ip in (("m0", f"vm_{n}", self.atk, "br0", mail_ip),
                                             ("r0", f"vr_{n}", self.red, "br1", redis_ip)):
                sh("ip", "link", "add", dev, "netns", ns, "type", "veth", "peer", "name", peer,
                   "netns", other)
                sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
                sh("ip", "-n", ns, "link", "set", dev, "up")
                sh("ip", "-n", other, "link", "set", "dev", peer, "master", br)
                sh("ip", "-n", other, "link", "set", peer, "up")
        return self

    def redis_start(self, d, tls=None):
        self.dir, self.tls = d, tls if tls is not None else getattr(self, "tls", None)
        conf = os.path.join(d, "redis.conf")
        with open(conf, "w") as f:
            f.write(f"bind {REDIS}\nsave \"\"\nappendonly no\n"
                    f"dir {d}\nuser default off\nuser mw on >s3cret ~mw:* &mw:* +@all\n")
            if self.tls:
                f.write(f"port 0\ntls-port 6379\ntls-cert-file {self.tls[1]}\n"
                        f"tls-key-file {self.tls[0]}\ntls-ca-cert-file {self.tls[2]}\n"
                        "tls-auth-clients no\n")
            else:
                f.write("port 6379\n")
        self.redis = subprocess.Popen(["ip", "netns", "exec", self.red, "redis-server", conf],
                                      stdout=open(os.path.join(d, "redis.log"), "ab"),
                                      stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 5
        while self.rcli("PING") != "PONG":
            assert time.time() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def redis_kill(self):
        if self.redis:
            self.redis.kill()
            self.redis.wait()
            self.redis = None

    def rcli(self, *args):
        t = ["--tls", "--cacert", self.tls[2]] if getattr(self, "tls", None) else []
        r = subprocess.run(["ip", "netns", "exec", self.red, "redis-cli", "-h", REDIS, *t,
                            "--user", "mw", "--pass", "s3cret", "--no-auth-warning", *args],
                           capture_output=True, text=True)
        return r.stdout.strip()

    def destroy(self):
        self.redis_kill()
        for ns in (self.atk, self.red, *self.ns.values()):
            sh("ip", "netns", "del", ns, check=False)

    def nft_has(self, n, ip):
        r = sh("ip", "netns", "exec", self.ns[n], "nft", "list", "ruleset", check=False)
        return ip in r.stdout


class Node(Server):
    """A Server in node n's namespace, in the cluster."""

    def __init__(self, net, n, pwfile, tls, scheme="redis", wait=True, jail_extra=(),
                 main_extra=()):
        self.net, self.name_, self.ns = net, n, net.ns[n]
        super().__init__(extra=[])
        self.host, self.port = NODES[n][0], PORT
        self.listen = f"{self.host}:{PORT}"
        self.extra = tls.config(
            "smtpd_tls_auth_only = no",
            f"warden_cluster = {scheme}://{REDIS}:6379/0",
            f"warden_cluster_ca_file = {tls.ca}",
            f"warden_cluster_password_file = {pwfile}",
            f"warden_cluster_node = {n}", *main_extra,
            "[postfix-sasl]", "enabled = true", "filter = postfix[mode=auth]",
            f"logpath = {self.maillog}", "maxretry = 2", "findtime = 1d", "bantime = 1h",
            f'action = nft[port="{PORT}", protocol=tcp]', *jail_extra,
        )
        self.wait = wait
        self.write_config()

    def start(self, timeout=10.0):
        self.stderr_f = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, BIN, "-c", self.conf],
                                     cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr_f, stderr=self.stderr_f,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while self.wait and not self.cluster().get("connected"):
            assert time.time() < deadline, f"{self.name_} not connected\n{self.log()[-3000:]}"
            time.sleep(0.1)
        return self

    def cli(self, *args):
        return subprocess.run([BIN, "-c", self.conf, *args], capture_output=True, text=True,
                              timeout=20)

    def cluster(self):
        r = self.cli("status", "--json")
        try:
            return json.loads(r.stdout).get("cluster", {})
        except ValueError:
            return {}


def smtp_fail(net, n, source, password="guess"):
    """One AUTH PLAIN from source to node n (a wrong password by default): its reply code."""
    def mk():
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(3)
        s.bind((source, 0))
        s.connect((NODES[n][0], PORT))
        return s
    s = smtplib.SMTP(local_hostname=CLIENT_HELO, timeout=5)
    s.sock = in_netns(net.atk, mk)
    s.file = None
    assert s.getreply()[0] == 220
    s.ehlo()
    code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(
        b"\0alice@example.com\0" + password.encode()).decode())
    try:
        s.quit()
    except (smtplib.SMTPException, OSError):
        pass
    return code


def wait_all(net, nodes, ip, present=True, timeout=10.0):
    """Seconds until ip is (or is no longer) in the kernel set of every node."""
    t0 = time.monotonic()
    left = set(nodes)
    while left:
        for n in list(left):
            if net.nft_has(n, ip) == present:
                left.discard(n)
        assert time.monotonic() - t0 < timeout, f"{ip} present={present} not reached on {left}"
    return time.monotonic() - t0


def ip_cert(tls, d, ip):
    """A server certificate from the test CA for the address ip."""
    key, crt, csr, ext = (os.path.join(d, f"redis-{ip}.{x}") for x in ("key", "crt", "csr", "ext"))
    with open(ext, "w") as f:
        f.write(f"subjectAltName=IP:{ip}\n")
    for cmd in (["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                 "-out", csr, "-subj", "/CN=redis"],
                ["openssl", "x509", "-req", "-in", csr, "-CA", tls.ca, "-CAkey", tls.ca_key,
                 "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext]):
        subprocess.run(cmd, check=True, capture_output=True)
    os.chmod(key, 0o644)   # redis-server runs as root here; the test's own key
    return key, crt, tls.ca


@pytest.fixture
def make_cluster(tmp_path):
    os.chmod(tmp_path, 0o755)
    made = []

    def make(scheme="redis", cert_ip=REDIS, wait=True, jail_extra=None, main_extra=None):
        net = Net()
        nodes = []
        made.append((net, nodes))
        net.create()
        tls = TlsFiles()
        net.redis_start(str(tmp_path), ip_cert(tls, str(tmp_path), cert_ip)
                        if scheme == "rediss" else None)
        pw = tmp_path / "redis-password"
        pw.write_text("mw s3cret\n")
        os.chmod(pw, 0o600)
        for n in NODES:
            nodes.append(Node(net, n, str(pw), tls, scheme, wait,
                              (jail_extra or {}).get(n, ()),
                              (main_extra or {}).get(n, ())).start())
        return net, dict(zip(NODES, nodes))

    yield make
    problems = []
    for net, nodes in made:
        for node in nodes:
            problems += node.stop()
        net.destroy()
    assert not problems, problems


@pytest.fixture
def cluster(make_cluster):
    return make_cluster()


def test_one_failure_on_a_one_on_b_bans_everywhere(cluster):
    net, nodes = cluster
    assert smtp_fail(net, "a", ATTACKER) == 535
    time.sleep(0.2)
    assert not any(net.nft_has(n, ATTACKER) for n in NODES)
    assert smtp_fail(net, "b", ATTACKER) == 535
    took = wait_all(net, NODES, ATTACKER)
    print(f"banned on A, B and C {took * 1000:.0f} ms after the second failure")
    assert took < 0.1, took
    assert not any(net.nft_has(n, BYSTANDER) for n in NODES)
    assert smtp_fail(net, "c", BYSTANDER) == 535          # C still serves the bystander
    # why on C: which node saw which failure
    why = nodes["c"].cli("why", ATTACKER).stdout
    assert "cluster:a" in why and "cluster:b" in why, why
    assert "from node" in nodes["c"].log(), nodes["c"].log()[-2000:]
    assert "mw:1:ban:postfix-sasl:" + ATTACKER in net.rcli("KEYS", "mw:1:ban:*")
    st = nodes["a"].cluster()
    assert st["connected"] and {s["node"] for s in st["nodes_seen"]} >= {"b", "c"}, st
    # unban on C lifts the ban on A and B (and the key)
    assert nodes["c"].cli("unban", ATTACKER).returncode == 0
    wait_all(net, NODES, ATTACKER, present=False, timeout=3)
    assert net.rcli("KEYS", "mw:1:ban:*") == ""


def test_remote_ban_is_input(make_cluster):
    """C's own ignoreip wins over a ban from A and B; 0/0 is never applied."""
    net, nodes = make_cluster(jail_extra={"c": [f"ignoreip = {ATTACKER}"]})
    assert smtp_fail(net, "a", ATTACKER) == 535
    assert smtp_fail(net, "b", ATTACKER) == 535
    wait_all(net, ["a", "b"], ATTACKER, timeout=1)
    time.sleep(0.5)
    assert not net.nft_has("c", ATTACKER)
    assert "Ignore 192.0.2.66 by ip" in nodes["c"].log()
    # a forged ban of every address, straight into the channel
    net.rcli("PUBLISH", "mw:1:events", f"1 ban z postfix-sasl 0.0.0.0/0 {int(time.time())} 600 1")
    time.sleep(0.5)
    for n in NODES:
        assert "0.0.0.0/0" not in nodes[n].cli("banned").stdout
        assert "ban of 0.0.0.0/0 in postfix-sasl from node z not applied" in nodes[n].log()


def test_success_clears_fleet_wide(cluster):
    """A login on B clears A's failure and allows alice's typos on every node."""
    net, nodes = cluster
    assert smtp_fail(net, "a", ATTACKER) == 535
    time.sleep(0.2)
    assert smtp_fail(net, "b", ATTACKER, "alice-secret") == 235
    time.sleep(0.2)
    assert smtp_fail(net, "c", ATTACKER) == 535           # a typo after the login: allowed
    assert smtp_fail(net, "a", ATTACKER) == 535
    time.sleep(0.5)
    assert not any(net.nft_has(n, ATTACKER) for n in NODES)


def test_redis_killed_and_restarted_empty(cluster):
    net, nodes = cluster
    net.redis_kill()
    time.sleep(0.5)
    assert smtp_fail(net, "a", ATK2) == 535
    assert smtp_fail(net, "a", ATK2) == 535
    wait_all(net, ["a"], ATK2, timeout=3)                 # local banning goes on
    assert not net.nft_has("b", ATK2)
    assert "unreachable" in nodes["a"].log()
    net.redis_start(net.dir)                              # empty: save "" and no AOF
    deadline = time.monotonic() + 15
    while ATK2 not in net.rcli("KEYS", "mw:1:ban:*"):
        assert time.monotonic() < deadline, nodes["a"].log()[-3000:]
        time.sleep(0.2)
    wait_all(net, ["b", "c"], ATK2, timeout=10)
    assert "back after" in nodes["a"].log()


def test_partition_healed(cluster):
    net, nodes = cluster
    sh("ip", "-n", net.ns["a"], "link", "set", "r0", "down")
    try:
        assert smtp_fail(net, "a", ATK3) == 535
        assert smtp_fail(net, "a", ATK3) == 535
        wait_all(net, ["a"], ATK3, timeout=3)
        time.sleep(4)                                     # A notices (3 s without an answer)
        assert smtp_fail(net, "a", ATK4) == 535          # one failure made while away
        assert not net.nft_has("b", ATK3) and not net.nft_has("c", ATK3)
        assert "unreachable" in nodes["a"].log()
    finally:
        sh("ip", "-n", net.ns["a"], "link", "set", "r0", "up")
    wait_all(net, ["b", "c"], ATK3, timeout=15)
    # the failure made while away was sent on return: one more on B bans
    deadline = time.monotonic() + 5
    while "1 failure(s) made while redis was away sent" not in nodes["a"].log():
        assert time.monotonic() < deadline, nodes["a"].log()[-3000:]
        time.sleep(0.1)
    # both of A's connections back (the subscription too), then B's failure
    while not nodes["a"].cluster().get("connected"):
        assert time.monotonic() < deadline + 5, nodes["a"].log()[-3000:]
        time.sleep(0.1)
    time.sleep(0.3)
    assert smtp_fail(net, "b", ATK4) == 535
    # a message missed while A re-subscribed is still caught by its second
    # pull 2 s after the return (docs/cluster.md): 3 s at most
    wait_all(net, NODES, ATK4, timeout=3)


def test_unban_while_partitioned(cluster):
    """An unban on A while A is cut from Redis is sent at its return: B
    and C lift the ban, and A's pull does not bring it back."""
    net, nodes = cluster
    assert nodes["b"].cli("ban", "postfix-sasl", ATK3).returncode == 0
    wait_all(net, NODES, ATK3, timeout=3)
    sh("ip", "-n", net.ns["a"], "link", "set", "r0", "down")
    try:
        time.sleep(4)                                     # A notices (3 s without an answer)
        assert "unreachable" in nodes["a"].log()
        assert nodes["a"].cli("unban", ATK3).returncode == 0
        wait_all(net, ["a"], ATK3, present=False, timeout=3)
    finally:
        sh("ip", "-n", net.ns["a"], "link", "set", "r0", "up")
    wait_all(net, ["b", "c"], ATK3, present=False, timeout=10)
    time.sleep(2.5)                                       # A's second pull
    assert not net.nft_has("a", ATK3)
    assert net.rcli("EXISTS", "mw:1:ban:postfix-sasl:" + ATK3) == "0"


def test_node_partitioned_from_its_start(cluster):
    """A node that never reached Redis since its start bans locally; at
    its first connection its bans reach the others (published, not only
    SET: the others do not pull then)."""
    net, nodes = cluster
    a = nodes["a"]
    assert not a.stop()
    sh("ip", "-n", net.ns["a"], "link", "set", "r0", "down")
    try:
        a.wait = False
        a.start()
        deadline = time.monotonic() + 10
        while a.cli("ban", "postfix-sasl", ATK3).returncode != 0:   # served after 2 s
            assert time.monotonic() < deadline, a.log()[-3000:]
            time.sleep(0.2)
        wait_all(net, ["a"], ATK3, timeout=3)
        assert not net.nft_has("b", ATK3)
    finally:
        sh("ip", "-n", net.ns["a"], "link", "set", "r0", "up")
    wait_all(net, ["b", "c"], ATK3, timeout=10)


def test_node_started_later_loads_the_bans(cluster):
    net, nodes = cluster
    c = nodes["c"]
    assert not c.stop()
    shutil.rmtree(os.path.join(c.dir, "data"))           # a new node: nothing of its own
    assert nodes["a"].cli("ban", "postfix-sasl", ATK2).returncode == 0
    assert ATK2 in net.rcli("KEYS", "mw:1:ban:*")
    c.wait = False
    c.start()                       # no waiting: the attacker tries at once
    assert first_line(net, "c", ATK2) != 220, "a banned client was served before the pull"
    wait_all(net, ["c"], ATK2, timeout=1)
    deadline = time.monotonic() + 3                      # the log relay may lag
    while "from node a" not in c.log():
        assert time.monotonic() < deadline, c.log()[-3000:]
        time.sleep(0.1)
    assert first_line(net, "c", BYSTANDER) == 220          # the engine did start
    assert "smtp engine waits for the ban engine" in c.log()


def test_node_started_later_pulls_the_failures(cluster):
    """A failure on A while C is away is pulled by C at its start and
    counted: one more failure on C bans (maxretry = 2)."""
    net, nodes = cluster
    c = nodes["c"]
    assert not c.stop()
    shutil.rmtree(os.path.join(c.dir, "data"))           # a new node: nothing of its own
    assert smtp_fail(net, "a", ATTACKER) == 535
    key = "mw:1:fail:postfix-sasl:" + ATTACKER
    deadline = time.monotonic() + 3
    while not net.rcli("LRANGE", key, "0", "-1").endswith(" a"):
        assert time.monotonic() < deadline, nodes["a"].log()[-3000:]
        time.sleep(0.1)
    assert 0 < int(net.rcli("TTL", key)) <= 86400          # the jail's findtime
    c.start()
    time.sleep(0.3)
    assert "cluster: failure of 192.0.2.66 in postfix-sasl from node a" in c.log()
    assert not any(net.nft_has(n, ATTACKER) for n in NODES)
    assert smtp_fail(net, "c", ATTACKER) == 535
    wait_all(net, NODES, ATTACKER, timeout=3)
    assert net.rcli("EXISTS", key) == "0"                   # the ban cleared the list


def test_restart_counts_no_failure_twice(cluster):
    """C received A's failure live (its store has it) and A made it: after
    a restart of both (and their second pull), neither counts it again."""
    net, nodes = cluster
    assert smtp_fail(net, "a", ATTACKER) == 535
    time.sleep(0.5)
    for n in ("a", "c"):
        assert not nodes[n].stop()
        nodes[n].start()
    time.sleep(2.5)                                         # the second pull too
    assert not any(net.nft_has(n, ATTACKER) for n in NODES)
    assert smtp_fail(net, "b", ATTACKER) == 535            # the one failure still counts
    wait_all(net, NODES, ATTACKER, timeout=3)


def test_failure_list_keeps_the_newest(make_cluster):
    """A failure list holds the newest 256 values: trimmed when RPUSH says
    it is longer (an address failing all day is not a growing key)."""
    many = ["maxretry = 100000"]
    net, nodes = make_cluster(jail_extra={n: many for n in NODES})
    key = "mw:1:fail:postfix-sasl:" + ATTACKER
    for _ in range(260):
        assert smtp_fail(net, "a", ATTACKER) == 535
    deadline = time.monotonic() + 5
    while net.rcli("LLEN", key) != "256":
        assert time.monotonic() < deadline, net.rcli("LLEN", key)
        time.sleep(0.1)


def test_login_clears_the_failure_list(cluster):
    """A successful login drops the address's failure list: a node that
    starts later does not count the failures the login cleared."""
    net, nodes = cluster
    assert smtp_fail(net, "a", ATTACKER) == 535
    time.sleep(0.2)
    key = "mw:1:fail:postfix-sasl:" + ATTACKER
    assert net.rcli("EXISTS", key) == "1"
    assert smtp_fail(net, "b", ATTACKER, "alice-secret") == 235
    time.sleep(0.3)
    assert net.rcli("EXISTS", key) == "0"


def test_net_ban_clears_the_failure_lists_inside(make_cluster):
    """A ban of a network wider than an address (prefix4 = 28) drops the
    failure lists of the addresses inside it, whichever node pushed them
    (a list outside the net stays): a node that starts after the ban
    ended counts none of those failures."""
    p28 = ["prefix4 = 28"]
    net, nodes = make_cluster(jail_extra={n: p28 for n in NODES})
    c = nodes["c"]
    assert not c.stop()
    shutil.rmtree(os.path.join(c.dir, "data"))           # a new node: nothing of its own
    keys = ["mw:1:fail:postfix-sasl:" + ip for ip in (ATTACKER, ATK2)]
    outside = "mw:1:fail:postfix-sasl:" + "192.0.2.90"     # another /28
    net.rcli("RPUSH", outside, "%d x" % int(time.time()))
    assert smtp_fail(net, "a", ATTACKER) == 535
    deadline = time.monotonic() + 3
    while net.rcli("EXISTS", keys[0]) != "1":
        assert time.monotonic() < deadline, nodes["a"].log()[-3000:]
        time.sleep(0.1)
    assert smtp_fail(net, "b", ATK2) == 535                # the second in 192.0.2.64/28
    wait_all(net, ["a", "b"], "192.0.2.64/28", timeout=3)
    deadline = time.monotonic() + 3
    while any(net.rcli("EXISTS", k) != "0" for k in keys):
        assert time.monotonic() < deadline, [net.rcli("LRANGE", k, "0", "-1") for k in keys]
        time.sleep(0.1)
    assert net.rcli("EXISTS", outside) == "1"
    assert nodes["a"].cli("unban", "192.0.2.64/28").returncode == 0    # the ban ends
    wait_all(net, ["a", "b"], "192.0.2.64/28", present=False, timeout=3)
    c.start()
    time.sleep(0.5)
    assert "cluster: failure of 192.0.2.6" not in c.log()
    assert smtp_fail(net, "c", ATTACKER) == 535            # one failure: no ban
    time.sleep(0.5)
    assert not any(net.nft_has(n, "192.0.2.64/28") for n in NODES)


def test_bantime_increment_from_the_fleet_history(make_cluster):
    """A's ban, made and ended while C was away, is in C's history when
    C is back (the hist key): C's first ban of the address is its second
    in the fleet. A history C never heard of, read at its ban decision,
    lengthens that ban."""
    inc = ["bantime.increment = true", "bantime = 8"]
    net, nodes = make_cluster(jail_extra={n: inc for n in NODES})
    c = nodes["c"]
    assert not c.stop()
    shutil.rmtree(os.path.join(c.dir, "data"))           # a new node: nothing of its own
    hist = "mw:1:hist:postfix-sasl:" + ATTACKER
    assert smtp_fail(net, "a", ATTACKER) == 535
    assert smtp_fail(net, "a", ATTACKER) == 535
    wait_all(net, ["a", "b"], ATTACKER, timeout=3)
    assert net.rcli("HGET", hist, "a").split()[0] == "1"
    assert 86000 < int(net.rcli("TTL", hist)) <= 86400    # dbpurgeage, 1 day
    wait_all(net, ["a", "b"], ATTACKER, present=False, timeout=15)   # over before C is back
    c.start()
    assert smtp_fail(net, "c", ATTACKER) == 535
    assert smtp_fail(net, "c", ATTACKER) == 535
    wait_all(net, NODES, ATTACKER, timeout=3)
    time.sleep(0.2)
    assert net.rcli("HGET", hist, "c").split()[0] == "2", c.log()[-3000:]
    # written behind every node's back: an earlier history of ATK2
    hist2 = "mw:1:hist:postfix-sasl:" + ATK2
    net.rcli("HSET", hist2, "z", f"3 {int(time.time()) - 100}")
    assert smtp_fail(net, "c", ATK2) == 535
    assert smtp_fail(net, "c", ATK2) == 535
    deadline = time.monotonic() + 3
    while (net.rcli("HGET", hist2, "c").split() or ["0"])[0] != "4":
        assert time.monotonic() < deadline, c.log()[-3000:]
        time.sleep(0.1)
    assert "cluster: ban of 192.0.2.68 in postfix-sasl lengthened to" in c.log()
    # unban forgets the fleet's history
    assert nodes["b"].cli("unban", ATK2).returncode == 0
    time.sleep(0.3)
    assert net.rcli("EXISTS", hist2) == "0"


class SkewedTime:
    """A proxy in Redis's namespace that answers TIME itself, `skew`
    seconds ahead of the real clock, and relays everything else: a Redis
    whose clock differs from the node's (the nodes share this machine's
    clock, and libfaketime is not installed)."""
    TIME = b"*1\r\n$4\r\nTIME\r\n"

    def __init__(self, net, port, skew):
        import socket
        import threading
        self.net, self.skew, self.stop_ = net, skew, False

        def mk():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((REDIS, port))
            s.listen(8)
            s.settimeout(0.2)
            return s
        self.lsock = in_netns(net.red, mk)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        import socket
        import threading
        while not self.stop_:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:         # closed
                return
            try:
                up = in_netns(self.net.red, lambda: socket.create_connection((REDIS, 6379)))
            except OSError:
                c.close()
                continue
            threading.Thread(target=self.relay, args=(up, c, False), daemon=True).start()
            threading.Thread(target=self.relay, args=(c, up, True), daemon=True).start()

    def relay(self, src, dst, from_node):
        try:
            self.relay_(src, dst, from_node)
        except OSError:             # the other side went away
            pass
        for s in (src, dst):
            try:
                s.shutdown(2)
            except OSError:
                pass

    def relay_(self, src, dst, from_node):
        while True:
            data = src.recv(65536)
            if not data:
                return
            if from_node and data == self.TIME:   # nothing else in flight then
                t = time.time() + self.skew
                sec, usec = str(int(t)).encode(), str(int(t % 1 * 1e6)).encode()
                src.sendall(b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(sec), sec, len(usec),
                                                                         usec))
                continue
            dst.sendall(data)

    def close(self):
        self.stop_ = True
        self.lsock.close()


def test_failure_times_on_redis_clock(cluster):
    """A node whose clock is 30 s behind Redis's (TIME) says so, and its
    failure times travel on Redis's clock; the others' are read back on
    its own, so findtime is measured on one clock."""
    net, nodes = cluster
    proxy = SkewedTime(net, 6390, 30)
    c = nodes["c"]
    try:
        assert not c.stop()
        c.extra = [f"warden_cluster = redis://{REDIS}:6390/0" if x.startswith("warden_cluster =")
                   else x for x in c.extra]
        c.write_config()
        c.start()
        deadline = time.monotonic() + 3
        while "this node's clock is 30 s behind redis" not in c.log():
            assert time.monotonic() < deadline, c.log()[-3000:]
            time.sleep(0.1)
        assert c.cluster()["clock_offset"] == 30
        assert smtp_fail(net, "c", ATTACKER) == 535
        time.sleep(0.3)
        t, node = net.rcli("LRANGE", "mw:1:fail:postfix-sasl:" + ATTACKER, "0", "-1").split()
        assert node == "c" and 28 <= int(t) - time.time() <= 31, t
        assert not any(net.nft_has(n, ATTACKER) for n in NODES)
        assert smtp_fail(net, "a", ATTACKER) == 535         # counted on C at its own time
        wait_all(net, NODES, ATTACKER, timeout=3)
        why = c.cli("why", ATTACKER).stdout
        assert "cluster:a" in why, why
    finally:
        proxy.close()


def first_line(net, n, source, timeout=8.0):
    """The reply code of node n's first line to a client from source (its
    SYN waits in the backlog until the engine runs), 0 if it closes or
    drops the connection first."""
    def mk():
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.bind((source, 0))
        deadline = time.time() + timeout
        while True:
            try:
                s.connect((NODES[n][0], PORT))
                return s
            except ConnectionRefusedError:
                assert time.time() < deadline, "the listener never came up"
                time.sleep(0.02)
    try:
        s = in_netns(net.atk, mk)
        line = s.makefile("rb").readline()
        s.close()
    except OSError:
        return 0
    return int(line[:3]) if line[:3].isdigit() else 0


def test_tls_verified(make_cluster):
    net, nodes = make_cluster("rediss")
    assert smtp_fail(net, "a", ATTACKER) == 535
    assert smtp_fail(net, "c", ATTACKER) == 535
    took = wait_all(net, NODES, ATTACKER)
    print(f"over TLS: banned on A, B and C {took * 1000:.0f} ms after the second failure")
    assert took < 0.1, took


def test_tls_wrong_certificate_refused(make_cluster):
    net, nodes = make_cluster("rediss", cert_ip="198.51.100.99", wait=False)
    deadline = time.monotonic() + 5
    while "certificate verification failed" not in nodes["a"].log():
        assert time.monotonic() < deadline, nodes["a"].log()[-3000:]
        time.sleep(0.1)
    assert nodes["a"].cluster().get("connected") is False
    # local banning goes on
    assert smtp_fail(net, "a", ATTACKER) == 535
    assert smtp_fail(net, "a", ATTACKER) == 535
    wait_all(net, ["a"], ATTACKER, timeout=3)
    assert not net.nft_has("b", ATTACKER)


def test_check_config(tmp_path):
    """redis:// over TCP is a warning; a bad address or password file an error."""
    log = tmp_path / "log"
    log.write_text("")
    base = (f"queue_directory = {tmp_path}/spool\ndata_directory = {tmp_path}/data\n"
            "myhostname = x.example\n")
    jail = f"[postfix-sasl]\nenabled = true\nfilter = postfix[mode=auth]\nlogpath = {log}\n"
    cases = [
        ("warden_cluster = redis://198.51.100.10:6379/0\n", 0, "sends bans and the password in clear"),
        ("warden_cluster = unix:/run/redis/redis.sock\n", 0, None),
        ("warden_cluster = http://198.51.100.10/\n", 1, "not redis://, rediss:// or unix:"),
        ("warden_cluster = redis://198.51.100.10:99999999/0\n", 1, "expected redis://host:port/db"),
        ("warden_cluster = rediss://198.51.100.10/0\n"
         "warden_cluster_password_file = /nonexistent\n", 1,
         "warden_cluster_password_file /nonexistent"),
        ("warden_cluster = unix:/x\nwarden_cluster_node = a b\n", 1, "warden_cluster_node"),
        (f"warden_cluster = unix:/x\nwarden_cluster_password_file = {tmp_path}/pw644\n", 1,
         "pw644: readable by others (chmod 600)"),
    ]
    (tmp_path / "pw644").write_text("user secret\n")
    os.chmod(tmp_path / "pw644", 0o644)
    for line, rc, text in cases:
        conf = tmp_path / "c.conf"
        conf.write_text(base + line + jail)
        r = subprocess.run([BIN, "-c", str(conf), "check-config"], capture_output=True, text=True)
        out = r.stdout + r.stderr
        assert r.returncode == rc, (line, out)
        if text:
            assert text in out, (line, out)
        else:
            assert "warden_cluster" not in out, (line, out)


def test_cluster_metrics(make_cluster):
    """The cluster's state in the metrics on C: connections up, the other
    nodes' messages received (A's and B's failures, their bans), its own
    ban published; the connection down once Redis is killed."""
    host = NODES["c"][0]
    net, nodes = make_cluster(main_extra={"c": (f"metrics_listen = {host}:9154",
                                                "metrics_allow_remote = yes")})
    assert smtp_fail(net, "a", ATTACKER) == 535
    assert smtp_fail(net, "b", ATTACKER) == 535
    wait_all(net, NODES, ATTACKER)

    def scrape():
        r = sh("ip", "netns", "exec", net.ns["c"], "python3", "-c",
               "import urllib.request,sys;sys.stdout.write(urllib.request.urlopen("
               f"'http://{host}:9154/metrics', timeout=5).read().decode())", check=False)
        return r.stdout

    deadline = time.time() + 5
    while True:
        m = scrape()
        got = re.search(r'mailwarden_cluster_messages_total\{kind="received"\} (\d+)', m)
        if (got and int(got.group(1)) >= 2) or time.time() > deadline:
            break
        time.sleep(0.1)
    assert 'mailwarden_cluster_connected{connection="cmd"} 1' in m, m
    assert 'mailwarden_cluster_connected{connection="sub"} 1' in m, m
    assert got and int(got.group(1)) >= 2, m
    assert re.search(r'mailwarden_cluster_messages_total\{kind="published"\} [1-9]', m), m
    assert re.search(r'^mailwarden_cluster_nodes_seen 2$', m, re.M), m
    sync = re.search(r'^mailwarden_cluster_last_sync_timestamp_seconds (\d+)$', m, re.M)
    assert sync and abs(int(sync.group(1)) - time.time()) < 60, m
    assert re.search(r'^mailwarden_cluster_clock_offset_seconds 0$', m, re.M), m
    net.redis_kill()
    deadline = time.time() + 8
    while 'mailwarden_cluster_connected{connection="cmd"} 0' not in scrape():
        assert time.time() < deadline, scrape()
        time.sleep(0.2)
