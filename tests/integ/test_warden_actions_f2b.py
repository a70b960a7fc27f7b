"""
fail2ban's stock command actions, command for command: the expectations
of fail2ban 1.0.2's own tests (servertestcase.py's
testCheckStockCommandActions and testComplexMailActionMultiLog), read
from the installed file with `ast` (never copied here), are checked
against what `mailwarden action-test` prints for the same action with the
same parameters, step by step (start, ban/unban IPv4, ban/unban IPv6,
check, flush, stop) with fail2ban's own assertions (assertLogged /
assertNotLogged on the lines as its _executeCmd logs them). Then every
command is compared whole with the one fail2ban itself builds (its
ActionReader and CommandAction, run under /usr/bin/python3 with the
command execution stubbed). The mail actions' commands are run, with
fail2ban's test substitutions (mail -> cat, dig -> fixed addresses), and
their output checked.
"""
import ast
import json
import os
import re
import subprocess
import tempfile
import time
import warnings

import pytest

BIN = os.path.abspath(os.environ.get("MAILWARDEN_BIN", "./mailwarden"))
F2B = "/usr/lib/python3/dist-packages/fail2ban"
SERVERTEST = F2B + "/tests/servertestcase.py"
TEST_FILES_DIR = F2B + "/tests/files"
ACTION_D = "/etc/fail2ban/action.d"
IP4, IP6 = "192.0.2.1", "2001:DB8::"

pytestmark = pytest.mark.skipif(not os.path.exists(SERVERTEST) or not os.path.isdir(ACTION_D),
                                reason="fail2ban 1.0.2 is not installed")


def _cases(funcname):
    """testJailsActions of fail2ban's test function funcname."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(open(SERVERTEST).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == funcname:
            for st in node.body:
                if isinstance(st, ast.Assign) and getattr(st.targets[0], "id", "") == "testJailsActions":
                    expr = ast.Expression(st.value)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        code = compile(expr, SERVERTEST, "eval")
                    return eval(code, {"os": os, "TEST_FILES_DIR": TEST_FILES_DIR})
    raise AssertionError("no testJailsActions in %s" % funcname)


STOCK = _cases("testCheckStockCommandActions")
MAIL = _cases("testComplexMailActionMultiLog")


def _conf(cases):
    """A mailwarden config with one jail per case, its action as given."""
    lines = ["warden_action_path = %s" % ACTION_D, ""]
    for jail, act, _ in cases:
        # pf[a=b][c=d]: fail2ban merges the groups; mailwarden's jail
        # reader takes one group (written as one here)
        act = act.replace("%(__name__)s", jail).replace("][", ", ")
        lines += ["[%s]" % jail, "enabled = true", "filter = sshd", "logpath = /dev/null",
                  "bantime = 600", "action = " + act.replace("\n", "\n    "), ""]
    return "\n".join(lines)


ACTION = re.compile(r"^# action (\S+) \(")
HEAD = re.compile(r"^# (\S+) (action\w+) (-|inet4|inet6)(?: (\S+))?$")
ARG = re.compile(r"^#  \$(\d+) = (.*)$")


def _parse(out):
    """action-test's output: {action: {step: [(op, family, text, args)]}}."""
    acts, steps, cur, cmd = {}, {}, None, None
    for line in out[:-1].split("\n") if out.endswith("\n") else out.split("\n"):
        m = ACTION.match(line)
        if m:
            steps = acts.setdefault(m.group(1), {})
            cur = cmd = None
            continue
        if line.startswith("## "):
            cur = steps.setdefault(line[3:], [])
            cmd = None
            continue
        m = HEAD.match(line)
        if m and cur is not None:
            cmd = [m.group(2), "" if m.group(3) == "-" else m.group(3), [], []]
            cur.append(cmd)
            continue
        a = ARG.match(line)
        if a and cmd is not None and not cmd[2]:
            cmd[3].append(re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1),
                                 a.group(2)))
            continue
        if cmd is not None:
            cmd[2].append(line)
    return {a: {k: [(c[0], c[1], "\n".join(c[2]), c[3]) for c in v] for k, v in st.items()}
            for a, st in acts.items()}


