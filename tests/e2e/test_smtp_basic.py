"""Basic inbound SMTP delivery with smtplib and a raw client: content is
stored byte for byte behind the two trace headers, recipients resolve through
plus-addressing, case folding, aliases, catch-alls and <Postmaster>."""

import re
import smtplib

import pytest

from smtpwire import queue_id

MSG = (
    b"From: Sender <sender@remote.test>\r\n"
    b"To: Alice <alice@example.test>\r\n"
    b"Subject: hello\r\n"
    b"Message-ID: <basic-1@remote.test>\r\n"
    b"\r\n"
    b"Hello Alice,\r\n"
    b"\r\n"
    b"  indented line with trailing spaces   \r\n"
    b"tab\there\r\n"
    b"bye\r\n"
)


def send(srv, sender, rcpts, msg, mail_options=()):
    """MAIL/RCPT/DATA with smtplib; returns the queue id of the 250 reply."""
    with srv.smtp() as s:
        s.ehlo()
        code, resp = s.mail(sender, list(mail_options))
        assert code == 250, resp
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code == 250, (r, resp)
        code, resp = s.data(msg)
        assert code == 250, resp
        assert re.match(rb"2\.0\.0 Ok: queued as \S+$", resp), resp
        return queue_id(resp)


def test_greeting_and_ehlo_keywords(srv):
    w = srv.wire(ehlo=None)
    # The banner was read by wire(); check EHLO's keywords.
    r = w.expect(250, "EHLO client.example.net")
    assert r.lines[0] == srv.hostname
    kw = {line.split()[0]: line for line in r.lines[1:]}
    for k in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING", "SIZE"):
        assert k in kw, r
    assert kw["SIZE"] == "SIZE 52428800"
    w.quit()


def test_banner_names_host(srv):
    from smtpwire import SMTPWire
    w = SMTPWire(srv.smtp_port)
    r = w.reply()
    assert r.code == 220
    assert r.text.startswith(srv.hostname + " ")
    w.quit()


def test_delivery_is_byte_identical(srv):
    qid = send(srv, "sender@remote.test", ["alice@example.test"], MSG)
    msgs = srv.messages("alice")
    assert len(msgs) == 1
    m = msgs[0]
    assert m.content == MSG
    assert m.return_path == b"Return-Path: <sender@remote.test>\r\n"
    rec = m.received.decode()
    assert rec.startswith("Received: from client.example.net ([127.0.0.1])\r\n")
    assert f"by {srv.hostname} (postane) with ESMTP id {qid}" in rec
    assert "for <alice@example.test>;" in rec
    # RFC 5322 date at the end of the header.
    assert re.search(r"; \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n$", rec), rec
    # The file name carries the size (Maildir ,S=) and the index agrees.
    assert m.name.endswith(f",S={len(m.raw)}")
    rows = srv.db_query("SELECT filename, size, uid FROM messages")
    assert rows == [(m.name, len(m.raw), 1)]
    assert srv.messages("bob") == []


def test_message_without_final_crlf_is_terminated(srv):
    """smtplib adds CRLF before the end marker when the content lacks one;
    the stored message ends with that CRLF."""
    send(srv, "sender@remote.test", ["alice@example.test"], b"Subject: x\r\n\r\nno newline")
    [m] = srv.messages("alice")
    assert m.content == b"Subject: x\r\n\r\nno newline\r\n"


def test_multiple_recipients(srv):
    qid = send(srv, "sender@remote.test", ["alice@example.test", "bob@example.test"], MSG)
    [a] = srv.messages("alice")
    [b] = srv.messages("bob")
    assert a.content == MSG and b.content == MSG
    for m in (a, b):
        assert f"id {qid}" in m.received.decode()
        # With several recipients the header does not name one.
        assert b"for <" not in m.received


