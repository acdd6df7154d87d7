"""Message submission (RFC 6409 on 587 with STARTTLS, RFC 8314 on 465 with
implicit TLS): authenticated users deliver locally and relay to the outbound
queue; unauthenticated MAIL is refused; the envelope sender and the
From:/Sender: header must belong to the account (its own address, user+tag,
its aliases but not a catch-all, per accounts.send_as); Message-ID: and
Date: are added when missing. Real clients: smtplib, swaks (--tls, --tlsc),
msmtp."""

import email
import email.policy
import os
import re
import shutil
import smtplib
import subprocess

import pytest

from conftest import DOMAIN, PASSWORD
from smtpwire import queue_id, tls_client_context

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
SWAKS = shutil.which("swaks") or "/usr/bin/swaks"
MSMTP = shutil.which("msmtp") or "/usr/bin/msmtp"


def msg_bytes(from_=ALICE, to=BOB, subject="submitted", extra="", body="body line\r\n"):
    """A message without Message-ID: and Date: unless `extra` has them."""
    hdr = ""
    if from_ is not None:
        hdr += f"From: {from_}\r\n"
    hdr += f"To: {to}\r\nSubject: {subject}\r\n{extra}"
    return (hdr + "\r\n" + body).encode()


def parse(m):
    return email.message_from_bytes(m.content, policy=email.policy.default)


def header_lines(content, name):
    """Raw header fields called `name` in the header section of content."""
    head = content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    return [ln for ln in head.split("\r\n") if ln.lower().startswith(name.lower() + ":")]


def auth_wire(srv, port=None, user=ALICE, password=PASSWORD):
    """A raw session on 587 after STARTTLS, EHLO and AUTH PLAIN."""
    import base64
    w = srv.wire(port=port or srv.submission_port)
    w.expect(220, "STARTTLS")
    w.starttls()
    w.expect(250, "EHLO client.example.net")
    ir = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    w.expect(235, f"AUTH PLAIN {ir}", enhanced="2.7.0")
    return w


# ----- smtplib on 587 and 465 -----


def test_starttls_login_local_delivery_adds_message_id_and_date(srv):
    s = srv.submission(user=ALICE)
    refused = s.sendmail(ALICE, [BOB], msg_bytes())
    assert refused == {}
    s.quit()
    [m] = srv.wait_messages("bob", 1)
    assert m.return_path == f"Return-Path: <{ALICE}>\r\n".encode()
    received = m.received.decode()
    assert re.search(r"\bwith ESMTPSA id \w+", received), received
    assert "from client.example.net ([127.0.0.1])" in received
    mid = header_lines(m.content, "Message-ID")
    date = header_lines(m.content, "Date")
    assert len(mid) == 1 and len(date) == 1, m.content
    assert re.fullmatch(r"Message-ID: <[^<>@\s]+@mail\.example\.test>", mid[0]), mid
    parsed = parse(m)
    assert parsed["Date"].datetime is not None  # a valid RFC 5322 date
    assert parsed["From"] == ALICE and parsed["Subject"] == "submitted"
    assert parsed.get_content().rstrip() == "body line"
    # The original header fields and body follow unchanged.
    assert m.content.endswith(b"From: alice@example.test\r\nTo: bob@example.test\r\n"
                              b"Subject: submitted\r\n\r\nbody line\r\n")


def test_existing_message_id_and_date_are_kept(srv):
    extra = ("Message-ID: <own.1@client.example.net>\r\n"
             "Date: Mon, 02 Mar 2026 10:00:00 +0100\r\n")
    s = srv.submission(user=ALICE)
    s.sendmail(ALICE, [BOB], msg_bytes(extra=extra))
    s.quit()
    [m] = srv.wait_messages("bob", 1)
    assert header_lines(m.content, "Message-ID") == ["Message-ID: <own.1@client.example.net>"]
    assert header_lines(m.content, "Date") == ["Date: Mon, 02 Mar 2026 10:00:00 +0100"]
    assert m.content == msg_bytes(extra=extra)  # byte-identical after the trace headers


