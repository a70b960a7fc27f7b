"""flood_clients.py - the client side of flood_bench.py: each function
here runs in a process of its own (multiprocessing, fork) or, for single
sessions, in the bench itself.

  legit_login / legit_proc   a user from 127.0.0.1 logging in (AUTH PLAIN -> 235)
  flood_proc                 the attackers (asyncio), in their network namespace
  slow_proc                  clients trickling one byte every few seconds
  legit_mail                 one message from 127.0.0.1, timed to 220 and 250

Times are seconds on the monotonic clock relative to T0 (this module's
import, before the bench forks anything), so the bench can put the clients'
events and its own on one axis.
"""
import asyncio
import base64
import ctypes
import os
import selectors
import signal
import socket
import time

from benchlib import envint

PORT = envint("BENCH_PORT", 2550)
SERVER6 = "2001:db8:1::25"
USER, PASSWORD = "legit@d2.example", "legit-secret-1"
T0 = time.monotonic()


def b64(s):
    return base64.b64encode(s.encode()).decode()


AUTH_BAD = ("AUTH PLAIN %s\r\n" % b64("\0%s\0wrong-password" % USER)).encode()
AUTH_GOOD = ("AUTH PLAIN %s\r\n" % b64("\0%s\0%s" % (USER, PASSWORD))).encode()



CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def netns_enter(name):
    """Move this (single-threaded) process into network namespace name."""
    fd = os.open("/run/netns/%s" % name, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (name, os.strerror(e)))
    finally:
        os.close(fd)



class Reader:
    """Replies of a blocking socket: code of the last line (None on EOF)."""

    def __init__(self, s):
        self.s, self.buf = s, b""

    def reply(self):
        while True:
            while b"\n" not in self.buf:
                d = self.s.recv(4096)
                if not d:
                    return None, ""
                self.buf += d
            line, self.buf = self.buf.split(b"\n", 1)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]) if line[:3].isdigit() else -1, line.decode(errors="replace")

    def cmd(self, data):
        self.s.sendall(data)
        return self.reply()


def legit_login():
    """One session from 127.0.0.1: EHLO, AUTH PLAIN with the right password.
    {auth_ms: AUTH sent -> reply, code, total_ms}."""
    t0 = time.monotonic()
    rec = {"t": t0 - T0}
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=30,
                                      source_address=("127.0.0.1", 0)) as s:
            c = Reader(s)
            if c.reply()[0] != 220 or c.cmd(b"EHLO legit.example\r\n")[0] != 250:
                rec["code"] = "banner/EHLO"
                return rec
            t = time.monotonic()
            rec["code"], text = c.cmd(AUTH_GOOD)
            rec["auth_ms"] = (time.monotonic() - t) * 1000
            if rec["code"] != 235:
                rec["reply"] = text
            s.sendall(b"QUIT\r\n")
    except OSError as e:
        rec["code"] = repr(e)
    rec["total_ms"] = (time.monotonic() - t0) * 1000
    return rec


