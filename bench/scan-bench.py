#!/usr/bin/env python3
"""scan-bench -- `mailwarden scan` against `fail2ban-regex` on one maillog.

Writes a Postfix 3.7-style maillog (fixed seed: the same file every run)
of N lines: connect/disconnect, cleanup/qmgr/smtp delivery, NOQUEUE
rejects, lost connections and SASL failures from many IPv4 and IPv6
clients. Then runs, on the same file,
    mailwarden scan LOG 'postfix[mode=auth]'                (Debian's postfix.conf)
    mailwarden scan LOG 'postfix[mode=auth]' --builtin-only (our built-in)
    fail2ban-regex -o ip LOG 'postfix[mode=auth]'           (-c /etc/fail2ban)
and prints lines/s, the ratio, peak RSS (/usr/bin/time -v) and whether
all found the same set of offending addresses. mailwarden scan uses its
defaults: the literal prefilter, the file mapped and split over the CPUs
(one thread each; the CPU count and load average are printed).

Usage: scan-bench.py [--bin PATH] [--lines N] [--f2b-lines N] [--keep]
  --f2b-lines N   give fail2ban-regex only the first N lines (it is slow);
                  its rate is then measured on those, and the address sets
                  are compared on those N lines too.
"""
import os
import random
import re
import subprocess
import sys
import tempfile
import time

SEED = 20261128