def test_only_missing_one_is_added(srv):
    s = srv.submission(user=ALICE)
    s.sendmail(ALICE, [BOB], msg_bytes(extra="message-id: <lower@case>\r\n"))
    s.quit()
    [m] = srv.wait_messages("bob", 1)
    assert header_lines(m.content, "Message-ID") == ["message-id: <lower@case>"]
    assert len(header_lines(m.content, "Date")) == 1


def test_smtp_ssl_465_local_delivery(srv):
    s = srv.submissions(user=ALICE)
    assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
    s.sendmail(ALICE, [BOB, ALICE], msg_bytes(to=f"{BOB}, {ALICE}"))
    s.quit()
    for user in ("alice", "bob"):
        [m] = srv.wait_messages(user, 1)
        assert "with ESMTPSA id" in m.received.decode()
        assert len(header_lines(m.content, "Message-ID")) == 1


def test_465_offers_auth_but_not_starttls(srv):
    s = smtplib.SMTP_SSL("127.0.0.1", srv.submissions_port, local_hostname="c.example.net",
                         timeout=30, context=tls_client_context())
    code, _ = s.ehlo()
    assert code == 250
    assert s.has_extn("auth") and s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
    assert not s.has_extn("starttls")
    s.quit()


def test_587_ehlo_advertises_auth_only_after_starttls(srv):
    s = smtplib.SMTP("127.0.0.1", srv.submission_port, local_hostname="c.example.net",
                     timeout=30)
    s.ehlo()
    assert s.has_extn("starttls")
    assert not s.has_extn("auth")
    s.starttls(context=tls_client_context())
    s.ehlo()
    assert not s.has_extn("starttls")
    assert s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
    s.quit()


def _wait_queue(srv, n, timeout=10.0):
    import time
    deadline = time.monotonic() + timeout
    while True:
        rows = srv.queue_rows()
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


@pytest.mark.parametrize("port", ["587", "465"])
def test_remote_recipient_goes_to_the_queue(srv, port):
    s = srv.submission(user=ALICE) if port == "587" else srv.submissions(user=ALICE)
    code, text = s.mail(ALICE)
    assert code == 250
    code, text = s.rcpt("someone@remote.test")
    assert code == 250, text
    code, text = s.data(msg_bytes(to="someone@remote.test"))
    assert code == 250, text
    qid = queue_id(text.decode())
    s.quit()
    [(rqid, fname, sender, auth_user, rcpts)] = _wait_queue(srv, 1)
    assert rqid == qid
    assert sender == ALICE
    assert auth_user == ALICE
    assert rcpts == [("someone@remote.test", "remote.test", 0)]
    path = srv.queue_dir / fname
    assert path.is_file()
    raw = path.read_bytes()
    assert raw.startswith(f"Return-Path: <{ALICE}>\r\n".encode())
    assert re.search(rb"with ESMTPSA id " + qid.encode(), raw)
    assert b"\r\nMessage-ID: <" in raw and b"\r\nDate: " in raw
    assert raw.endswith(msg_bytes(to="someone@remote.test"))
    # Nothing went to a local mailbox.
    assert srv.messages("alice") == [] and srv.messages("bob") == []


def test_mixed_local_and_remote_recipients(srv):
    s = srv.submission(user=ALICE)
    refused = s.sendmail(ALICE, [BOB, "x@remote.test", "y@other.test"],
                         msg_bytes(subject="mixed"))
    assert refused == {}
    s.quit()
    [m] = srv.wait_messages("bob", 1)
    [(qid, fname, sender, auth_user, rcpts)] = _wait_queue(srv, 1)
    assert f"id {qid}" in m.received.decode()
    assert sorted(rcpts) == [("x@remote.test", "remote.test", 0),
                             ("y@other.test", "other.test", 0)]
    # The queue copy and the mailbox copy are the same message.
    assert (srv.queue_dir / fname).read_bytes() == m.raw


