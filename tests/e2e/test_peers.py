"""Tests of the outbound-delivery test peers themselves, driven with
smtplib: SmtpSink (smtp_sink.py, aiosmtpd) and PostfixPeer
(postfix_peer.py, Debian's Postfix). No postane server is involved."""

import base64
import smtplib

import pytest

from postfix_peer import PostfixPeer, postfix_installed
from smtp_sink import SmtpSink, free_port, server_tls_context
from smtpwire import tls_client_context

needs_postfix = pytest.mark.skipif(not postfix_installed(),
                                   reason="Debian's postfix is not installed (scripts/install-deps.sh)")

MESSAGE = (b"From: a@example.net\r\nTo: b@peer.test\r\nSubject: peer test\r\n\r\n"
           b"line one\r\n.leading dot\r\n\r\nlast line\r\n")


@pytest.fixture
def sink():
    s = SmtpSink("127.0.0.2").start()
    yield s
    s.stop()


@pytest.fixture
def tls_sink(tmp_path):
    s = SmtpSink("127.0.0.3", tls_context=server_tls_context(tmp_path, "sink.test"),
                 auth={"relay": "s3cret pw"}).start()
    yield s
    s.stop()


def connect(host, port):
    return smtplib.SMTP(host, port, local_hostname="client.test", timeout=15)


# ---------------------------------------------------------------- SmtpSink

def test_sink_records_transaction(sink):
    with connect(sink.address, sink.port) as c:
        code, text = c.ehlo()
        assert code == 250
        for ext in (b"SIZE", b"8BITMIME", b"SMTPUTF8", b"PIPELINING", b"DSN", b"ENHANCEDSTATUSCODES"):
            assert ext in text
        assert b"STARTTLS" not in text and b"AUTH" not in text
        refused = c.sendmail("a@example.net", ["b@peer.test", "c@peer.test"], MESSAGE,
                             mail_options=["BODY=8BITMIME", "RET=HDRS", "ENVID=Q+2Bx"],
                             rcpt_options=["NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;b@peer.test"])
        assert refused == {}
    [m] = sink.wait(1, timeout=5)
    assert m.mail_from == "a@example.net"
    assert m.rcpt_tos == ["b@peer.test", "c@peer.test"]
    # Parameters exactly as sent (smtplib adds SIZE first), case kept.
    assert m.mail_options[1:] == ["BODY=8BITMIME", "RET=HDRS", "ENVID=Q+2Bx"]
    assert m.rcpt_options == [["NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;b@peer.test"]] * 2
    assert m.data == MESSAGE  # CRLF kept, dot-stuffing undone
    assert m.reply.startswith("250 2.0.0 ") and m.accepted
    assert m.peer[0] == "127.0.0.1" and m.tls is False and m.auth_user is None
    assert m.helo == "client.test"
    assert sink.connections == 1


def test_sink_null_sender_and_smtputf8(sink):
    with connect(sink.address, sink.port) as c:
        c.ehlo()
        c.sendmail("", ["postmaster@peer.test"], b"Subject: bounce\r\n\r\nx\r\n")
        c.sendmail("jos\u00e9@example.net", ["\u00fcser@peer.test"],
                   "Subject: caf\u00e9\r\n\r\nx\r\n".encode(), mail_options=["SMTPUTF8"])
    bounce, utf8 = sink.wait(2, timeout=5)
    assert bounce.mail_from == ""
    assert utf8.mail_from == "jos\u00e9@example.net" and utf8.rcpt_tos == ["\u00fcser@peer.test"]
    assert "SMTPUTF8" in utf8.mail_options


def test_sink_refuses_what_it_did_not_advertise(tmp_path):
    s = SmtpSink("127.0.0.2", extensions=["8BITMIME"]).start()
    try:
        with connect(s.address, s.port) as c:
            code, text = c.ehlo()
            assert b"DSN" not in text and b"SMTPUTF8" not in text
            assert c.docmd("MAIL FROM:<a@example.net> RET=FULL")[0] == 555
            assert c.docmd("MAIL FROM:<a@example.net> SMTPUTF8")[0] == 555
            assert c.docmd("MAIL FROM:<a@example.net>")[0] == 250
            assert c.docmd("RCPT TO:<b@peer.test> NOTIFY=NEVER")[0] == 555
            c.send("RCPT TO:<\u00fc@peer.test>\r\n".encode())
            assert c.getreply()[0] == 553
    finally:
        s.stop()