def _action_test(conf, jail, *args, every=False):
    """The steps of the jail's action (every=True: {action: steps})."""
    p = subprocess.run([BIN, "-c", conf, "action-test"] + list(args[:-2]) + [jail] + list(args[-2:]),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    acts = _parse(p.stdout)
    if every:
        return acts
    assert len(acts) == 1, p.stdout
    return list(acts.values())[0]


def _logged(cmds):
    """The log fail2ban's test captures: its _executeCmd's lines."""
    out = []
    for _, _, text, _ in cmds:
        for l in text.split("\n"):
            out.append(l if l.startswith("#") else "exec-cmd: `%s`" % l)
    return "\n".join(out) + "\n"


def _assert_logged(log, strs):
    for s in strs:
        assert s in log, "%r not in:\n%s" % (s, log)


def _assert_not_logged(log, strs):
    for s in strs:
        assert s not in log, "%r in:\n%s" % (s, log)


@pytest.fixture(scope="module")
def stock():
    d = tempfile.mkdtemp(prefix="mw_f2bact_")
    conf = os.path.join(d, "mailwarden.conf")
    with open(conf, "w") as f:
        f.write(_conf(STOCK))
    out = {}
    for jail, _, _ in STOCK:
        out[jail] = _action_test(conf, jail, IP4, IP6)
    return out


@pytest.mark.parametrize("jail,act,tests", STOCK, ids=[c[0] for c in STOCK])
def test_stock_action_expectations(stock, jail, act, tests):
    """fail2ban's testCheckStockCommandActions, step for step."""
    st = stock[jail]
    if jail == "j-w-pf":	# "tag <port> set in jail.conf, but not in this test case":
        tests = dict(tests)	# a mailwarden jail has jail.conf's port = 0:65535
        tests["start"] = tuple(s.replace('port="<port>"', 'port="0:65535"')
                               for s in tests["start"])
    log = _logged(st["start"])
    if tests.get("start"):
        _assert_logged(log, tests["start"])
    elif tests.get("ip4-start") and tests.get("ip6-start"):
        _assert_not_logged(log, tests["ip4-start"] + tests["ip6-start"])
    for fam, ip, other in (("ip4", "192.0.2.1", "ip6"), ("ip6", "2001:db8::", "ip4")):
        log = _logged(st["ban " + ip])
        if tests.get(fam + "-start"):
            _assert_logged(log, tests.get("*-start", tests.get("*-start-stop-check", ())) +
                           tests[fam + "-start"])
        if tests.get(other + "-start"):
            _assert_not_logged(log, tests[other + "-start"])
        _assert_logged(log, tests[fam + "-ban"])
        _assert_not_logged(log, tests[other])
        log = _logged(st["unban " + ip])
        _assert_logged(log, tests[fam + "-unban"])
        _assert_not_logged(log, tests[other])
    log = _logged(st["check"])
    for fam in ("ip4", "ip6"):
        if tests.get(fam + "-check"):
            _assert_logged(log, tests.get("*-check", tests.get("*-start-stop-check", ())) +
                           tests[fam + "-check"])
    if tests.get("flush"):
        _assert_logged(_logged(st["flush"]), tests["flush"])
    if tests.get("stop"):
        _assert_logged(_logged(st["stop"]), tests.get("*-start-stop-check", ()) + tests["stop"])


# fail2ban itself, for the whole commands: the same steps through its
# ActionReader and CommandAction, executeCmd replaced by a recorder. The
# jail's values are those of jail.conf's [DEFAULT] (port 0:65535, tcp),
# which a mailwarden jail has by default.
REFERENCE = r'''
import json, sys
from fail2ban.client.actionreader import ActionReader
from fail2ban.helpers import extractOptions
from fail2ban.server.action import CommandAction
from fail2ban.server.actions import Actions
from fail2ban.server.ticket import BanTicket
from fail2ban.tests.dummyjail import DummyJail

from fail2ban.client.jailreader import JailReader

cases, ips, attempts, matches = json.load(sys.stdin)
out = {}

def streams(jail, act):
    """(action name, its set commands) of an action string, or of every
    action of the jail in the fail2ban tree act ("tree:DIR")."""
    if act.startswith("tree:"):
        jr = JailReader(jail, basedir=act[5:], force_enable=True)
        assert jr.read()
        jr.getOptions()
        stream = jr.convert(allow_no_files=True)
    else:
        name, opts = extractOptions(act.replace("%(__name__)s", jail))
        r = ActionReader(name, jail, opts, basedir="/etc/fail2ban")
        assert r.read()
        r.getOptions({"port": "0:65535", "protocol": "tcp"})
        stream = r.convert()
    acts = {}
    for cmd in stream:
        if cmd[0] == "set" and cmd[2] == "addaction":
            acts[cmd[3]] = []
        elif cmd[0] == "multi-set" and cmd[2] == "action":
            acts[cmd[3]] += cmd[4]
        elif cmd[0] == "set" and cmd[2] == "action":
            acts[cmd[3]].append(cmd[4:6])
    return acts

for jail, act in cases:
  for name, sets in streams(jail, act).items():
    dj = DummyJail(name=jail)
    dj.__class__ = type("J", (DummyJail,), {"__bool__": lambda s: True})
    steps = {}
    cur = []
    a = CommandAction(dj, name)
    for k, v in sets:
        setattr(a, k, v)
    def rec(realCmd, timeout=60, **kw):
        cur.append(realCmd if isinstance(realCmd, str) else realCmd[0])
        return True
    a.executeCmd = rec
    def step(n, fn, *args):
        del cur[:]
        fn(*args)
        steps[n] = list(cur)
    step("start", a.start)
    infos = {}
    for ip in ips:
        t = BanTicket(ip)
        t.setBanTime(600)
        if attempts:
            t.setAttempt(attempts)
        if matches:
            t.setMatches(matches)
        ai = Actions.ActionInfo(t, dj)
        infos[ip] = ai
        key = ai["ip"]
        step("ban " + str(key), a.ban, ai)
        step("unban " + str(key), a.unban, ai)
    def check():
        for ip in ips:
            a._invariantCheck(infos[ip]["family"])
    step("check", check)
    step("flush", a.flush)
    step("stop", a.stop)
    out.setdefault(jail, {})[name] = steps
json.dump(out, sys.stdout)
'''


def _reference(cases, ips, attempts=0, matches=None):
    # a value's continuation lines lose their indentation in a config
    # file (configparser's too); fail2ban's test passes them unread
    acts = [[c[0], re.sub(r"\n\s+", "\n", c[1])] for c in cases]
    p = subprocess.run(["/usr/bin/python3", "-c", REFERENCE], capture_output=True, text=True,
                       timeout=120, input=json.dumps([acts, ips, attempts, matches or []]))
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def _untimed(cmds):
    """<time> (now, as a float) differs between two runs; an empty command
    is "Nothing to do" for fail2ban, and not queued by mailwarden."""
    return [re.sub(r"(?<!\d)1\d{9}(\.\d+)?", "<time>", c) for c in cmds if c]


def test_stock_actions_equal_fail2ban(stock):
    """Every command, whole, equals the one fail2ban 1.0.2 builds."""
    ref = _reference(STOCK, [IP4, IP6])
    for jail, _, _ in STOCK:
        mine = stock[jail]
        (r,) = ref[jail].values()
        assert set(mine) == set(r), jail
        for step, cmds in r.items():
            assert [c[2] for c in mine[step]] == [c for c in cmds if c], "%s: %s" % (jail, step)


def _mail_cmd(cmd):
    """fail2ban's _executeMailCmd substitutions."""
    cmd = re.sub(r'\)\s*\|\s*(\S*mail\b[^\n]*)', r') | cat; printf "\\n... | "; echo \1', cmd)
    return re.sub(r'\bADDRESSES=\$\(dig\s[^\n]+',
                  lambda m: 'ADDRESSES="abuse-1@abuse-test-server, abuse-2@abuse-test-server"',
                  cmd, count=1)


MATCHES = ["Dec 31 11:59:59 [sshd] error: PAM: Authentication failure for kevin from 87.142.124.10",
           "Dec 31 11:55:01 [sshd] error: PAM: Authentication failure for test from 87.142.124.10"]


@pytest.mark.parametrize("jail,act,tests", MAIL, ids=[c[0] for c in MAIL])
def test_mail_actions(tmp_path, jail, act, tests):
    """testComplexMailActionMultiLog: the ban commands run (mail -> cat)."""
    conf = tmp_path / "mailwarden.conf"
    conf.write_text(_conf([(jail, act, tests)]))
    args = ["--failures", "100"]
    for m in MATCHES:
        args += ["--match", m]
    st = _action_test(str(conf), jail, *args, "87.142.124.10", "2001:db8::1")
    (ref,) = _reference([(jail, act, tests)], ["87.142.124.10", "2001:db8::1"], 100,
                        MATCHES)[jail].values()
    for step, cmds in ref.items():
        assert _untimed([c[2] for c in st[step]]) == _untimed(cmds), step
    for test, ip in (("ip4-ban", "87.142.124.10"), ("ip6-ban", "2001:db8::1")):
        if not tests.get(test):
            continue
        out = ""
        for op, fam, text, argv in st["ban " + ip]:
            p = subprocess.run(["/bin/sh", "-c", _mail_cmd(text)] + argv, capture_output=True,
                               text=True, timeout=60)
            out += p.stdout + p.stderr
        for s in tests[test]:
            # fail2ban's test mocks <ip-host>; with no reverse DNS it is None
            s = s.replace("Hostname: test-host", "Hostname: None")
            assert s in out, "%r not in:\n%s" % (s, out)


# jail.conf's [DEFAULT] action definitions, as Debian ships them
JAILCONF_DEFAULT = r"""
destemail = root@localhost
sender = root@<fq-hostname>
mta = sendmail
protocol = tcp
chain = <known/chain>
port = 0:65535
banaction = iptables-multiport
banaction_allports = iptables-allports
action_ = %(banaction)s[port="%(port)s", protocol="%(protocol)s", chain="%(chain)s"]
action_mw = %(action_)s
            %(mta)s-whois[sender="%(sender)s", dest="%(destemail)s", protocol="%(protocol)s", chain="%(chain)s"]
action_mwl = %(action_)s
             %(mta)s-whois-lines[sender="%(sender)s", dest="%(destemail)s", logpath="%(logpath)s", chain="%(chain)s"]
"""
JAILS = r"""
[j-plain]
enabled = true
filter = sshd
logpath = /dev/null
port = smtp,465,submission
action = %(action_)s

[j-mw]
enabled = true
filter = sshd
logpath = /dev/null
action = %(action_mw)s

[j-mwl]
enabled = true
filter = sshd
logpath = /dev/null
port = imap,imaps
action = %(action_mwl)s

[j-allports]
enabled = true
filter = sshd
logpath = /dev/null
banaction = %(banaction_allports)s
action = %(action_)s

[j-nft]
enabled = true
filter = sshd
logpath = /dev/null
banaction = nftables-multiport
action = %(action_)s
"""


def test_jailconf_action_definitions(tmp_path):
    """banaction, banaction_allports, action_, action_mw, action_mwl from
    jail.conf: the same commands as fail2ban reading the same jail.conf."""
    for sub in ("action.d", "filter.d"):
        os.symlink("/etc/fail2ban/" + sub, str(tmp_path / sub))
    (tmp_path / "jail.conf").write_text("[DEFAULT]" + JAILCONF_DEFAULT + JAILS)
    conf = tmp_path / "mailwarden.conf"
    conf.write_text("warden_action_path = %s\n\n[DEFAULT]%s%s" % (ACTION_D, JAILCONF_DEFAULT, JAILS))
    jails = ("j-plain", "j-mw", "j-mwl", "j-allports", "j-nft")
    # a ban carries the jail's maxretry (5) failures in action-test
    ref = _reference([(j, "tree:" + str(tmp_path), None) for j in jails], [IP4, IP6], 5)
    want = {"j-plain": ["iptables-multiport"], "j-mw": ["iptables-multiport", "sendmail-whois"],
            "j-mwl": ["iptables-multiport", "sendmail-whois-lines"],
            "j-allports": ["iptables-allports"], "j-nft": ["nftables-multiport"]}
    for j in jails:
        mine = _action_test(str(conf), j, IP4, IP6, every=True)
        assert sorted(mine) == sorted(ref[j]) == sorted(want[j]), j
        for name, steps in ref[j].items():
            for step, cmds in steps.items():
                assert _untimed([c[2] for c in mine[name][step]]) == _untimed(cmds), \
                    "%s %s: %s" % (j, name, step)
    plain = _action_test(str(conf), "j-plain", IP4, IP6)
    assert any("--dports smtp,465,submission" in c[2] for c in plain["ban 192.0.2.1"])


# ---- truthful state: a failing command, as fail2ban logs it ----

FAILING = """\
[Definition]
actionstart = true
actioncheck = %(check)s
actionban = echo boom <ip> >&2; exit 3
actionunban = true
check =
"""


def _wait(fn, what, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    pytest.fail("timed out waiting for " + what)


def _read(p):
    try:
        return open(p).read()
    except FileNotFoundError:
        return ""


def test_failing_command_logged_and_counted(make_server, tmp_path):
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "failing.conf").write_text(FAILING)
    wlog = tmp_path / "warden.log"
    auth = tmp_path / "auth.log"
    auth.write_text("")
    jail = ["enabled = true", "filter = sshd", "logpath = %s" % auth, "bantime = 1h"]
    s = make_server(extra=["warden_action_path = %s" % adir, "warden_logtarget = %s" % wlog,
                           "[plain]"] + jail + ["action = failing",
                           "[checked]"] + jail + ["action = failing[check=\"echo broken; exit 1\"]"])

    def cli(*a):
        return subprocess.run([BIN, "-c", s.conf] + list(a), capture_output=True, text=True,
                              timeout=10)
    _wait(lambda: cli("status").returncode == 0, "the warden answering")
    assert cli("ban", "plain", "192.0.2.9").stdout == "1\n"
    _wait(lambda: "Error banning 192.0.2.9" in _read(wlog), "the failure logged")
    log = _read(wlog)
    # fail2ban.utils' lines, then actions.py's
    pre = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} fail2ban\.utils          \[\d+\]: ERROR   "
    m = re.search(pre + r"([0-9a-f]+) -- exec: echo boom 192\.0\.2\.9 >&2; exit 3$", log, re.M)
    assert m, log
    cid = m.group(1)
    assert re.search(pre + cid + r" -- stderr: 'boom 192\.0\.2\.9'$", log, re.M), log
    assert re.search(pre + cid + r" -- returned 3$", log, re.M), log
    assert re.search(r"fail2ban\.actions        \[\d+\]: ERROR   Failed to execute ban jail "
                     r"'plain' action 'failing' info '.*': Error banning 192\.0\.2\.9$", log, re.M)
    j = json.loads(cli("status", "plain", "--json").stdout)
    assert j["actions"] == [{"name": "failing", "errors": 1, "last_error": j["actions"][0]["last_error"]}]
    assert "returned 3" in j["actions"][0]["last_error"]
    assert "boom 192.0.2.9" in j["actions"][0]["last_error"]
    # the fail2ban-client layout is unchanged (the ban is in force for the jail)
    st = cli("status", "plain").stdout
    assert st.endswith("`- Actions\n   |- Currently banned:\t1\n   |- Total banned:\t1\n"
                       "   `- Banned IP list:\t192.0.2.9\n"), st

    # with an actioncheck: check, restore (stop + start), check again, give up
    assert cli("ban", "checked", "192.0.2.10").stdout == "1\n"
    _wait(lambda: "Error banning 192.0.2.10" in _read(wlog), "the second failure logged")
    log = _read(wlog)
    assert "ERROR   Invariant check failed. Trying to restore a sane environment" in log
    assert "CRITICAL Unable to restore environment" in log
    assert re.search(r"-- stdout: 'broken'$", log, re.M), log
    j = json.loads(cli("status", "checked", "--json").stdout)
    assert j["actions"][0]["errors"] == 3, log	# ban, check, check after the restore
    assert json.loads(cli("status", "plain", "--json").stdout)["actions"][0]["errors"] == 1


