#!/usr/bin/env python3
"""cluster_bench -- bans shared through Redis (issue 16, docs/cluster.md).

Starts Debian's redis-server on a unix socket in a work directory and
three mailwarden nodes a, b, c on loopback (one jail "bench": filter
postfix[mode=auth] over a followed file, a no-op action, prefix6 = 128,
maxretry so high that failures ban nothing), then prints:

1. Propagation: BENCH_BANS (3,000) manual bans sent to node a's control
   socket at BENCH_RATE (1,000) per second, each a new 2001:db8::/32
   address; the time from the request to the line in node b's and c's
   engine bans file (queue_directory/warden/bans, what their smtp engine
   refuses at accept) is read by polling both files every ms.
   p50/p95/p99/max over both nodes.
2. Redis memory per 100,000 bans in force: used_memory before and after
   100,000 ban keys in the version-1 layout (mw:1:ban:JAIL:NET, value
   "node start bantime count", EX 600) written with redis-cli --pipe.
3. Cost per failure: BENCH_FAILS (100,000) failure lines from distinct
   addresses appended to the followed log of a node; CPU (user+system) of
   its warden process until `status bench` counts them all, per failure:
   a fourth node without warden_cluster, node a with it (it publishes
   each and appends it to its failure list), and node b (it receives and
   counts each).
4. Redis memory of the failure lists node a's failures of 3. left
   (one key of one value per failing address, TTL the jail's findtime).

Run as root from the repository root: bench/cluster_bench.py [--bin PATH]
"""
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
import benchlib  # noqa: E402

JAIL = 'bench'
NOOP_ACTION = '[Definition]\nactionstart =\nactionstop =\nactioncheck =\n' \
              'actionban = true\nactionunban = true\n'
