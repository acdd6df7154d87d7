"""Message content: DATA dot-unstuffing and the end-of-data marker, the
bare CR / bare LF rule, SMTP smuggling, size limits at MAIL and during DATA
and BDAT, CHUNKING, 8BITMIME and SMTPUTF8."""

import hashlib
import os
import random

import pytest

from smtpwire import queue_id


def start_data(w, rcpts=("alice@example.test",), sender="sender@remote.test", params=""):
    w.expect(250, f"MAIL FROM:<{sender}>{params}")
    for r in rcpts:
        w.expect(250, f"RCPT TO:<{r}>")
    w.expect(354, "DATA")


# ----- dot-stuffing and line endings -----

DOT_LINES = (
    b"Subject: dots\r\n"
    b"\r\n"
    b".\r\n"
    b"..\r\n"
    b"...\r\n"
    b".leading dot\r\n"
    b" .space dot\r\n"
    b"middle . dot\r\n"
    b".\r\n"
    b"last\r\n"
)


def test_dot_stuffing_roundtrip_smtplib(srv):
    """smtplib stuffs leading dots; the stored message is the original."""
    with srv.smtp() as s:
        s.ehlo()
        assert s.mail("sender@remote.test")[0] == 250
        assert s.rcpt("alice@example.test")[0] == 250
        code, resp = s.data(DOT_LINES)
        assert code == 250, resp
    [m] = srv.messages("alice")
    assert m.content == DOT_LINES


def test_dot_unstuffing_raw(srv):
    w = srv.wire()
    start_data(w)
    w.send(b"Subject: raw\r\n\r\n..one\r\n...two\r\n.three\r\n..\r\n.\r\n")
    w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    # A leading dot is always removed (RFC 5321 4.5.2), even when the
    # client forgot to double it.
    assert m.content == b"Subject: raw\r\n\r\n.one\r\n..two\r\nthree\r\n.\r\n"


def test_first_line_dot(srv):
    w = srv.wire()
    start_data(w)
    w.send(b"..first\r\nx\r\n.\r\n")
    w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == b".first\r\nx\r\n"


def test_empty_message(srv):
    w = srv.wire()
    start_data(w)
    w.send(b".\r\n")
    r = w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == b""
    assert queue_id(r) in m.received.decode()


@pytest.mark.parametrize("sent,stored", [
    (b"a\nb\r\n", b"a\r\nb\r\n"),                 # bare LF
    (b"a\rb\r\n", b"a\r\nb\r\n"),                 # bare CR
    (b"a\r\r\nb\r\n", b"a\r\n\r\nb\r\n"),         # CR before CRLF
    (b"a\n\nb\r\n", b"a\r\n\r\nb\r\n"),
    (b"x\n.\r\n..y\r\n", b"x\r\n.\r\n.y\r\n"),    # dot after bare LF is text
    (b"x\r\n.\ry\r\n", b"x\r\n.\r\ny\r\n"),        # ".<CR>y" at line start
    (b"x\r\n.\ny\r\n", b"x\r\n.\r\ny\r\n"),        # ".<LF>" at line start
])
def test_bare_cr_lf_stored_as_crlf(srv, sent, stored):
    w = srv.wire()
    start_data(w)
    w.send(sent + b".\r\n")
    w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == stored


def test_end_marker_split_across_sends(srv):
    """The end marker arrives one byte at a time."""
    import time
    w = srv.wire()
    start_data(w)
    w.send(b"Subject: split\r\n\r\nbody")
    for b in (b"\r", b"\n", b".", b"\r", b"\n"):
        time.sleep(0.05)
        w.send(b)
    w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == b"Subject: split\r\n\r\nbody\r\n"


def test_nul_and_control_bytes_preserved(srv):
    body = b"Subject: bin\r\n\r\n" + bytes(b for b in range(256) if b not in (10, 13)) + b"\r\n"
    w = srv.wire()
    start_data(w, params=" BODY=8BITMIME")
    w.send(body + b".\r\n")
    w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == body


# ----- smuggling -----

