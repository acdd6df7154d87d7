"""Real clients against the server: swaks (plain, --pipeline, HELO, failures,
attachments) and Python's email + smtplib send_message (including its
automatic SMTPUTF8 / 8BITMIME use)."""

import email
import email.policy
import os
import re
import shutil
import smtplib
import subprocess
from email.message import EmailMessage

import pytest

SWAKS = shutil.which("swaks") or "/usr/bin/swaks"
pytestmark = pytest.mark.skipif(not os.access(SWAKS, os.X_OK), reason="swaks not installed")


def swaks(srv, *args, timeout=60):
    argv = [SWAKS, "--server", "127.0.0.1", "--port", str(srv.smtp_port),
            "--ehlo", "client.example.net", "--timeout", "30", *args]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    r.stdout = r.stdout.decode("utf-8", "replace")
    r.stderr = r.stderr.decode("utf-8", "replace")
    return r


def swaks_qid(out):
    m = re.search(r"<-  250 2\.0\.0 Ok: queued as (\S+)", out)
    assert m, out
    return m.group(1)


def test_swaks_default_message(srv):
    r = swaks(srv, "--to", "alice@example.test", "--from", "sender@remote.test")
    assert r.returncode == 0, r.stdout + r.stderr
    qid = swaks_qid(r.stdout)
    [m] = srv.messages("alice")
    assert m.return_path == b"Return-Path: <sender@remote.test>\r\n"
    assert f"with ESMTP id {qid}" in m.received.decode()
    assert b"from client.example.net ([127.0.0.1])" in m.received
    msg = email.message_from_bytes(m.content, policy=email.policy.default)
    assert msg["To"] == "alice@example.test"
    assert msg["From"] == "sender@remote.test"
    assert msg["Subject"].startswith("test ")
    assert "X-Mailer" in msg and "swaks" in msg["X-Mailer"]
    assert "This is a test mailing" in msg.get_content()
    assert b"\n" not in m.content.replace(b"\r\n", b"")  # CRLF only


def test_swaks_data_file_with_dots(srv, tmp_path):
    data = tmp_path / "msg.txt"
    # (A line of a lone "." is swaks' own end marker, so it is not used.)
    data.write_bytes(b"Subject: swaks file\nX-Test: 1\n\n.dot line\nline two\n..two dots\n. x\n")
    r = swaks(srv, "--to", "alice@example.test", "--from", "sender@remote.test",
              "--data", f"@{data}")
    assert r.returncode == 0, r.stdout + r.stderr
    [m] = srv.messages("alice")
    assert " -> ..dot line" in r.stdout  # swaks stuffed the dots
    expected = b"Subject: swaks file\r\nX-Test: 1\r\n\r\n.dot line\r\nline two\r\n..two dots\r\n. x\r\n"
    # swaks ends the data with one more CRLF before the end marker.
    assert m.content in (expected, expected + b"\r\n")


def test_swaks_pipeline(srv):
    r = swaks(srv, "--pipeline", "--to", "alice@example.test,bob@example.test",
              "--from", "sender@remote.test", "--header", "Subject: pipelined",
              "--body", "pipelined body")
    assert r.returncode == 0, r.stdout + r.stderr
    # swaks really pipelined: its three commands went out before any reply.
    assert re.search(r" -> MAIL FROM:.*\n -> RCPT TO:<alice.*\n -> RCPT TO:<bob.*\n -> DATA",
                     r.stdout), r.stdout
    qid = swaks_qid(r.stdout)
    for user in ("alice", "bob"):
        [m] = srv.messages(user)
        assert f"id {qid}" in m.received.decode()
        msg = email.message_from_bytes(m.content, policy=email.policy.default)
        assert msg["Subject"] == "pipelined"
        assert msg.get_content().strip() == "pipelined body"


def test_swaks_pipeline_with_rejected_recipient(srv):
    r = swaks(srv, "--pipeline", "--to", "alice@example.test,ghost@example.test",
              "--from", "sender@remote.test")
    assert "<** 550 5.1.1" in r.stdout, r.stdout
    # swaks treats any refused recipient as an RCPT failure (exit 24) or goes
    # on with the accepted one; either way alice's copy is all that exists.
    assert r.returncode in (0, 24), r.stdout
    assert len(srv.messages("alice")) <= 1
    assert not srv.maildir("ghost").exists()


