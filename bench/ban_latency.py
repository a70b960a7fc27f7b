#!/usr/bin/python3
"""
ban_latency.py — from the failure that reaches maxretry to the ban being
in force, for both sources of failures of the ban engine:

  engine   an attacker host (network namespace, real nft) fails SMTP AUTH
           twice; t0 = the client has the second 535 (the engine sends its
           event to the warden before that reply), t1 = the warden has
           applied the nft ban and rewritten the bans file the engine
           checks at accept (queue_directory/warden/bans; private/bans
           before the privilege-separation work, for comparisons). The nft element is checked too.
  logfile  a followed sshd log (inotify) gets the second "Failed password"
           line of an address; t0 = the write, t1 = the bans file written (a journal line appended; a whole rewrite before issue 11).

Run as root from the repository root:  bench/ban_latency.py [N]
MAILWARDEN_BIN picks the binary (default ./mailwarden).
"""
import base64
import os
import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
from netns import Pair, sh  # noqa: E402

BIN = os.path.abspath(os.environ.get("MAILWARDEN_BIN", os.path.join(ROOT, "mailwarden")))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 20
PORT = 25


def stamp(path):
    try:
        st = os.stat(path)
        return (st.st_ino, st.st_mtime_ns)
    except FileNotFoundError:
        return None


def wait_change(path, before, limit=5.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if stamp(path) != before:
            return time.monotonic()
        time.sleep(0.0002)
    return None


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def show(name, xs):
    print("%-8s n=%d  min %.2f ms  median %.2f ms  p95 %.2f ms  max %.2f ms" % (
        name, len(xs), min(xs), statistics.median(xs), pct(xs, 95), max(xs)))


def knows(key):
    """Whether the binary has config key `key` (older binaries for comparisons)."""
    r = subprocess.run([BIN, "params"], capture_output=True, text=True)
    return any(line.split(" ", 1)[0] == key for line in r.stdout.splitlines())


def main():
    if os.geteuid() != 0:
        sys.exit("ban_latency.py: run as root (network namespaces, nftables)")
    work = tempfile.mkdtemp(prefix="mw-banlat-")
    os.chmod(work, 0o755)
    pair = Pair().create()
    proc = None
    sources = ["192.0.2.%d" % i for i in range(100, 100 + N)]
    try:
        for a in sources:
            sh("ip", "-n", pair.atk, "addr", "add", a + "/24", "dev", "mwv1")
        pw = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", "right"],
                            capture_output=True, text=True, check=True).stdout.strip()
        with open(os.path.join(work, "passwd"), "w") as f:
            f.write("alice@example.com:%s\n" % pw)
        with open(os.path.join(work, "vmailbox"), "w") as f:
            f.write("alice@example.com example.com/alice/\n")
        authlog = os.path.join(work, "auth.log")
        open(authlog, "w").close()
        conf = os.path.join(work, "mailwarden.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "smtpd_listen = %s:%d" % (Pair.SERVER, PORT),
                "myhostname = bench.example", "mydestination = localhost",
                "queue_directory = %s/spool" % work,
                "virtual_mailbox_base = %s/mail" % work,
                "virtual_mailbox_domains = example.com",
                "virtual_mailbox_maps = texthash:%s/vmailbox" % work,
                "maillog_file = %s/maillog" % work,
                "dns_servers = 127.0.0.1:9",
                "smtpd_sasl_auth_enable = yes", "smtpd_tls_auth_only = no",
                "smtpd_sasl_path = %s/passwd" % work, "smtpd_sasl_failure_delay = 0",
                "warden_logtarget = %s/warden.log" % work,
            ] + (["data_directory = %s/data" % work] if knows("data_directory") else []) + [
                "[postfix-sasl]", "enabled = true", "filter = mailwarden[mode=auth]",
                "maxretry = 2", "bantime = 1h", 'action = nft[port="%d", protocol=tcp]' % PORT,
                "[sshd]", "enabled = true", "filter = sshd", "logpath = %s" % authlog,
                "maxretry = 2", "bantime = 1h", 'action = nft[port="22", protocol=tcp]',
            ]) + "\n")
        out = open(os.path.join(work, "stderr"), "w")
        proc = subprocess.Popen(["ip", "netns", "exec", pair.srv, BIN, "-c", conf],
                                stdout=out, stderr=out, start_new_session=True)
        bans = os.path.join(work, "spool", "warden" if knows("data_directory") else "private",
                            "bans")
        for _ in range(100):
            try:
                c = pair.connect(PORT, Pair.OTHER, timeout=1)
                c.close()
                if os.path.exists(os.path.join(work, "spool", "warden.sock")):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        time.sleep(0.5)

        def auth_fail(src):
            s = smtplib.SMTP(local_hostname="client.example", timeout=5)
            s.sock = pair.connect(PORT, src)
            s.file = None
            s.getreply()
            s.ehlo()
            code, _ = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alice@example.com\0x").decode())
            t = time.monotonic()
            s.close()
            return code, t

        eng, missing = [], 0
        for src in sources:
            auth_fail(src)
            before = stamp(bans)
            code, t0 = auth_fail(src)
            assert code == 535, code
            t1 = wait_change(bans, before)
            if t1 is None:
                missing += 1
                continue
            eng.append((t1 - t0) * 1000)
        rules = pair.nft_ruleset()
        in_kernel = sum(1 for s in sources if s in rules)
        logl = []
        for i in range(N):
            addr = "198.51.100.%d" % (10 + i)
            line = ("%s bench sshd[%d]: Failed password for root from %s port 4242 ssh2\n"
                    % (time.strftime("%b %d %H:%M:%S"), 1000 + i, addr))
            with open(authlog, "a") as f:
                f.write(line)
            time.sleep(0.05)
            before = stamp(bans)
            with open(authlog, "a") as f:
                t0 = time.monotonic()
                f.write(line)
                f.flush()
            t1 = wait_change(bans, before)
            if t1 is None:
                missing += 1
                continue
            logl.append((t1 - t0) * 1000)
        rules = pair.nft_ruleset()
        log_in_kernel = sum(1 for i in range(N) if "198.51.100.%d" % (10 + i) in rules)
        print("ban latency: the failure that reaches maxretry -> nft element added and "
              "bans file rewritten (accept refusing)")
        if eng:
            show("engine", eng)
        if logl:
            show("logfile", logl)
        print("nft elements present: engine %d/%d, logfile %d/%d; bans not seen within 5 s: %d"
              % (in_kernel, N, log_in_kernel, N, missing))
        print("targets: engine < 10 ms, logfile < 100 ms")
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        pair.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