def test_unknown_local_recipient_not_relayed(srv):
    """Authentication unlocks relaying to other domains, not unknown
    addresses of our own domains."""
    w = auth_wire(srv)
    w.expect(250, f"MAIL FROM:<{ALICE}>")
    w.expect(550, f"RCPT TO:<nosuch@{DOMAIN}>", enhanced="5.1.1")
    w.expect(554, "RCPT TO:<someone@[192.0.2.1]>", enhanced="5.7.1")  # no literals
    w.expect(250, "RCPT TO:<someone@remote.test>")
    w.quit()


def test_remote_recipient_on_port_25_is_relay_denied(srv):
    w = srv.wire()
    w.expect(250, f"MAIL FROM:<{ALICE}>")
    w.expect(554, "RCPT TO:<someone@remote.test>", enhanced="5.7.1")
    w.quit()
    assert srv.queue_rows() == []


# ----- authentication required -----


def test_unauthenticated_mail_on_587_after_starttls_530(srv):
    w = srv.wire(port=srv.submission_port)
    w.expect(220, "STARTTLS")
    w.starttls()
    w.expect(250, "EHLO client.example.net")
    w.expect(530, f"MAIL FROM:<{ALICE}>", enhanced="5.7.0")
    # Not even local delivery without AUTH on the submission port.
    w.expect(503, f"RCPT TO:<{BOB}>")
    w.quit()


def test_unauthenticated_mail_on_587_plaintext_530(srv):
    w = srv.wire(port=srv.submission_port)
    w.expect(530, "MAIL FROM:<>", enhanced="5.7.0")
    w.quit()


def test_unauthenticated_mail_on_465_530(srv):
    w = srv.wire(port=srv.submissions_port, tls_context=tls_client_context())
    w.expect(530, f"MAIL FROM:<{ALICE}>", enhanced="5.7.0")
    w.quit()


def test_smtplib_sendmail_without_login_refused(srv):
    s = srv.submission()
    with pytest.raises(smtplib.SMTPSenderRefused) as e:
        s.sendmail(ALICE, [BOB], msg_bytes())
    assert e.value.smtp_code == 530
    s.quit()
    assert srv.messages("bob") == []


# ----- envelope sender -----


@pytest.mark.parametrize("sender", [
    ALICE,
    "Alice@Example.TEST",
    "alice+lists@example.test",
    "",  # null sender (a client sending a bounce)
])
def test_own_envelope_senders_allowed(srv, sender):
    w = auth_wire(srv)
    w.expect(250, f"MAIL FROM:<{sender}>")
    w.expect(250, f"RCPT TO:<{BOB}>")
    w.quit()


@pytest.mark.parametrize("sender", [
    BOB,
    "postmaster@example.test",  # an alias of alice's, but... see below
    "bob+alice@example.test",
    "alice@remote.test",
    "alicex@example.test",
    "alic@example.test",
    "alice@[127.0.0.1]",
])
def test_foreign_envelope_senders_refused_553(srv, sender):
    if sender.startswith("postmaster@"):
        # postmaster@ points at alice (first account of the domain): it is
        # hers, so log in as bob to try it.
        w = auth_wire(srv, user=BOB)
    else:
        w = auth_wire(srv)
    r = w.expect(553, f"MAIL FROM:<{sender}>", enhanced="5.7.1")
    assert "not owned by user" in r.text
    # The transaction did not start.
    w.expect(503, f"RCPT TO:<{BOB}>")
    w.quit()


@pytest.mark.postane_config(smtp={"recipient_delimiter": ""})
def test_plus_sender_refused_without_delimiter(srv):
    w = auth_wire(srv)
    w.expect(553, f"MAIL FROM:<alice+tag@{DOMAIN}>", enhanced="5.7.1")
    w.expect(250, f"MAIL FROM:<{ALICE}>")
    w.quit()