def child_init():
    """Client processes leave Ctrl-C to the bench, which cleans up and
    stops them (SIGTERM, default action) on its way out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def legit_proc(end_at, interval, q):
    child_init()
    out, nxt = [], time.monotonic()
    while nxt < end_at:
        time.sleep(max(0.0, nxt - time.monotonic()))
        out.append(legit_login())
        nxt = max(nxt + interval, time.monotonic())
    q.put(out)


# ---------------------------------------------------------------- the flood

async def a_reply(r):
    """Code of the last line of a reply (None on EOF)."""
    while True:
        line = await r.readline()
        if not line:
            return None
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]) if line[:3].isdigit() else -1


class Pacer:
    """One token every 1/rate s, no burst: attempts spread evenly."""

    def __init__(self, rate):
        self.gap, self.next = 1.0 / rate, time.monotonic()

    async def take(self):
        now = time.monotonic()
        t = max(now, self.next)
        self.next = t + self.gap
        if t > now:
            await asyncio.sleep(t - now)


def bump(d, k, n=1):
    d[k] = d.get(k, 0) + n


async def attacker(addr, pacer, st, stop):
    """One attacking address: each token is one attempt, a wrong password
    on the open session, or a new connection (banner, EHLO, AUTH) when
    there is none. Anything but 535 closes the session."""
    r = w = None
    while not stop.is_set():
        await pacer.take()
        if stop.is_set():
            break
        st["attempts"] += 1
        bump(st["tries_per_s"], int(time.monotonic() - st["t0"]))
        phase = "blocked" if w is None else "replies"
        try:
            if w is None:
                try:
                    r, w = await asyncio.wait_for(asyncio.open_connection(
                        SERVER6, PORT, local_addr=(addr, 0)), 2)
                except asyncio.TimeoutError:
                    bump(st["blocked"], "connect timeout (dropped)")
                    continue
                except ConnectionRefusedError:
                    bump(st["blocked"], "connect refused")
                    continue
                code = await asyncio.wait_for(a_reply(r), 10)
                if code == 220:
                    w.write(b"EHLO attacker.example\r\n")
                    code = await asyncio.wait_for(a_reply(r), 10)
                    code = 250 if code == 250 else "EHLO %s" % code
                if code != 250:
                    bump(st["blocked"], "banner %s" % ("EOF" if code is None else code))
                    w.transport.abort()
                    w = None
                    continue
                st["sessions"] += 1
                phase = "replies"
            w.write(AUTH_BAD)
            st["auth_sent"] += 1
            bump(st["sent_per_s"], int(time.monotonic() - st["t0"]))
            try:
                code = await asyncio.wait_for(a_reply(r), 12)
            except asyncio.CancelledError:
                bump(st["replies"], "none by the end")
                raise
            bump(st["replies"], "EOF" if code is None else code)
            if code == 535:
                bump(st["fail_per_s"], int(time.monotonic() - st["t0"]))
                continue
        except (asyncio.TimeoutError, OSError) as e:
            bump(st[phase],
                 "timeout" if isinstance(e, asyncio.TimeoutError) else type(e).__name__)
        if w is not None:
            w.transport.abort()
            w = None
    if w is not None:
        w.transport.abort()


async def flood_main(addrs, rate, duration, q):
    st = {"attempts": 0, "sessions": 0, "auth_sent": 0, "blocked": {}, "replies": {},
          "sent_per_s": {}, "fail_per_s": {}, "tries_per_s": {}, "t0": time.monotonic()}
    stop = asyncio.Event()
    pacer = Pacer(rate)
    tasks = [asyncio.ensure_future(attacker(a, pacer, st, stop)) for a in addrs]
    await asyncio.sleep(duration)
    stop.set()
    await asyncio.sleep(0.2)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    st["t0"] -= T0
    q.put(st)


def flood_proc(ns, addrs, rate, duration, q):
    child_init()
    netns_enter(ns)
    asyncio.run(flood_main(addrs, rate, duration, q))


# ---------------------------------------------------------------- slow clients

def slow_proc(n, first, every, duration, q):
    """n slow clients from 127.2.x.y (numbered from first): wait for the
    220, then send one byte of a HELO line every `every` s, never a whole
    line. Records per client connect, 220 and cut times (relative to T0)
    and the server's last words."""
    child_init()
    sel = selectors.DefaultSelector()
    cl = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        k = first + i
        s.bind(("127.2.%d.%d" % (k // 200, k % 200 + 1), 0))
        try:
            s.connect(("127.0.0.1", PORT))
        except BlockingIOError:
            pass
        c = {"s": s, "buf": b"", "t_conn": time.monotonic() - T0, "t220": None, "t_cut": None,
             "last": "", "sent": 0}
        cl.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    end = time.monotonic() + duration
    nxt = time.monotonic() + every
    line = b"HELO " + b"x" * 4000
    while time.monotonic() < end and any(c["t_cut"] is None for c in cl):
        for key, _ in sel.select(timeout=0.2):
            c = key.data
            try:
                d = c["s"].recv(4096)
            except BlockingIOError:
                continue
            except OSError as e:
                d, c["last"] = b"", repr(e)
            now = time.monotonic() - T0
            if not d:
                c["t_cut"] = now
                sel.unregister(c["s"])
                c["s"].close()
                continue
            c["buf"] += d
            if c["t220"] is None and c["buf"].startswith(b"220"):
                c["t220"] = now
            c["last"] = c["buf"].rstrip().split(b"\n")[-1].decode(errors="replace")[:80]
        if time.monotonic() >= nxt:
            nxt += every
            for c in cl:
                if c["t220"] is not None and c["t_cut"] is None:
                    try:
                        c["s"].send(line[c["sent"]:c["sent"] + 1])
                        c["sent"] += 1
                    except OSError:
                        pass
    for c in cl:
        if c["t_cut"] is None:
            c["s"].close()
        del c["s"], c["buf"]
    q.put(cl)


def legit_mail():
    """A client from 127.0.0.1 that sends one message: seconds to its 220
    and to the 250 after DATA."""
    t0 = time.monotonic()
    rec = {"t": t0 - T0}
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=90) as s:
            c = Reader(s)
            code, text = c.reply()
            rec["t220"] = time.monotonic() - t0
            if code != 220:
                rec["error"] = "banner %s %s" % (code, text)
                return rec
            for cmd, want in ((b"EHLO legit.example\r\n", 250),
                              (b"MAIL FROM:<sender@example.org>\r\n", 250),
                              (b"RCPT TO:<user@d1.example>\r\n", 250), (b"DATA\r\n", 354),
                              (b"Subject: stress\r\n\r\nserved under stress\r\n.\r\n", 250)):
                code, text = c.cmd(cmd)
                if code != want:
                    rec["error"] = "%s -> %s %s" % (cmd[:10], code, text)
                    return rec
            rec["t250"] = time.monotonic() - t0
            rec["reply"] = text
            s.sendall(b"QUIT\r\n")
    except OSError as e:
        rec["error"] = repr(e)
    return rec
