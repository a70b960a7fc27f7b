"""Durability: a message that got a 250 is never lost, whatever is killed
when. Clients send 1,000 messages in parallel while the whole program
(its process group: parent and every child) is SIGKILLed at random moments
and restarted; afterwards every acknowledged message must be in a mailbox
(duplicates are tolerated, missing or truncated never)."""
import os
import random
import re
import socket
import signal
import threading
import time

from conftest import Conn, list_files

N_MESSAGES = 1000
N_CLIENTS = 4
N_KILLS = 4
RCPTS = ["alice@example.com", "bob@example.net"]


def body(n):
    # several lines and a known last line, to detect truncated deliveries
    lines = [f"line {i} of message {n} " + "x" * 40 for i in range(20)]
    return ("From: load@example.org\r\n"
            f"To: {RCPTS[n % 2]}\r\n"
            f"Subject: dur-{n}\r\n"
            f"Message-ID: <dur-{n}@client.test.example>\r\n"
            "\r\n" + "\r\n".join(lines) + f"\r\nEND-OF-MESSAGE-{n}\r\n.\r\n").encode()


class Clients:
    def __init__(self, server):
        self.s = server
        self.lock = threading.Lock()
        self.todo = list(range(N_MESSAGES))
        self.acked = set()
        self.refused = {}       # n -> last non-250 reply (after DATA)
        self.errors = 0
        self.stop = False
        self.exc = []

    def take(self):
        with self.lock:
            return self.todo.pop() if self.todo else None

    def give_back(self, n):
        with self.lock:
            self.todo.append(n)

    def run(self):
        try:
            self._run()
        except BaseException as e:   # reported by the main thread
            self.exc.append(e)

    def _run(self):
        c = None
        while not self.stop:
            n = self.take()
            if n is None:
                break
            try:
                if c is None:
                    c = Conn(self.s.host, self.s.port, timeout=10)
                    if not c.banner.startswith("220"):
                        raise OSError(f"banner {c.banner!r}")
                    if not c.cmd("EHLO load.test.example").startswith("250"):
                        raise OSError("EHLO")
                r = c.cmd("MAIL FROM:<load@example.org>")
                if not r.startswith("250"):
                    raise OSError(f"MAIL {r!r}")
                r = c.cmd(f"RCPT TO:<{RCPTS[n % 2]}>")
                if not r.startswith("250"):
                    raise OSError(f"RCPT {r!r}")
                r = c.cmd("DATA")
                if not r.startswith("354"):
                    raise OSError(f"DATA {r!r}")
                c.send(body(n))
                r = c.reply(timeout=10)
                if r.startswith("250 "):
                    with self.lock:
                        self.acked.add(n)
                else:
                    # no 250 (connection lost or 4xx while dying): the client
                    # must retry; the message may or may not arrive
                    raise OSError(f"end of DATA {r!r}")
            except (OSError, socket.timeout, ValueError):
                with self.lock:
                    self.errors += 1
                self.give_back(n)
                if c is not None:
                    c.close()
                    c = None
                time.sleep(0.02)
        if c is not None:
            try:
                c.cmd("QUIT", timeout=2)
            except OSError:
                pass
            c.close()


def delivered_ids(server):
    """Message numbers found in the mailboxes, with counts, and a list of
    files that are not complete messages."""
    seen = {}
    broken = []
    for rc in RCPTS:
        for p in list_files(server.mailbox(rc)):
            with open(p, "rb") as f:
                data = f.read()
            m = re.search(rb"^Message-ID: <dur-(\d+)@", data, re.M)
            if not m:
                broken.append(p)
                continue
            n = int(m.group(1))
            if not data.endswith(f"END-OF-MESSAGE-{n}\n".encode()):
                broken.append(p)
            seen[n] = seen.get(n, 0) + 1
    return seen, broken


