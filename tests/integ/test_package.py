"""The Debian package (issue 15): `dpkg-buildpackage -us -uc -b` builds
mailwarden_*.deb from a copy of the tree; lintian reports no errors; the
unit passes `systemd-analyze verify`; then, in a fresh Debian 12 minbase
tree (debootstrap, cached under /var/cache/mailwarden-test so reruns are
fast) and in private mount, network and pid namespaces, `apt-get install
./mailwarden_*.deb` (never on this host), `mailwarden check-config` with
the installed configuration, the program started as installed takes one
mail on loopback port 25 and delivers it to a local user's Maildir, the
setgid sendmail works for that user, and `apt-get purge` removes the
users, the statoverride and the spool. Skipped, saying why, when not root,
when debootstrap cannot reach the Debian archive, or in make test's
sanitizer pass (MW_SAN=1: the package is the normal build either way)."""
import glob
import hashlib
import os
import shutil
import smtplib
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = "/var/cache/mailwarden-test"
SUITE = "bookworm"


def mirror():
    """The host's Debian mirror (its apt sources), deb.debian.org otherwise."""
    for f in ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]:
        try:
            for line in open(f):
                w = line.split()
                if w[:1] == ["URIs:"] and "security" not in w[1]:
                    return w[1]
                if w[:1] == ["deb"] and "security" not in line:
                    return [x for x in w[1:] if x.startswith("http")][0]
        except (OSError, IndexError):
            continue
    return "http://deb.debian.org/debian"


def need(*tools):
    for t in tools:
        if shutil.which(t) is None:
            pytest.skip(f"{t} not installed (scripts/install-deps.sh installs it)")


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    if os.environ.get("MW_SAN") == "1":
        # make test's second pass: the package is the normal build whatever
        # the flavour (debian/rules), built and tried in the first pass
        pytest.skip("the package is the normal build: tested in make test's first pass")
    if os.geteuid() != 0:
        pytest.skip("needs root (dpkg-statoverride, chroot, namespaces)")
    need("dpkg-buildpackage", "dh", "lintian", "git")
    top = tmp_path_factory.mktemp("pkg")
    src = top / "mailwarden"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b"\0")
    for f in files:
        if f and os.path.isfile(os.path.join(ROOT.encode(), f)):
            d = src / os.path.dirname(f.decode())
            d.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.join(ROOT.encode(), f), src / f.decode())
    # the package build must not inherit the calling make's variables: make
    # test's sanitizer pass passes FLAVOUR=build-san SAN=1 on its command line,
    # and those travel in MAKEFLAGS to every make below, debian/rules' too
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "FLAVOUR", "SAN")}
    r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b", "-j2"], cwd=src, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    debs = glob.glob(str(top / "mailwarden_*.deb"))
    assert len(debs) == 1, os.listdir(top)
    return debs[0]


def test_contents_and_lintian(deb):
    r = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True)
    names = {l.split()[5] for l in r.stdout.splitlines()}
    for want in ["./usr/sbin/mailwarden", "./usr/sbin/sendmail", "./usr/bin/mailq",
                 "./usr/bin/newaliases", "./etc/mailwarden/mailwarden.conf",
                 "./lib/systemd/system/mailwarden.service", "./etc/logrotate.d/mailwarden",
                 "./usr/share/man/man8/mailwarden.8.gz",
                 "./usr/share/man/man5/mailwarden.conf.5.gz"]:
        assert want in names, want
    f = {k: subprocess.run(["dpkg-deb", "-f", deb, k], capture_output=True, text=True).stdout.strip()
         for k in ("Provides", "Conflicts", "Replaces")}
    assert f == {k: "mail-transport-agent" for k in f}, f
    r = subprocess.run(["lintian", "--fail-on", "error", deb], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not [l for l in r.stdout.splitlines() if l.startswith("E:")], r.stdout


def test_unit_verifies(deb, tmp_path):
    need("systemd-analyze")
    subprocess.run(["dpkg-deb", "-x", deb, str(tmp_path)], check=True)
    # the targets it is ordered against come from this host's systemd
    subprocess.run(["cp", "-an", "/lib/systemd/system/.", str(tmp_path / "lib/systemd/system")],
                   check=True)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={tmp_path}",
                        "/lib/systemd/system/mailwarden.service"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stdout + r.stderr


def minbase(deb):
    """A cached minbase tree with the package's Depends and Recommends, so that
    `apt-get install ./deb` needs no network; the cache key is the list."""
    need("debootstrap", "unshare", "chroot")
    deps = subprocess.run(["dpkg-deb", "-f", deb, "Depends", "Recommends"], capture_output=True,
                          text=True, check=True).stdout
    deps = ",".join(l.partition(":")[2] for l in deps.splitlines())
    pkgs = sorted({d.split()[0] for d in deps.replace("|", ",").split(",") if d.strip()})
    pkgs.append("ca-certificates")
    key = hashlib.sha256(" ".join(pkgs).encode()).hexdigest()[:12]
    tree = os.path.join(CACHE, f"{SUITE}-minbase-{key}")
    if os.path.exists(os.path.join(tree, ".complete")):
        return tree
    os.makedirs(CACHE, exist_ok=True)
    shutil.rmtree(tree, ignore_errors=True)
    r = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(pkgs)}",
                        SUITE, tree, mirror()], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        shutil.rmtree(tree, ignore_errors=True)
        tail = (r.stdout + r.stderr)[-600:]
        if any(s in tail for s in ("Failed getting release", "Couldn't download",
                                   "Temporary failure", "Could not resolve", "unreachable")):
            pytest.skip(f"debootstrap cannot reach the Debian archive ({mirror()}): {tail}")
        pytest.fail(f"debootstrap failed:\n{tail}")
    open(os.path.join(tree, ".complete"), "w").close()
    return tree


