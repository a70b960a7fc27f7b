"""verify_bench.py - delivered messages per second with inbound DKIM + SPF +
DMARC verification on every message: mailwarden (`dkim_verify = yes`, its
built-in verifier) against a private Postfix 3.7 instance with Debian's
OpenDKIM (`Mode v`) then OpenDMARC as milters, same load, in one run
(issue 14, "Measured").

Run as root:   python3 bench/verify_bench.py   (or make bench-verify)
Quick run:     BENCH_MESSAGES=1000 python3 bench/verify_bench.py

Set-up: a private dnsmasq (tests/integ/dnsfix.py) on a loopback port
publishes, for example.org (the sender's domain), a 2048-bit RSA DKIM key
(selector bench), SPF `v=spf1 ip4:127.0.0.1 -all` and DMARC `v=DMARC1;
p=none` (so both servers deliver whatever the result). mailwarden reads it
through `dns_servers`, OpenDKIM through `Nameservers`, OpenDMARC (which
reads /etc/resolv.conf only) in its own mount namespace with a private
resolv.conf (tests/integ/milterfix.py `OpenDmarc`, `Dns53Forwarder`).
One message (From: sender@example.org, 4 KiB body) is signed once here
(relaxed/simple, rsa-sha256) and sent by
`smtp-source -F FILE -f sender@example.org -s C -m N` (one connection per
message) to each server: the servers are smtp_bench.py's (Maildir
delivery, Postfix defaults); mailwarden gets `mynetworks = 192.0.2.0/24`
(the client 127.0.0.1 is outside, so it is verified) and Postfix's
OpenDKIM has InternalHosts 192.0.2.99 and OpenDMARC IgnoreHosts 192.0.2.99
(both verify 127.0.0.1).

Printed: smtp_bench.py's table (delivered/s, CPU ms/msg of the server's
process tree), then the milters' own CPU ms/msg (OpenDKIM + OpenDMARC,
not in the server's tree) and dnsmasq's, and how many of a sample of 50
delivered files carry dkim=pass and dmarc=pass in Authentication-Results.

Knobs: BENCH_MESSAGES (default 3000), BENCH_CONCURRENCY (default "50"),
MAILWARDEN_BIN (default REPO/mailwarden), BENCH_SERVERS (default
"postfix mailwarden"), PORT_OPENDKIM / PORT_OPENDMARC (2529 / 2530), and
smtp_bench.py's (BENCH_QUIET_WAIT, BENCH_TMPDIR, BENCH_KEEP, ports).
"""
import base64
import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
os.environ.setdefault("BENCH_MESSAGES", "3000")
os.environ.setdefault("BENCH_CONCURRENCY", "50")
os.environ.setdefault("MAILWARDEN_BIN", os.path.join(REPO, "mailwarden"))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(REPO, "tests", "integ"))

import benchlib  # noqa: E402
import smtp_bench as sb  # noqa: E402
import dnsfix  # noqa: E402
import milterfix  # noqa: E402

PORT_DKIM = benchlib.envint("PORT_OPENDKIM", 2529)
PORT_DMARC = benchlib.envint("PORT_OPENDMARC", 2530)
MILTERS = "inet:127.0.0.1:%d, inet:127.0.0.1:%d" % (PORT_DKIM, PORT_DMARC)
DOMAIN = "example.org"          # smtp_bench.SENDER's domain
SELECTOR = "bench"
AUTHSERV = "mx.test.example"    # milterfix's OpenDKIM AuthservID, OpenDMARC's trusted id
log = sb.log


# ---------------------------------------------------------------- the message

def key_and_record(work):
    """A fresh RSA-2048 key file and its DKIM TXT record text."""
    key = os.path.join(work, "dkim.key")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return key, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def relaxed_header(name, value):
    """RFC 6376 3.4.2: lower-case name, unfolded value, runs of WSP to one SP."""
    v = re.sub(r"[ \t]+", " ", value.replace("\r\n", "")).strip()
    return "%s:%s" % (name.lower().strip(), v)