SMUGGLE_TAIL = (b"MAIL FROM:<x@y.test>\r\n"
                b"RCPT TO:<bob@example.test>\r\n"
                b"DATA\r\n"
                b"smuggled\r\n"
                b".\r\n")


@pytest.mark.parametrize("marker", [
    b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r", b"\r.\r\n", b"\r\n.\r\r\n",
    b"\r\n\x00.\r\n",
], ids=["LF.LF", "CR.CR", "LF.CRLF", "CRLF.LF", "CRLF.CR", "CR.CRLF", "CRLF.CRCRLF", "CRLF-NUL."])
def test_smuggling_variants(srv, marker):
    """A fake end-of-data marker inside DATA must not end the message: the
    text after it is content, and bob (the smuggled recipient) gets nothing."""
    w = srv.wire()
    start_data(w)
    w.send(b"Subject: smuggle\r\n\r\nhello" + marker + SMUGGLE_TAIL)
    r = w.reply()
    assert r.code == 250, r
    # Exactly one reply: nothing after the real end marker was a command.
    w.expect(250, "NOOP")
    w.quit()
    [m] = srv.messages("alice")
    assert b"smuggled" in m.content
    assert b"RCPT TO:<bob@example.test>" in m.content
    assert srv.messages("bob") == []
    assert len(srv.db_query("SELECT 1 FROM messages")) == 1


def test_smuggling_in_one_packet_with_bdat(srv):
    """BDAT content is counted, never scanned for markers."""
    payload = b"hello\r\n.\r\n" + SMUGGLE_TAIL
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.send(b"BDAT %d LAST\r\n" % len(payload) + payload)
    w.expect(250, enhanced="2.0.0")
    w.expect(250, "NOOP")
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == payload
    assert srv.messages("bob") == []


# ----- sizes -----