# ---- check-config: each command action's commands are built and checked ----

BROKEN = """\
[Definition]
actionban = { <iptables> -C INPUT -p tcp <ipt_<type>/_chain_rule> >/dev/null 2>&1; } || true
[Init]
type = nosuch
"""


@pytest.mark.parametrize("action,want", [
    ("broken", r"\[j\] action broken: actionban inet4 192\.0\.2\.1 cannot run: the shell cannot "
               r"parse it \(.*redirection unexpected\).*unresolved tags: .*<ipt_nosuch/_chain_rule>"),
    ("pf", r"\[j\] action pf: actionstart .*cannot run: not installed: pfctl"),
    ("iptables-multiport[port=smtp]", None),
    ("nftables-multiport[port=smtp]", None),
    ("sendmail-whois-lines", None),
])
def test_check_config_runs_the_dry_commands(make_server, tmp_path, action, want):
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "broken.conf").write_text(BROKEN)
    s = make_server(extra=["warden_action_path = %s %s" % (adir, ACTION_D), "[j]",
                           "enabled = true", "filter = sshd", "logpath = /dev/null",
                           "action = " + action], start=False)
    r = subprocess.run([BIN, "-c", s.conf, "check-config"], capture_output=True, text=True,
                       timeout=30)
    if want is None:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode != 0 and re.search(want, r.stderr), r.stderr


