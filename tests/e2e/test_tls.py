"""TLS on the SMTP listeners: STARTTLS on 25 and 587 (RFC 3207), implicit
TLS on 465 (RFC 8314); TLS 1.2 and 1.3 only (checked with python's ssl and
`openssl s_client`); the STARTTLS command-injection class (CVE-2011-0411,
"NO STARTTLS" 2021): plaintext pipelined after STARTTLS is never executed."""

import base64
import os
import shutil
import socket
import ssl
import subprocess

import pytest

from conftest import DOMAIN, PASSWORD
from smtpwire import SMTPWire, tls_client_context

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
needs_openssl = pytest.mark.skipif(not os.access(OPENSSL, os.X_OK), reason="openssl missing")


def plain(user=ALICE, password=PASSWORD):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def ports(srv):
    return {"25": srv.smtp_port, "587": srv.submission_port, "465": srv.submissions_port}


def keywords(reply):
    return [ln.split()[0] for ln in reply.lines[1:]]


def connect_tls(srv, which, context):
    """A TLS session on 25/587 (after STARTTLS) or 465; returns the wire."""
    if which == "465":
        return SMTPWire(srv.submissions_port, tls_context=context)
    w = SMTPWire(ports(srv)[which])
    w.expect(220)
    w.expect(250, "EHLO client.example.net")
    w.expect(220, "STARTTLS", enhanced="2.0.0")
    w.starttls(context)
    return w


# ----- STARTTLS basics -----


@pytest.mark.parametrize("which", ["25", "587"])
def test_starttls_offered_then_not(srv, which):
    w = srv.wire(port=ports(srv)[which], ehlo=None)
    r = w.expect(250, "EHLO client.example.net")
    assert "STARTTLS" in keywords(r)
    w.expect(220, "STARTTLS")
    w.starttls()
    assert w.tls_version in ("TLSv1.2", "TLSv1.3")
    r = w.expect(250, "EHLO client.example.net")
    assert "STARTTLS" not in keywords(r)
    w.expect(503, "STARTTLS", enhanced="5.5.1")
    w.quit()


def test_465_is_tls_from_the_first_byte(srv):
    w = SMTPWire(srv.submissions_port, tls_context=tls_client_context())
    r = w.expect(220)
    assert r.text.startswith(srv.hostname)
    r = w.expect(250, "EHLO client.example.net")
    assert "STARTTLS" not in keywords(r)
    w.expect(503, "STARTTLS", enhanced="5.5.1")
    w.quit()


def test_465_plaintext_client_gets_no_smtp(srv):
    """A plaintext client on 465 gets no banner (the server waits for a
    ClientHello) and its plaintext command is a failed handshake."""
    s = socket.create_connection(("127.0.0.1", srv.submissions_port), timeout=5)
    s.settimeout(1.0)
    with pytest.raises(socket.timeout):
        s.recv(100)
    s.settimeout(10.0)
    s.sendall(b"EHLO client.example.net\r\n")
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    assert b"250" not in data and b"220" not in data
    # The server is fine afterwards.
    w = SMTPWire(srv.submissions_port, tls_context=tls_client_context())
    w.expect(220)
    w.quit()


def test_starttls_with_argument_refused(srv):
    w = srv.wire()
    r = w.cmd("STARTTLS now")
    assert r.code == 501, r
    w.expect(220, "STARTTLS")
    w.starttls()
    w.expect(250, "EHLO x.example.net")
    w.quit()


def test_starttls_not_in_a_transaction(srv):
    w = srv.wire()
    w.expect(250, f"MAIL FROM:<{ALICE}>")
    w.expect(503, "STARTTLS", enhanced="5.5.1")
    w.expect(250, "RSET")
    w.expect(220, "STARTTLS")
    w.starttls()
    w.quit()


def test_starttls_before_ehlo(srv):
    w = srv.wire(ehlo=None)
    w.expect(220, "STARTTLS")
    w.starttls()
    w.expect(250, "EHLO client.example.net")
    w.quit()


def test_starttls_forgets_ehlo(srv):
    """RFC 3207 4.2: after TLS the client must EHLO again."""
    w = srv.wire()
    w.expect(220, "STARTTLS")
    w.starttls()
    w.expect(503, f"MAIL FROM:<{ALICE}>")
    w.expect(250, "EHLO client.example.net")
    w.expect(250, f"MAIL FROM:<{ALICE}>")
    w.quit()


