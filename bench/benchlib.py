"""benchlib.py - what the benchmark scripts in bench/ share.

Used by smtp_bench.py, tls_bench.py, relay_bench.py and dns-bench.py:
the environment knobs, a log function, clean-ups at exit, CPU of a process
tree from /proc, waiting for a port, a private Postfix instance (`postfix
-c DIR`: its own main.cf, master.cf, queue and log; /etc/postfix is never
touched) and starting and stopping mailwarden.

A script sets its log format once with set_log(); everything here logs
through it.
"""
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import time

ENV = os.environ
CLK = os.sysconf("SC_CLK_TCK")

cleanups = []       # callables run by run_cleanups(), last registered first


# ---------------------------------------------------------------- log, knobs

def clock_log(msg):
    """Log line stamped with the wall clock: [HH:MM:SS] msg."""
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def elapsed_log(t0):
    """A log function stamping lines with the seconds since t0 (monotonic)."""
    def log(msg):
        print("[%6.1fs] %s" % (time.monotonic() - t0, msg), flush=True)
    return log


_log = [clock_log]


def set_log(fn):
    _log[0] = fn


def log(msg):
    _log[0](msg)


def envint(name, default):
    v = ENV.get(name, "")
    return int(v) if v.strip() else default


def envfloat(name, default):
    v = ENV.get(name, "")
    return float(v) if v.strip() else default


def work_dir(prefix, parent):
    """A fresh work directory under parent (made if missing), mode 755: the
    servers' own users read below it."""
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(work, 0o755)
    return work


def interrupt_on(*signals):
    """These signals raise KeyboardInterrupt("signal N"): the clean-ups run."""
    def on_signal(sig, frame):
        raise KeyboardInterrupt("signal %d" % sig)
    for sig in signals:
        signal.signal(sig, on_signal)


def run_cleanups():
    for fn in reversed(cleanups):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            log("cleanup: %s" % e)


# ---------------------------------------------------------------- /proc

