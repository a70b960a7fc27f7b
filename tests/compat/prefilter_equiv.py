#!/usr/bin/env python3
"""prefilter_equiv -- the prefilter and the threads of `mailwarden scan`
never change an answer.

Every filter of /etc/fail2ban/filter.d (and fail2ban's test filters), in
each mode it defines (mdre-MODE) and with each set of options fail2ban's
test logs give it (# filterOptions:, read by run_fail2ban_logs.collect),
runs over all of fail2ban's test logs
joined into one file (each log's lines are negatives for the other
filters), three ways, under fail2ban's test clock and zone:
    scan --json-lines --no-prefilter --threads 1   (every regex, every line)
    scan --json-lines --threads 1                  (prefilter on)
    scan --json-lines --threads 7                  (prefilter, 7 pieces)
The three outputs (match or not, host, time, user, for every line) must be
identical.

Usage: prefilter_equiv.py [--bin PATH] [FILTER...]; non-zero exit on a
difference. Last line: "N specs, N equal, N differ".
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_fail2ban_logs as compat  # noqa: E402

TEST_NOW = 1124013600
TEST_TZ = 'CET-01CEST-02,M3.5.0,M10.5.0'
LOGDIR = '/usr/lib/python3/dist-packages/fail2ban/tests/files/logs'
DIRS = ['/etc/fail2ban/filter.d',
        '/usr/lib/python3/dist-packages/fail2ban/tests/config/filter.d']
MODE_RE = re.compile(r'^mdre-([\w]+)\s*=', re.M)


def specs():
    """-> sorted list of (filter name, spec, journal)."""
    out = set()
    seen = set()
    for d in DIRS:
        for path in sorted(glob.glob(os.path.join(d, '*.conf'))):
            name = os.path.basename(path)[:-5]
            if name in seen or name.endswith('-common') or name == 'common':
                continue
            seen.add(name)
            out.add((name, name, False))
            with open(path, errors='replace') as fp:
                for m in set(MODE_RE.findall(fp.read())):
                    out.add((name, '%s[mode=%s]' % (name, m), False))
    for path in glob.glob(os.path.join(LOGDIR, '*')):
        name = os.path.basename(path)
        if not os.path.isfile(path) or name not in seen:
            continue
        cases, _ = compat.collect(LOGDIR, name)
        for spec, journal, _ in cases.values():
            out.add((name, spec, journal))
    return sorted(out)


def joined_log(tmp):
    out = os.path.join(tmp, 'all.log')
    with open(out, 'wb') as dst:
        for path in sorted(glob.glob(os.path.join(LOGDIR, '*'))):
            if os.path.isfile(path):
                with open(path, 'rb') as src:
                    data = src.read()
                dst.write(data if data.endswith(b'\n') else data + b'\n')
    return out


def run(binary, log, spec, journal, extra):
    cmd = [binary, 'scan', log, spec, '--json-lines', '--now', str(TEST_NOW),
           '--builtin-only'] + sum((['--filter-dir', d] for d in DIRS), []) + extra
    if journal:
        cmd.append('--journal')
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=dict(os.environ, TZ=TEST_TZ))
    return p.returncode, p.stdout


def main(argv):
    binary = os.path.abspath('mailwarden')
    only = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == '--bin':
            binary = os.path.abspath(args.pop(0))
        else:
            only.append(a)
    tmp = tempfile.mkdtemp(prefix='prefilter-equiv.')
    log = joined_log(tmp)
    n = same = differ = 0
    for name, spec, journal in specs():
        if only and name not in only:
            continue
        base_rc, base = run(binary, log, spec, journal,
                            ['--no-prefilter', '--threads', '1'])
        if base_rc != 0:
            continue        # a filter mailwarden refuses (said by the compat run)
        n += 1
        bad = []
        for extra in (['--threads', '1'], ['--threads', '7']):
            rc, out = run(binary, log, spec, journal, extra)
            if rc != base_rc or out != base:
                bad.append(' '.join(extra))
        if bad:
            differ += 1
            print('DIFFER %s (%s)' % (spec, ', '.join(bad)))
        else:
            same += 1
    os.unlink(log)
    os.rmdir(tmp)
    print('%d specs, %d equal, %d differ' % (n, same, differ))
    return 1 if differ or n == 0 else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