def test_sigkill_never_loses_acknowledged_mail(make_server):
    s = make_server(extra=["smtpd_timeout = 20s"])
    rnd = random.Random(os.environ.get("MW_SEED", time.time_ns()))
    cl = Clients(s)
    threads = [threading.Thread(target=cl.run, daemon=True) for _ in range(N_CLIENTS)]
    t0 = time.time()
    for t in threads:
        t.start()

    # kill at random moments spread over the run: when progress passes a
    # random threshold, after a random extra delay
    thresholds = sorted(rnd.sample(range(50, N_MESSAGES - 100), N_KILLS))
    kills = 0
    for th in thresholds:
        while len(cl.acked) < th and any(t.is_alive() for t in threads):
            if time.time() - t0 > 45:
                break
            time.sleep(0.002)
        time.sleep(rnd.uniform(0, 0.05))
        s.kill9()
        kills += 1
        time.sleep(rnd.uniform(0, 0.2))
        s.restart()
    for t in threads:
        t.join(timeout=max(1, 50 - (time.time() - t0)))
    cl.stop = True
    assert not cl.exc, cl.exc
    assert not any(t.is_alive() for t in threads), \
        f"clients did not finish: {len(cl.acked)} acked, {len(cl.todo)} to do"
    assert kills == N_KILLS
    assert len(cl.acked) == N_MESSAGES, f"only {len(cl.acked)} messages acknowledged"

    # one last kill while the queue may still be delivering, then a restart
    s.kill9()
    s.restart()
    deadline = time.time() + 30
    while time.time() < deadline:
        seen, _ = delivered_ids(s)
        if not s.spool_files() and cl.acked <= set(seen):
            break
        time.sleep(0.2)
    seen, broken = delivered_ids(s)
    missing = sorted(cl.acked - set(seen))
    dups = {n: c for n, c in seen.items() if c > 1}
    print(f"durability: {len(cl.acked)} acked, {len(seen)} delivered, "
          f"{len(dups)} duplicated, {cl.errors} client retries, {kills + 1} kills, "
          f"{time.time() - t0:.1f}s")
    assert not broken, f"truncated or foreign files in mailboxes: {broken[:10]}"
    assert not missing, (f"{len(missing)} acknowledged message(s) lost, e.g. "
                         f"{missing[:20]}\n--- maillog tail:\n{s.log()[-3000:]}")
    left = [(os.path.relpath(p, s.spool), os.path.getsize(p)) for p in s.spool_files()]
    assert left == [], (f"queue not empty 30 s after the final restart (file, size): {left[:10]}; "
                        "files left by killed sessions (never acknowledged) should be "
                        "removed at start-up, not kept as if still being written")
    # Maildir tmp/ may keep debris of killed deliveries, but nothing in new/
    # is unknown (checked above) and nothing unacknowledged is required.


def local_pid(server):
    """The local delivery process (comm "local") among the parent's children."""
    from conftest import pids_with, proc_stat
    for k in pids_with(4, server.proc.pid):
        st = proc_stat(k)
        if st is not None and st[2] == "local":
            return k
    return None


def test_sigkill_of_local_delivery_loses_nothing(make_server):
    """Only the local delivery process is SIGKILLed, at random moments while
    the queue manager hands it batches: the qmgr never removes a queue file
    whose copies were not confirmed durable, the pair is restarted, and
    every acknowledged message ends up in a mailbox, complete."""
    s = make_server(extra=["smtpd_timeout = 20s"])
    rnd = random.Random(os.environ.get("MW_SEED", time.time_ns()))
    cl = Clients(s)
    threads = [threading.Thread(target=cl.run, daemon=True) for _ in range(N_CLIENTS)]
    t0 = time.time()
    for t in threads:
        t.start()
    kills = 0
    for th in sorted(rnd.sample(range(50, N_MESSAGES - 100), N_KILLS)):
        while len(cl.acked) < th and any(t.is_alive() for t in threads):
            if time.time() - t0 > 45:
                break
            time.sleep(0.002)
        time.sleep(rnd.uniform(0, 0.05))
        pid = local_pid(s)
        if pid is None:         # the pair is being restarted
            time.sleep(1.5)
            pid = local_pid(s)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            kills += 1
    for t in threads:
        t.join(timeout=max(1, 50 - (time.time() - t0)))
    cl.stop = True
    assert not cl.exc, cl.exc
    assert kills >= N_KILLS - 1, kills
    deadline = time.time() + 30
    while time.time() < deadline:
        seen, _ = delivered_ids(s)
        if not s.spool_files() and cl.acked <= set(seen):
            break
        time.sleep(0.2)
    seen, broken = delivered_ids(s)
    missing = sorted(cl.acked - set(seen))
    print(f"local kills: {len(cl.acked)} acked, {len(seen)} delivered, {kills} kills")
    assert len(cl.acked) == N_MESSAGES
    assert not broken, f"truncated or foreign files in mailboxes: {broken[:10]}"
    assert not missing, (f"{len(missing)} acknowledged message(s) lost, e.g. {missing[:20]}"
                         f"\n--- maillog tail:\n{s.log()[-3000:]}")
    assert s.spool_files() == [], s.spool_files()[:10]
    s.wait_log(r"warning: process local pid \d+ exit killed by signal 9")
