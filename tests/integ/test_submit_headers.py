"""
Submitted mail gets the Message-Id and Date it lacks (issue 6), as
Postfix's cleanup adds them: mail from an AUTH session or a mynetworks
client. Mail from an unauthenticated outside client is stored exactly as
sent (after our Received header). sendmail's path is in test_sendmail.py.
"""
import email.utils
import re
import smtplib

import pytest

from conftest import HOSTNAME
from tlsfix import TlsFiles

BARE = "From: alice@example.com\r\nTo: alice@example.com\r\nSubject: bare\r\n\r\nNo id, no date.\r\n"


@pytest.fixture(scope="module")
def tls():
    return TlsFiles()


def header_block(path):
    data = open(path, "rb").read().decode()
    return data.split("\n\n", 1)[0], data


def headers_named(block, name):
    return re.findall(rf"^{name}:[ \t]*(.*)$", block, re.M | re.I)


def assert_added(path, qid_log):
    block, data = header_block(path)
    dates = headers_named(block, "Date")
    ids = headers_named(block, "Message-Id")
    assert len(dates) == 1 and len(ids) == 1, block
    assert email.utils.parsedate_to_datetime(dates[0]) is not None
    m = re.fullmatch(rf"<\d{{14}}\.(\w+)@{re.escape(HOSTNAME)}>", ids[0].strip())
    assert m, ids[0]
    # the added headers close the header section, the body is untouched
    assert block.endswith(f"Subject: bare\nDate: {dates[0]}\nMessage-Id: {ids[0]}")
    assert data.endswith("\n\nNo id, no date.\n")
    # cleanup logs the Message-Id it made, under the queue ID it names
    qid = m.group(1)
    assert any(f"{qid}: message-id={ids[0].strip()}" in l for l in qid_log().splitlines())


def test_mynetworks_client_gets_message_id_and_date(make_server):
    srv = make_server(extra=["mynetworks = 127.0.0.0/8"])
    srv.send_mail(["alice@example.com"], BARE, sender="alice@example.com")
    f = srv.wait_delivered("alice@example.com", 1)[0]
    assert_added(f, srv.log)


def test_auth_session_gets_message_id_and_date(make_server, tls):
    srv = make_server(extra=tls.config())          # mynetworks = 192.0.2.0/24 only
    s = smtplib.SMTP(srv.host, srv.port, local_hostname="client.test.example", timeout=10)
    s._host = "mx.test.example"
    s.ehlo()
    s.starttls(context=tls.client_context())
    s.ehlo()
    assert s.login("alice@example.com", "alice-secret")[0] == 235
    s.sendmail("alice@example.com", ["alice@example.com"], BARE)
    s.quit()
    f = srv.wait_delivered("alice@example.com", 1)[0]
    assert_added(f, srv.log)


def test_existing_headers_are_kept_not_doubled(make_server):
    srv = make_server(extra=["mynetworks = 127.0.0.0/8"])
    msg = ("From: alice@example.com\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
           "message-id: <given@client.example>\r\nSubject: has both\r\n\r\nbody\r\n")
    srv.send_mail(["alice@example.com"], msg, sender="alice@example.com")
    block, _ = header_block(srv.wait_delivered("alice@example.com", 1)[0])
    assert headers_named(block, "Date") == ["Mon, 1 Jan 2024 00:00:00 +0000"]
    assert headers_named(block, "Message-Id") == ["<given@client.example>"]


def test_headers_only_message_gets_them_too(make_server):
    srv = make_server(extra=["mynetworks = 127.0.0.0/8"])
    srv.send_mail(["alice@example.com"], "Subject: only headers\r\n", sender="alice@example.com")
    block, _ = header_block(srv.wait_delivered("alice@example.com", 1)[0])
    assert len(headers_named(block, "Date")) == 1
    assert len(headers_named(block, "Message-Id")) == 1


def test_outside_client_message_is_not_changed(make_server):
    srv = make_server(extra=["mynetworks = 192.0.2.0/24"])
    srv.send_mail(["alice@example.com"], BARE, sender="someone@example.org")
    block, data = header_block(srv.wait_delivered("alice@example.com", 1)[0])
    assert headers_named(block, "Date") == [] and headers_named(block, "Message-Id") == []
    # after delivery's Return-Path/Delivered-To and our Received header,
    # the message is byte for byte what was sent
    rest = re.sub(r"\A.*?^Received: .*?\n(?=\S)", "", data, flags=re.S | re.M)
    assert rest == BARE.replace("\r\n", "\n")
    srv.wait_log(r"\w+: message-id=<>")


def test_body_without_blank_line_stays_body(make_server):
    """The first non-header line ends the header section: the added
    headers go before it, followed by the empty line it lacked."""
    srv = make_server(extra=["mynetworks = 127.0.0.0/8"])
    srv.send_mail(["alice@example.com"], "Subject: no gap\r\nthis line is body\r\nmore\r\n",
                  sender="alice@example.com")
    data = open(srv.wait_delivered("alice@example.com", 1)[0], "rb").read().decode()
    assert re.search(r"\nSubject: no gap\nDate: [^\n]+\nMessage-Id: <[^\n]+>\n\n"
                     r"this line is body\nmore\n\Z", data), data