BANS = benchlib.envint('BENCH_BANS', 3000)
RATE = benchlib.envint('BENCH_RATE', 1000)
FAILS = benchlib.envint('BENCH_FAILS', 100000)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, binary, work, name, redis_sock):
        self.bin, self.name = binary, name
        d = self.dir = os.path.join(work, name)
        os.makedirs(os.path.join(d, 'action.d'))
        os.chmod(d, 0o755)
        with open(os.path.join(d, 'action.d', 'noop.conf'), 'w') as f:
            f.write(NOOP_ACTION)
        self.followed = os.path.join(d, 'bench.log')
        open(self.followed, 'w').close()
        os.chmod(self.followed, 0o644)
        self.conf = os.path.join(d, 'mailwarden.conf')
        self.sock = os.path.join(d, 'spool', 'warden.sock')
        self.bans = os.path.join(d, 'spool', 'warden', 'bans')
        lines = [
            'smtpd_listen = 127.0.0.1:%d' % free_port(),
            'queue_directory = %s/spool' % d, 'data_directory = %s/data' % d,
            'virtual_mailbox_base = %s/mail' % d, 'maillog_file = %s/maillog' % d,
            'myhostname = %s.bench.example' % name, 'mydestination = localhost',
            'dns_servers = 127.0.0.1:9',
            'warden_action_path = %s/action.d' % d,
            'warden_logtarget = %s/warden.log' % d,
        ]
        if redis_sock:
            lines += ['warden_cluster = unix:%s' % redis_sock, 'warden_cluster_node = %s' % name]
        lines += ['[%s]' % JAIL, 'enabled = true', 'filter = postfix[mode=auth]',
                  'logpath = %s' % self.followed, 'maxretry = 1000000', 'findtime = 1d',
                  'bantime = 600', 'action = noop', 'prefix6 = 128']
        benchlib.write_mw_conf(self.conf, lines)
        os.chmod(self.conf, 0o644)
        self.err = open(os.path.join(d, 'stderr'), 'w')
        self.p = subprocess.Popen([binary, '-c', self.conf], cwd=d, stdout=self.err,
                                  stderr=self.err, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        benchlib.cleanups.append(self.stop)
        deadline = time.monotonic() + 20
        while self.total_failed() is None:
            if time.monotonic() > deadline:
                raise RuntimeError('node %s does not answer:\n%s' % (
                    name, '\n'.join(benchlib.tail(os.path.join(d, 'stderr')))))
            time.sleep(0.1)

    def request(self, *words):
        """One control request (the CLI's protocol: words by tabs, a line)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.sock)
            s.sendall(('\t'.join(words) + '\n').encode())
            out = b''
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        return out.decode()

    def total_failed(self):
        try:
            for line in self.request('status', JAIL).splitlines():
                if 'Total failed:' in line:
                    return int(line.split()[-1])
        except OSError:
            return None
        return None

    def warden_pid(self):
        return next(p for p in benchlib.tree(self.p.pid) if benchlib.comm(p) == 'warden')

    def stop(self):
        if self.p:
            benchlib.terminate(self.p)
            self.p = None
            self.err.close()


def tail_bans(path, seen, stop):
    """Poll the bans journal; seen[net] = time first read (compaction: reread)."""
    off, ino = 0, None
    while not stop.is_set():
        try:
            st = os.stat(path)
            if st.st_ino != ino:
                ino, off = st.st_ino, 0
            with open(path, 'rb') as f:
                f.seek(off)
                data = f.read()
        except OSError:
            time.sleep(0.001)
            continue
        now = time.monotonic()
        end = data.rfind(b'\n') + 1
        off += end
        for line in data[:end].split(b'\n'):
            w = line.split()
            if len(w) == 3 and not line.startswith((b'#', b'-')):
                try:
                    net = ipaddress.ip_network(w[0].decode(), strict=False)
                except ValueError:
                    continue
                seen.setdefault(net, now)
        time.sleep(0.001)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def propagation(a, receivers):
    seen = {r.name: {} for r in receivers}
    stop = threading.Event()
    threads = [threading.Thread(target=tail_bans, args=(r.bans, seen[r.name], stop))
               for r in receivers]
    for t in threads:
        t.start()
    sent = {}
    t0 = time.monotonic()
    try:
        for i in range(BANS):
            due = t0 + i / RATE
            while time.monotonic() < due:
                time.sleep(min(0.0005, max(0, due - time.monotonic())))
            ip = '2001:db8::1:%x:%x' % (i >> 16, i & 0xffff)
            sent[ipaddress.ip_network(ip + '/128')] = time.monotonic()
            r = a.request('ban', JAIL, ip)
            if not r.startswith('ok'):
                raise RuntimeError('ban %s: %s' % (ip, r))
        rate = BANS / (time.monotonic() - t0)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
                len([n for n in sent if n in seen[r.name]]) < BANS for r in receivers):
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    lat = [(seen[r.name][n] - t) * 1000 for r in receivers for n, t in sent.items()
           if n in seen[r.name]]
    missing = len(receivers) * BANS - len(lat)
    print('1. propagation, node a -> engine bans file of b and c, %d bans at %.0f/s:'
          % (BANS, rate))
    print('   p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  max %.1f ms  (%d missing)'
          % (pct(lat, 50), pct(lat, 95), pct(lat, 99), max(lat), missing))


def used(cli):
    """Redis's used_memory in bytes."""
    for line in subprocess.run(cli + ['INFO', 'memory'], capture_output=True,
                               text=True).stdout.splitlines():
        if line.startswith('used_memory:'):
            return int(line.split(':')[1])


def redis_memory(cli):
    n = 100000
    before = used(cli)
    now = int(time.time())
    out = []
    for i in range(n):
        key = 'mw:1:ban:%s:2001:db8::2:%x' % (JAIL, i)
        val = 'a %d 600 1' % now
        out.append('*5\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$2\r\nEX\r\n$3\r\n600\r\n'
                   % (len(key), key, len(val), val))
    subprocess.run(cli + ['--pipe'], input=''.join(out).encode(), capture_output=True,
                   check=True)
    after = used(cli)
    print('2. Redis memory for 100,000 bans in force: %.1f MB (%d bytes a ban)'
          % ((after - before) / 1e6, (after - before) // n))
    subprocess.run(cli + ['FLUSHDB'], capture_output=True)


def fail_lines(tag, n):
    stamp = time.strftime('%b %e %H:%M:%S')
    return ''.join('%s mx postfix/smtpd[1]: warning: unknown[2001:db8:%x::%x:%x]: SASL LOGIN '
                   'authentication failed: authentication failure\n'
                   % (stamp, tag, i >> 16, i & 0xffff) for i in range(n))


def failure_cost(node, watchers, tag):
    """CPU per failure of node's warden (and of each watcher's) for FAILS lines."""
    targets = [node] + watchers
    want = {t.name: t.total_failed() + FAILS for t in targets}
    cpu0 = {t.name: benchlib.proc_stat(t.warden_pid())[1] for t in targets}
    with open(node.followed, 'a') as f:
        f.write(fail_lines(tag, FAILS))
    deadline = time.monotonic() + 120
    for t in targets:
        while (t.total_failed() or 0) < want[t.name]:
            if time.monotonic() > deadline:
                raise RuntimeError('node %s: %s of %d failures' % (
                    t.name, t.total_failed(), want[t.name]))
            time.sleep(0.05)
    return {t.name: (benchlib.proc_stat(t.warden_pid())[1] - cpu0[t.name]) / benchlib.CLK
            / FAILS * 1e6 for t in targets}


def main():
    binary = os.path.abspath(sys.argv[sys.argv.index('--bin') + 1] if '--bin' in sys.argv
                             else os.path.join(ROOT, 'mailwarden'))
    benchlib.need_binary(binary, 'build')
    benchlib.set_log(lambda m: print(m, file=sys.stderr))
    benchlib.mailwarden_user()
    work = tempfile.mkdtemp(prefix='mw-cluster-bench-')
    os.chmod(work, 0o755)
    sock = os.path.join(work, 'redis.sock')
    redis = subprocess.Popen(['redis-server', '--port', '0', '--unixsocket', sock,
                              '--unixsocketperm', '777', '--save', '', '--appendonly', 'no',
                              '--dir', work], stdout=subprocess.DEVNULL,
                             start_new_session=True)
    cli = ['redis-cli', '-s', sock]
    try:
        deadline = time.monotonic() + 5
        while subprocess.run(cli + ['PING'], capture_output=True, text=True).stdout.strip() \
                != 'PONG':
            if time.monotonic() > deadline:
                raise RuntimeError('redis-server did not start')
            time.sleep(0.05)
        nodes = [Node(binary, work, n, sock) for n in ('a', 'b', 'c')]
        time.sleep(1)
        propagation(nodes[0], nodes[1:])
        redis_memory(cli)
        solo = Node(binary, work, 'solo', None)
        off = failure_cost(solo, [], 1)['solo']
        before = used(cli)
        on = failure_cost(nodes[0], nodes[1:2], 2)
        after = used(cli)
        print('3. warden CPU per failure (%d failures, distinct addresses):' % FAILS)
        print('   without cluster %.1f us; with: origin node %.1f us, receiving node %.1f us'
              % (off, on['a'], on['b']))
        nkeys = subprocess.run(cli + ['EVAL', "return #redis.call('KEYS', 'mw:1:fail:*')", '0'],
                               capture_output=True, text=True).stdout.strip()
        print('4. Redis memory for the failure lists (mw:1:fail:*, kept for findtime) of '
              'those %d failures: %.1f MB (%d bytes a failing address; %s lists)'
              % (FAILS, (after - before) / 1e6, (after - before) // FAILS, nkeys))
    finally:
        benchlib.run_cleanups()
        redis.kill()
        redis.wait()
        if '--keep' not in sys.argv:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