# ---- <ip> is the address, as in fail2ban, also for an IPv6 prefix ban ----

ECHO = """\
[Definition]
actionban = echo ban <ip> <family> >> <out>
actionunban = echo unban <ip> <family> >> <out>
"""


def test_ip_is_the_address_of_a_prefix_ban(make_server, tmp_path):
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "echo.conf").write_text(ECHO)
    out, auth = tmp_path / "out", tmp_path / "auth.log"
    auth.write_text("")
    s = make_server(extra=["warden_action_path = %s" % adir, "[sshd]", "enabled = true",
                           "filter = sshd", "logpath = %s" % auth, "maxretry = 2",
                           "action = echo[out=%s]" % out])

    def cli(*a):
        return subprocess.run([BIN, "-c", s.conf] + list(a), capture_output=True, text=True,
                              timeout=10)
    _wait(lambda: cli("status").returncode == 0, "the warden answering")
    stamp = time.strftime("%b %d %H:%M:%S")
    with open(auth, "a") as f:
        for _ in range(2):
            f.write("%s host sshd[1]: Failed password for root from 2001:db8:1:2::9 port 22 ssh2\n"
                    % stamp)
    _wait(lambda: "ban 2001:db8:1:2::9 inet6" in _read(out), "the ban")
    # the jail bans (and lists) the /64, the command got the address
    assert "Banned IP list:\t2001:db8:1:2::/64\n" in cli("status", "sshd").stdout
    assert cli("unban", "2001:db8:1:2::/64").stdout == "1\n"
    _wait(lambda: "unban 2001:db8:1:2::9 inet6" in _read(out), "the unban")
    # a ban by hand of an address: that address
    assert cli("ban", "sshd", "192.0.2.44").stdout == "1\n"
    _wait(lambda: "ban 192.0.2.44 inet4" in _read(out), "the manual ban")


