"""milter_bench.py - delivered messages per second with one signing milter
(Debian's OpenDKIM) on every message: mailwarden against a private Postfix
3.7 instance with the same milter, same load, in one run.

Run as root:   python3 bench/milter_bench.py
Quick run:     BENCH_MESSAGES=1000 python3 bench/milter_bench.py

The servers are smtp_bench.py's (two virtual domains, Maildir delivery,
Postfix with its defaults, mailwarden as root so it chroots); both get
`smtpd_milters = inet:127.0.0.1:PORT` pointing at one OpenDKIM
(`Mode s`, `Domain example.org`, a fresh 1024-bit key, InternalHosts
127.0.0.1, so every smtp-source message - From: sender@example.org - is
signed). Load: smtp-source -s C -m N (one connection per message).
Printed: smtp_bench.py's table (accepted/s, delivered/s, CPU of the
server's process tree per message; OpenDKIM's own CPU is not in it), then
how many delivered files carry a DKIM-Signature (a sample of 50).

Knobs: BENCH_MESSAGES (default 5000), BENCH_CONCURRENCY (default "50"),
MAILWARDEN_BIN (default REPO/mailwarden), BENCH_SERVERS (default
"postfix mailwarden"), PORT_OPENDKIM (default 2529), and smtp_bench.py's
(BENCH_QUIET_WAIT, BENCH_TMPDIR, BENCH_KEEP, ports).
"""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("BENCH_MESSAGES", "5000")
os.environ.setdefault("BENCH_CONCURRENCY", "50")
os.environ.setdefault("MAILWARDEN_BIN", os.path.join(os.path.dirname(HERE), "mailwarden"))
sys.path.insert(0, HERE)

import benchlib  # noqa: E402
import smtp_bench as sb  # noqa: E402

PORT_DKIM = benchlib.envint("PORT_OPENDKIM", 2529)
MILTER = "inet:127.0.0.1:%d" % PORT_DKIM
log = sb.log


class OpenDkim:
    def __init__(self, work):
        self.d = os.path.join(work, "opendkim")
        os.makedirs(self.d, exist_ok=True)
        self.proc = None

    def start(self):
        key = os.path.join(self.d, "bench.private")
        subprocess.run(["openssl", "genrsa", "-out", key, "1024"], check=True,
                       capture_output=True)
        conf = os.path.join(self.d, "opendkim.conf")
        with open(conf, "w") as f:
            f.write("\n".join([
                "Syslog no", "Background no", "Mode s", "Domain example.org",
                "Selector bench", "KeyFile " + key, "Socket inet:%d@127.0.0.1" % PORT_DKIM,
                "Canonicalization relaxed/simple", "RequireSafeKeys no",
                "InternalHosts 127.0.0.1", "PidFile %s/pid" % self.d, ""]))
        out = open(os.path.join(self.d, "log"), "ab")
        self.proc = subprocess.Popen(["/usr/sbin/opendkim", "-f", "-x", conf], stdout=out,
                                     stderr=out, stdin=subprocess.DEVNULL)
        benchlib.cleanups.append(self.stop)
        benchlib.wait_port(PORT_DKIM)
        log("opendkim started: pid %d on %s" % (self.proc.pid, MILTER))

    def stop(self):
        if self.proc is not None:
            benchlib.terminate(self.proc, what="opendkim")
            self.proc = None


class Postfix(sb.Postfix):
    def write_config(self):
        super().write_config()
        with open(os.path.join(self.conf, "main.cf"), "a") as f:
            f.write("smtpd_milters = %s\nmilter_default_action = tempfail\n" % MILTER)


def signed_share(newdir, n=50):
    files = sorted(os.listdir(newdir))[:n]
    signed = 0
    for name in files:
        with open(os.path.join(newdir, name), "rb") as f:
            if b"DKIM-Signature:" in f.read(8192):
                signed += 1
    return signed, len(files)


def main():
    if os.geteuid() != 0:
        sys.exit("milter_bench.py: run as root")
    if not os.path.exists("/usr/sbin/opendkim"):
        sys.exit("milter_bench.py: opendkim not installed (scripts/install-deps.sh)")
    os.environ["BENCH_MW_EXTRA"] = "smtpd_milters = %s" % MILTER
    servers = os.environ.get("BENCH_SERVERS", "postfix mailwarden").split()
    work = benchlib.work_dir("mw-milterbench.", sb.TMPPARENT)
    benchlib.interrupt_on(signal.SIGTERM, signal.SIGHUP)
    rows = []
    try:
        dk = OpenDkim(work)
        dk.start()
        for name in servers:
            srv = Postfix(work) if name == "postfix" else sb.Mailwarden(work)
            srv.start()
            for c in sb.CONC:
                r = sb.smtp_source(sb.PORT_PF if name == "postfix" else sb.PORT_MW, c, sb.M,
                                   work, "%s-%d" % (name, c), newdir=srv.newdir,
                                   cpu_root=srv.master)
                r["sessions"] = c
                s, n = signed_share(srv.newdir)
                rows.append((name, r, s, n))
                log("%s C=%d: %s delivered/s, %d/%d sampled files signed"
                    % (name, c, "%.0f" % r["deliver_rate"] if r.get("deliver_rate") else "-", s, n))
            srv.stop()
            time.sleep(1)
    except KeyboardInterrupt as e:
        log("interrupted: %s" % e)
    finally:
        benchlib.run_cleanups()
    print()
    print("One signing milter (OpenDKIM, %s) on every message, %d messages of %d bytes"
          % (MILTER, sb.M, sb.SIZE))
    print(sb.HEADER + "  signed")
    for name, r, s, n in rows:
        print(sb.fmt_run(name, r) + "  %d/%d" % (s, n))
    if not sb.KEEP:
        import shutil
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