def test_alias_sender_allowed(srv):
    assert srv.cli("alias", "add", f"sales@{DOMAIN}", ALICE).returncode == 0
    assert srv.cli("alias", "add", f"team@{DOMAIN}", ALICE, BOB).returncode == 0
    assert srv.cli("alias", "add", f"chain@{DOMAIN}", f"sales@{DOMAIN}").returncode == 0
    w = auth_wire(srv)
    for sender in (f"sales@{DOMAIN}", f"team@{DOMAIN}", f"chain@{DOMAIN}",
                   f"postmaster@{DOMAIN}", f"sales+x@{DOMAIN}"):
        w.expect(250, f"MAIL FROM:<{sender}>")
        w.expect(250, "RSET")
    w.quit()
    # bob may use team@ (delivers to him too) but not sales@.
    w = auth_wire(srv, user=BOB)
    w.expect(250, f"MAIL FROM:<team@{DOMAIN}>")
    w.expect(250, "RSET")
    w.expect(553, f"MAIL FROM:<sales@{DOMAIN}>", enhanced="5.7.1")
    w.quit()


def test_catch_all_does_not_make_addresses_sendable(srv):
    assert srv.cli("alias", "add", f"@{DOMAIN}", ALICE).returncode == 0
    w = auth_wire(srv)
    w.expect(553, f"MAIL FROM:<anything@{DOMAIN}>", enhanced="5.7.1")
    w.expect(250, f"MAIL FROM:<{ALICE}>")
    w.quit()


def test_send_as_own_refuses_aliases(srv):
    assert srv.cli("alias", "add", f"sales@{DOMAIN}", ALICE).returncode == 0
    srv.set_send_as(ALICE, 0)
    w = auth_wire(srv)
    w.expect(553, f"MAIL FROM:<sales@{DOMAIN}>", enhanced="5.7.1")
    w.expect(250, f"MAIL FROM:<alice+tag@{DOMAIN}>")
    w.quit()


def test_send_as_any_allows_everything(srv):
    srv.set_send_as(ALICE, 2)
    s = srv.submission(user=ALICE)
    msg = msg_bytes(from_="President <president@whitehouse.test>",
                    extra=f"Sender: {BOB}\r\n")
    s.sendmail("president@whitehouse.test", [BOB, "ext@remote.test"], msg)
    s.sendmail(BOB, [BOB], msg_bytes(from_=BOB, subject="as bob"))
    s.quit()
    msgs = srv.wait_messages("bob", 2)
    assert [parse(m)["Subject"] for m in msgs] == ["submitted", "as bob"]
    assert msgs[0].return_path == b"Return-Path: <president@whitehouse.test>\r\n"
    [(_, _, sender, auth_user, _)] = _wait_queue(srv, 1)
    assert sender == "president@whitehouse.test" and auth_user == ALICE


def test_send_as_change_applies_at_next_login(srv):
    w = auth_wire(srv)
    w.expect(553, f"MAIL FROM:<{BOB}>")
    w.quit()
    srv.set_send_as(ALICE, 2)
    w = auth_wire(srv)
    w.expect(250, f"MAIL FROM:<{BOB}>")
    w.quit()


# ----- From: and Sender: -----


def submit_raw(w, content, sender=ALICE, rcpt=BOB):
    """MAIL/RCPT/DATA on an authenticated wire; returns the final reply."""
    return w.transaction(sender, [rcpt], content + b".\r\n")


@pytest.mark.parametrize("from_", [
    ALICE,
    f"<{ALICE}>",
    f"Alice Liddell <{ALICE}>",
    f'"Liddell, Alice (bob@example.test)" <{ALICE}>',
    f"{ALICE} (Alice, bob@example.test)",
    "ALICE@EXAMPLE.TEST",
    "alice+news@example.test",
    f"Friends: Alice <{ALICE}>;",
    f"Alice\r\n <{ALICE}>",  # folded
])
def test_from_header_own_address_accepted(srv, from_):
    w = auth_wire(srv)
    r = submit_raw(w, msg_bytes(from_=from_))
    assert r.code == 250, r
    w.quit()
    assert len(srv.wait_messages("bob", 1)) == 1