def test_swaks_helo(srv):
    r = swaks(srv, "--protocol", "SMTP", "--to", "bob@example.test", "--from", "s@remote.test")
    assert r.returncode == 0, r.stdout + r.stderr
    assert " -> HELO client.example.net" in r.stdout
    [m] = srv.messages("bob")
    assert b" with SMTP id " in m.received


def test_swaks_unknown_user_exit_status(srv):
    r = swaks(srv, "--to", "ghost@example.test", "--from", "s@remote.test")
    assert r.returncode == 24, r.stdout
    assert "<** 550 5.1.1" in r.stdout
    assert srv.messages("alice") == [] and srv.messages("bob") == []


def test_swaks_relay_denied_exit_status(srv):
    r = swaks(srv, "--to", "victim@remote.test", "--from", "alice@example.test")
    assert r.returncode == 24, r.stdout
    assert "<** 554 5.7.1" in r.stdout


def test_swaks_too_big(postane):
    postane.set_config("smtp", "max_message_size", 2048)
    postane.start()
    r = swaks(postane, "--to", "alice@example.test", "--from", "s@remote.test",
              "--body", "x" * 5000)
    assert r.returncode == 26, r.stdout  # error after the data
    assert "<** 552 5.3.4" in r.stdout
    assert postane.messages("alice") == []


def test_swaks_attachment_roundtrip(srv, tmp_path):
    payload = bytes(range(256)) * 400
    att = tmp_path / "blob.bin"
    att.write_bytes(payload)
    r = swaks(srv, "--to", "alice@example.test", "--from", "s@remote.test",
              "--attach-type", "application/octet-stream", "--attach", f"@{att}",
              "--header", "Subject: with attachment")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    [m] = srv.messages("alice")
    msg = email.message_from_bytes(m.content, policy=email.policy.default)
    assert msg["Subject"] == "with attachment"
    parts = [p for p in msg.iter_attachments()] or [
        p for p in msg.walk() if p.get_content_type() == "application/octet-stream"]
    assert parts, m.content[:2000]
    assert parts[0].get_payload(decode=True) == payload


def test_smtplib_send_message_smtputf8(srv):
    """send_message switches to SMTPUTF8 + BODY=8BITMIME by itself for
    international addresses."""
    msg = EmailMessage()
    msg["From"] = "Jörg <jörg@bücher.test>"
    msg["To"] = "alice@example.test"
    msg["Subject"] = "Grüße"
    msg.set_content("Schöne Grüße aus Köln\n", cte="8bit")
    with srv.smtp() as s:
        refused = s.send_message(msg)
        assert refused == {}
    [m] = srv.messages("alice")
    assert m.return_path == "Return-Path: <jörg@xn--bcher-kva.test>\r\n".encode()
    assert b" with UTF8SMTP id " in m.received
    got = email.message_from_bytes(m.content, policy=email.policy.default)
    assert got["Subject"] == "Grüße"
    assert got.get_content().replace("\r\n", "\n") == "Schöne Grüße aus Köln\n"
    assert "Schöne Grüße aus Köln\r\n".encode() in m.content


def test_smtplib_send_message_multipart(srv, tmp_path):
    msg = EmailMessage()
    msg["From"] = "s@remote.test"
    msg["To"] = "bob@example.test"
    msg["Subject"] = "report"
    msg.set_content("see attachment\n.\n..\n")
    data = os.urandom(100000)
    msg.add_attachment(data, maintype="application", subtype="octet-stream",
                       filename="r.bin")
    wire = msg.as_bytes(policy=email.policy.SMTP)
    with srv.smtp() as s:
        assert s.send_message(msg) == {}
    [m] = srv.messages("bob")
    assert m.content == wire
    got = email.message_from_bytes(m.content, policy=email.policy.default)
    [att] = list(got.iter_attachments())
    assert att.get_payload(decode=True) == data