def test_20mb_message_intact(srv):
    rng = random.Random(20)
    lines = []
    size = 0
    while size < 20 * 1024 * 1024:
        n = rng.randrange(0, 998)
        line = bytes(rng.randrange(33, 127) for _ in range(8)) * (n // 8)
        if rng.random() < 0.05:
            line = b"." + line  # needs stuffing
        lines.append(line)
        size += len(line) + 2
    msg = b"Subject: big\r\n\r\n" + b"\r\n".join(lines) + b"\r\n"
    digest = hashlib.sha256(msg).hexdigest()
    with srv.smtp(timeout=300) as s:
        s.ehlo()
        assert s.mail("sender@remote.test", [f"SIZE={len(msg)}"])[0] == 250
        assert s.rcpt("alice@example.test")[0] == 250
        code, resp = s.data(msg)
        assert code == 250, resp
    [m] = srv.messages("alice")
    assert len(m.content) == len(msg)
    assert hashlib.sha256(m.content).hexdigest() == digest


def test_20mb_message_bdat(srv):
    data = os.urandom(20 * 1024 * 1024).replace(b"\r", b"x").replace(b"\n", b"y")
    w = srv.wire(timeout=300)
    w.expect(250, "MAIL FROM:<sender@remote.test> BODY=8BITMIME")
    w.expect(250, "RCPT TO:<bob@example.test>")
    chunk = 4 * 1024 * 1024
    for i in range(0, len(data), chunk):
        part = data[i:i + chunk]
        last = i + chunk >= len(data)
        w.send(b"BDAT %d%s\r\n" % (len(part), b" LAST" if last else b"") + part)
        r = w.expect(250)
    assert r.enhanced == "2.0.0" and "queued as" in r.text
    w.quit()
    [m] = srv.messages("bob")
    assert hashlib.sha256(m.content).digest() == hashlib.sha256(data).digest()


def test_size_parameter_over_limit(srv):
    w = srv.wire()
    r = w.expect(552, f"MAIL FROM:<sender@remote.test> SIZE={52428800 + 1}", "5.3.4")
    w.expect(250, "MAIL FROM:<sender@remote.test> SIZE=52428800")
    w.quit()


@pytest.mark.postane_config(smtp={"max_message_size": 10000})
def test_size_advertised_and_enforced_at_mail(srv):
    w = srv.wire(ehlo=None)
    r = w.expect(250, "EHLO client.example.net")
    assert "SIZE 10000" in r.lines
    w.expect(552, "MAIL FROM:<sender@remote.test> SIZE=10001", "5.3.4")
    w.expect(250, "MAIL FROM:<sender@remote.test> SIZE=10000")
    w.quit()


@pytest.mark.postane_config(smtp={"max_message_size": 10000})
def test_size_enforced_during_data(srv):
    """Content over the limit: 552 after the end marker, nothing stored,
    and the connection stays usable."""
    w = srv.wire()
    start_data(w)
    w.send(b"Subject: big\r\n\r\n" + (b"y" * 98 + b"\r\n") * 200 + b".\r\n")
    w.expect(552, enhanced="5.3.4")
    assert srv.messages("alice") == []
    assert srv.wait_spool_empty() == []
    # Still usable.
    start_data(w)
    w.send(b"Subject: small\r\n\r\nok\r\n.\r\n")
    w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == b"Subject: small\r\n\r\nok\r\n"


@pytest.mark.postane_config(smtp={"max_message_size": 10000})
def test_size_limit_boundary(srv):
    """The limit is on the content as received (after unstuffing): exactly
    max_message_size passes, one byte more fails. The trace headers added by
    the server do not count."""
    head = b"Subject: edge\r\n\r\n"
    exact = head + b"z" * (10000 - len(head) - 2) + b"\r\n"
    assert len(exact) == 10000
    over = head + b"z" * (10000 - len(head) - 1) + b"\r\n"
    w = srv.wire()
    start_data(w)
    w.send(exact + b".\r\n")
    w.expect(250)
    start_data(w)
    w.send(over + b".\r\n")
    w.expect(552, enhanced="5.3.4")
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == exact


@pytest.mark.postane_config(smtp={"max_message_size": 10000})
def test_size_lie_in_size_parameter(srv):
    """SIZE= is only a declaration: a client that declares little and sends
    much is still stopped."""
    w = srv.wire()
    start_data(w, params=" SIZE=100")
    w.send(b"x" * 20000 + b"\r\n.\r\n")
    w.expect(552, enhanced="5.3.4")
    w.quit()
    assert srv.messages("alice") == []


@pytest.mark.postane_config(smtp={"max_message_size": 10000})
def test_size_enforced_with_bdat(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.send(b"BDAT 6000\r\n" + b"a" * 6000)
    w.expect(250)
    w.send(b"BDAT 6000 LAST\r\n" + b"b" * 6000)
    w.expect(552, enhanced="5.3.4")
    # Back in sync: a new transaction works.
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.send(b"BDAT 5 LAST\r\nhello")
    w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == b"hello"
    assert srv.wait_spool_empty() == []


# ----- BDAT -----

def test_bdat_chunks_then_last(srv):
    parts = [b"Subject: chunks\r\n", b"\r\nfirst part, ", b"second part\r\n", b".\r\n..\r\n"]
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    total = 0
    for p in parts:
        w.send(b"BDAT %d\r\n" % len(p) + p)
        total += len(p)
        r = w.expect(250, enhanced="2.0.0")
        assert f"{total} octets" in r.text, r
    w.send(b"BDAT 5 LAST\r\nend\r\n")
    r = w.expect(250, enhanced="2.0.0")
    qid = queue_id(r)
    w.quit()
    [m] = srv.messages("alice")
    # No dot-unstuffing in BDAT: the content is exactly the chunks.
    assert m.content == b"".join(parts) + b"end\r\n"
    assert f"id {qid}" in m.received.decode()


def test_bdat_zero_last(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.send(b"BDAT 10\r\nSubject: z")
    w.expect(250)
    w.expect(250, "BDAT 0 LAST")
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == b"Subject: z"


def test_bdat_zero_last_only(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    r = w.expect(250, "BDAT 0 LAST")
    assert "queued as" in r.text
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == b""


def test_bdat_bare_line_endings(srv):
    """The documented rule also holds for BDAT: bare CR / bare LF are stored
    as CRLF, also when a CR ends one chunk and the next starts with LF."""
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.send(b"BDAT 4\r\na\nb\r")
    w.expect(250)
    w.send(b"BDAT 3\r\n\nc\r")
    w.expect(250)
    w.send(b"BDAT 2 LAST\r\nd\r")
    w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == b"a\r\nb\r\nc\r\nd\r\n"


def test_bdat_without_rcpt(srv):
    """503 after the chunk; its bytes were consumed, not read as commands."""
    w = srv.wire()
    chunk = b"MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
    w.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
    w.expect(503, enhanced="5.5.1")
    w.expect(250, "NOOP")  # in sync: exactly one reply for the BDAT
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    chunk2 = b"DATA\r\nx\r\n.\r\n"
    w.send(b"BDAT %d\r\n" % len(chunk2) + chunk2)
    w.expect(554, enhanced="5.5.1")  # MAIL but no recipient
    w.expect(250, "NOOP")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.send(b"BDAT 2 LAST\r\nok")
    w.expect(250)
    w.quit()
    assert srv.messages("bob") == []
    [m] = srv.messages("alice")
    assert m.content == b"ok"


def test_bdat_before_ehlo(srv):
    from smtpwire import SMTPWire
    w = SMTPWire(srv.smtp_port)
    w.expect(220)
    w.send(b"BDAT 4\r\nQUIT")
    w.expect(503)
    w.expect(250, "NOOP")
    w.quit()


def test_bdat_pipelined_with_mail_rcpt(srv):
    body = b"Subject: pipelined bdat\r\n\r\nhello\r\n"
    w = srv.wire()
    w.send(b"MAIL FROM:<sender@remote.test>\r\n"
           b"RCPT TO:<alice@example.test>\r\n"
           b"RCPT TO:<ghost@example.test>\r\n"
           b"RCPT TO:<bob@example.test>\r\n"
           b"BDAT %d LAST\r\n" % len(body) + body +
           b"MAIL FROM:<second@remote.test>\r\n"
           b"RCPT TO:<bob@example.test>\r\n"
           b"BDAT 3\r\nabcBDAT 3 LAST\r\ndef"
           b"NOOP\r\n")
    codes = [(r.code, r.enhanced) for r in w.replies(10)]
    assert codes == [(250, "2.1.0"), (250, "2.1.5"), (550, "5.1.1"), (250, "2.1.5"),
                     (250, "2.0.0"), (250, "2.1.0"), (250, "2.1.5"), (250, "2.0.0"),
                     (250, "2.0.0"), (250, "2.0.0")]
    w.quit()
    [a] = srv.messages("alice")
    assert a.content == body
    b = srv.messages("bob")
    assert [m.content for m in b] == [body, b"abcdef"]


def test_data_during_bdat(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.send(b"BDAT 3\r\nabc")
    w.expect(250)
    w.expect(503, "DATA", "5.5.1")
    w.expect(503, "RCPT TO:<bob@example.test>", "5.5.1")
    w.expect(503, "MAIL FROM:<x@remote.test>", "5.5.1")
    w.expect(250, "RSET")
    w.expect(250, "MAIL FROM:<x@remote.test>")
    w.quit()
    assert srv.messages("alice") == []
    assert srv.wait_spool_empty() == []


@pytest.mark.parametrize("cmd", [b"BDAT\r\n", b"BDAT abc\r\n", b"BDAT -1\r\n",
                                 b"BDAT 10 FIRST\r\n", b"BDAT 99999999999999999999999\r\n"])
def test_bdat_bad_size_closes(srv, cmd):
    """Without a valid size the stream cannot be resynchronised: 501 and the
    server closes the connection."""
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.send(cmd + b"0123456789")
    w.expect(501, enhanced="5.5.4")
    assert w.closed()
    assert srv.messages("alice") == []


# ----- 8BITMIME and SMTPUTF8 -----

def test_8bitmime_body(srv):
    body = ("Subject: =?UTF-8?Q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\nCafé crème, Grüße, Привет, 日本語\r\n"
            ).encode("utf-8") + bytes(range(0x80, 0x100)) + b"\r\n"
    with srv.smtp() as s:
        s.ehlo()
        assert s.mail("sender@remote.test", ["BODY=8BITMIME"])[0] == 250
        assert s.rcpt("alice@example.test")[0] == 250
        code, resp = s.data(body)
        assert code == 250, resp
    [m] = srv.messages("alice")
    assert m.content == body


def test_smtputf8_sender_accepted(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<jörg@bücher.test> SMTPUTF8")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.expect(354, "DATA")
    w.send("From: jörg@bücher.test\r\nSubject: ü\r\n\r\nHallo\r\n.\r\n".encode())
    w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    # Local part kept in UTF-8; the domain in its A-label form.
    assert m.return_path == "Return-Path: <jörg@xn--bcher-kva.test>\r\n".encode()
    assert b" with UTF8SMTP id " in m.received
    assert m.content == "From: jörg@bücher.test\r\nSubject: ü\r\n\r\nHallo\r\n".encode()


@pytest.mark.parametrize("sender", ["jörg@remote.test", "joerg@bücher.test", "ü@ü.test"])
def test_utf8_sender_without_smtputf8(srv, sender):
    w = srv.wire()
    w.expect(553, f"MAIL FROM:<{sender}>", "5.6.7")
    w.expect(553, f"MAIL FROM:<{sender}> BODY=8BITMIME", "5.6.7")
    w.expect(250, f"MAIL FROM:<{sender}> SMTPUTF8")
    w.quit()


def test_utf8_recipient_without_smtputf8(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(553, "RCPT TO:<jörg@example.test>", "5.6.7")
    w.quit()


def test_idn_recipient_not_local_is_relay(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test> SMTPUTF8")
    w.expect(554, "RCPT TO:<user@例え.テスト>", "5.7.1")
    w.expect(554, "RCPT TO:<alice@exämple.test>", "5.7.1")
    w.expect(554, "RCPT TO:<user@xn--r8jz45g.xn--zckzah>", "5.7.1")
    w.quit()


def test_invalid_utf8_rejected(srv):
    w = srv.wire()
    w.send(b"MAIL FROM:<j\xc3\x28rg@remote.test> SMTPUTF8\r\n")
    r = w.reply()
    assert r.code == 501, r
    w.send(b"MAIL FROM:<j\xff@remote.test> SMTPUTF8\r\n")
    r = w.reply()
    assert r.code == 501, r
    w.quit()


def test_utf8_account_delivery(srv):
    """A UTF-8 local part account receives SMTPUTF8 mail, also when the
    domain was added as a U-label and addressed either way."""
    assert srv.cli("domain", "add", "bücher.test").returncode == 0
    srv.add_user("jörg@bücher.test")
    w = srv.wire()
    for rcpt in ("jörg@bücher.test", "jörg@xn--bcher-kva.test", "jörg+tag@BÜCHER.test"):
        w.expect(250, "MAIL FROM:<sender@remote.test> SMTPUTF8")
        w.expect(250, f"RCPT TO:<{rcpt}>")
        w.expect(354, "DATA")
        w.send(f"Subject: an {rcpt}\r\n\r\nHallo\r\n.\r\n".encode())
        w.expect(250)
    w.quit()
    msgs = srv.messages("jörg", domain="xn--bcher-kva.test")
    assert len(msgs) == 3
    assert msgs[0].content == "Subject: an jörg@bücher.test\r\n\r\nHallo\r\n".encode()


def test_very_long_line_in_data(srv):
    """Content lines are not limited like command lines (RFC 5322's 998 is
    the sender's business): a 200 kB line is stored intact."""
    body = b"Subject: long\r\n\r\n" + b"L" * 200000 + b"\r\nend\r\n"
    w = srv.wire()
    start_data(w)
    w.send(body + b".\r\n")
    w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == body