# Runs inside `unshare --mount --net --pid --fork` (everything it starts dies
# with it): loopback up, the tree copied, /proc and /dev mounted, then the
# package installed and tried in the chroot. Prints STEP lines the test reads.
SCRIPT = r"""
set -eu
root=$1; deb=$2; py=$3
ip link set lo up
mount --make-rprivate /
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
cp "$deb" "$root/tmp/"
inroot() { chroot "$root" "$@"; }
echo "STEP install"
inroot env DEBIAN_FRONTEND=noninteractive apt-get install -y /tmp/$(basename "$deb") >"$root/tmp/apt.log" 2>&1 || { cat "$root/tmp/apt.log"; exit 1; }
echo "STEP statoverride $(inroot dpkg-statoverride --list /usr/sbin/sendmail)"
echo "STEP mode $(inroot stat -c '%a %G' /usr/sbin/sendmail)"
inroot mailwarden check-config
echo "STEP users $(inroot getent passwd mailwarden mwwarden | cut -d: -f1 | tr '\n' ' ')"
inroot useradd -m alice
inroot /usr/sbin/mailwarden -c /etc/mailwarden/mailwarden.conf >"$root/tmp/mw.out" 2>&1 &
"$py" - <<'PY'
import smtplib, time
deadline = time.time() + 20
while True:
    try:
        s = smtplib.SMTP("127.0.0.1", 25, timeout=5)
        break
    except OSError:
        if time.time() > deadline:
            raise
        time.sleep(0.1)
s.sendmail("someone@example.org", ["alice@localhost"], "Subject: over smtp\r\n\r\nhello\r\n")
s.quit()
PY
inroot su -s /bin/sh alice -c 'printf "Subject: by sendmail\n\nhi\n" | /usr/sbin/sendmail alice'
for i in $(seq 100); do
	n=$(ls "$root/home/alice/Maildir/new" 2>/dev/null | wc -l)
	[ "$n" -ge 2 ] && break
	sleep 0.1
done
echo "STEP delivered $n"
echo "STEP mailq $(inroot mailq | head -1)"
echo "STEP log $(grep -c 'status=sent' "$root/var/log/mailwarden/mail.log")"
for c in "$root"/proc/[0-9]*/cmdline; do
	t=$(tr '\0' ' ' <"$c" 2>/dev/null || true)
	case "$t" in mailwarden:*) echo "STEP ps $t";; esac
done
kill -TERM $(cat "$root/var/spool/mailwarden/pid/master.pid")
for i in $(seq 100); do [ -e "$root/var/spool/mailwarden/pid/master.pid" ] || break; sleep 0.1; done
inroot env DEBIAN_FRONTEND=noninteractive apt-get purge -y mailwarden >"$root/tmp/purge.log" 2>&1 || { cat "$root/tmp/purge.log"; exit 1; }
echo "STEP purged users=$(inroot getent passwd mailwarden mwwarden | wc -l) spool=$(ls -d "$root/var/spool/mailwarden" 2>/dev/null | wc -l) override=$(inroot dpkg-statoverride --list /usr/sbin/sendmail | wc -l)"
"""


def test_install_in_fresh_debian(deb, tmp_path):
    base = minbase(deb)
    root = tmp_path / "root"
    subprocess.run(["cp", "-a", base, str(root)], check=True)
    try:
        r = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child",
                            "sh", "-c", SCRIPT, "sh", str(root), deb, "/usr/bin/python3"],
                           capture_output=True, text=True, timeout=240)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    steps = [l[5:] for l in r.stdout.splitlines() if l.startswith("STEP ")]
    assert "statoverride root mwdrop 2755 /usr/sbin/sendmail" in steps, steps
    assert "mode 2755 mwdrop" in steps, steps
    assert "users mailwarden mwwarden " in steps, steps
    assert "delivered 2" in steps, out[-4000:]
    assert "mailq Mail queue is empty" in steps, steps
    assert "log 2" in steps, steps
    for role in ("master", "smtpd", "qmgr", "local"):
        assert any(s.startswith(f"ps mailwarden: {role} -c /etc/mailwarden/mailwarden.conf")
                   for s in steps), steps
    assert "purged users=0 spool=0 override=0" in steps, steps
