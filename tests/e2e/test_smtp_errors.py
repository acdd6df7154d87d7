"""SMTP error handling: unknown users, relay attempts (including the classic
open-relay address forms), command sequence errors, limits, timeouts and the
one-line replies of the small commands. Every check is on the exact reply
code and enhanced status code, and on the session still working afterwards
when it should."""

import time

import pytest

from smtpwire import SMTPWire

BODY = b"Subject: t\r\n\r\nbody\r\n.\r\n"


def deliver_ok(w, rcpt="alice@example.test"):
    """Prove the session still works: one full transaction."""
    r = w.transaction("sender@remote.test", [rcpt], BODY)
    assert r.code == 250 and r.enhanced == "2.0.0", r
    return r


# ----- recipients -----

def test_unknown_user(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    r = w.expect(550, "RCPT TO:<nobody@example.test>", "5.1.1")
    assert "nobody@example.test" in r.text
    # The transaction goes on with a valid recipient.
    w.expect(250, "RCPT TO:<bob@example.test>", "2.1.5")
    w.expect(354, "DATA")
    w.send(b"Subject: t\r\n\r\nx\r\n.\r\n")
    w.expect(250, enhanced="2.0.0")
    w.quit()
    assert len(srv.messages("bob")) == 1


@pytest.mark.parametrize("rcpt", [
    "victim@remote.test",
    "alice@example.test.remote.test",
    "alice@sub.example.test",
    "alice@[127.0.0.1]",
    "alice@[IPv6:::1]",
])
def test_relay_denied(srv, rcpt):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(554, f"RCPT TO:<{rcpt}>", "5.7.1")
    w.expect(554, "DATA", "5.5.1")  # no valid recipients
    w.quit()


def test_relay_denied_even_from_local_sender(srv):
    """Unauthenticated mail from a local address to a foreign domain is
    still relaying."""
    w = srv.wire()
    w.expect(250, "MAIL FROM:<alice@example.test>")
    w.expect(554, "RCPT TO:<someone@gmail.test>", "5.7.1")
    w.quit()


@pytest.mark.parametrize("rcpt,code,enh", [
    ("user%remote.test@example.test", 550, "5.1.1"),   # percent hack
    ("alice%remote.test@example.test", 550, "5.1.1"),
    ("@example.test:user@remote.test", 501, "5.1.3"),  # source route
    ("@example.test,@example.test:user@remote.test", 501, "5.1.3"),
    ('"user@remote.test"@example.test', 550, "5.1.1"),  # quoted @
    ("user@remote.test@example.test", 501, "5.1.3"),   # two @
    ("remote.test!user@example.test", 550, "5.1.1"),   # bang path
])
def test_open_relay_forms(srv, rcpt, code, enh):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(code, f"RCPT TO:<{rcpt}>", enh)
    w.expect(554, "DATA")
    w.expect(250, "RSET")
    deliver_ok(w)  # the session is still usable
    w.quit()


def test_open_relay_forms_with_catch_all_stay_local(srv):
    """With a catch-all, the percent hack and a quoted "@" are local parts of
    example.test: they reach the catch-all account, nothing is relayed."""
    assert srv.cli("alias", "add", "@example.test", "bob@example.test").returncode == 0
    w = srv.wire()
    r = w.transaction("sender@remote.test",
                      ["user%remote.test@example.test", '"user@remote.test"@example.test'], BODY)
    assert r.code == 250
    w.quit()
    [m] = srv.messages("bob")
    assert m.content == b"Subject: t\r\n\r\nbody\r\n"


@pytest.mark.parametrize("rcpt", ["", "alice", "alice@", "@example.test", "alice@exa mple.test",
                                  "alice@-bad.test", "alice..x@example.test", ".alice@example.test",
                                  "alice@example..test"])
def test_bad_recipient_syntax(srv, rcpt):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    r = w.cmd(f"RCPT TO:<{rcpt}>")
    assert r.code == 501, r
    assert r.enhanced in ("5.1.3", "5.5.4"), r
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.quit()


@pytest.mark.parametrize("sender", ["alice", "alice@", "a b@remote.test", "alice@exa_mple.test"])
def test_bad_sender_syntax(srv, sender):
    w = srv.wire()
    r = w.cmd(f"MAIL FROM:<{sender}>")
    assert r.code == 501, r
    assert r.enhanced in ("5.1.7", "5.5.4"), r
    deliver_ok(w)
    w.quit()


def test_sender_source_route_rejected(srv):
    w = srv.wire()
    w.expect(501, "MAIL FROM:<@relay.test:user@remote.test>", "5.1.7")
    deliver_ok(w)
    w.quit()


def test_mail_without_brackets_tolerated(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:sender@remote.test")
    w.expect(250, "RCPT TO:alice@example.test")
    w.expect(354, "DATA")
    w.send(b"x\r\n.\r\n")
    w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    assert m.return_path == b"Return-Path: <sender@remote.test>\r\n"


def test_space_after_colon_tolerated(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM: <sender@remote.test>")
    w.expect(250, "RCPT TO: <alice@example.test>")
    w.quit()


# ----- parameters -----

def test_mail_parameters(srv):
    w = srv.wire()
    w.expect(555, "MAIL FROM:<s@remote.test> FOO=BAR", "5.5.4")
    w.expect(501, "MAIL FROM:<s@remote.test> BODY=9BIT", "5.5.4")
    w.expect(501, "MAIL FROM:<s@remote.test> SIZE=abc", "5.5.4")
    w.expect(501, "MAIL FROM:<s@remote.test> SIZE=", "5.5.4")
    w.expect(555, "MAIL FROM:<s@remote.test> SMTPUTF8=yes", "5.5.4")
    w.expect(250, "MAIL FROM:<s@remote.test> SIZE=100 BODY=7BIT")
    # DSN (RFC 3461): NOTIFY and ORCPT on RCPT, RET and ENVID on MAIL.
    w.expect(555, "RCPT TO:<alice@example.test> FOO=BAR", "5.5.4")
    w.expect(501, "RCPT TO:<alice@example.test> NOTIFY=NEVER,DELAY", "5.5.4")
    w.expect(501, "RCPT TO:<alice@example.test> ORCPT=rfc822", "5.5.4")
    w.expect(555, "RCPT TO:<alice@example.test> RET=FULL", "5.5.4")
    w.expect(250, "RCPT TO:<alice@example.test> NOTIFY=NEVER ORCPT=rfc822;alice@example.test")
    w.expect(250, "RCPT TO:<bob@example.test>")
    w.expect(250, "RSET")
    w.expect(501, "MAIL FROM:<s@remote.test> RET=PARTIAL", "5.5.4")
    w.expect(250, "MAIL FROM:<s@remote.test> RET=HDRS ENVID=abc+2Bdef")
    w.quit()


# ----- sequence errors -----

def test_mail_before_ehlo(srv):
    w = SMTPWire(srv.smtp_port)
    w.expect(220)
    w.expect(503, "MAIL FROM:<sender@remote.test>", "5.5.1")
    w.expect(503, "RCPT TO:<alice@example.test>", "5.5.1")
    w.expect(503, "DATA", "5.5.1")
    w.expect(250, "EHLO client.example.net")
    deliver_ok(w)
    w.quit()


def test_rcpt_before_mail(srv):
    w = srv.wire()
    w.expect(503, "RCPT TO:<alice@example.test>", "5.5.1")
    w.quit()


def test_data_before_rcpt(srv):
    w = srv.wire()
    w.expect(503, "DATA", "5.5.1")
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    # MAIL given but no recipient at all: "no valid recipients".
    w.expect(554, "DATA", "5.5.1")
    w.quit()


def test_data_with_no_valid_recipients(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(550, "RCPT TO:<ghost@example.test>")
    w.expect(554, "RCPT TO:<x@remote.test>")
    w.expect(554, "DATA", "5.5.1")
    # The client may now send what it would have sent as content: each line
    # is read as a command, none delivers anything.
    w.expect(250, "RSET")
    deliver_ok(w)
    w.quit()
    assert len(srv.messages("alice")) == 1


def test_nested_mail(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(503, "MAIL FROM:<other@remote.test>", "5.5.1")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.expect(503, "MAIL FROM:<other@remote.test>", "5.5.1")
    w.expect(354, "DATA")
    w.send(BODY)
    w.expect(250)
    w.quit()
    [m] = srv.messages("alice")
    assert m.return_path == b"Return-Path: <sender@remote.test>\r\n"


def test_rset_clears_transaction(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<first@remote.test>")
    w.expect(250, "RCPT TO:<bob@example.test>")
    w.expect(250, "RSET", "2.0.0")
    w.expect(503, "DATA", "5.5.1")
    w.expect(503, "RCPT TO:<bob@example.test>", "5.5.1")
    r = w.transaction("second@remote.test", ["alice@example.test"], BODY)
    assert r.code == 250
    w.quit()
    assert srv.messages("bob") == []
    [m] = srv.messages("alice")
    assert m.return_path == b"Return-Path: <second@remote.test>\r\n"


def test_ehlo_resets_transaction(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<first@remote.test>")
    w.expect(250, "RCPT TO:<bob@example.test>")
    w.expect(250, "EHLO again.example.net")
    w.expect(503, "DATA")
    w.quit()


def test_rset_before_ehlo(srv):
    w = SMTPWire(srv.smtp_port)
    w.expect(220)
    w.expect(250, "RSET")
    w.expect(503, "MAIL FROM:<a@remote.test>")
    w.quit()


def test_unknown_command(srv):
    w = srv.wire()
    w.expect(500, "FROB nicate", "5.5.2")
    w.expect(500, "MAILFROM:<x@y.test>", "5.5.2")
    w.expect(500, "", "5.5.2")
    deliver_ok(w)
    w.quit()


def test_command_syntax_errors(srv):
    w = SMTPWire(srv.smtp_port)
    w.expect(220)
    w.expect(501, "EHLO", "5.5.4")
    w.expect(501, "HELO", "5.5.4")
    w.expect(250, "EHLO client.example.net")
    w.expect(501, "MAIL TO:<a@remote.test>", "5.5.4")
    w.expect(501, "MAIL FROM:", "5.5.4")
    w.expect(501, "MAIL FROM:<a@remote.test", "5.5.4")
    w.expect(501, "MAIL FROM:<a@remote.test>x", "5.5.4")
    w.expect(250, "MAIL FROM:<a@remote.test>")
    w.expect(501, "RCPT FROM:<alice@example.test>", "5.5.4")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.expect(501, "DATA now", "5.5.4")
    w.expect(501, "QUIT please", "5.5.4")
    w.expect(354, "DATA")
    w.send(BODY)
    w.expect(250)
    w.quit()


def test_nul_in_command(srv):
    w = srv.wire()
    w.send(b"NOOP\x00x\r\n")
    w.expect(500, enhanced="5.5.2")
    w.send(b"MAIL FROM:<a@remote.test>\x00 SIZE=1\r\n")
    w.expect(500, enhanced="5.5.2")
    deliver_ok(w)
    w.quit()


def test_lowercase_commands(srv):
    w = SMTPWire(srv.smtp_port)
    w.expect(220)
    w.expect(250, "ehlo client.example.net")
    w.expect(250, "mail from:<sender@remote.test>")
    w.expect(250, "rcpt to:<alice@example.test>")
    w.expect(354, "data")
    w.send(BODY)
    w.expect(250)
    w.expect(221, "quit")
    assert w.closed()


def test_line_too_long(srv):
    w = srv.wire()
    w.expect(500, "NOOP " + "x" * 5000, "5.5.2")
    deliver_ok(w)
    w.quit()


def test_line_too_long_in_pieces(srv):
    """A long line arriving over several reads gets one 500, and the rest
    of it is not taken as commands."""
    w = srv.wire()
    w.send(b"MAIL FROM:<" + b"a" * 3000)
    time.sleep(0.3)
    w.send(b"b" * 3000)
    time.sleep(0.3)
    w.send(b"RCPT TO:<x@remote.test>" + b"c" * 3000 + b">\r\n")
    w.expect(500, enhanced="5.5.2")
    w.expect(250, "NOOP")  # exactly one error reply came
    deliver_ok(w)
    w.quit()


def test_line_at_limit_accepted(srv):
    """max_line_length (2048) includes the CRLF; a line just under it works."""
    w = srv.wire()
    line = "NOOP " + "x" * (2048 - 2 - 5 - 1)
    assert len(line) + 2 == 2047
    w.expect(250, line)
    w.quit()


@pytest.mark.postane_config(smtp={"max_errors": 3})
def test_too_many_errors(srv):
    w = srv.wire()
    w.expect(500, "BOGUS1")
    w.expect(500, "BOGUS2")
    w.line("BOGUS3")
    r1 = w.reply()
    r2 = w.reply()
    assert r1.code == 500
    assert r2.code == 421 and r2.enhanced == "4.7.0", r2
    assert w.closed(), "connection not closed after 421"


@pytest.mark.postane_config(smtp={"max_errors": 3})
def test_too_many_errors_counts_rejected_recipients(srv):
    """Recipient probing (dictionary attack) ends the session too."""
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(550, "RCPT TO:<a1@example.test>")
    w.expect(550, "RCPT TO:<a2@example.test>")
    w.line("RCPT TO:<a3@example.test>")
    assert w.reply().code == 550
    assert w.reply().code == 421
    assert w.closed()


@pytest.mark.postane_config(smtp={"max_errors": 3})
def test_errors_pipelined_disconnect(srv):
    """Errors pipelined in one send: the server stops at the limit and
    executes nothing after it."""
    w = srv.wire()
    w.send(b"X1\r\nX2\r\nX3\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
           b"DATA\r\nsmuggled\r\n.\r\n")
    codes = [w.reply().code for _ in range(4)]
    assert codes == [500, 500, 500, 421]
    assert w.closed()
    assert srv.messages("alice") == []


@pytest.mark.postane_config(smtp={"max_recipients": 2})
def test_too_many_recipients(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.expect(250, "RCPT TO:<bob@example.test>")
    w.expect(452, "RCPT TO:<alice+2@example.test>", "4.5.3")
    w.expect(354, "DATA")
    w.send(BODY)
    w.expect(250)
    w.quit()
    assert len(srv.messages("alice")) == 1
    assert len(srv.messages("bob")) == 1


def test_vrfy_noop_help_quit(srv):
    w = srv.wire()
    w.expect(252, "VRFY alice", "2.5.2")
    w.expect(252, "VRFY nobody@example.test", "2.5.2")  # no user enumeration
    w.expect(501, "VRFY", "5.5.4")
    w.expect(250, "NOOP", "2.0.0")
    w.expect(250, "NOOP anything", "2.0.0")
    r = w.expect(214, "HELP")
    assert "MAIL" in r.text and r.enhanced == "2.0.0"
    w.expect(502, "EXPN staff", "5.5.1")
    r = w.expect(221, "QUIT", "2.0.0")
    assert w.closed(), "connection still open after 221"


def test_unadvertised_starttls_and_auth_refused(srv):
    """What EHLO does not offer is refused with a 5xx, and the session goes on."""
    w = srv.wire(ehlo=None)
    kws = {ln.split()[0].upper() for ln in w.expect(250, "EHLO client.example.net").lines[1:]}
    if "STARTTLS" not in kws:
        r = w.cmd("STARTTLS")
        assert r.code in (502, 503) and r.enhanced == "5.5.1", r
    if "AUTH" not in kws:
        r = w.cmd("AUTH PLAIN AGFsaWNlAHB3")
        assert r.code in (502, 503) and r.enhanced == "5.5.1", r
    deliver_ok(w)
    w.quit()


def test_quit_mid_transaction_delivers_nothing(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.expect(221, "QUIT")
    assert w.closed()
    assert srv.messages("alice") == []


@pytest.mark.postane_config(smtp={"timeout_command": 2})
def test_command_timeout(srv):
    w = srv.wire()
    t0 = time.monotonic()
    r = w.reply()  # nothing sent: the server speaks first
    elapsed = time.monotonic() - t0
    assert r.code == 421 and r.enhanced == "4.4.2", r
    assert 1.0 <= elapsed <= 8.0, elapsed
    assert w.closed()


@pytest.mark.postane_config(smtp={"timeout_command": 2})
def test_command_timeout_resets_on_activity(srv):
    """The timeout is per command: a session that keeps talking lives on."""
    w = srv.wire()
    for _ in range(4):
        time.sleep(1)
        w.expect(250, "NOOP")
    w.quit()


@pytest.mark.postane_config(smtp={"timeout_command": 2})
def test_command_timeout_with_partial_line(srv):
    w = srv.wire()
    w.send(b"MAIL FROM:<sender@rem")
    r = w.reply()
    assert r.code == 421 and r.enhanced == "4.4.2", r
    assert w.closed()


@pytest.mark.postane_config(smtp={"timeout_data": 2, "timeout_command": 60})
def test_data_timeout_delivers_nothing(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.expect(354, "DATA")
    w.send(b"Subject: slow\r\n\r\npartial")
    r = w.reply()
    assert r.code == 421 and r.enhanced == "4.4.2", r
    assert w.closed()
    assert srv.messages("alice") == []
    assert srv.wait_spool_empty() == []


def test_client_disconnect_mid_data(srv):
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.expect(354, "DATA")
    w.send(b"Subject: cut\r\n\r\n" + b"x" * 100000)
    w.close()
    srv.wait_log(r"aborted \(connection lost during DATA\)")
    assert srv.messages("alice") == []
    assert srv.wait_spool_empty() == []
    # The server is fine.
    w = srv.wire()
    deliver_ok(w)
    w.quit()


def test_many_junk_commands_limited(srv):
    """NOOP/RSET/VRFY floods end the session (more than 100)."""
    w = srv.wire()
    w.send(b"NOOP\r\n" * 150)
    codes = []
    while True:
        try:
            codes.append(w.reply().code)
        except Exception:
            break
        if codes[-1] != 250:
            break
    assert codes[-1] == 421
    assert 100 <= len(codes) - 1 <= 101
    assert w.closed()


# ----- connections -----

@pytest.mark.postane_config(server={"max_connections": 3})
def test_max_connections(srv):
    ws = [srv.wire() for _ in range(3)]
    extra = SMTPWire(srv.smtp_port)
    r = extra.reply()
    assert r.code == 421 and r.enhanced == "4.7.0", r
    assert extra.closed()
    ws[0].quit()
    time.sleep(0.3)
    w = srv.wire()  # a slot is free again
    deliver_ok(w)
    w.quit()
    for x in ws[1:]:
        x.quit()


def test_nothing_after_quit_is_executed(srv):
    w = srv.wire()
    w.send(b"QUIT\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
           b"x\r\n.\r\n")
    w.expect(221)
    assert w.closed()
    assert w.buf == b"", w.buf
    assert srv.messages("alice") == []


def test_half_close_after_pipeline_still_delivers(srv):
    """A client that sends everything and shuts down its sending side still
    gets its replies and its message is delivered."""
    import socket
    w = srv.wire()
    w.send(b"MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
           b"Subject: half\r\n\r\nclosed\r\n.\r\nQUIT\r\n")
    w.sock.shutdown(socket.SHUT_WR)
    assert [r.code for r in w.replies(5)] == [250, 250, 354, 250, 221]
    assert w.closed()
    [m] = srv.messages("alice")
    assert m.content == b"Subject: half\r\n\r\nclosed\r\n"


def test_half_close_without_quit(srv):
    import socket
    w = srv.wire()
    w.send(b"MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
           b"Subject: half\r\n\r\nno quit\r\n.\r\n")
    w.sock.shutdown(socket.SHUT_WR)
    assert [r.code for r in w.replies(4)] == [250, 250, 354, 250]
    assert w.closed()
    assert len(srv.messages("alice")) == 1


def test_alias_loop_rejected_not_hung(srv):
    assert srv.cli("alias", "add", "loop1@example.test", "loop2@example.test").returncode == 0
    assert srv.cli("alias", "add", "loop2@example.test", "loop1@example.test").returncode == 0
    w = srv.wire()
    w.expect(250, "MAIL FROM:<s@remote.test>")
    w.expect(550, "RCPT TO:<loop1@example.test>", "5.1.1")
    w.expect(250, "NOOP")
    w.quit()


def test_alias_listing_itself_keeps_a_copy(srv):
    """`alias add bob@ bob@ alice@`: bob keeps his copy, alice gets one."""
    assert srv.cli("alias", "add", "bob@example.test", "bob@example.test",
                   "alice@example.test").returncode == 0
    w = srv.wire()
    deliver_ok(w, rcpt="bob@example.test")
    w.quit()
    assert len(srv.messages("bob")) == 1
    assert len(srv.messages("alice")) == 1


def test_alias_to_deleted_account_falls_back_to_unknown(srv):
    assert srv.cli("alias", "add", "sales@example.test", "bob@example.test").returncode == 0
    assert srv.cli("user", "del", "bob@example.test").returncode == 0
    w = srv.wire()
    w.expect(250, "MAIL FROM:<s@remote.test>")
    w.expect(550, "RCPT TO:<sales@example.test>", "5.1.1")
    w.quit()


def test_postmaster_survives_first_user_deletion(srv):
    """RFC 5321 4.5.1: postmaster must always be accepted, also after the
    account it pointed to is deleted. (Regression: 550 5.1.1 before 07fa5c6.)"""
    assert srv.cli("user", "del", "alice@example.test").returncode == 0
    w = srv.wire()
    w.expect(250, "MAIL FROM:<s@remote.test>")
    w.expect(250, "RCPT TO:<Postmaster>")
    w.expect(250, "RCPT TO:<postmaster@example.test>")
    w.quit()


@pytest.mark.postane_config(smtp={"timeout_command": 2})
def test_trickled_command_times_out(srv):
    """timeout_command bounds a whole command: a client trickling one byte
    at a time cannot hold a session forever (STYLE.md 8). (Regression: it
    was an idle timeout re-armed by every byte before 07fa5c6.)"""
    w = srv.wire()
    line = b"NOOP " + b"x" * 40 + b"\r\n"
    t0 = time.monotonic()
    got = None
    for b in line[:-2]:
        try:
            w.send(bytes([b]))
        except OSError:
            break
        time.sleep(0.25)
        if time.monotonic() - t0 > 8:
            break
        if w.pending(0.01):
            break
    got = w.pending(0.5)
    assert b"421 4.4.2" in got, got