def test_mail_over_starttls_on_25_is_esmtps(srv):
    w = srv.wire()
    w.expect(220, "STARTTLS")
    w.starttls()
    w.expect(250, "EHLO client.example.net")
    r = w.transaction("someone@remote.test", [ALICE],
                      b"Subject: tls\r\n\r\nover tls\r\n.\r\n")
    assert r.code == 250, r
    w.quit()
    [m] = srv.wait_messages("alice", 1)
    assert "with ESMTPS id" in m.received.decode()
    # Port 25 adds nothing to the message (no Message-ID, no Date).
    assert m.content == b"Subject: tls\r\n\r\nover tls\r\n"
    srv.wait_log(r"TLS established: TLSv1\.[23] ")


def test_smtplib_starttls_on_25(srv):
    s = srv.smtp()
    s.starttls(context=tls_client_context())
    s.sendmail("x@remote.test", [BOB], b"Subject: t\r\n\r\nb\r\n")
    s.quit()
    assert len(srv.wait_messages("bob", 1)) == 1


# ----- protocol versions -----


@pytest.mark.parametrize("which", ["25", "587", "465"])
@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls_12_and_13_accepted(srv, which, version):
    v = getattr(ssl.TLSVersion, version)
    w = connect_tls(srv, which, tls_client_context(minimum=v, maximum=v))
    assert w.tls_version == version.replace("_", ".")
    if which == "465":
        w.expect(220)
    w.expect(250, "EHLO client.example.net")
    w.quit()


@pytest.mark.parametrize("which", ["25", "587", "465"])
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls_10_and_11_refused(srv, which, version):
    v = getattr(ssl.TLSVersion, version)
    # SECLEVEL=0 so that our own client is willing to speak the old version:
    # the refusal must come from the server.
    ctx = tls_client_context(minimum=v, maximum=v, ciphers="DEFAULT@SECLEVEL=0")
    with pytest.raises(ssl.SSLError) as e:
        w = connect_tls(srv, which, ctx)
        if which == "465":
            w.expect(220)
    assert "PROTOCOL_VERSION" in str(e.value).upper() or "VERSION" in str(e.value).upper(), e.value
    # The server carries on.
    w = connect_tls(srv, which, tls_client_context())
    if which == "465":
        w.expect(220)
    w.expect(250, "EHLO client.example.net")
    w.quit()


def test_no_non_aead_tls12_cipher(srv):
    ctx = tls_client_context(maximum=ssl.TLSVersion.TLSv1_2,
                             ciphers="AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:"
                                     "ECDHE-RSA-AES256-SHA384:DES-CBC3-SHA@SECLEVEL=0")
    with pytest.raises(ssl.SSLError):
        SMTPWire(srv.submissions_port, tls_context=ctx).reply()