def gen(path, n):
    rnd = random.Random(SEED)
    bad4 = ['%d.%d.%d.%d' % (rnd.randint(1, 223), rnd.randint(0, 255),
                             rnd.randint(0, 255), rnd.randint(1, 254)) for _ in range(3000)]
    bad6 = ['2001:db8:%x:%x::%x' % (rnd.randint(0, 0xffff), rnd.randint(0, 0xffff),
                                    rnd.randint(1, 0xffff)) for _ in range(1000)]
    good = ['198.51.%d.%d' % (rnd.randint(0, 255), rnd.randint(1, 254)) for _ in range(2000)]
    names = ['mail.example.com', 'mx1.example.net', 'unknown', 'smtp.example.org',
             'host-%d.dyn.example.com']
    mons = ['Nov']
    qid = lambda: ''.join(rnd.choice('0123456789ABCDEF') for _ in range(11))
    t0 = 60
    with open(path, 'w') as fp:
        for i in range(n):
            t = int(t0 + i * 86000 / n)
            ts = '%s %2d %02d:%02d:%02d' % (mons[0], 27, t // 3600, t // 60 % 60, t % 60)
            pid = rnd.randint(1000, 60000)
            r = rnd.random()
            name = rnd.choice(names)
            if '%d' in name:
                name = name % rnd.randint(1, 9999)
            if r < 0.10:        # SASL failure
                ip = rnd.choice(bad4) if rnd.random() < 0.7 else rnd.choice(bad6)
                mech = rnd.choice(['LOGIN', 'PLAIN', 'LOGIN', 'CRAM-MD5'])
                why = rnd.choice(['UGFzc3dvcmQ6', 'authentication failure',
                                  '(reason unavailable)'])
                svc = rnd.choice(['smtpd', 'submission/smtpd', 'smtps/smtpd'])
                line = 'postfix/%s[%d]: warning: %s[%s]: SASL %s authentication failed: %s' % (
                    svc, pid, 'unknown', ip, mech, why)
                if rnd.random() < 0.3:
                    line += ', sasl_username=user%d@example.com' % rnd.randint(1, 500)
            elif r < 0.12:      # SASL failure we must not count (auth server down)
                ip = rnd.choice(good)
                line = ('postfix/smtpd[%d]: warning: %s[%s]: SASL LOGIN authentication '
                        'failed: Connection lost to authentication server' % (pid, name, ip))
            elif r < 0.30:
                ip = rnd.choice(good + bad4[:200])
                line = 'postfix/smtpd[%d]: connect from %s[%s]' % (pid, name, ip)
            elif r < 0.45:
                ip = rnd.choice(good + bad4[:200])
                line = ('postfix/smtpd[%d]: disconnect from %s[%s] ehlo=1 mail=1 rcpt=1 '
                        'data=1 quit=1 commands=5' % (pid, name, ip))
            elif r < 0.52:
                ip = rnd.choice(good)
                line = 'postfix/smtpd[%d]: %s: client=%s[%s]' % (pid, qid(), name, ip)
            elif r < 0.60:
                line = 'postfix/cleanup[%d]: %s: message-id=<%x@example.com>' % (
                    pid, qid(), rnd.getrandbits(48))
            elif r < 0.70:
                line = ('postfix/qmgr[%d]: %s: from=<user%d@example.com>, size=%d, nrcpt=1 '
                        '(queue active)' % (pid, qid(), rnd.randint(1, 999), rnd.randint(500, 90000)))
            elif r < 0.82:
                line = ('postfix/smtp[%d]: %s: to=<rcpt%d@example.net>, relay=mx.example.net'
                        '[203.0.113.%d]:25, delay=0.%d, delays=0.1/0/0.2/0.2, dsn=2.0.0, '
                        'status=sent (250 2.0.0 Ok: queued as %s)' % (
                            pid, qid(), rnd.randint(1, 999), rnd.randint(1, 254),
                            rnd.randint(1, 9), qid()))
            elif r < 0.90:
                line = 'postfix/qmgr[%d]: %s: removed' % (pid, qid())
            elif r < 0.96:
                ip = rnd.choice(good + bad4[:500])
                line = ('postfix/smtpd[%d]: NOQUEUE: reject: RCPT from %s[%s]: 554 5.7.1 '
                        '<x%d@example.org>: Relay access denied; from=<a@example.com> '
                        'to=<x@example.org> proto=ESMTP helo=<%s>' % (
                            pid, name, ip, rnd.randint(1, 99), rnd.choice(['a', 'ylmf-pc', name])))
            else:
                ip = rnd.choice(good + bad6[:100])
                line = 'postfix/smtpd[%d]: lost connection after AUTH from %s[%s]' % (
                    pid, name, ip)
            fp.write('%s mx %s\n' % (ts, line))


def timed(cmd, out_path):
    t = time.monotonic()
    with open(out_path, 'w') as out:
        p = subprocess.run(['/usr/bin/time', '-v'] + cmd, stdout=out,
                           stderr=subprocess.PIPE, text=True)
    dt = time.monotonic() - t
    if p.returncode != 0:
        sys.exit('failed (%d): %s\n%s' % (p.returncode, ' '.join(cmd), p.stderr[-2000:]))
    rss = re.search(r'Maximum resident set size \(kbytes\): (\d+)', p.stderr)
    return dt, int(rss.group(1)) if rss else 0


def scan_addrs(path):
    got = set()
    for l in open(path):
        m = re.match(r'^  (\S+) \d+$', l)
        if m:
            got.add(m.group(1))
    return got


def f2b_addrs(path):
    got = set()
    for l in open(path):
        l = l.strip()
        if re.match(r'^[0-9a-fA-F:.]+$', l) and ('.' in l or ':' in l):
            got.add(l)
    return got


def main(argv):
    binary = os.path.abspath('build/mailwarden' if os.path.exists('build/mailwarden')
                             else 'mailwarden')
    n, fn, keep = 1000000, None, False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == '--bin':
            binary = os.path.abspath(args.pop(0))
        elif a == '--lines':
            n = int(args.pop(0))
        elif a == '--f2b-lines':
            fn = int(args.pop(0))
        elif a == '--keep':
            keep = True
        else:
            sys.exit(__doc__)
    fn = fn or n
    tmp = tempfile.mkdtemp(prefix='scan-bench.')
    log = os.path.join(tmp, 'maillog')
    gen(log, n)
    print('log: %s, %d lines, %.1f MB, seed %d' % (log, n, os.path.getsize(log) / 1e6, SEED))
    # scan splits the log over the CPUs (one thread each): a shared machine
    # shows in the figures, so say how shared it was
    print('CPUs: %d, load average %.1f %.1f %.1f' % ((os.cpu_count(),) + os.getloadavg()))
    env_tz = dict(os.environ, TZ='UTC')
    os.environ.update(env_tz)
    res = {}
    for label, extra in (('mailwarden scan (Debian postfix.conf)', []),
                         ('mailwarden scan (built-in postfix)', ['--builtin-only'])):
        out = os.path.join(tmp, 'scan%d.out' % len(res))
        dt, rss = timed([binary, 'scan', log, 'postfix[mode=auth]'] + extra, out)
        res[label] = (n, dt, rss, scan_addrs(out))
    flog = log
    if fn < n:
        flog = os.path.join(tmp, 'maillog.head')
        with open(log) as src, open(flog, 'w') as dst:
            for i, l in enumerate(src):
                if i >= fn:
                    break
                dst.write(l)
        out = os.path.join(tmp, 'scanhead.out')
        timed([binary, 'scan', flog, 'postfix[mode=auth]'], out)
        head_addrs = scan_addrs(out)
    out = os.path.join(tmp, 'f2b.out')
    dt, rss = timed(['fail2ban-regex', '-c', '/etc/fail2ban', '-o', 'ip', flog,
                     'postfix[mode=auth]'], out)
    res['fail2ban-regex'] = (fn, dt, rss, f2b_addrs(out))
    for label, (lines, dt, rss, addrs) in res.items():
        print('%-40s %8d lines %8.2f s %12.0f lines/s  peak RSS %7.1f MB  %d addresses' % (
            label, lines, dt, lines / dt, rss / 1024, len(addrs)))
    f2b_rate = res['fail2ban-regex'][0] / res['fail2ban-regex'][1]
    for label in list(res)[:2]:
        r = res[label][0] / res[label][1]
        print('%-40s %.1fx fail2ban-regex lines/s' % (label, r / f2b_rate))
    ref = res['fail2ban-regex'][3]
    mine = res['mailwarden scan (Debian postfix.conf)'][3] if fn == n else head_addrs
    same = mine == ref
    print('same addresses: %s (%d)' % ('yes' if same else 'no', len(ref)))
    if fn == n:
        b = res['mailwarden scan (built-in postfix)'][3]
        print('same addresses, built-in: %s (%d)' % ('yes' if b == ref else 'no', len(b)))
    if not same:
        print('  only mailwarden:', sorted(mine - ref)[:10])
        print('  only fail2ban:', sorted(ref - mine)[:10])
    if not keep:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    return 0 if same else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
