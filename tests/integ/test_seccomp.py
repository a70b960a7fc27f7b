"""seccomp allow-lists (src/common/sandbox.c): the smtp engine and the
queue manager run with a filter (Seccomp: 2) and NoNewPrivs; a system
call outside the list (execve, made through the test hook: with
MAILWARDEN_TEST_HOOKS=1, SIGUSR2 makes a process call execve) kills the
process, the master logs which process and which call, and a new process
serves mail; `seccomp = no` turns the filter off. Every other integration
test fails on a "seccomp violation" in its log (conftest.py), so the
whole suite checks that the lists are complete."""
import os
import signal
import time

import pytest

from conftest import children_by_comm, make_message, proc_status

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="tells the children apart by uid and chroot (root)")


status = proc_status


def kinds(server):
    return children_by_comm(server.proc.pid)


def wait_kinds(server, want=("smtpd", "qmgr"), not_pid=None, timeout=10.0):
    deadline = time.time() + timeout
    k = {}
    while time.time() < deadline:
        k = kinds(server)
        if all(w in k for w in want) and not_pid not in k.values():
            # the filter goes on at the end of the set-up
            if all(status(k[w]).get("Seccomp") in ("0", "2") for w in want):
                return k
        time.sleep(0.05)
    pytest.fail(f"children {want} not found (have {k})\n{server.log()[-3000:]}")


def filter_on(server, pid, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if status(pid).get("Seccomp") == "2":
            return True
        time.sleep(0.05)
    return False


def sanitizer_build(server):
    server.wait_log(r"seccomp filter on")
    return "sanitizer build" in server.log()


def test_engine_and_qmgr_are_filtered(server):
    k = wait_kinds(server)
    for name, pid in k.items():
        assert filter_on(server, pid), f"{name} pid {pid}: {status(pid)}"
        st = status(pid)
        assert st["Seccomp"] == "2", (name, st)
        assert st["NoNewPrivs"] == "1", (name, st)
    # the master itself is not filtered: it forks the children
    assert status(server.proc.pid)["Seccomp"] == "0"
    # and mail still flows through both
    r = server.send_mail("alice@example.com", make_message(subject="filtered"))
    assert r.startswith("250 2.0.0 Ok: queued as ")
    server.wait_delivered("alice@example.com", 1)


@pytest.mark.parametrize("victim", ["smtpd", "qmgr"])
def test_execve_traps_reported_and_restarted(make_server, monkeypatch, victim):
    monkeypatch.setenv("MAILWARDEN_TEST_HOOKS", "1")
    s = make_server()
    if sanitizer_build(s):
        pytest.skip("the sanitizer build's lists allow execve (the symbolizer)")
    if "logging, not trapping" in s.log():
        pytest.skip("MAILWARDEN_SECCOMP_LOG=1: violations are logged, not trapped")
    s.allow_seccomp = True
    k = wait_kinds(s)
    pid = k[victim]
    assert filter_on(s, pid)
    os.kill(pid, signal.SIGUSR2)
    s.wait_log(rf"warning: process {victim} pid {pid}: seccomp violation: "
               r"system call execve \(\d+\); restarting")
    # the master's normal restart path: a new, filtered process
    k2 = wait_kinds(s, not_pid=pid, timeout=15)
    assert k2[victim] != pid
    assert filter_on(s, k2[victim]), status(k2[victim])
    s.wait_ready(10)
    r = s.send_mail("bob@example.net", make_message(to="bob@example.net",
                                                    subject=f"after {victim} died"))
    assert r.startswith("250 2.0.0 Ok: queued as ")
    s.wait_delivered("bob@example.net", 1, timeout=15)
    # nothing but the one violation the test asked for
    assert len([l for l in s.log().splitlines() if "seccomp violation" in l]) == 1, s.log()


def test_seccomp_no_turns_the_filter_off(make_server):
    s = make_server(extra=["seccomp = no"])
    k = wait_kinds(s)
    time.sleep(0.3)     # past the point where the filter would go on
    for name, pid in k.items():
        assert status(pid)["Seccomp"] == "0", (name, status(pid))
    r = s.send_mail("alice@example.com", make_message(subject="unfiltered"))
    assert r.startswith("250 2.0.0 Ok: queued as ")
    s.wait_delivered("alice@example.com", 1)
    assert "seccomp filter on" not in s.log()