@pytest.mark.parametrize("from_", [
    BOB,
    f"Alice <{BOB}>",
    f'"alice@example.test" <{BOB}>',
    f"{ALICE}, {BOB}",
    f"Team: {ALICE}, {BOB};",
    "alice@example.test.evil.test",
    f"bob@{DOMAIN} (alice@example.test)",
])
def test_from_header_foreign_address_refused_550(srv, from_):
    w = auth_wire(srv)
    r = submit_raw(w, msg_bytes(from_=from_))
    assert (r.code, r.enhanced) == (550, "5.7.1"), r
    w.expect(250, "NOOP")  # the session goes on
    w.quit()
    assert srv.messages("bob") == []
    assert srv.wait_spool_empty() == []


def test_sender_header_foreign_refused(srv):
    w = auth_wire(srv)
    r = submit_raw(w, msg_bytes(extra=f"Sender: {BOB}\r\n"))
    assert (r.code, r.enhanced) == (550, "5.7.1"), r
    r = submit_raw(w, msg_bytes(extra=f"Sender: Alice <{ALICE}>\r\n"))
    assert r.code == 250, r
    w.quit()
    assert len(srv.wait_messages("bob", 1)) == 1


def test_from_header_alias_allowed_catch_all_not(srv):
    assert srv.cli("alias", "add", f"sales@{DOMAIN}", ALICE).returncode == 0
    assert srv.cli("alias", "add", f"@{DOMAIN}", ALICE).returncode == 0
    w = auth_wire(srv)
    r = submit_raw(w, msg_bytes(from_=f"Sales <sales@{DOMAIN}>"))
    assert r.code == 250, r
    r = submit_raw(w, msg_bytes(from_=f"nobody@{DOMAIN}"))
    assert (r.code, r.enhanced) == (550, "5.7.1"), r
    w.quit()


def test_missing_from_header_refused_550_5_6_0(srv):
    w = auth_wire(srv)
    r = submit_raw(w, msg_bytes(from_=None))
    assert (r.code, r.enhanced) == (550, "5.6.0"), r
    assert "no From:" in r.text
    # No header section at all.
    r = submit_raw(w, b"\r\njust a body\r\n")
    assert (r.code, r.enhanced) == (550, "5.6.0"), r
    r = submit_raw(w, b"just a body line without headers\r\n")
    assert r.code == 550, r
    w.quit()
    assert srv.messages("bob") == []


@pytest.mark.parametrize("content", [
    msg_bytes(extra=f"From: {ALICE}\r\n"),  # two From: fields
    msg_bytes(from_="Alice <alice@example.test"),  # unclosed angle
    msg_bytes(from_='"Alice <alice@example.test>'),  # unclosed quote
    msg_bytes(from_="alice"),  # no domain
    msg_bytes(from_="Alice (unclosed comment <alice@example.test>"),
], ids=["two-from", "angle", "quote", "no-domain", "comment"])
def test_malformed_from_refused_550_5_6_0(srv, content):
    w = auth_wire(srv)
    r = submit_raw(w, content)
    assert (r.code, r.enhanced) == (550, "5.6.0"), r
    w.quit()
    assert srv.messages("bob") == []


def test_from_header_checked_with_bdat(srv):
    w = auth_wire(srv)
    bad = msg_bytes(from_=BOB)
    w.expect(250, f"MAIL FROM:<{ALICE}>")
    w.expect(250, f"RCPT TO:<{BOB}>")
    # The header section is split over two chunks.
    w.send(f"BDAT 10\r\n".encode() + bad[:10])
    w.expect(250)
    w.send(f"BDAT {len(bad) - 10} LAST\r\n".encode() + bad[10:])
    r = w.reply()
    assert (r.code, r.enhanced) == (550, "5.7.1"), r
    good = msg_bytes()
    w.expect(250, f"MAIL FROM:<{ALICE}>")
    w.expect(250, f"RCPT TO:<{BOB}>")
    w.send(f"BDAT {len(good)} LAST\r\n".encode() + good)
    r = w.reply()
    assert r.code == 250, r
    w.quit()
    [m] = srv.wait_messages("bob", 1)
    assert len(header_lines(m.content, "Message-ID")) == 1
    assert m.content.endswith(good)