def signed_message(key, size):
    """The message smtp-source sends (LF line ends: smtp-source adds CRLF),
    with a DKIM-Signature (d=example.org, relaxed/simple) made here."""
    headers = [("From", "Bench Sender <sender@%s>" % DOMAIN), ("To", "<user@d1.example>"),
               ("Subject", "verify bench"), ("Date", "Mon, 07 Dec 2026 12:00:00 +0000"),
               ("Message-ID", "<verify-bench@%s>" % DOMAIN)]
    line = "The quick brown fox jumps over the lazy dog 0123456789 abcdefghij."
    body = "".join("%s\r\n" % line for _ in range(max(size // (len(line) + 2), 1)))
    bh = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    names = ":".join(h[0].lower() for h in headers)
    sig = ("v=1; a=rsa-sha256; c=relaxed/simple; d=%s; s=%s; t=1796644800;\r\n"
           "\th=%s;\r\n\tbh=%s;\r\n\tb=" % (DOMAIN, SELECTOR, names, bh))
    signed = "".join(relaxed_header(n, v) + "\r\n" for n, v in headers)
    signed += relaxed_header("DKIM-Signature", sig)
    b = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signed.encode(),
                       check=True, capture_output=True).stdout
    b64 = base64.b64encode(b).decode()
    sig += "\r\n\t".join(b64[i:i + 72] for i in range(0, len(b64), 72))
    text = "DKIM-Signature: " + sig + "\r\n"
    text += "".join("%s: %s\r\n" % h for h in headers) + "\r\n" + body
    return text.replace("\r\n", "\n")


def smtp_source_wrapper(work, msgfile):
    """A directory with an `smtp-source` that runs the real one with -F
    msgfile and without smtp_bench.py's -l (put first in PATH)."""
    real = subprocess.run(["sh", "-c", "command -v smtp-source"], capture_output=True,
                          text=True).stdout.strip() or "/usr/sbin/smtp-source"
    d = os.path.join(work, "bin")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "smtp-source")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n# verify_bench.py: send the pre-signed file, not -l bytes\n"
                "n=$#; skip=0\n"
                "for a in \"$@\"; do\n"
                "  if [ $skip = 1 ]; then skip=0\n"
                "  elif [ \"$a\" = -l ]; then skip=1\n"
                "  else set -- \"$@\" \"$a\"; fi\n"
                "done\n"
                "shift $n\n"
                "exec %s -F %s \"$@\"\n" % (real, msgfile))
    os.chmod(path, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return d


# ---------------------------------------------------------------- servers

class Postfix(sb.Postfix):
    def write_config(self):
        super().write_config()
        with open(os.path.join(self.conf, "main.cf"), "a") as f:
            f.write("smtpd_milters = %s\nmilter_default_action = tempfail\n" % MILTERS)


def ar_share(newdir, n=50):
    """(files with dkim=pass and dmarc=pass in Authentication-Results, files
    sampled, one Authentication-Results text of the first file)."""
    files = sorted(os.listdir(newdir))[:n]
    good, first = 0, None
    for name in files:
        with open(os.path.join(newdir, name), "rb") as f:
            head = f.read(16384).decode("latin-1").split("\n\n", 1)[0]
        head = re.sub(r"\r?\n[ \t]+", " ", head)
        ars = [ln for ln in head.splitlines() if ln.lower().startswith("authentication-results:")]
        text = " | ".join(ars)
        if first is None:
            first = text
        if re.search(r"\bdkim=pass\b", text) and re.search(r"\bdmarc=pass\b", text):
            good += 1
    return good, len(files), first


def main():
    if os.geteuid() != 0:
        sys.exit("verify_bench.py: run as root")
    for exe in (milterfix.OpenDkim.EXE, milterfix.OpenDmarc.EXE, dnsfix.DNSMASQ):
        if not os.path.exists(exe):
            sys.exit("verify_bench.py: %s not installed (scripts/install-deps.sh)" % exe)
    servers = os.environ.get("BENCH_SERVERS", "postfix mailwarden").split()
    work = benchlib.work_dir("mw-verifybench.", sb.TMPPARENT)
    benchlib.interrupt_on(signal.SIGTERM, signal.SIGHUP)
    rows = []
    msgsize = 0
    try:
        key, rec = key_and_record(work)
        msgfile = os.path.join(work, "signed.eml")
        with open(msgfile, "w") as f:
            f.write(signed_message(key, sb.SIZE))
        msgsize = os.path.getsize(msgfile)
        os.environ["PATH"] = smtp_source_wrapper(work, msgfile) + ":" + os.environ["PATH"]
        parts = [rec[i:i + 255] for i in range(0, len(rec), 255)]
        dns = dnsfix.DnsServer(standard=False, extra_args=[
            "--host-record=good.test,127.0.0.2",        # DnsServer.start's probe
            "--local=/test/", "--local=/%s/" % DOMAIN, "--local=/d1.example/",
            "--local=/example/", "--local=/0.0.127.in-addr.arpa/",
            "--txt-record=%s._domainkey.%s,%s" % (SELECTOR, DOMAIN, ",".join(parts)),
            "--txt-record=%s,v=spf1 ip4:127.0.0.1 -all" % DOMAIN,
            "--txt-record=_dmarc.%s,v=DMARC1; p=none" % DOMAIN]).start()
        benchlib.cleanups.append(dns.stop)
        log("dnsmasq on 127.0.0.1:%d (pid %d): %s TXT %s" % (
            dns.port, dns.proc.pid, DOMAIN, dns.query(DOMAIN, "TXT")))
        os.environ["BENCH_MW_EXTRA"] = "\n".join([
            "mynetworks = 192.0.2.0/24", "dkim_verify = yes", "authserv_id = " + AUTHSERV,
            "dns_servers = 127.0.0.1:%d" % dns.port])
        for name in servers:
            milters = []
            if name == "postfix":
                dk = milterfix.OpenDkim("inet:%d@127.0.0.1" % PORT_DKIM, domain=DOMAIN,
                                        internal="192.0.2.99", mode="v",
                                        nameserver="127.0.0.1@%d" % dns.port, key=key)
                dk.start()
                benchlib.cleanups.append(dk.stop)
                dm = milterfix.OpenDmarc(PORT_DMARC, dns.port, authserv_id=AUTHSERV,
                                         trusted=AUTHSERV).start()
                benchlib.cleanups.append(dm.stop)
                milters = [dk.proc.pid, dm.proc.pid]
                log("opendkim pid %d, opendmarc pid %d" % tuple(milters))
                srv = Postfix(work)
            else:
                srv = sb.Mailwarden(work)
            srv.start()
            for c in sb.CONC:
                m0 = sum(benchlib.tree_cpu(p) for p in milters)
                d0 = benchlib.tree_cpu(dns.proc.pid)
                r = sb.smtp_source(sb.PORT_PF if name == "postfix" else sb.PORT_MW, c, sb.M,
                                   work, "%s-%d" % (name, c), newdir=srv.newdir,
                                   cpu_root=srv.master)
                n = r.get("delivered") or r["accepted"] or 1
                mcpu = 1000.0 * (sum(benchlib.tree_cpu(p) for p in milters) - m0) / n
                dcpu = 1000.0 * (benchlib.tree_cpu(dns.proc.pid) - d0) / n
                r["sessions"] = c
                good, k, first = ar_share(srv.newdir)
                rows.append((name, r, mcpu if milters else None, dcpu, good, k))
                log("%s C=%d: %s delivered/s, milters %s ms/msg, %d/%d sampled files "
                    "dkim=pass+dmarc=pass; first: %s"
                    % (name, c, "%.0f" % r["deliver_rate"] if r.get("deliver_rate") else "-",
                       "%.2f" % mcpu if milters else "-", good, k, first))
            srv.stop()
            if name == "postfix":
                dm.stop()
                dk.stop()
            time.sleep(1)
    except KeyboardInterrupt as e:
        log("interrupted: %s" % e)
    finally:
        benchlib.run_cleanups()
    print()
    print("DKIM (RSA-2048) + SPF + DMARC (p=none) verification of every message, "
          "%d messages of %d bytes, smtp-source -F" % (sb.M, msgsize))
    print("postfix: smtpd_milters = %s (OpenDKIM Mode v, OpenDMARC); "
          "mailwarden: dkim_verify = yes" % MILTERS)
    print(sb.HEADER)
    for name, r, mcpu, dcpu, good, k in rows:
        print(sb.fmt_run(name, r))
    print()
    print("CPU outside the server's tree (ms per delivered message) and the sampled files")
    print("%-11s %3s %14s %14s %22s  %s" % ("server", "C", "milters ms/msg", "dnsmasq ms/msg",
                                          "server+milters ms/msg", "dkim=pass+dmarc=pass"))
    for name, r, mcpu, dcpu, good, k in rows:
        cpu = r.get("cpu_ms_per_msg")
        both = (cpu or 0.0) + (mcpu or 0.0)
        print("%-11s %3d %14s %14.3f %22s  %d/%d" % (
            name, r["sessions"], "%.2f" % mcpu if mcpu is not None else "-", dcpu,
            "%.2f" % both if cpu is not None else "-", good, k))
    if not sb.KEEP:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