def test_sink_programmed_replies(sink):
    sink.rcpt_reply["bad@peer.test"] = "550 5.1.1 no such user"
    with connect(sink.address, sink.port) as c:
        c.ehlo()
        refused = c.sendmail("a@example.net", ["bad@peer.test", "good@peer.test"], MESSAGE)
        assert refused == {"bad@peer.test": (550, b"5.1.1 no such user")}
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            c.sendmail("a@example.net", ["BAD@peer.test"], MESSAGE)

        # One-shot failures, then the default again.
        sink.fail_next(2, "451 4.7.1 try later")
        for _ in range(2):
            with pytest.raises(smtplib.SMTPDataError) as e:
                c.sendmail("a@example.net", ["good@peer.test"], MESSAGE)
            assert e.value.smtp_code == 451 and e.value.smtp_error == b"4.7.1 try later"
        c.sendmail("a@example.net", ["good@peer.test"], MESSAGE)

        # Sticky data reply, multi-line.
        sink.data_reply = "552-5.3.4 message too big\r\n552 5.3.4 for this test"
        with pytest.raises(smtplib.SMTPDataError) as e:
            c.sendmail("a@example.net", ["good@peer.test"], MESSAGE)
        assert e.value.smtp_code == 552
        assert e.value.smtp_error == b"5.3.4 message too big\n5.3.4 for this test"
        sink.data_reply = None

        sink.mail_reply["blocked@example.net"] = "553 5.7.1 sender refused"
        with pytest.raises(smtplib.SMTPSenderRefused):
            c.sendmail("blocked@example.net", ["good@peer.test"], MESSAGE)
    accepted = sink.wait(2, timeout=5)
    assert [m.rcpt_tos for m in accepted] == [["good@peer.test"]] * 2
    assert accepted[0].rejected_rcpts == [("bad@peer.test", "550 5.1.1 no such user")]
    assert [t.reply[:3] for t in sink.transactions] == ["250", "451", "451", "250", "552"]


def test_sink_greeting_replies(sink):
    sink.greeting_reply = "421 4.3.2 service not available"
    with pytest.raises(smtplib.SMTPConnectError) as e:
        connect(sink.address, sink.port)
    assert e.value.smtp_code == 421
    sink.greeting_reply = "554 5.3.2 no service here"
    with pytest.raises(smtplib.SMTPConnectError) as e:
        connect(sink.address, sink.port)
    assert e.value.smtp_code == 554
    sink.greeting_reply = None
    with connect(sink.address, sink.port) as c:
        assert c.noop()[0] == 250
    assert sink.connections == 3


def test_sink_ehlo_reply(sink):
    sink.ehlo_reply = "502 5.5.1 EHLO not supported"  # an RFC 821 server
    with connect(sink.address, sink.port) as c:
        c.sendmail("a@example.net", ["b@peer.test"], MESSAGE)  # smtplib falls back to HELO
    sink.ehlo_reply = "250-sink.test\r\n250 8BITMIME"
    with connect(sink.address, sink.port) as c:
        assert c.ehlo() == (250, b"sink.test\n8BITMIME")
        c.sendmail("a@example.net", ["b@peer.test"], MESSAGE, mail_options=["BODY=8BITMIME"])
    first, second = sink.wait(2, timeout=5)
    assert first.helo == "client.test" and second.mail_options[-1] == "BODY=8BITMIME"


def test_sink_starttls_and_auth(tls_sink):
    s = tls_sink
    with connect(s.address, s.port) as c:
        code, text = c.ehlo()
        assert b"STARTTLS" in text and b"AUTH" not in text  # AUTH only after TLS
        assert c.docmd("AUTH PLAIN", base64.b64encode(b"\0relay\0s3cret pw").decode())[0] == 538
        c.starttls(context=tls_client_context())
        code, text = c.ehlo()
        assert b"AUTH PLAIN LOGIN" in text and b"STARTTLS" not in text
        with pytest.raises(smtplib.SMTPAuthenticationError):
            c.login("relay", "wrong")
        c.login("relay", "s3cret pw")
        c.sendmail("a@example.net", ["b@peer.test"], MESSAGE)
    with connect(s.address, s.port) as c:
        c.ehlo()
        c.starttls(context=tls_client_context())
        c.ehlo()
        c.user, c.password = "relay", "s3cret pw"
        assert c.auth("LOGIN", c.auth_login)[0] == 235
    [m] = s.wait(1, timeout=5)
    assert m.tls is True and m.tls_version.startswith("TLSv1.")
    assert m.auth_user == "relay"
    # smtplib's login() tries PLAIN, then LOGIN.
    assert s.auth_attempts == [("PLAIN", "relay", False), ("LOGIN", "relay", False),
                               ("PLAIN", "relay", True), ("LOGIN", "relay", True)]


def test_sink_auth_required(tmp_path):
    s = SmtpSink("127.0.0.2", auth={"u": "p"}, auth_required=True).start()
    try:
        with connect(s.address, s.port) as c:
            code, text = c.ehlo()
            assert b"AUTH PLAIN LOGIN" in text  # no TLS context: AUTH in the clear
            assert c.docmd("MAIL FROM:<a@example.net>")[0] == 530
            c.login("u", "p")
            c.sendmail("a@example.net", ["b@peer.test"], MESSAGE)
        assert s.wait(1, timeout=5)[0].auth_user == "u"
    finally:
        s.stop()