# ---- a command runs as fail2ban's would: no signal blocked, no fd of ours ----

SIGS = """\
[Definition]
actionban = grep -E '^Sig(Blk|Ign):' /proc/self/status > <out>; ls /proc/self/fd >> <out>; echo end >> <out>
"""


def test_command_gets_a_clean_signal_mask_and_fds(make_server, tmp_path):
    """As fail2ban's (Python's subprocess): the programs of a command start
    with no signal ignored (the master ignores SIGPIPE and SIGHUP, and an ignored signal
    stays ignored across exec: `cmd | grep -q` would see EPIPE errors) or
    blocked (the firewall's signalfd), and none of the firewall's
    descriptors (its socket to the warden, a spare /dev/null)."""
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "sigs.conf").write_text(SIGS)
    out, auth = tmp_path / "out", tmp_path / "auth.log"
    auth.write_text("")
    s = make_server(extra=["warden_action_path = %s" % adir, "[sshd]", "enabled = true",
                           "filter = sshd", "logpath = %s" % auth,
                           "action = sigs[out=%s]" % out])

    def cli(*a):
        return subprocess.run([BIN, "-c", s.conf] + list(a), capture_output=True, text=True,
                              timeout=10)
    _wait(lambda: cli("status").returncode == 0, "the warden answering")
    assert cli("ban", "sshd", "192.0.2.45").stdout == "1\n"
    _wait(lambda: _read(out).endswith("end\n"), "the command's output")
    lines = _read(out).split("\n")
    assert lines[0] == "SigBlk:\t0000000000000000", lines
    # (signals 32 and 33 are the C library's own: whoever started the test
    # may have left them ignored, and no program can set them)
    assert lines[1].startswith("SigIgn:\t"), lines
    assert int(lines[1].split("\t")[1], 16) & ~0x180000000 == 0, lines
    # what a program of the command gets: stdin, stdout, stderr (and 3,
    # the directory `ls` reads)
    assert sorted(int(f) for f in lines[2:-2]) == [0, 1, 2, 3], lines