def s_client(srv, which, *args, timeout=30):
    port = ports(srv)[which]
    argv = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
            *args]
    if which != "465":
        argv += ["-starttls", "smtp"]
    r = subprocess.run(argv, input=b"QUIT\r\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


@needs_openssl
@pytest.mark.parametrize("which", ["25", "587", "465"])
def test_openssl_s_client_versions(srv, which):
    rc, out = s_client(srv, which, "-tls1_3")
    assert rc == 0, out
    assert "New, TLSv1.3, Cipher is TLS_" in out, out
    rc, out = s_client(srv, which, "-tls1_2")
    assert rc == 0, out
    assert "New, TLSv1.2, Cipher is ECDHE-RSA-" in out, out
    assert "GCM" in out or "CHACHA20" in out
    assert "Secure Renegotiation IS supported" in out or "Renegotiation" in out
    assert "Compression: NONE" in out
    for old in ("-tls1_1", "-tls1"):
        rc, out = s_client(srv, which, old, "-cipher", "DEFAULT@SECLEVEL=0")
        assert rc != 0, out
        assert "alert protocol version" in out, out
        assert "Cipher is (NONE)" in out, out


@needs_openssl
def test_openssl_s_client_certificate_is_the_configured_one(srv):
    rc, out = s_client(srv, "465", "-showcerts")
    assert rc == 0, out
    cert = (srv.dir / "tls" / "cert.pem").read_text()
    first = cert.split("-----END CERTIFICATE-----")[0]
    assert first.split("-----BEGIN CERTIFICATE-----")[1].strip() in out


# ----- STARTTLS command injection -----


def _after_injection(w, context=None):
    """Handshake, then prove the server answered nothing it should not
    have: no reply is waiting, and the session is in the greeting state."""
    w.starttls(context)
    pending = w.pending(wait=0.5)
    assert pending == b"", f"server answered injected plaintext: {pending!r}"


@pytest.mark.parametrize("which", ["25", "587"])
@pytest.mark.parametrize("injected", [
    b"RSET\r\n",
    b"NOOP\r\n",
    b"MAIL FROM:<x@y.test>\r\n",
    b"EHLO evil.example\r\nMAIL FROM:<x@y.test>\r\nRCPT TO:<alice@example.test>\r\n",
    b"QUIT\r\n",
], ids=["rset", "noop", "mail", "transaction", "quit"])
def test_starttls_injection_not_executed(srv, which, injected):
    w = srv.wire(port=ports(srv)[which])
    w.send(b"STARTTLS\r\n" + injected)  # one packet
    r = w.reply()
    assert r.code == 220, r
    _after_injection(w)
    # The session starts afresh: no EHLO, no transaction survived.
    w.expect(503, f"RCPT TO:<{ALICE}>")
    r = w.expect(250, "EHLO client.example.net")
    assert r.lines[0] == srv.hostname
    if which == "25":
        w.expect(503, f"RCPT TO:<{ALICE}>")  # MAIL was not executed
        w.expect(250, f"MAIL FROM:<{BOB}>")
    else:
        w.expect(530, f"MAIL FROM:<{BOB}>")
    w.expect(250, "NOOP")
    w.quit()
    m = srv.wait_log(r"discarded (\d+) byte\(s\) sent before the TLS handshake")
    assert int(m.group(1)) == len(injected)


def test_starttls_injected_auth_not_executed(srv):
    """Credentials pipelined in plaintext after STARTTLS do not log in."""
    w = srv.wire(port=srv.submission_port)
    w.send(f"STARTTLS\r\nAUTH PLAIN {plain()}\r\nMAIL FROM:<{ALICE}>\r\n".encode())
    w.expect(220)
    _after_injection(w)
    w.expect(250, "EHLO client.example.net")
    w.expect(530, f"MAIL FROM:<{ALICE}>")
    w.quit()
    assert "authenticated user=" not in srv.log()


def test_starttls_injection_after_ehlo_pipelined(srv):
    """EHLO, STARTTLS and an injected command in a single packet: EHLO is
    answered, STARTTLS too, the injected command never."""
    w = SMTPWire(srv.smtp_port)
    w.expect(220)
    w.send(b"EHLO client.example.net\r\nSTARTTLS\r\nMAIL FROM:<x@y.test>\r\n")
    w.expect(250)
    w.expect(220)
    _after_injection(w)
    w.expect(250, "EHLO client.example.net")
    w.expect(503, f"RCPT TO:<{ALICE}>")
    w.quit()


def test_starttls_injection_on_port_25_delivers_nothing(srv):
    """A full injected transaction (with DATA) stores no mail."""
    w = srv.wire()
    w.send(b"STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
           b"DATA\r\nSubject: injected\r\n\r\nevil\r\n.\r\n")
    w.expect(220)
    _after_injection(w)
    w.expect(250, "EHLO client.example.net")
    w.expect(250, "NOOP")
    w.quit()
    import time
    time.sleep(0.5)
    assert srv.messages("alice") == []


def test_starttls_plaintext_after_220_breaks_the_handshake(srv):
    """Plaintext that arrives after the 220 (not in the same packet) is
    handshake data: the session fails and nothing is executed."""
    w = srv.wire()
    w.expect(220, "STARTTLS")
    w.send(b"MAIL FROM:<x@y.test>\r\n")
    assert w.closed(timeout=10), w.buf
    assert b"250" not in w.buf
    # The server is fine.
    w = srv.wire()
    w.expect(250, "NOOP")
    w.quit()


def test_injection_in_tls_stream_is_normal_pipelining(srv):
    """Inside TLS, pipelining works as usual (the discard applies only to
    what was sent before the handshake)."""
    w = srv.wire()
    w.expect(220, "STARTTLS")
    w.starttls()
    w.send(b"EHLO client.example.net\r\nMAIL FROM:<x@remote.test>\r\n"
           b"RCPT TO:<alice@example.test>\r\nNOOP\r\n")
    w.expect(250)
    w.expect(250)
    w.expect(250)
    w.expect(250)
    w.quit()