def test_duplicate_recipients_get_one_copy(srv):
    send(srv, "sender@remote.test",
         ["alice@example.test", "ALICE@example.test", "alice+x@example.test", "bob@example.test"],
         MSG)
    assert len(srv.messages("alice")) == 1
    assert len(srv.messages("bob")) == 1


def test_plus_addressing(srv):
    qid = send(srv, "sender@remote.test", ["alice+newsletter@example.test"], MSG)
    [m] = srv.messages("alice")
    assert m.content == MSG
    assert f"id {qid}" in m.received.decode()
    assert b"for <alice+newsletter@example.test>" in m.received


def test_plus_addressing_unknown_base_rejected(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(550, "RCPT TO:<nobody+tag@example.test>", "5.1.1")
    w.quit()


@pytest.mark.parametrize("rcpt", ["ALICE@EXAMPLE.TEST", "Alice@Example.Test", "alice@EXAMPLE.test",
                                  "AlIcE+TaG@eXaMpLe.TeSt"])
def test_case_insensitive_addresses(srv, rcpt):
    send(srv, "sender@remote.test", [rcpt], MSG)
    [m] = srv.messages("alice")
    assert m.content == MSG


def test_quoted_local_part_equivalent(srv):
    """"alice"@example.test is the same mailbox as alice@example.test."""
    w = srv.wire()
    r = w.transaction("sender@remote.test", ['"alice"@example.test'],
                      b"Subject: q\r\n\r\nquoted\r\n.\r\n")
    assert r.code == 250, r
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == b"Subject: q\r\n\r\nquoted\r\n"


def test_alias_delivery(srv):
    r = srv.cli("alias", "add", "team@example.test", "alice@example.test", "bob@example.test")
    assert r.returncode == 0, r.stderr
    send(srv, "sender@remote.test", ["team@example.test"], MSG)
    [a] = srv.messages("alice")
    [b] = srv.messages("bob")
    assert a.content == MSG and b.content == MSG
    assert b"for <team@example.test>" in a.received


def test_alias_chain_and_plus(srv):
    """An alias to an alias, addressed with a +tag, reaches the account."""
    assert srv.cli("alias", "add", "info@example.test", "sales@example.test").returncode == 0
    assert srv.cli("alias", "add", "sales@example.test", "bob@example.test").returncode == 0
    send(srv, "sender@remote.test", ["info+web@example.test"], MSG)
    assert len(srv.messages("bob")) == 1
    assert srv.messages("alice") == []


def test_catch_all_delivery(srv):
    assert srv.cli("alias", "add", "@example.test", "bob@example.test").returncode == 0
    send(srv, "sender@remote.test", ["whatever@example.test"], MSG)
    send(srv, "sender@remote.test", ["alice@example.test"], MSG)
    # The catch-all takes unknown addresses only.
    assert len(srv.messages("bob")) == 1
    assert len(srv.messages("alice")) == 1
    assert b"for <whatever@example.test>" in srv.messages("bob")[0].received


def test_postmaster_without_domain(srv):
    """RFC 5321 4.5.1: RCPT TO:<Postmaster> is accepted; postmaster@ was
    pointed at the first account (alice)."""
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<Postmaster>", "2.1.5")
    w.expect(354, "DATA")
    w.send(b"Subject: pm\r\n\r\nfor the postmaster\r\n.\r\n")
    r = w.expect(250)
    assert r.enhanced == "2.0.0"
    w.quit()
    [m] = srv.messages("alice")
    assert m.content == b"Subject: pm\r\n\r\nfor the postmaster\r\n"
    assert srv.messages("bob") == []


def test_postmaster_with_domain(srv):
    send(srv, "sender@remote.test", ["PostMaster@example.test"], MSG)
    assert len(srv.messages("alice")) == 1


def test_null_sender(srv):
    with srv.smtp() as s:
        s.ehlo()
        assert s.mail("")[0] == 250
        assert s.rcpt("bob@example.test")[0] == 250
        assert s.data(MSG)[0] == 250
    [m] = srv.messages("bob")
    assert m.return_path == b"Return-Path: <>\r\n"
    assert m.content == MSG


def test_helo_session_delivers(srv):
    w = srv.wire(ehlo=None)
    r = w.expect(250, "HELO oldclient.example.net")
    assert r.text == srv.hostname
    r = w.transaction("sender@remote.test", ["alice@example.test"], b"Subject: h\r\n\r\nhi\r\n.\r\n")
    assert r.code == 250
    w.quit()
    [m] = srv.messages("alice")
    assert b"Received: from oldclient.example.net ([127.0.0.1])\r\n" in m.received
    assert b" with SMTP id " in m.received


def test_sendmail_convenience(srv):
    """smtplib.sendmail with a str message (line endings fixed by smtplib)."""
    with srv.smtp() as s:
        refused = s.sendmail("sender@remote.test", ["alice@example.test", "bob@example.test"],
                             "Subject: str\n\nline one\nline two\n")
        assert refused == {}
    for u in ("alice", "bob"):
        [m] = srv.messages(u)
        assert m.content == b"Subject: str\r\n\r\nline one\r\nline two\r\n"


def test_partial_recipients_refused(srv):
    with srv.smtp() as s:
        refused = s.sendmail("sender@remote.test",
                             ["alice@example.test", "ghost@example.test", "x@remote.test"], MSG)
    assert refused["ghost@example.test"][0] == 550
    assert refused["x@remote.test"][0] == 554
    assert len(srv.messages("alice")) == 1
    assert srv.messages("bob") == []


def test_all_recipients_refused_smtplib(srv):
    with srv.smtp() as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            s.sendmail("sender@remote.test", ["ghost@example.test"], MSG)


def test_user_added_while_running_receives_mail(srv):
    srv.add_user("carol@example.test")
    send(srv, "sender@remote.test", ["carol@example.test"], MSG)
    [m] = srv.messages("carol")
    assert m.content == MSG


def test_deleted_user_rejected_while_running(srv):
    assert srv.cli("user", "del", "bob@example.test").returncode == 0
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(550, "RCPT TO:<bob@example.test>", "5.1.1")
    w.quit()


def test_second_domain(srv):
    assert srv.cli("domain", "add", "other.test").returncode == 0
    srv.add_user("dave@other.test")
    send(srv, "sender@remote.test", ["dave@other.test", "alice@example.test"], MSG)
    [m] = srv.messages("dave", domain="other.test")
    assert m.content == MSG
    assert len(srv.messages("alice")) == 1


def test_helo_name_sanitised_in_received(srv):
    """The EHLO argument is untrusted: only host-name characters reach the
    Received header, and only the first word."""
    w = srv.wire(ehlo=None)
    w.send(b"EHLO evil(host)\x01;x=y\"z junk words\r\n")
    w.expect(250)
    r = w.transaction("s@remote.test", ["alice@example.test"], b"x\r\n.\r\n")
    assert r.code == 250
    w.quit()
    [m] = srv.messages("alice")
    first = m.received.split(b"\r\n")[0]
    assert first == b"Received: from evil?host???x?y?z ([127.0.0.1])"


@pytest.mark.parametrize("sent,shown", [
    ('"john doe"@remote.test', '"john doe"@remote.test'),
    ('"john.doe"@remote.test', 'john.doe@remote.test'),
    ('"a\\"b"@remote.test', '"a\\"b"@remote.test'),
    ('Mixed.Case@Remote.TEST', 'Mixed.Case@remote.test'),
])
def test_return_path_formatting(srv, sent, shown):
    """Return-Path holds the sender in canonical form: quotes only where
    needed, the local part's case kept, the domain lower-cased."""
    w = srv.wire()
    r = w.transaction(sent, ["alice@example.test"], b"x\r\n.\r\n")
    assert r.code == 250
    w.quit()
    [m] = srv.messages("alice")
    assert m.return_path == f"Return-Path: <{shown}>\r\n".encode()