def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in ticks, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] = state (field 3); field n is rest[n-3]
    return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def tree(root):
    """PIDs of root and all its live descendants."""
    kids = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st:
            kids.setdefault(st[0], []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def tree_cpu(root):
    """CPU seconds of a process tree: every live member's own time plus the
    time of the children it has reaped (cutime/cstime). Differences of two
    such snapshots count processes that came and went in between, as long
    as someone in the tree reaped them."""
    if root is None:
        return 0.0
    total = 0
    for pid in tree(root):
        st = proc_stat(pid)
        if st:
            total += st[1] + st[2]
    return total / CLK


def host_busy():
    """Busy CPU seconds of the whole host (all cores, /proc/stat: everything
    but idle and iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK


def start_time(pid):
    """Start time (field 22 of /proc/PID/stat): with the pid, names a process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        return int(s[s.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def comm(pid, missing=""):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return missing


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return f.readlines()[-n:]
    except OSError:
        return []


# ---------------------------------------------------------------- ports

def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_port(port, host="127.0.0.1", timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if port_open(port, host):
            return True
        time.sleep(0.05)
    raise RuntimeError("nothing listening on %s:%d after %ds" % (host, port, timeout))


# ---------------------------------------------------------------- Postfix

# master.cf of a private instance after its smtpd listener line(s): no
# chroot. pf_services(tlsmgr=False) leaves tlsmgr out.
PF_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def pf_services(tlsmgr=True):
    if tlsmgr:
        return PF_SERVICES
    return "".join(line for line in PF_SERVICES.splitlines(True)
                   if not line.startswith("tlsmgr "))


# main.cf of a private instance: what all benchmarks set, around their own
# settings. {d} is the instance's directory (a str.format field).
PF_MAIN_HEAD = """\
compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = @HOST@
mydomain = @HOST@
myorigin = $myhostname
mydestination = localhost
mynetworks = 127.0.0.0/8
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
biff = no
"""

PF_MAIN_LOG = """\
maillog_file_prefixes = /var, /dev/stdout, /tmp, {d}
maillog_file = {d}/maillog
syslog_name = @SYSLOG@
"""


def pf_main(comment, hostname, syslog_name, settings="", after=""):
    """main.cf template (str.format fields: {d} and those of settings/after):
    comment, the common head with myhostname = mydomain = hostname, the
    benchmark's settings, its own maillog_file and syslog_name, then after."""
    return (comment + PF_MAIN_HEAD.replace("@HOST@", hostname) + settings
            + PF_MAIN_LOG.replace("@SYSLOG@", syslog_name) + after)


def pf_virtual(domains):
    """main.cf lines: Maildir delivery for domains under {d}/mail as
    {uid}:{gid} (see PrivatePostfix.mail_owner), mailboxes listed in
    {d}/conf/vmailbox."""
    return ("virtual_mailbox_domains = %s\n" % domains
            + "virtual_mailbox_base = {d}/mail\n"
              "virtual_mailbox_maps = texthash:{d}/conf/vmailbox\n"
              "virtual_uid_maps = static:{uid}\n"
              "virtual_gid_maps = static:{gid}\n")


def run_postfix_cmd(confdir, *args, timeout=60):
    # postfix(1) reports errors only to syslog/maillog and to a terminal;
    # `script` gives it a pty so they show up in our output too.
    cmd = "postfix -c %s %s" % (confdir, " ".join(args))
    p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).strip()


def postfix_version():
    return subprocess.run(["postconf", "-h", "mail_version"], capture_output=True,
                          text=True).stdout.strip()


class PrivatePostfix:
    """A private Postfix instance in WORK/postfix, started with `postfix -c
    WORK/postfix/conf start`. A subclass writes main.cf, master.cf and its
    maps (write_config) and may wait for its service its own way (ready,
    which returns what the "started" log line says after the pid)."""
    name = "postfix"
    subdirs = ("conf", "spool", "data")

    def __init__(self, work, ports):
        self.d = os.path.join(work, "postfix")
        self.conf = os.path.join(self.d, "conf")
        self.maillog = os.path.join(self.d, "maillog")
        self.ports = ports
        self.master = None
        self.started = False

    def write_conf_file(self, name, text):
        with open(os.path.join(self.conf, name), "w") as f:
            f.write(text)

    def write_config(self):
        raise NotImplementedError

    def mail_owner(self):
        """Give WORK/postfix/mail (a subdir) to nobody, who owns the virtual
        mailboxes (pf_virtual): its passwd entry."""
        nobody = pwd.getpwnam("nobody")
        os.chown(os.path.join(self.d, "mail"), nobody.pw_uid, nobody.pw_gid)
        return nobody

    def ready(self):
        for p in self.ports:
            wait_port(p)
        return ""

    def start(self):
        for p in self.ports:
            if port_open(p):
                raise RuntimeError("port %d already in use" % p)
        d = self.d
        for sub in self.subdirs:
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(d, 0o755)
        os.chown(os.path.join(d, "data"), pwd.getpwnam("postfix").pw_uid, -1)
        self.write_config()
        rc, out = run_postfix_cmd(self.conf, "check")
        if rc != 0:
            raise RuntimeError("postfix check failed: %s" % out)
        cleanups.append(self.stop)
        self.started = True
        rc, out = run_postfix_cmd(self.conf, "start")
        if rc != 0:
            raise RuntimeError("postfix start failed: %s\n%s" % (out, "".join(tail(self.maillog))))
        pidfile = os.path.join(d, "spool", "pid", "master.pid")
        for _ in range(50):
            try:
                with open(pidfile) as f:
                    self.master = int(f.read().strip())
                break
            except (OSError, ValueError):
                time.sleep(0.1)
        what = self.ready()
        log("postfix %s started: master pid %s%s" % (postfix_version(), self.master, what))

    def stop(self):
        if not self.started:
            return
        self.started = False
        try:
            run_postfix_cmd(self.conf, "stop", timeout=30)
        except Exception as e:  # noqa: BLE001
            log("postfix stop: %s" % e)
        for _ in range(50):
            if self.master is None or proc_stat(self.master) is None:
                break
            time.sleep(0.1)
        else:
            log("postfix master %d still there, SIGKILL" % self.master)
            try:
                os.kill(self.master, signal.SIGKILL)
            except OSError:
                pass
        log("postfix stopped")


# ---------------------------------------------------------------- mailwarden

def need_binary(path, flavour):
    if not os.access(path, os.X_OK):
        raise RuntimeError("no mailwarden binary at %s (build it: make FLAVOUR=%s, "
                           "or set MAILWARDEN_BIN)" % (path, flavour))


def mailwarden_user():
    """The mailwarden system user's passwd entry; created if missing."""
    try:
        return pwd.getpwnam("mailwarden")
    except KeyError:
        log("creating system user mailwarden")
        if subprocess.run(["getent", "group", "mailwarden"], capture_output=True).returncode:
            subprocess.run(["groupadd", "--system", "mailwarden"], check=True)
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", "--gid", "mailwarden", "--home-dir",
                        "/nonexistent", "mailwarden"], check=True)
        return pwd.getpwnam("mailwarden")


def mailwarden_dir(d, subdirs, vmailbox=None):
    """Make d (mode 755) and its subdirs, owned by the mailwarden user (made
    if missing), and write d/vmailbox if given."""
    for sub in subdirs:
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    os.chmod(d, 0o755)
    if vmailbox is not None:
        with open(os.path.join(d, "vmailbox"), "w") as f:
            f.write(vmailbox)
    pw = mailwarden_user()
    for sub in subdirs:
        os.chown(os.path.join(d, sub), pw.pw_uid, pw.pw_gid)


def write_mw_conf(path, lines):
    """Write a mailwarden config: lines plus BENCH_MW_EXTRA ("\\n" separates
    lines there). Returns the lines written."""
    lines = list(lines)
    extra = ENV.get("BENCH_MW_EXTRA", "").replace("\\n", "\n")
    if extra.strip():
        lines.append(extra)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return lines


def check_config(mw_bin, confpath):
    """`mailwarden -c confpath check-config`: the CompletedProcess (text)."""
    return subprocess.run([mw_bin, "-c", confpath, "check-config"],
                          capture_output=True, text=True, timeout=30)


def terminate(p, what="mailwarden", how="SIGKILL", kill=None, wait=15):
    """SIGTERM the Popen p if it still runs and wait up to `wait` s for it;
    then log, kill (p.kill() unless kill is given) and reap it. True if it
    had to be killed."""
    if p.poll() is not None:
        return False
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(wait)
        return False
    except subprocess.TimeoutExpired:
        log("%s did not exit %d s after SIGTERM: %s" % (what, wait, how))
        (kill or p.kill)()
        p.wait()
        return True


def tree_ids(root):
    """{pid: start time} of root's process tree as it is now: names each
    process even after the pid has been reused."""
    return {pid: start_time(pid) for pid in tree(root)}


def leftovers(ids, root):
    """The processes of tree_ids() other than root that still run."""
    return [pid for pid, st in ids.items()
            if pid != root and st is not None and start_time(pid) == st]


def kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def rss_kib(pid):
    """Resident memory of a process in KiB (0 if it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