# ---------------------------------------------------------------- PostfixPeer

@needs_postfix
def test_postfix_peer_delivers_to_maildir(tmp_path):
    peer = PostfixPeer(tmp_path, address="127.0.0.5", domains=["peer.test", "other.test"])
    peer.start()
    try:
        with connect(peer.address, peer.port) as c:
            code, text = c.ehlo()
            assert code == 250 and b"STARTTLS" not in text and b"AUTH" not in text
            c.sendmail("a@example.net", ["b@peer.test", "x@other.test"], MESSAGE)
            # A destination, not a relay.
            with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
                c.sendmail("a@example.net", ["b@elsewhere.test"], MESSAGE)
            assert e.value.recipients["b@elsewhere.test"][0] == 554
        msgs = peer.messages(count=2, timeout=20)
        assert len(msgs) == 2, peer.log()
        for m in msgs:
            assert m.startswith(b"Return-Path: <a@example.net>\n")
            assert b"Subject: peer test\n" in m
            assert m.endswith(b"\nline one\n.leading dot\n\nlast line\n")
        assert {m.split(b"Delivered-To: ", 1)[1].split(b"\n", 1)[0] for m in msgs} == \
            {b"b@peer.test", b"x@other.test"}
        assert "status=sent" in peer.log()
    finally:
        rc = peer.stop()
    assert rc in (0, -15), peer.log()
    assert not peer.running()


@needs_postfix
def test_postfix_peer_auth_and_tls(tmp_path):
    peer = PostfixPeer(tmp_path, address="127.0.0.6", domains=["peer.test"],
                       auth_users={"relay": "s3cret pw", "bob@peer.test": "pw2"}, tls=True,
                       require_auth=True, recipients=["b@peer.test"])
    peer.start()
    try:
        with connect(peer.address, peer.port) as c:
            code, text = c.ehlo()
            assert b"STARTTLS" in text and b"AUTH PLAIN LOGIN" in text
            c.starttls(context=tls_client_context())
            c.ehlo()
            with pytest.raises(smtplib.SMTPAuthenticationError):
                c.login("relay", "wrong")
            c.login("relay", "s3cret pw")
            c.sendmail("a@example.net", ["b@peer.test"], MESSAGE)
            with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
                c.sendmail("a@example.net", ["unknown@peer.test"], MESSAGE)
            code, text = e.value.recipients["unknown@peer.test"]
            assert code == 550 and b"5.1.1" in text
        with connect(peer.address, peer.port) as c:
            with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
                c.sendmail("a@example.net", ["b@peer.test"], MESSAGE)  # no AUTH
            assert e.value.recipients["b@peer.test"][0] == 554
        # AUTH LOGIN, without TLS (allowed here), a user name with a domain.
        with connect(peer.address, peer.port) as c:
            c.ehlo()
            c.user, c.password = "bob@peer.test", "pw2"
            assert c.auth("LOGIN", c.auth_login)[0] == 235
        msgs = peer.messages(count=1, timeout=20)
        assert len(msgs) == 1, peer.log()
        assert b"(Authenticated sender: relay)" in msgs[0]
        assert b"using TLSv1." in msgs[0]
    finally:
        peer.stop()


@needs_postfix
def test_postfix_peers_side_by_side_and_relay(tmp_path):
    """Two destination peers on one port at two addresses (as a test of
    MX fallback would run them), and a relay peer forwarding to a sink."""
    port = free_port("127.0.0.7", "127.0.0.8", "127.0.0.9")
    a = PostfixPeer(tmp_path, address="127.0.0.7", port=port, domains=["a.test"])
    b = PostfixPeer(tmp_path, address="127.0.0.8", port=port, domains=["b.test"])
    sink = SmtpSink("127.0.0.9", port=port).start()
    relay = PostfixPeer(tmp_path, address="127.0.0.10", domains=[],
                        relayhost=f"[127.0.0.9]:{port}")
    try:
        a.start()
        b.start()
        relay.start()
        for peer, rcpt in ((a, "x@a.test"), (b, "y@b.test"), (relay, "z@far.test")):
            with connect(peer.address, peer.port) as c:
                c.sendmail("a@example.net", [rcpt], MESSAGE)
        assert len(a.messages(count=1, timeout=20)) == 1, a.log()
        assert len(b.messages(count=1, timeout=20)) == 1, b.log()
        [m] = sink.wait(1, timeout=30) or [None]
        assert m is not None, relay.log()
        assert m.rcpt_tos == ["z@far.test"] and m.mail_from == "a@example.net"
        assert m.data.endswith(b"\r\nline one\r\n.leading dot\r\n\r\nlast line\r\n")
        assert a.queue_dir != b.queue_dir and a.syslog_name != b.syslog_name
        assert b"y@b.test" not in b"".join(a.messages(count=0))
    finally:
        for p in (relay, a, b):
            p.stop()
        sink.stop()
