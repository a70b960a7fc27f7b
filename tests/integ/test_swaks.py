"""swaks, the SMTP Swiss army knife, as a second real client."""
import subprocess


def swaks(s, *args):
    cmd = ["swaks", "--server", f"{s.host}:{s.port}", "--helo", "client.test.example",
           "--timeout", "15", "--hide-informational"] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_swaks_delivers(server):
    r = swaks(server, "--from", "sender@example.org", "--to", "alice@example.com",
              "--header", "Subject: from swaks", "--body", "hello from swaks")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0 Ok: queued as " in r.stdout, r.stdout
    (path,) = server.wait_delivered("alice@example.com", 1)
    with open(path, "rb") as f:
        data = f.read()
    assert b"Subject: from swaks" in data
    assert b"hello from swaks" in data


def test_swaks_pipelining_two_domains(server):
    r = swaks(server, "--pipeline", "--from", "sender@example.org",
              "--to", "alice@example.com,bob@example.net,info@example.net")
    assert r.returncode == 0, r.stdout + r.stderr
    server.wait_delivered("alice@example.com", 1)
    # bob gets it once for himself and once through info@ (Postfix delivers
    # each recipient; duplicates of the same final address may be merged)
    files = server.wait_delivered("bob@example.net", 1)
    assert 1 <= len(files) <= 2


def test_swaks_unknown_user_fails(server):
    r = swaks(server, "--from", "sender@example.org", "--to", "nobody@example.com")
    assert r.returncode != 0
    assert "550 5.1.1 <nobody@example.com>: Recipient address rejected" in r.stdout, r.stdout


def test_swaks_ipv6(make_server):
    s = make_server(host="::1")
    r = subprocess.run(["swaks", "--server", "::1", "--port", str(s.port), "-6",
                        "--from", "sender@example.org", "--to", "bob@example.net",
                        "--hide-informational"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    s.wait_delivered("bob@example.net", 1)
