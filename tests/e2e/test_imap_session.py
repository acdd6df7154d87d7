"""IMAP session level (RFC 9051, RFC 3501): greeting and CAPABILITY before
and after TLS and login, LOGIN and AUTHENTICATE PLAIN (with and without
SASL-IR) and their failures, ENABLE, ID, NAMESPACE, LOGOUT, STARTTLS and
implicit TLS, STARTTLS command injection, over-long lines and literals, the
pre-login timeout and unauthenticated memory limits."""

import base64
import imaplib
import os
import re
import socket
import time

import pytest

from conftest import DOMAIN, PASSWORD
from imapwire import IMAPWire, quote
from smtpwire import ConnectionClosed, tls_client_context

ALICE = f"alice@{DOMAIN}"

# The extensions issue 3 asks for, advertised once logged in.
AUTHED_CAPS = {
    "IMAP4REV1", "IMAP4REV2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE",
    "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
    "CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES", "QUOTA", "UTF8=ACCEPT", "BINARY",
    "STATUS=SIZE",
}


def caps_of(text):
    """Capability names (upper case) from "CAPABILITY a b c" or
    "[CAPABILITY a b c] text"."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:text.index("]")]
    words = text.split()
    assert words and words[0].upper() == "CAPABILITY", text
    return {w.upper() for w in words[1:]}


def plain_ir(user=ALICE, password=PASSWORD, authzid=""):
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()


def capability(w):
    r = w.ok("CAPABILITY")
    return caps_of(r.first("CAPABILITY"))


# ----- capabilities and where login is offered -----


def test_greeting_and_capability_before_tls(server):
    """Port 143 without TLS: STARTTLS offered, LOGINDISABLED, no AUTH=."""
    w = server.imap_wire()
    g = caps_of(w.greeting.text)
    assert {"IMAP4REV1", "IMAP4REV2", "STARTTLS", "LOGINDISABLED"} <= g, g
    assert not any(c.startswith("AUTH=") for c in g), g
    assert capability(w) == g
    w.ok("NOOP")
    r = w.cmd("LOGOUT")
    assert r.ok and r.lines("BYE"), r
    assert w.closed()


def test_login_refused_before_tls(server):
    w = server.imap_wire()
    r = w.cmd(f"LOGIN {quote(ALICE)} {quote(PASSWORD)}")
    assert r.status == "NO", r
    r = w.cmd(f"AUTHENTICATE PLAIN {plain_ir()}")
    assert r.status == "NO", r
    # Still not authenticated.
    r = w.cmd("SELECT INBOX")
    assert r.status == "BAD", r


def test_imaplib_refuses_login_when_logindisabled(server):
    m = server.imap()
    assert "LOGINDISABLED" in m.capabilities
    with pytest.raises(imaplib.IMAP4.error):
        m.login(ALICE, PASSWORD)
    m.shutdown()


def test_starttls_then_capabilities_and_login(server):
    w = server.imap_wire()
    w.starttls()
    caps = capability(w)
    assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps
    assert "AUTH=PLAIN" in caps, caps
    r = w.login(ALICE, PASSWORD)
    # The OK may carry the new capabilities; CAPABILITY must list them.
    after = capability(w)
    assert AUTHED_CAPS <= after, AUTHED_CAPS - after
    assert any(c.startswith("APPENDLIMIT=") for c in after), after
    assert "STARTTLS" not in after and "LOGINDISABLED" not in after
    if r.code and r.code.upper().startswith("CAPABILITY"):
        assert caps_of("[" + r.code + "]") == after
    r = w.ok("SELECT INBOX")
    w.ok("LOGOUT")


def test_starttls_twice_refused(server):
    w = server.imap_wire()
    w.starttls()
    r = w.cmd("STARTTLS")
    assert r.status in ("BAD", "NO"), r
    w.ok("NOOP")


def test_starttls_after_login_refused(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    r = w.cmd("STARTTLS")
    assert r.status in ("BAD", "NO"), r
    w.ok("NOOP")


def test_imaplib_starttls_login_select(server):
    server.deliver("alice", "Subject: over starttls\r\n\r\nhello\r\n")
    m = server.imap(user="alice", security="starttls")
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"1"], data
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK" and b"Subject: over starttls" in data[0][1]
    m.logout()


def test_imaps_implicit_tls(server):
    m = server.imap(security="ssl")
    assert "STARTTLS" not in m.capabilities
    assert "LOGINDISABLED" not in m.capabilities
    assert "AUTH=PLAIN" in m.capabilities
    typ, _ = m.login(ALICE, PASSWORD)
    assert typ == "OK"
    typ, data = m.select("INBOX")
    assert typ == "OK"
    m.logout()


def test_imaps_authenticate_plain_imaplib(server):
    m = server.imap(security="ssl")
    typ, _ = m.authenticate("PLAIN", lambda _: f"\0{ALICE}\0{PASSWORD}".encode())
    assert typ == "OK"
    assert m.state == "AUTH"
    m.logout()


def test_plaintext_loopback_config_offers_login(imap_srv):
    w = imap_srv.imap_wire()
    g = caps_of(w.greeting.text)
    assert "LOGINDISABLED" not in g and "AUTH=PLAIN" in g, g
    w.login(ALICE, PASSWORD)


# ----- LOGIN / AUTHENTICATE -----


def test_login_ok_with_imaplib(imap_srv):
    m = imap_srv.imap()
    typ, data = m.login(ALICE, PASSWORD)
    assert typ == "OK", data
    assert m.state == "AUTH"
    typ, data = m.logout()
    assert typ == "BYE"


def test_login_literal_password(imap_srv):
    """A password with characters that need a literal (quote, backslash)."""
    w = imap_srv.imap_wire()
    r = w.cmd_lit(f"LOGIN {quote(ALICE)} ", PASSWORD)
    assert r.ok, r


def test_authenticate_plain_continuation(imap_srv):
    w = imap_srv.imap_wire()
    tag = w.next_tag()
    w.line(f"{tag} AUTHENTICATE PLAIN")
    r = w.read_response()
    assert r.continuation, r
    w.line(plain_ir())
    t = w.read_tagged(tag)
    assert t.ok, t
    w.ok("SELECT INBOX")


def test_authenticate_plain_sasl_ir(imap_srv):
    w = imap_srv.imap_wire()
    assert "SASL-IR" in caps_of(w.greeting.text)
    r = w.cmd(f"AUTHENTICATE PLAIN {plain_ir()}")
    assert r.ok, r
    w.ok("SELECT INBOX")


def test_authenticate_plain_authzid_same_user(imap_srv):
    w = imap_srv.imap_wire()
    r = w.cmd(f"AUTHENTICATE PLAIN {plain_ir(authzid=ALICE)}")
    assert r.ok, r


@pytest.mark.postane_config(auth={"failure_delay_max": 1})
def test_authenticate_plain_authzid_other_user_refused(imap_srv):
    w = imap_srv.imap_wire()
    r = w.cmd(f"AUTHENTICATE PLAIN {plain_ir(authzid='bob@' + DOMAIN)}", timeout=30)
    assert r.status == "NO", r
    w.ok("NOOP")


def test_authenticate_cancel(imap_srv):
    w = imap_srv.imap_wire()
    tag = w.next_tag()
    w.line(f"{tag} AUTHENTICATE PLAIN")
    assert w.read_response().continuation
    w.line("*")
    t = w.read_tagged(tag)
    assert t.status == "BAD", t
    w.login(ALICE, PASSWORD)


def test_authenticate_unknown_mechanism(imap_srv):
    w = imap_srv.imap_wire()
    r = w.cmd("AUTHENTICATE X-UNKNOWN")
    assert r.status in ("NO", "BAD"), r
    w.login(ALICE, PASSWORD)


@pytest.mark.postane_config(auth={"failure_delay_max": 1})
def test_login_failures_look_the_same(imap_srv):
    """Wrong password and unknown user: the same NO [AUTHENTICATIONFAILED]
    line; the session stays usable."""
    w = imap_srv.imap_wire()
    r1 = w.cmd(f"LOGIN {quote(ALICE)} {quote('wrong password')}", timeout=30)
    r2 = w.cmd(f"LOGIN {quote('nobody@' + DOMAIN)} {quote(PASSWORD)}", timeout=30)
    r3 = w.cmd(f"LOGIN {quote('nobody@nowhere.invalid')} {quote(PASSWORD)}", timeout=30)
    for r in (r1, r2, r3):
        assert r.status == "NO" and r.code == "AUTHENTICATIONFAILED", r
    assert r1.text == r2.text == r3.text
    w.login(ALICE, PASSWORD)


@pytest.mark.postane_config(auth={"failure_delay_max": 1})
def test_authenticate_failures_look_the_same(imap_srv):
    w = imap_srv.imap_wire()
    r1 = w.cmd(f"AUTHENTICATE PLAIN {plain_ir(password='wrong')}", timeout=30)
    r2 = w.cmd(f"AUTHENTICATE PLAIN {plain_ir(user='ghost@' + DOMAIN)}", timeout=30)
    for r in (r1, r2):
        assert r.status == "NO" and r.code == "AUTHENTICATIONFAILED", r
    assert r1.text == r2.text
    r = w.cmd(f"AUTHENTICATE PLAIN {plain_ir()}")
    assert r.ok, r


@pytest.mark.postane_config(auth={"failure_delay_max": 1})
def test_imaplib_login_failure_raises(imap_srv):
    m = imap_srv.imap(timeout=30)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        m.login(ALICE, "nope")
    typ, _ = m.login(ALICE, PASSWORD)
    assert typ == "OK"


def test_password_not_in_log(imap_srv):
    w = imap_srv.imap_wire()
    w.login(ALICE, PASSWORD)
    w.ok("LOGOUT")
    time.sleep(0.2)
    assert PASSWORD not in imap_srv.log()


def test_commands_need_authentication(imap_srv):
    w = imap_srv.imap_wire()
    for cmd in ("SELECT INBOX", "LIST \"\" *", "CREATE x", "STATUS INBOX (MESSAGES)",
                "ENABLE CONDSTORE", "NAMESPACE", "IDLE", "FETCH 1 FLAGS"):
        r = w.cmd(cmd)
        assert r.status in ("BAD", "NO"), (cmd, r)
    w.login(ALICE, PASSWORD)
    r = w.cmd("LOGIN x y")
    assert r.status in ("BAD", "NO"), r
    r = w.cmd("FETCH 1 FLAGS")
    assert r.status in ("BAD", "NO"), r  # no mailbox selected


def test_unknown_command_bad(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    r = w.cmd("FROBNICATE")
    assert r.status == "BAD", r
    w.ok("NOOP")


# ----- ENABLE, ID, NAMESPACE -----


def test_enable_each_capability(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    for cap in ("CONDSTORE", "QRESYNC", "UTF8=ACCEPT", "IMAP4rev2"):
        r = w.ok(f"ENABLE {cap}")
        enabled = r.first("ENABLED").split()[1:]
        assert [e.upper() for e in enabled] == [cap.upper()], r
    # Already enabled: nothing new; unknown names are ignored.
    r = w.ok("ENABLE CONDSTORE X-UNKNOWN-EXT")
    assert r.first("ENABLED").split()[1:] == [], r


def test_enable_several_at_once_imaplib(imap_srv):
    m = imap_srv.imap(user="alice")
    typ, data = m.enable("CONDSTORE QRESYNC")
    assert typ == "OK", data
    typ, data = m.response("ENABLED")
    enabled = b" ".join(d for d in data if d).upper()
    assert b"CONDSTORE" in enabled and b"QRESYNC" in enabled, data


def test_enable_condstore_adds_modseq_to_flag_fetch(imap_srv):
    imap_srv.deliver("alice", "Subject: m\r\n\r\nx\r\n")
    w = imap_srv.imap_wire(user="alice")
    w.ok("SELECT INBOX")
    r = w.ok("STORE 1 +FLAGS (\\Flagged)")
    assert "MODSEQ" not in r.first("FETCH"), r
    w.ok("ENABLE CONDSTORE")
    r = w.ok("STORE 1 +FLAGS (\\Seen)")
    assert "MODSEQ" in r.first("FETCH"), r


def test_enable_imap4rev2_drops_recent(imap_srv):
    imap_srv.deliver("alice", "Subject: m\r\n\r\nx\r\n")
    w = imap_srv.imap_wire(user="alice")
    w.ok("ENABLE IMAP4rev2")
    r = w.ok("SELECT INBOX")
    assert not r.lines("RECENT"), r
    assert r.first("EXISTS") == "1 EXISTS"
    # RFC 9051 6.3.2: a LIST response for the selected mailbox.
    assert r.lines("LIST"), r


def test_id(imap_srv):
    w = imap_srv.imap_wire()
    r = w.ok('ID ("name" "pytest" "version" "1.0")')
    assert r.first("ID").startswith("ID ("), r
    assert '"name"' in r.first("ID")
    r = w.ok("ID NIL")
    assert r.lines("ID")
    w.login(ALICE, PASSWORD)
    w.ok('ID ("os" NIL)')


def test_namespace(imap_srv):
    m = imap_srv.imap(user="alice")
    typ, data = m.namespace()
    assert typ == "OK"
    assert data[0] == b'(("" "/")) NIL NIL', data


def test_noop_check_logout(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok("NOOP")
    w.ok("SELECT INBOX")
    w.ok("CHECK")
    r = w.cmd("LOGOUT")
    assert r.ok and r.lines("BYE"), r
    assert w.closed()


def test_pipelined_commands(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.send(b"p1 NOOP\r\np2 SELECT INBOX\r\np3 NOOP\r\np4 UNSELECT\r\np5 NOOP\r\n")
    got = [w.read_tagged(t) for t in ("p1", "p2", "p3", "p4", "p5")]
    assert all(t.ok for t in got), got


# ----- STARTTLS injection, limits -----


def test_starttls_injection_not_executed(server):
    """Commands pipelined after STARTTLS in the same packet came before TLS:
    they must be discarded, not run after the handshake (CVE-2011-0411
    style)."""
    w = server.imap_wire()
    w.send(b"s1 STARTTLS\r\ns2 CAPABILITY\r\ns3 LOGIN x y\r\n")
    r = w.read_response()
    assert r.tag == "s1" and r.status == "OK", r
    time.sleep(0.3)
    assert w.buf == b"", f"plaintext after STARTTLS OK: {w.buf!r}"
    w.sock = tls_client_context().wrap_socket(w.sock, server_hostname="localhost")
    w.send(b"t1 NOOP\r\n")
    rs = []
    while True:
        r = w.read_response()
        rs.append(r)
        if r.tag == "t1":
            break
    assert [r.tag for r in rs] == ["t1"], rs
    assert rs[-1].status == "OK"


def test_long_command_line_bad_and_connection_survives(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.send(b"L1 NOOP " + b"x" * 200_000 + b"\r\n")
    t = w.read_tagged("L1", timeout=15)
    assert t.status == "BAD", t
    w.ok("NOOP")
    w.ok("SELECT INBOX")


def test_long_line_before_login_survives(imap_srv):
    w = imap_srv.imap_wire()
    w.send(b"L1 LOGIN " + b"y" * 100_000 + b" pw\r\n")
    t = w.read_tagged("L1", timeout=15)
    assert t.status == "BAD", t
    w.login(ALICE, PASSWORD)


def test_literal_of_4gb_refused_before_it_is_sent(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.send(b"A1 APPEND INBOX {4294967296}\r\n")
    r = w.read_response(timeout=5)
    assert r.tag == "A1" and r.status in ("NO", "BAD"), r
    assert r.code == "TOOBIG", r
    w.ok("NOOP")
    # The same outside APPEND.
    w.send(b"A2 LOGIN {4294967296}\r\n")
    r = w.read_response(timeout=5)
    assert r.tag == "A2" and r.status in ("NO", "BAD"), r
    w.ok("NOOP")
    # A size that does not even fit in 64 bits.
    w.send(b"A3 APPEND INBOX {999999999999999999999999999}\r\n")
    r = w.read_response(timeout=5)
    assert r.tag == "A3" and r.status in ("NO", "BAD"), r
    w.ok("NOOP")
    w.ok("SELECT INBOX")


def test_literal_over_appendlimit_refused_before_sent(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    caps = capability(w)
    limit = [int(c.split("=", 1)[1]) for c in caps if c.startswith("APPENDLIMIT=")][0]
    w.send(b"A1 APPEND INBOX {%d}\r\n" % (limit + 1))
    r = w.read_response(timeout=5)
    assert r.tag == "A1" and r.status in ("NO", "BAD") and r.code == "TOOBIG", r
    w.ok("NOOP")


def test_unauthenticated_literal_limit(imap_srv):
    """Before login a client must not be able to make the server accept a
    large literal: an APPEND (which is refused anyway once complete)
    announcing 10 MB must not get "+"."""
    w = imap_srv.imap_wire()
    w.send(b"A1 APPEND INBOX {10000000}\r\n")
    r = w.read_response(timeout=5)
    assert not r.continuation, \
        "server invited a 10 MB literal from an unauthenticated client"
    assert r.tag == "A1" and r.status in ("NO", "BAD"), r


def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_unauthenticated_nonsync_literal_not_buffered(imap_srv):
    """LITERAL+ before login: {N+} of 20 MB is sent without asking. RFC 7888
    lets the server refuse it (BAD, or BYE and close); it must not buffer
    megabytes for a client that has not logged in."""
    pid = imap_srv.proc.pid
    before = _rss_kb(pid)
    conns = []
    size = 20_000_000
    chunk = b"z" * 1_000_000
    for _ in range(3):
        w = imap_srv.imap_wire()
        conns.append(w)
        w.send(b"N1 LOGIN {%d+}\r\n" % size)
        try:
            for _ in range(size // len(chunk)):
                w.sock.sendall(chunk)
        except OSError:
            pass  # the server closed the connection: fine
    time.sleep(0.5)
    grown = _rss_kb(pid) - before
    for w in conns:
        w.close()
    assert grown < 30_000, f"server RSS grew by {grown} kB for 3 unauthenticated literals"


@pytest.mark.slow
def test_prelogin_timeout_closes_idle_connection(imap_srv):
    """An unauthenticated connection that sends nothing is closed after the
    pre-login timeout (60 s); a logged-in one lives on. Waits up to 65 s."""
    idle = imap_srv.imap_wire()
    authed = imap_srv.imap_wire(user="alice")
    start = time.monotonic()
    assert idle.closed(timeout=65), "unauthenticated connection still open after 65 s"
    waited = time.monotonic() - start
    assert waited >= 50, f"closed after only {waited:.1f} s"
    assert b"BYE" in idle.buf, idle.buf
    authed.ok("NOOP")


def test_compress_deflate(imap_srv):
    """RFC 4978: after "OK", both directions are raw DEFLATE streams."""
    import zlib
    w = imap_srv.imap_wire(user="alice")
    caps = capability(w)
    if "COMPRESS=DEFLATE" not in caps:
        pytest.skip("COMPRESS=DEFLATE not advertised")
    w.ok("COMPRESS DEFLATE")
    comp = zlib.compressobj(wbits=-15)
    decomp = zlib.decompressobj(wbits=-15)

    def send(text):
        w.sock.sendall(comp.compress(text) + comp.flush(zlib.Z_SYNC_FLUSH))

    def read_until(tag, timeout=10):
        out = b""
        deadline = time.monotonic() + timeout
        while not re.search(rb"(^|\r\n)" + tag + rb" (OK|NO|BAD)[^\r]*\r\n", out):
            assert time.monotonic() < deadline, out
            w.sock.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = w.sock.recv(65536)
            assert chunk, f"connection closed: {out!r}"
            out += decomp.decompress(chunk)
        return out

    send(b"z1 SELECT INBOX\r\n")
    out = read_until(b"z1")
    assert b"z1 OK" in out and b"EXISTS" in out, out
    body = b"Subject: squeezed\r\n\r\nx\r\n"
    send(b"z2 APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
    assert b"z2 OK" in read_until(b"z2")
    send(b"z3 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n")
    out = read_until(b"z3")
    assert b"Subject: squeezed" in out, out
    send(b"z4 COMPRESS DEFLATE\r\n")  # already active
    out = read_until(b"z4")
    assert b"z4 NO" in out or b"z4 BAD" in out, out


def test_nonsync_literal_outside_append_limited_after_login(imap_srv):
    """Outside APPEND a literal is at most 1 MB (synchronising ones get
    BAD [TOOBIG] before they are sent); a non-synchronising one over that
    is refused too, not accepted and buffered."""
    w = imap_srv.imap_wire(user="alice")
    w.send(b"S1 SELECT {2000000}\r\n")
    r = w.read_response(timeout=5)
    assert r.tag == "S1" and r.status == "BAD" and r.code == "TOOBIG", r
    r = w.cmd(b"SELECT {2000000+}\r\n" + b"x" * 2_000_000, timeout=30)
    assert r.status == "BAD" and r.code == "TOOBIG", r
    w.ok("NOOP")