# ---- a command still running when the firewall stops is not left behind ----

SLOW_STOP = """\
[Definition]
actionstop = echo $$ > <out>; exec sleep 120
"""


def test_command_running_at_stop_is_killed(make_server, tmp_path):
    """The firewall waits a while for its actions' last commands at stop,
    then kills what still runs (its own session) instead of leaving it."""
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "slowstop.conf").write_text(SLOW_STOP)
    out, auth = tmp_path / "out", tmp_path / "auth.log"
    auth.write_text("")
    s = make_server(extra=["warden_action_path = %s" % adir, "[sshd]", "enabled = true",
                           "filter = sshd", "logpath = %s" % auth,
                           "action = slowstop[out=%s]" % out])
    _wait(lambda: subprocess.run([BIN, "-c", s.conf, "status"], capture_output=True,
                                 timeout=10).returncode == 0, "the warden answering")
    assert s.stop() == []
    s.proc = None  # stopped: nothing for the teardown to stop
    pid = int(_wait(lambda: _read(out).strip(), "actionstop's pid"))
    try:
        _wait(lambda: not os.path.exists("/proc/%d" % pid), "actionstop's sleep gone: %s"
              % _read("/proc/%d/stat" % pid), 3)
        assert re.search(r"firewall: \[sshd\] slowstop: actionstop still running at stop: "
                         r"killed", s.log()), s.log()
    finally:
        if os.path.exists("/proc/%d" % pid):
            os.kill(pid, 9)


