"""Jails split over files as fail2ban users keep them: a jail in
jail.d/*.local next to the main file, a [DEFAULT] from an [INCLUDES]
before-file, and a .local overriding a .conf. The ban engine runs them
(`status` lists them, a failure in the followed log counts and bans with
the included values); a main.cf key in an included file is refused with
that file's name and line."""
import os
import subprocess

from conftest import BIN
from test_warden import cli, ssh_fail, wait_for


def test_jails_from_included_files(make_server, tmp_path):
    os.chmod(tmp_path, 0o755)
    auth = tmp_path / "auth.log"
    auth.write_text("")
    srv = make_server(extra=["[INCLUDES]", "before = defaults.conf"], start=False)
    d = os.path.dirname(srv.conf)
    with open(os.path.join(d, "defaults.conf"), "w") as f:
        f.write("[DEFAULT]\nmaxretry = 2\nbantime = 1h\n")
    os.mkdir(os.path.join(d, "jail.d"))
    with open(os.path.join(d, "jail.d", "sshd.conf"), "w") as f:
        f.write(f"[sshd]\nenabled = false\nfilter = sshd\nlogpath = {auth}\naction = \n")
    with open(os.path.join(d, "jail.d", "sshd.local"), "w") as f:
        f.write("[sshd]\nenabled = true\ndryrun = true\n")
    srv.start()
    wait_for(lambda: cli(srv, "status", check=False).returncode == 0, what="the warden answering")
    assert cli(srv, "status").stdout == "Status\n|- Number of jail:\t1\n`- Jail list:\tsshd\n"
    assert f"File list:\t{auth}" in cli(srv, "status", "sshd").stdout
    ssh_fail(str(auth), "192.0.2.77")
    wait_for(lambda: "Total failed:\t1" in cli(srv, "status", "sshd").stdout, what="1 failure")
    ssh_fail(str(auth), "192.0.2.77")     # maxretry = 2 from defaults.conf
    wait_for(lambda: "Would ban 192.0.2.77" in open(srv.maillog).read(), what="would ban")


def test_main_cf_key_in_included_file_refused(make_server):
    srv = make_server(start=False)
    d = os.path.dirname(srv.conf)
    os.mkdir(os.path.join(d, "jail.d"))
    bad = os.path.join(d, "jail.d", "x.local")
    with open(bad, "w") as f:
        f.write("# a comment\nmyhostname = evil.example\n")
    r = subprocess.run([BIN, "-c", srv.conf, "check-config"], capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{bad}, line 2: myhostname: an included file holds only [sections]" in r.stderr, \
        r.stderr