def test_header_check_after_large_header_section(srv):
    """The From: field comes after 100 KB of other header fields."""
    filler = "".join(f"X-Filler-{i}: {'x' * 90}\r\n" for i in range(1100))
    w = auth_wire(srv)
    content = (filler + f"From: {BOB}\r\n\r\nbody\r\n").encode()
    r = submit_raw(w, content)
    assert (r.code, r.enhanced) == (550, "5.7.1"), r
    content = (filler + f"From: {ALICE}\r\n\r\nbody\r\n").encode()
    r = submit_raw(w, content)
    assert r.code == 250, r
    w.quit()
    [m] = srv.wait_messages("bob", 1)
    assert m.content.endswith(content)


def test_spoofing_refusals_are_logged(srv):
    w = auth_wire(srv)
    w.expect(553, f"MAIL FROM:<{BOB}>")
    r = submit_raw(w, msg_bytes(from_=BOB))
    assert r.code == 550
    w.quit()
    srv.wait_log(r"reject MAIL <bob@example\.test>: not owned by alice@example\.test")
    srv.wait_log(r"From:/Sender: bob@example\.test not owned by alice@example\.test")


# ----- real clients: swaks, msmtp -----


def swaks(srv, *args, timeout=60):
    argv = [SWAKS, "--server", "127.0.0.1", "--ehlo", "client.example.net",
            "--timeout", "30", *args]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    r.stdout = r.stdout.decode("utf-8", "replace")
    r.stderr = r.stderr.decode("utf-8", "replace")
    return r


needs_swaks = pytest.mark.skipif(not os.access(SWAKS, os.X_OK), reason="swaks not installed")
needs_msmtp = pytest.mark.skipif(not os.access(MSMTP, os.X_OK), reason="msmtp not installed")


@needs_swaks
@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_starttls_auth_587(srv, mech):
    r = swaks(srv, "--port", str(srv.submission_port), "--tls", "--auth", mech,
              "--auth-user", ALICE, "--auth-password", PASSWORD,
              "--from", ALICE, "--to", f"{BOB},far@remote.test",
              "--header", f"Subject: swaks {mech}")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<-  220 2.0.0 Ready to start TLS" in r.stdout
    assert "<~  235 2.7.0 Authentication successful" in r.stdout
    [m] = srv.wait_messages("bob", 1)
    assert parse(m)["Subject"] == f"swaks {mech}"
    assert "with ESMTPSA" in m.received.decode()
    [(_, _, _, auth_user, rcpts)] = _wait_queue(srv, 1)
    assert auth_user == ALICE and rcpts == [("far@remote.test", "remote.test", 0)]


@needs_swaks
def test_swaks_implicit_tls_465(srv):
    r = swaks(srv, "--port", str(srv.submissions_port), "--tlsc", "--auth", "PLAIN",
              "--auth-user", ALICE, "--auth-password", PASSWORD,
              "--from", ALICE, "--to", BOB, "--header", "Subject: tlsc")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<~  235 2.7.0" in r.stdout
    [m] = srv.wait_messages("bob", 1)
    assert parse(m)["Subject"] == "tlsc"


@needs_swaks
def test_swaks_wrong_password_fails(srv):
    r = swaks(srv, "--port", str(srv.submission_port), "--tls", "--auth", "LOGIN",
              "--auth-user", ALICE, "--auth-password", "wrong",
              "--from", ALICE, "--to", BOB)
    assert r.returncode != 0
    assert "<~* 535 5.7.8 Error: authentication failed" in r.stdout, r.stdout
    assert srv.messages("bob") == []


@needs_swaks
def test_swaks_spoofed_from_refused(srv):
    r = swaks(srv, "--port", str(srv.submission_port), "--tls", "--auth", "PLAIN",
              "--auth-user", ALICE, "--auth-password", PASSWORD,
              "--from", ALICE, "--to", BOB, "--header", f"From: {BOB}")
    assert r.returncode != 0
    assert re.search(r"<~\* 550 5\.7\.1 ", r.stdout), r.stdout
    assert srv.messages("bob") == []