# ---- the wait at stop and reload is part of the firewall's loop ----

BIG_STOP = """\
[Definition]
actionstop = sleep 0.3; head -c 200000 /dev/zero && echo stopped >> <out>
"""

SLOW_STOP_TIMEOUT = """\
[Definition]
actionstop = sleep 4; echo slow >> <out>
[Init]
timeout = 1
"""


def test_wait_at_reload_and_stop_is_in_the_loop(make_server, tmp_path):
    """The commands still running when the firewall unloads its jails (a
    `mailwarden reload`, in place, then the stop) are waited for in the
    firewall's loop: one writing more than a pipe holds (64 KiB) has its
    output read and succeeds (its stdout blocks as a shell's does); one
    past its <timeout> is killed then, not when the 5 s wait ends."""
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "bigstop.conf").write_text(BIG_STOP)
    (adir / "slowstop.conf").write_text(SLOW_STOP_TIMEOUT)
    out, slow, auth = tmp_path / "out", tmp_path / "slow", tmp_path / "auth.log"
    auth.write_text("")
    s = make_server(extra=["warden_action_path = %s" % adir, "[sshd]", "enabled = true",
                           "filter = sshd", "logpath = %s" % auth,
                           "action = bigstop[out=%s]" % out, "    slowstop[out=%s]" % slow])

    def cli(*a):
        return subprocess.run([BIN, "-c", s.conf] + list(a), capture_output=True, text=True,
                              timeout=10)
    _wait(lambda: cli("status").returncode == 0, "the warden answering")
    t0 = time.time()
    assert cli("reload").stdout == "OK\n"
    _wait(lambda: _read(out) == "stopped\n", "actionstop at the reload", 10)
    s.wait_log(r"-- timed out after 1 seconds\.")
    assert time.time() - t0 < 3, "the reload waited for the slow actionstop"
    # the reloaded jail bans
    assert cli("ban", "sshd", "192.0.2.46").stdout == "1\n"
    assert s.stop() == []
    s.proc = None
    assert _read(out) == "stopped\nstopped\n"
    assert _read(slow) == ""
    assert "still running at stop" not in s.log(), s.log()


# ---- <ip-host> never holds up the other jails' bans ----

HOSTLOG = """\
[Definition]
actionban = echo <ip> <ip-host> >> <out>
"""

PLAINLOG = """\
[Definition]
actionban = echo <ip> >> <out>
"""


def test_ip_host_lookup_does_not_delay_other_jails(make_server, tmp_path, dns):
    """<ip-host> is looked up through the firewall's asynchronous DNS
    (dns_servers, dns_timeout): while a PTR does not answer, the ban of
    another jail runs at once; the jail's own bans follow in order, the
    name "None" after the timeout, then the next one's name."""
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "hostlog.conf").write_text(HOSTLOG)
    (adir / "plainlog.conf").write_text(PLAINLOG)
    hout, pout, auth = tmp_path / "host", tmp_path / "plain", tmp_path / "auth.log"
    auth.write_text("")
    jail = ["enabled = true", "filter = sshd", "logpath = %s" % auth, "ignoreself = false"]
    s = make_server(extra=dns.conf_lines("2s") + ["dns_tries = 1",
                    "warden_action_path = %s" % adir,
                    "[slowdns]"] + jail + ["action = hostlog[out=%s]" % hout,
                    "[other]"] + jail + ["action = plainlog[out=%s]" % pout])

    def cli(*a):
        return subprocess.run([BIN, "-c", s.conf] + list(a), capture_output=True, text=True,
                              timeout=10)
    _wait(lambda: cli("status").returncode == 0, "the warden answering")
    t0 = time.time()
    assert cli("ban", "slowdns", "127.0.0.8").stdout == "1\n"   # its PTR times out
    assert cli("ban", "slowdns", "127.0.0.2").stdout == "1\n"   # good.test, after it
    assert cli("ban", "other", "127.0.0.4").stdout == "1\n"
    _wait(lambda: _read(pout) == "127.0.0.4\n", "the other jail's ban", 10)
    assert time.time() - t0 < 1.5, "the other jail's ban waited for the PTR"
    assert _read(hout) == ""
    _wait(lambda: _read(hout) == "127.0.0.8 None\n127.0.0.2 good.test\n",
          "the slow jail's bans: %r" % _read(hout), 10)
    # cached: the next ban of a known address runs at once
    assert cli("unban", "127.0.0.2").returncode == 0
    t0 = time.time()
    assert cli("ban", "slowdns", "127.0.0.2").stdout == "1\n"
    _wait(lambda: _read(hout).endswith("127.0.0.2 good.test\n127.0.0.2 good.test\n"),
          "the cached name", 10)
    assert time.time() - t0 < 1.5


