#!/usr/bin/env python3
"""ingest_bench -- live ingest: a million lines appended to a followed log,
until they are in the jail's counts, mailwarden against fail2ban-server.

Writes scan-bench.py's maillog (same seed, N lines; ~10% SASL failures
from 4,000 addresses), counts its failures once with `mailwarden scan LOG
'postfix[mode=auth]'`, then for each server, one after the other:
  - start it with one jail: filter postfix[mode=auth] (Debian's
    /etc/fail2ban/filter.d/postfix.conf), logpath = an empty file in the
    work directory, maxretry so high that nothing is banned, findtime one
    year and dbpurgeage 400 days (the log's dates are days old), ignoreip 127.0.0.1/8 ::1 (the
    expected count leaves those out), a no-op action;
  - append the whole log to that file in 1 MiB writes (t0 = first write);
  - poll `status JAIL` (mailwarden every 20 ms, fail2ban-client every
    0.5 s) until "Total failed" is the expected count: t1;
  - mailwarden: stop it (SIGTERM) and count the jail's failures in its
    warden.db once it exited: every row committed (printed, not ranked).
It prints t1 - t0 (and the append time alone), lines/s, the peak RSS of
mailwarden's warden process and of fail2ban-server, and the ratio.

mailwarden follows with inotify; fail2ban-server 1.0.2 with Debian's
backend = auto, which is polling here (python3-pyinotify is not
installed). fail2ban-server runs privately: its own copy of /etc/fail2ban
(jail.d emptied), socket, pid file, database and log in the work
directory; the system's fail2ban is never touched.

Run as root from the repository root (mailwarden drops to its user):
    bench/ingest_bench.py [--bin PATH] [--lines N] [--skip-f2b] [--keep]
"""
import importlib.util
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
import benchlib  # noqa: E402

JAIL = 'ingest'
FILTER = 'postfix[mode=auth]'
IGNOREIP = '127.0.0.1/8 ::1'    # the log has a few 127.x addresses: both ignore them
NOOP_ACTION = '[Definition]\nactionstart =\nactionstop =\nactioncheck =\n' \
              'actionban = true\nactionunban = true\n'