def msmtp(srv, tmp_path, rcpts, message, port, starttls, user=ALICE, password=PASSWORD):
    conf = tmp_path / "msmtprc"
    conf.write_text(
        "defaults\n"
        "logfile -\n"
        "account postane\n"
        "host 127.0.0.1\n"
        f"port {port}\n"
        "domain client.example.net\n"
        "tls on\n"
        f"tls_starttls {'on' if starttls else 'off'}\n"
        "tls_certcheck off\n"
        "auth on\n"
        f"user {user}\n"
        f"password {password}\n"
        f"from {ALICE}\n"
        "timeout 30\n"
        "account default : postane\n")
    conf.chmod(0o600)
    return subprocess.run([MSMTP, "-C", str(conf), "--debug", "--", *rcpts], input=message,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)


@needs_msmtp
@pytest.mark.parametrize("port", ["587", "465"])
def test_msmtp_submission(srv, tmp_path, port):
    p = srv.submission_port if port == "587" else srv.submissions_port
    message = b"From: Alice <alice@example.test>\nTo: bob@example.test\nSubject: msmtp\n\nhello\n"
    r = msmtp(srv, tmp_path, [BOB, "faraway@remote.test"], message, p, starttls=port == "587")
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    assert r.returncode == 0, out
    assert "235 2.7.0" in out
    [m] = srv.wait_messages("bob", 1)
    parsed = parse(m)
    assert parsed["Subject"] == "msmtp"
    assert "with ESMTPSA" in m.received.decode()
    assert len(header_lines(m.content, "Message-ID")) == 1
    assert len(header_lines(m.content, "Date")) == 1
    [(_, _, sender, _, rcpts)] = _wait_queue(srv, 1)
    assert sender == ALICE and rcpts == [("faraway@remote.test", "remote.test", 0)]


@needs_msmtp
def test_msmtp_wrong_password(srv, tmp_path):
    message = b"From: alice@example.test\nSubject: x\n\nhello\n"
    r = msmtp(srv, tmp_path, [BOB], message, srv.submission_port, starttls=True,
              password="not the password")
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    assert r.returncode != 0
    assert "535 5.7.8" in out, out
    assert srv.messages("bob") == []


# ----- found bugs -----


@pytest.mark.parametrize("from_", ['"bob@example.test"', "(bob@example.test)", "", "Team:;",
                                   "Bob <>"],
                         ids=["quoted", "comment", "empty", "empty-group", "null"])
def test_from_header_without_mailbox_refused(srv, from_):
    w = auth_wire(srv)
    r = submit_raw(w, msg_bytes(from_=from_))
    assert (r.code, r.enhanced) == (550, "5.6.0"), r
    w.quit()


def test_header_section_over_1mib_refused_552(srv):
    filler = b"".join(b"X-Filler: " + b"x" * 88 + b"\r\n" for _ in range(11000))
    w = auth_wire(srv)
    r = submit_raw(w, b"From: alice@example.test\r\n" + filler + b"\r\nbody\r\n")
    assert (r.code, r.enhanced) == (552, "5.3.4"), r
    w.quit()


@pytest.mark.parametrize("from_", [f"<{BOB}> <{ALICE}>", f"{BOB} <{ALICE}>",
                                   f"Bob <{BOB}> <{ALICE}>", f"<{BOB}><{ALICE}>"],
                         ids=["two-angles", "addr-as-name", "name-two-angles", "adjacent"])
def test_from_header_ambiguous_mailbox_refused(srv, from_):
    # What a typical reader makes of this header: bob.
    parsed = email.message_from_bytes(msg_bytes(from_=from_), policy=email.policy.default)
    assert parsed["From"].addresses[0].addr_spec == BOB
    w = auth_wire(srv)
    r = submit_raw(w, msg_bytes(from_=from_))
    assert r.code == 550 and r.enhanced in ("5.6.0", "5.7.1"), r
    w.quit()


def test_from_header_with_nul_refused(srv):
    w = auth_wire(srv)
    r = submit_raw(w, msg_bytes(from_="alice@example.test\0.evil.test"))
    assert r.code == 550, r
    w.quit()
