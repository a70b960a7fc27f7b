"""
`mailwarden scan` on a log with thousands of offending addresses: every
address counted exactly, listed in the order of its first failure, with
one thread and with the log split over several (the address hash grows
from 1,024 slots while it counts; the threads' failures are merged in file
order).
"""
import os
import random
import re
import subprocess

BIN = os.path.abspath(os.environ.get("MAILWARDEN_BIN", "./mailwarden"))


def write_log(path, naddr=3000, seed=12):
    rnd = random.Random(seed)
    addrs = ['10.%d.%d.%d' % (i >> 16 & 255, i >> 8 & 255, i & 255) for i in range(1, naddr)]
    addrs += ['2001:db8::%x' % i for i in range(1, 200)]
    want, order = {}, []
    with open(path, 'w') as f:
        for n in range(60000):
            t = 'Nov 27 %02d:%02d:%02d' % (n // 3600 % 24, n // 60 % 60, n % 60)
            if rnd.random() < 0.4:
                a = rnd.choice(addrs)
                if a not in want:
                    order.append(a)
                want[a] = want.get(a, 0) + 1
                f.write('%s mx sshd[%d]: Failed password for root from %s port 22 ssh2\n'
                        % (t, n, a))
            else:
                f.write('%s mx sshd[%d]: Accepted publickey for bob from 198.51.100.7 '
                        'port 22 ssh2\n' % (t, n))
    return want, order


def scan(log, threads):
    r = subprocess.run([BIN, 'scan', log, 'sshd', '--builtin-only', '--threads',
                        str(threads), '--now', '1764300000'],
                       capture_output=True, text=True, check=True,
                       env=dict(os.environ, TZ='UTC'))
    return r.stdout


def test_thousands_of_addresses_counted_in_order(tmp_path):
    log = tmp_path / 'auth.log'
    want, order = write_log(str(log))
    assert len(want) > 2000    # the hash doubles a few times
    outs = [scan(str(log), t) for t in (1, 3)]
    assert outs[0] == outs[1]
    got = re.findall(r'^  (\S+) (\d+)$', outs[0], re.M)
    assert [a for a, _ in got] == order
    assert {a: int(n) for a, n in got} == want
    m = re.search(r'Lines: (\d+), matched: (\d+)', outs[0])
    assert (int(m.group(1)), int(m.group(2))) == (60000, sum(want.values()))


JUNCTION = """[Definition]
failregex = ^\\[\\] bad <HOST>$
datepattern = {^LN-BEG}
"""


def test_key_search_same_as_every_line(tmp_path):
    """Split over threads, scan searches the whole piece for a literal and
    feeds only the lines holding it; the answers must be those of every
    line through every regex: a literal that exists only once the date is
    cut out ("[" + date + "] bad"), lines without a date taking the date of
    the last dated line before them, however far back, and lines long
    enough to span pieces."""
    conf = tmp_path / 'junction.conf'
    conf.write_text(JUNCTION)
    rnd = random.Random(5)
    lines = []
    for n in range(40000):
        r = rnd.random()
        t = '2005-08-%02d %02d:%02d:%02d' % (10 + n // 10000, n // 600 % 24, n // 10 % 60, n % 60)
        if r < 0.05:
            lines.append('[%s] bad 192.0.2.%d' % (t, n % 250))     # only across the cut
        elif r < 0.08:
            lines.append('[] bad 198.51.100.%d' % (n % 250))        # no date: the last one
        elif r < 0.10:
            lines.append('[%s] good 192.0.2.1 %s' % (t, 'x' * rnd.randint(0, 3000)))
        elif r < 0.30:
            lines.append('no date at all here %d' % n)              # skipped, undated
        else:
            lines.append('[%s] something else %d' % (t, n))
    log = tmp_path / 'j.log'
    log.write_text('\n'.join(lines) + '\n')

    def run(*extra):
        r = subprocess.run([BIN, 'scan', str(log), str(conf), '--json-lines', '--now',
                            '1124000000'] + list(extra), capture_output=True, text=True,
                           check=True, env=dict(os.environ, TZ='UTC'))
        return r.stdout
    every = run('--no-prefilter', '--threads', '1')
    assert every.count('"match": true') > 3000
    for t in ('2', '3', '8'):
        assert run('--threads', t) == every, t