# ---- a command that could not be started does not stall its queue ----

def _firewall_pid(s):
    """The firewall process of server s (comm "firewall", a child of its master)."""
    def find():
        for d in os.listdir("/proc"):
            try:
                if (d.isdigit() and open("/proc/%s/comm" % d).read().strip() == "firewall"
                        and int(open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()[1])
                        == s.proc.pid):
                    return int(d)
            except OSError:
                pass
        return None
    return _wait(find, "the firewall process")


def test_queue_goes_on_after_a_command_could_not_start(make_server, tmp_path):
    """The firewall out of descriptors: the ban's command cannot get its
    pipes (logged, counted). Once it has them again the queued command
    runs on the next second's tick, not only when another ban comes."""
    os.chmod(tmp_path, 0o755)
    adir = tmp_path / "action.d"
    adir.mkdir()
    (adir / "echo.conf").write_text(ECHO)
    out, auth = tmp_path / "out", tmp_path / "auth.log"
    auth.write_text("")
    s = make_server(extra=["warden_action_path = %s" % adir, "[sshd]", "enabled = true",
                           "filter = sshd", "logpath = %s" % auth,
                           "action = echo[out=%s]" % out])

    def cli(*a):
        return subprocess.run([BIN, "-c", s.conf] + list(a), capture_output=True, text=True,
                              timeout=10)
    _wait(lambda: cli("status").returncode == 0, "the warden answering")
    fw = _firewall_pid(s)
    nfd = len(os.listdir("/proc/%d/fd" % fw))
    soft, hard = re.search(r"^Max open files\s+(\d+)\s+(\d+)", _read("/proc/%d/limits" % fw),
                           re.M).groups()
    # the soft limit only: raising a hard one back needs CAP_SYS_RESOURCE
    subprocess.run(["prlimit", "--pid", str(fw), "--nofile=%d:%s" % (nfd, hard)], check=True)
    try:
        assert cli("ban", "sshd", "192.0.2.46").stdout == "1\n"
        _wait(lambda: json.loads(cli("status", "sshd", "--json").stdout)["actions"][0]["errors"],
              "the failed start counted")
        assert "ban 192.0.2.46" not in _read(out)
    finally:
        subprocess.run(["prlimit", "--pid", str(fw), "--nofile=%s:%s" % (soft, hard)],
                       check=True)
    _wait(lambda: "ban 192.0.2.46 inet4" in _read(out), "the queued ban run", 5)
    assert "pipe: Too many open files" in s.log()


def test_every_stock_action_equals_fail2ban(tmp_path):
    """Every action.d file fail2ban ships (as its testCheckStockAllActions),
    with only name given: the same commands at each step. The *-common
    files define no operation: fail2ban would run the literal text
    "<actionstart>"; mailwarden runs nothing (not compared)."""
    import glob
    names = sorted(os.path.basename(p)[:-5] for p in glob.glob(ACTION_D + "/*.conf")
                   if not p.endswith("-common.conf"))
    cases = [("j-" + n, n + "[name=%(__name__)s]", {}) for n in names]
    conf = tmp_path / "mailwarden.conf"
    conf.write_text(_conf(cases))
    ref = _reference(cases, [IP4, IP6], 5)
    for jail, _, _ in cases:
        mine = _action_test(str(conf), jail, "--failures", "5", IP4, IP6)
        (r,) = ref[jail].values()
        for step, cmds in r.items():
            assert _untimed([c[2] for c in mine.get(step, [])]) == _untimed(cmds), \
                "%s: %s" % (jail, step)