def scan_bench():
    spec = importlib.util.spec_from_file_location(
        'scan_bench', os.path.join(ROOT, 'bench', 'scan-bench.py'))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def expected_failures(binary, log):
    """The failures in log, less those of 127.0.0.0/8 (ignoreip in both)."""
    p = subprocess.run([binary, 'scan', log, FILTER], capture_output=True, text=True,
                       check=True)
    n = int(re.search(r'matched: (\d+)', p.stdout).group(1))
    for host, k in re.findall(r'^  (\S+) (\d+)$', p.stdout, re.M):
        if host.startswith('127.'):
            n -= int(k)
    return n


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def vm_hwm(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            m = re.search(r'VmHWM:\s+(\d+) kB', f.read())
        return int(m.group(1)) if m else 0
    except OSError:
        return 0


def append(src, dst):
    """Append src to dst in 1 MiB writes: (t0 of the first write, seconds)."""
    with open(src, 'rb') as s, open(dst, 'ab', buffering=0) as d:
        t0 = time.monotonic()
        while True:
            b = s.read(1 << 20)
            if not b:
                break
            d.write(b)
    return t0, time.monotonic() - t0


def wait_count(status, want, every, limit):
    """Poll status() until its Total failed is want: the time, or None."""
    deadline = time.monotonic() + limit
    last = None
    while time.monotonic() < deadline:
        out = status()
        m = re.search(r'Total failed:\s+(\d+)', out or '')
        if m:
            last = int(m.group(1))
            if last >= want:
                return time.monotonic(), last
        time.sleep(every)
    return None, last


def stored(db):
    """The jail's failures in the warden's database (read once it stopped)."""
    con = sqlite3.connect(db)
    try:
        return con.execute('SELECT count(*) FROM failures WHERE jail = ?', (JAIL,)).fetchone()[0]
    finally:
        con.close()


def run_mailwarden(binary, work, log, want):
    d = os.path.join(work, 'mw')
    os.makedirs(d)
    os.chmod(d, 0o755)
    benchlib.mailwarden_user()
    adir = os.path.join(d, 'action.d')
    os.makedirs(adir)
    with open(os.path.join(adir, 'noop.conf'), 'w') as f:
        f.write(NOOP_ACTION)
    followed = os.path.join(d, 'bench.log')
    open(followed, 'w').close()
    os.chmod(followed, 0o644)
    port = free_port()
    conf = os.path.join(d, 'mailwarden.conf')
    benchlib.write_mw_conf(conf, [
        'smtpd_listen = 127.0.0.1:%d' % port,
        'queue_directory = %s/spool' % d, 'data_directory = %s/data' % d,
        'virtual_mailbox_base = %s/mail' % d, 'maillog_file = %s/maillog' % d,
        'myhostname = bench.example', 'mydestination = localhost',
        'dns_servers = 127.0.0.1:9',
        'warden_action_path = %s' % adir,
        'warden_logtarget = %s/warden.log' % d,
        'warden_dbpurgeage = 400d',     # the log's dates are days old: keep its rows
        '[%s]' % JAIL, 'enabled = true', 'filter = %s' % FILTER,
        'logpath = %s' % followed, 'maxretry = 1000000', 'findtime = 31536000',
        'bantime = 600', 'action = noop', 'ignoreip = %s' % IGNOREIP,
    ])
    os.chmod(conf, 0o644)
    err = open(os.path.join(d, 'stderr'), 'w')
    p = subprocess.Popen([binary, '-c', conf], cwd=d, stdout=err, stderr=err,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    ids = {}

    def status():
        r = subprocess.run([binary, '-c', conf, 'status', JAIL], capture_output=True,
                           text=True)
        return r.stdout if r.returncode == 0 else None
    try:
        if wait_count(status, 0, 0.1, 20)[0] is None:
            raise RuntimeError('mailwarden did not answer status:\n' +
                               '\n'.join(benchlib.tail(os.path.join(d, 'stderr'))))
        ids = benchlib.tree_ids(p.pid)
        t0, dt_append = append(log, followed)
        t1, got = wait_count(status, want, 0.02, 120)
        warden = [pid for pid in benchlib.tree(p.pid) if benchlib.comm(pid) == 'warden']
        rss = max([vm_hwm(pid) for pid in warden] or [0])
        # stopped now: the warden commits what it has and exits; a reader
        # of its database while it runs is not what this measures
        killed = benchlib.terminate(p)
        t2 = time.monotonic()
    finally:
        benchlib.terminate(p)
        benchlib.kill_pids(benchlib.leftovers(ids, p.pid))
        err.close()
    n = None if killed else stored(os.path.join(d, 'data', 'warden.db'))
    print('  mailwarden: stopped %.2f s after the first write, %s of %d failures in warden.db'
          % (t2 - t0, n, want))
    return (None if t1 is None else t1 - t0), dt_append, got, rss


def run_fail2ban(work, log, want):
    d = os.path.join(work, 'f2b')
    conf = os.path.join(d, 'conf')
    shutil.copytree('/etc/fail2ban', conf, symlinks=True)
    jd = os.path.join(conf, 'jail.d')
    for n in os.listdir(jd):            # Debian's defaults enable sshd
        os.unlink(os.path.join(jd, n))
    for n in ('jail.local', 'fail2ban.local'):
        if os.path.exists(os.path.join(conf, n)):
            os.unlink(os.path.join(conf, n))
    with open(os.path.join(conf, 'action.d', 'noop.conf'), 'w') as f:
        f.write(NOOP_ACTION)
    sock, pidf = os.path.join(d, 'f2b.sock'), os.path.join(d, 'f2b.pid')
    with open(os.path.join(conf, 'fail2ban.local'), 'w') as f:
        f.write('[Definition]\nlogtarget = %s/f2b.log\nsocket = %s\npidfile = %s\n'
                'dbfile = %s/f2b.sqlite3\ndbpurgeage = 400d\n' % (d, sock, pidf, d))
    followed = os.path.join(d, 'bench.log')
    open(followed, 'w').close()
    with open(os.path.join(conf, 'jail.local'), 'w') as f:
        f.write('[%s]\nenabled = true\nfilter = %s\nlogpath = %s\nmaxretry = 1000000\n'
                'findtime = 31536000\nbantime = 600\naction = noop\nignoreip = %s\n'
                % (JAIL, FILTER, followed, IGNOREIP))
    err = open(os.path.join(d, 'stderr'), 'w')
    p = subprocess.Popen(['fail2ban-server', '-f', '-x', '-c', conf, '-s', sock, '-p', pidf],
                         stdout=err, stderr=err, stdin=subprocess.DEVNULL,
                         start_new_session=True)

    def status():
        r = subprocess.run(['fail2ban-client', '-c', conf, '-s', sock, 'status', JAIL],
                           capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else None
    try:
        if wait_count(status, 0, 0.5, 60)[0] is None:
            raise RuntimeError('fail2ban-server did not answer status:\n' +
                               '\n'.join(benchlib.tail(os.path.join(d, 'stderr'))))
        t0, dt_append = append(log, followed)
        t1, got = wait_count(status, want, 0.5, 600)
        rss = vm_hwm(p.pid)
    finally:
        benchlib.terminate(p, what='fail2ban-server')
        err.close()
    return (None if t1 is None else t1 - t0), dt_append, got, rss


def main(argv):
    binary = os.path.join(ROOT, 'mailwarden')
    n, skip_f2b, keep = 1000000, False, False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == '--bin':
            binary = os.path.abspath(args.pop(0))
        elif a == '--lines':
            n = int(args.pop(0))
        elif a == '--skip-f2b':
            skip_f2b = True
        elif a == '--keep':
            keep = True
        else:
            sys.exit(__doc__)
    if os.geteuid() != 0:
        sys.exit('ingest_bench.py: run as root (mailwarden drops to its own user)')
    benchlib.need_binary(binary, 'build')
    work = tempfile.mkdtemp(prefix='ingest-bench.')
    os.chmod(work, 0o755)
    log = os.path.join(work, 'maillog')
    scan_bench().gen(log, n)
    want = expected_failures(binary, log)
    print('log: %d lines, %.1f MB, %d failures (%s); machine load %.1f' % (
        n, os.path.getsize(log) / 1e6, want, FILTER, os.getloadavg()[0]), flush=True)
    res = {}
    try:
        res['mailwarden (inotify)'] = run_mailwarden(binary, work, log, want)
        print_row('mailwarden (inotify)', n, res['mailwarden (inotify)'], want)
        if not skip_f2b:
            res['fail2ban-server 1.0.2 (polling)'] = run_fail2ban(work, log, want)
            print_row('fail2ban-server 1.0.2 (polling)', n,
                      res['fail2ban-server 1.0.2 (polling)'], want)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print('kept:', work)
    vals = list(res.values())
    if len(vals) == 2 and vals[0][0] and vals[1][0]:
        print('mailwarden counts the lines %.0fx faster than fail2ban-server' % (
            vals[1][0] / vals[0][0]))
    ok = all(v[0] is not None for v in vals) and vals[0][0] < 1.0
    print('target (mailwarden < 1 s): %s' % ('met' if ok else 'NOT met'))
    return 0 if all(v[0] is not None for v in vals) else 1


def print_row(label, n, r, want):
    dt, dt_append, got, rss = r
    if dt is None:
        print('%-34s NOT DONE: %s of %d failures counted' % (label, got, want), flush=True)
        return
    print('%-34s %8.2f s to count %d failures (append alone %.2f s)  %10.0f lines/s  '
          'peak RSS %6.1f MB' % (label, dt, want, dt_append, n / dt, rss / 1024), flush=True)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
