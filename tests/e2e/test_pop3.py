"""POP3 server (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH):
CAPA before and after TLS, USER/PASS and SASL only under TLS (or on
loopback when allowed), throttled failures and lockout, STAT/LIST/UIDL/
RETR/TOP/DELE/RSET/NOOP/QUIT with exact bytes (dot-stuffing, sizes),
deletions applied only at QUIT and visible over IMAP, UIDL stable across
sessions and equal to the IMAP UID, a message expunged over IMAP during a
POP3 session, pipelining, the STLS injection class, shutdown, and the real
clients poplib and fetchmail (STLS and POP3S, delete and keep)."""

import base64
import imaplib
import os
import poplib
import re
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import DOMAIN, PASSWORD
from smtpwire import ConnectionClosed, tls_client_context

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
FETCHMAIL = shutil.which("fetchmail") or "/usr/bin/fetchmail"
needs_fetchmail = pytest.mark.skipif(not os.access(FETCHMAIL, os.X_OK),
                                     reason="fetchmail missing")
PLAINTEXT_REFUSED = "-ERR [AUTH] Plaintext authentication disallowed"


# ----- helpers -----


def pop3_port(srv):
    return int(srv.get_config("listen", "pop3"))


def pop3s_port(srv):
    return int(srv.get_config("listen", "pop3s"))


def imap_port(srv):
    return int(srv.get_config("listen", "imap"))


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def plain(user=ALICE, password=PASSWORD, authzid=""):
    return b64(f"{authzid}\0{user}\0{password}")


class POP3Wire:
    """A raw POP3 connection: exact bytes out, lines in (every read bounded
    by the socket timeout). Multi-line responses come back as the raw
    lines, still dot-stuffed, without the terminating "."."""

    def __init__(self, port, tls_context=None, timeout=15.0, greet=True):
        deadline = time.monotonic() + 5
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        if tls_context is not None:
            self.sock = tls_context.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""
        self.greeting = self.line() if greet else None
        if greet:
            assert self.greeting.startswith(b"+OK "), self.greeting

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionClosed(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line().decode("utf-8", "replace")

    def ok(self, text):
        r = self.cmd(text)
        assert r.startswith("+OK"), (text, r)
        return r

    def err(self, text):
        r = self.cmd(text)
        assert r.startswith("-ERR"), (text, r)
        return r

    def multi(self):
        lines = []
        while True:
            ln = self.line()
            if ln == b".":
                return lines
            lines.append(ln)

    def ok_multi(self, text):
        first = self.ok(text)
        return first, self.multi()

    def starttls(self, context=None):
        assert self.buf == b"", f"plaintext left before the handshake: {self.buf!r}"
        self.sock = (context or tls_client_context()).wrap_socket(
            self.sock, server_hostname="localhost")

    def login(self, user=ALICE, password=PASSWORD):
        self.ok(f"USER {user}")
        return self.ok(f"PASS {password}")

    def closed(self, timeout=5.0):
        """True once the server has closed the connection (EOF)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def wire(srv, security="starttls", user=None, password=PASSWORD, timeout=15.0):
    """security: "plain" (110, no TLS), "starttls" (110 + STLS) or "ssl"
    (995). Logs in when user is given."""
    if security == "ssl":
        w = POP3Wire(pop3s_port(srv), tls_context=tls_client_context(), timeout=timeout)
    else:
        w = POP3Wire(pop3_port(srv), timeout=timeout)
        if security == "starttls":
            w.ok("STLS")
            w.starttls()
    if user is not None:
        w.login(user, password)
    return w


def unstuff(lines):
    """The content a RETR delivered: dot-stuffing undone, CRLF line ends."""
    out = []
    for ln in lines:
        assert ln != b".", "a lone '.' inside the response"
        if ln.startswith(b"."):
            assert ln.startswith(b".."), ln
            ln = ln[1:]
        out.append(ln + b"\r\n")
    return b"".join(out)


def deliver(srv, content, rcpt=ALICE, sender="sender@example.net"):
    if isinstance(content, str):
        content = content.encode()
    with srv.smtp() as s:
        assert not s.sendmail(sender, [rcpt], content)


def deliver_n(srv, n, rcpt=ALICE, prefix="Message"):
    local = rcpt.split("@")[0]
    before = len(srv.message_paths(local))
    for i in range(n):
        deliver(srv, f"From: sender@example.net\r\nSubject: {prefix} {i + 1}\r\n\r\n"
                     f"Body of {prefix.lower()} {i + 1}.\r\n", rcpt=rcpt)
    msgs = srv.wait_messages(local, before + n)
    assert len(msgs) == before + n
    return msgs


def poplib_stls(srv, user=ALICE, password=PASSWORD):
    p = poplib.POP3("127.0.0.1", pop3_port(srv), timeout=15)
    p.stls(context=tls_client_context())
    if user is not None:
        p.user(user)
        p.pass_(password)
    return p


def poplib_ssl(srv, user=ALICE, password=PASSWORD):
    p = poplib.POP3_SSL("127.0.0.1", pop3s_port(srv), context=tls_client_context(), timeout=15)
    if user is not None:
        p.user(user)
        p.pass_(password)
    return p


def imap_login(srv, user=ALICE):
    m = imaplib.IMAP4("127.0.0.1", imap_port(srv), timeout=15)
    m.starttls(ssl_context=tls_client_context())
    m.login(user, PASSWORD)
    return m


def imap_uids(m):
    typ, data = m.uid("SEARCH", None, "ALL")
    assert typ == "OK", data
    return [int(x) for x in data[0].split()]


def capa(w):
    _, lines = w.ok_multi("CAPA")
    return [ln.decode() for ln in lines]


# ----- greeting, CAPA, STLS, implicit TLS -----


def test_greeting_and_capa_before_tls(srv):
    w = wire(srv, "plain")
    assert w.greeting.startswith(b"+OK ")
    assert srv.hostname.encode() in w.greeting
    caps = capa(w)
    names = [c.split()[0] for c in caps]
    for c in ("CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS"):
        assert c in names, caps
    assert "EXPIRE NEVER" in caps and "IMPLEMENTATION postane" in caps
    # No login without TLS (plaintext_loopback is off by default).
    assert "USER" not in names and "SASL" not in names, caps
    w.ok("QUIT")
    assert w.closed()
    srv.wait_log(r"pop3 P[0-9A-F]+: connect from 127\.0\.0\.1")
    srv.wait_log(r"pop3 P[0-9A-F]+: disconnect from 127\.0\.0\.1")


def test_capa_after_stls_and_on_pop3s(srv):
    for security in ("starttls", "ssl"):
        w = wire(srv, security)
        caps = capa(w)
        names = [c.split()[0] for c in caps]
        assert "STLS" not in names, caps
        assert "USER" in names, caps
        assert "SASL PLAIN LOGIN" in caps, caps
        w.login()
        # After login: no login or TLS capabilities any more.
        caps = capa(w)
        assert "USER" not in caps and "STLS" not in caps, caps
        assert "TOP" in caps and "UIDL" in caps
        w.ok("QUIT")
        w.close()
    srv.wait_log(r"pop3 P[0-9A-F]+: TLS established: TLSv1\.[23]")


def test_stls_twice_and_after_login(srv):
    w = wire(srv, "starttls")
    w.err("STLS")
    w.login()
    w.err("STLS")
    w.ok("QUIT")


def test_poplib_stls_and_ssl(srv):
    msgs = deliver_n(srv, 2)
    for make in (poplib_stls, poplib_ssl):
        p = make(srv)
        count, size = p.stat()
        assert count == 2
        assert size == sum(len(m.raw) for m in msgs)
        resp, lines, _ = p.retr(2)
        assert resp.startswith(b"+OK")
        assert b"\r\n".join(lines) + b"\r\n" == msgs[1].raw
        p.quit()


# ----- authentication -----


def test_plaintext_login_refused_without_tls(srv):
    w = wire(srv, "plain")
    assert w.err(f"USER {ALICE}").startswith(PLAINTEXT_REFUSED)
    assert w.err(f"PASS {PASSWORD}").startswith(PLAINTEXT_REFUSED)
    assert w.err(f"AUTH PLAIN {plain()}").startswith(PLAINTEXT_REFUSED)
    w.err("STAT")
    w.ok("QUIT")
    assert "authenticated user=" not in srv.log()
    # poplib sees the refusal as an error too.
    p = poplib.POP3("127.0.0.1", pop3_port(srv), timeout=15)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p.user(ALICE)
    p.quit()


@pytest.mark.postane_config(auth={"plaintext_loopback": "yes"})
def test_plaintext_loopback_allows_login(srv):
    deliver_n(srv, 1)
    w = wire(srv, "plain")
    caps = capa(w)
    assert "USER" in caps and "SASL PLAIN LOGIN" in caps and "STLS" in caps
    assert "1 message" in w.login()
    w.ok("QUIT")
    srv.wait_log(r"pop3 P[0-9A-F]+: authenticated user=alice@example\.test method=USER")


def test_user_pass_and_log(srv):
    deliver_n(srv, 3)
    w = wire(srv)
    w.ok(f"USER {ALICE}")
    r = w.ok(f"PASS {PASSWORD}")
    assert "3 messages" in r, r
    w.ok("QUIT")
    srv.wait_log(r"pop3 P[0-9A-F]+: authenticated user=alice@example\.test method=USER "
                 r"messages=3")
    srv.wait_log(r"pop3 P[0-9A-F]+: disconnect from 127\.0\.0\.1 user=alice@example\.test")
    assert PASSWORD not in srv.log()


def test_pass_needs_user_and_user_case(srv):
    w = wire(srv)
    assert "USER first" in w.err(f"PASS {PASSWORD}")
    # Username is case-insensitive like everywhere else.
    w.ok("USER Alice@Example.Test")
    w.ok(f"PASS {PASSWORD}")
    w.ok("QUIT")


def test_auth_plain_initial_response(srv):
    w = wire(srv)
    w.ok(f"AUTH PLAIN {plain()}")
    w.ok("STAT")
    w.ok("QUIT")
    srv.wait_log(r"authenticated user=alice@example\.test method=PLAIN")


def test_auth_plain_continuation(srv):
    w = wire(srv)
    w.send("AUTH PLAIN\r\n")
    assert w.line() == b"+ "
    w.ok(plain())
    w.ok("NOOP")
    w.ok("QUIT")


def test_auth_login(srv):
    w = wire(srv)
    w.send("AUTH LOGIN\r\n")
    assert base64.b64decode(w.line()[2:]) == b"Username:"
    w.send(b64(ALICE) + "\r\n")
    assert base64.b64decode(w.line()[2:]) == b"Password:"
    w.ok(b64(PASSWORD))
    w.ok("QUIT")
    srv.wait_log(r"authenticated user=alice@example\.test method=LOGIN")


def test_auth_list_cancel_bad_mechanism(srv):
    w = wire(srv)
    _, mechs = w.ok_multi("AUTH")
    assert mechs == [b"PLAIN", b"LOGIN"]
    w.send("AUTH PLAIN\r\n")
    assert w.line() == b"+ "
    assert "cancelled" in w.err("*")
    w.err("AUTH CRAM-MD5")
    w.err("AUTH PLAIN !!!notbase64")
    # The session still works.
    w.ok(f"AUTH PLAIN {plain()}")
    w.ok("QUIT")


def test_auth_response_too_long(srv):
    w = wire(srv)
    w.send("AUTH PLAIN\r\n")
    assert w.line() == b"+ "
    w.err("A" * 5000)
    w.ok(f"AUTH PLAIN {plain()}")
    w.ok("QUIT")


@pytest.mark.postane_config(auth={"failure_delay_max": 1})
def test_wrong_password_delayed_auth_code(srv):
    w = wire(srv)
    for user in (ALICE, f"nobody@{DOMAIN}"):
        w.ok(f"USER {user}")
        t0 = time.monotonic()
        r = w.err("PASS wrong password")
        assert r == "-ERR [AUTH] Authentication failed", r
        assert time.monotonic() - t0 >= 0.9
    t0 = time.monotonic()
    assert w.err(f"AUTH PLAIN {plain(password='nope')}") == "-ERR [AUTH] Authentication failed"
    assert time.monotonic() - t0 >= 0.9
    # A failure does not end the session; the right password still works.
    w.login()
    w.ok("QUIT")
    log = srv.log()
    assert re.search(r"auth: failed login ip=127\.0\.0\.1 user=alice@example\.test "
                     r"protocol=pop3", log)
    assert "wrong password" not in log and "nope" not in log


@pytest.mark.postane_config(auth={"failure_delay_max": 1, "max_failures_user": 2,
                                  "max_failures_ip": 0})
def test_lockout_sys_temp(srv):
    w = wire(srv)
    for _ in range(2):
        w.ok(f"USER {ALICE}")
        assert w.err("PASS wrong").startswith("-ERR [AUTH]")
    w.ok(f"USER {ALICE}")
    r = w.err(f"PASS {PASSWORD}")  # even the right password: locked out
    assert r.startswith("-ERR [SYS/TEMP]"), r
    w.ok("QUIT")
    srv.wait_log(r"auth: lockout ip=127\.0\.0\.1 user=alice@example\.test")


def test_pipelined_login_and_commands(srv):
    """PIPELINING: everything in one write, the replies in order."""
    deliver_n(srv, 2)
    w = wire(srv)
    w.send(f"USER {ALICE}\r\nPASS {PASSWORD}\r\nSTAT\r\nLIST\r\nUIDL 1\r\nNOOP\r\n"
           f"TOP 1 0\r\nQUIT\r\n")
    assert w.line().startswith(b"+OK")          # USER
    assert b"2 messages" in w.line()            # PASS
    assert re.match(rb"\+OK 2 \d+$", w.line())  # STAT
    assert w.line().startswith(b"+OK")          # LIST
    assert len(w.multi()) == 2
    assert re.match(rb"\+OK 1 \d+\.\d+$", w.line())
    assert w.line() == b"+OK"                   # NOOP
    assert w.line().startswith(b"+OK")          # TOP
    assert b"Subject: Message 1" in b"\n".join(w.multi())
    assert w.line().startswith(b"+OK")          # QUIT
    assert w.closed()


# ----- STLS injection -----


def test_stls_injection_not_executed(srv):
    """A command sent in the same packet as STLS came before encryption: it
    must be dropped, not run after the handshake."""
    w = POP3Wire(pop3_port(srv))
    w.send(f"STLS\r\nUSER {ALICE}\r\n".encode())
    assert w.line() == b"+OK Begin TLS negotiation"
    w.starttls()
    # USER was not executed: PASS has nothing to go with.
    assert "USER first" in w.err(f"PASS {PASSWORD}")
    w.ok("QUIT")
    srv.wait_log(r"pop3 P[0-9A-F]+: discarded \d+ byte\(s\) sent before the TLS handshake")
    assert "authenticated user=" not in srv.log()


def test_stls_injection_quit(srv):
    w = POP3Wire(pop3_port(srv))
    w.send(b"STLS\r\nQUIT\r\n")
    assert w.line() == b"+OK Begin TLS negotiation"
    w.starttls()
    # The session is alive and nothing was answered for the injected QUIT.
    assert "USER" in capa(w)
    w.ok("QUIT")


# ----- the transaction commands -----


def test_stat_list_sizes_match_retr(srv):
    msgs = deliver_n(srv, 3)
    w = wire(srv, user=ALICE)
    total = sum(len(m.raw) for m in msgs)
    assert w.ok("STAT") == f"+OK 3 {total}"
    first, lines = w.ok_multi("LIST")
    assert "3 messages" in first
    assert lines == [f"{i + 1} {len(m.raw)}".encode() for i, m in enumerate(msgs)]
    for i, m in enumerate(msgs):
        assert w.ok(f"LIST {i + 1}") == f"+OK {i + 1} {len(m.raw)}"
        r = w.ok(f"RETR {i + 1}")
        assert r == f"+OK {len(m.raw)} octets"
        assert unstuff(w.multi()) == m.raw
    w.ok("QUIT")
    srv.wait_log(r"user=alice@example\.test retrieved=3 deleted=0")


def test_retr_byte_stuffing_exact(srv):
    body = (b"From: sender@example.net\r\nSubject: dots\r\n\r\n"
            b".\r\n..\r\n.leading dot\r\n...three\r\nmiddle . dot\r\n. space\r\nend.\r\n")
    deliver(srv, body)  # smtplib stuffs it for DATA; the store has it unstuffed
    [m] = srv.wait_messages("alice", 1)
    assert m.content == body
    w = wire(srv, user=ALICE)
    w.ok("RETR 1")
    lines = w.multi()
    assert b"..\r\n...\r\n..leading dot\r\n....three\r\nmiddle . dot\r\n.. space\r\nend." \
        in b"\r\n".join(lines)
    assert unstuff(lines) == m.raw
    # The response ends with exactly ".\r\n" after the last line.
    w.send("RETR 1\r\n")
    raw = b""
    while not raw.endswith(b"\r\nend.\r\n.\r\n"):
        chunk = w.sock.recv(65536)
        assert chunk
        raw += chunk
    assert raw.startswith(b"+OK ")
    w.ok("QUIT")


def test_retr_message_without_final_crlf_and_bare_lf(srv):
    """Content appended over IMAP as sent (bare LF, no final line end) still
    comes out as CRLF lines with a proper terminator."""
    m = imap_login(srv)
    typ, data = m.append("INBOX", None, None, b"Subject: lf\n\nline one\n.dot\nno end")
    assert typ == "OK", data
    m.logout()
    w = wire(srv, user=ALICE)
    w.ok("RETR 1")
    lines = w.multi()
    assert lines == [b"Subject: lf", b"", b"line one", b"..dot", b"no end"]
    w.ok("QUIT")


def test_top(srv):
    body = ("From: sender@example.net\r\nSubject: top\r\n\r\n"
            "b1\r\n.b2\r\nb3\r\nb4\r\n")
    deliver(srv, body)
    [m] = srv.wait_messages("alice", 1)
    header_end = m.raw.index(b"\r\n\r\n") + 4
    w = wire(srv, user=ALICE)
    _, lines = w.ok_multi("TOP 1 0")
    assert unstuff(lines) == m.raw[:header_end]
    _, lines = w.ok_multi("TOP 1 2")
    assert lines[-3:] == [b"", b"b1", b"..b2"]
    assert unstuff(lines) == m.raw[:header_end] + b"b1\r\n.b2\r\n"
    _, lines = w.ok_multi("TOP 1 100")
    assert unstuff(lines) == m.raw
    _, lines = w.ok_multi("TOP 1 18446744073709551615")
    assert unstuff(lines) == m.raw
    w.err("TOP 1")
    w.err("TOP 2 0")
    w.err("TOP 1 -1")
    w.ok("QUIT")
    # poplib's top()
    p = poplib_stls(srv)
    _, lines, _ = p.top(1, 1)
    assert lines[-2:] == [b"", b"b1"]
    p.quit()


def test_large_message_streamed(srv):
    """A message of several MB goes out in pieces (output high-water mark):
    it arrives whole and exact, also with a slow reader."""
    line = b"." + b"x" * 98 + b"\r\n"   # every line needs stuffing
    body = b"From: sender@example.net\r\nSubject: big\r\n\r\n" + line * 40000
    deliver(srv, body)
    [m] = srv.wait_messages("alice", 1, timeout=30)
    w = wire(srv, user=ALICE, timeout=60)
    w.ok("RETR 1")
    time.sleep(1)  # let the server fill its buffer and wait for us
    assert unstuff(w.multi()) == m.raw
    # Pipelined after a big response: answered after it, in order.
    w.send("RETR 1\r\nNOOP\r\n")
    assert w.line().startswith(b"+OK")
    assert len(w.multi()) == m.raw.count(b"\r\n")
    assert w.line() == b"+OK"
    w.ok("QUIT")


def test_pipelined_commands_behind_big_responses_to_a_slow_reader(srv):
    """Commands that arrived with a big RETR wait while the response is
    unsent, and are answered, in order, once the client reads it."""
    line = b"y" * 98 + b"\r\n"
    body = b"From: sender@example.net\r\nSubject: big\r\n\r\n" + line * 20000
    deliver(srv, body)
    [m] = srv.wait_messages("alice", 1, timeout=30)
    w = wire(srv, user=ALICE, timeout=60)
    w.send("RETR 1\r\nRETR 1\r\nSTAT\r\nNOOP\r\n")
    time.sleep(1)  # the server stops with most of it unsent
    for _ in range(2):
        assert w.line().startswith(b"+OK")
        assert unstuff(w.multi()) == m.raw
    assert w.line().startswith(b"+OK 1 ")
    assert w.line() == b"+OK"
    w.ok("QUIT")


def test_uidl_format_matches_imap_and_is_stable(srv):
    deliver_n(srv, 3)
    w = wire(srv, user=ALICE)
    _, lines = w.ok_multi("UIDL")
    uidl1 = [ln.decode().split() for ln in lines]
    w.ok("QUIT")
    db_uids = [uid for _, uid in srv.db_messages("alice")]
    uidvalidity = srv.db_query(
        "SELECT b.uidvalidity FROM mailboxes b JOIN accounts a ON a.id = b.account_id"
        " WHERE a.localpart = 'alice' AND b.name = 'INBOX'")[0][0]
    assert uidl1 == [[str(i + 1), f"{uidvalidity}.{uid}"] for i, uid in enumerate(db_uids)]
    for _, uid in uidl1:
        assert 1 <= len(uid) <= 70 and all(0x21 <= ord(c) <= 0x7E for c in uid)
    # A second session: the same ids; UIDL n agrees.
    w = wire(srv, "ssl", user=ALICE)
    _, lines = w.ok_multi("UIDL")
    assert [ln.decode().split() for ln in lines] == uidl1
    assert w.ok("UIDL 2") == f"+OK 2 {uidl1[1][1]}"
    # Delete the first; the others keep their ids, renumbered next time.
    w.ok("DELE 1")
    w.ok("QUIT")
    deliver_n(srv, 1, prefix="Later")
    w = wire(srv, user=ALICE)
    _, lines = w.ok_multi("UIDL")
    ids = [ln.decode().split()[1] for ln in lines]
    assert ids[:2] == [uidl1[1][1], uidl1[2][1]]
    assert ids[2] not in [u for _, u in uidl1]
    w.ok("QUIT")
    # poplib agrees.
    p = poplib_ssl(srv)
    _, lines, _ = p.uidl()
    assert [ln.decode().split()[1] for ln in lines] == ids
    p.quit()


def test_dele_rset_keeps(srv):
    msgs = deliver_n(srv, 3)
    w = wire(srv, user=ALICE)
    w.ok("DELE 1")
    w.ok("DELE 3")
    assert w.ok("STAT") == f"+OK 1 {len(msgs[1].raw)}"
    _, lines = w.ok_multi("LIST")
    assert lines == [f"2 {len(msgs[1].raw)}".encode()]
    _, lines = w.ok_multi("UIDL")
    assert [ln.split()[0] for ln in lines] == [b"2"]
    assert "3 messages" in w.ok("RSET")
    assert w.ok("STAT").startswith("+OK 3 ")
    w.ok("QUIT")
    assert len(srv.messages("alice")) == 3
    assert len(srv.db_messages("alice")) == 3


def test_dele_then_disconnect_without_quit_keeps(srv):
    deliver_n(srv, 2)
    w = wire(srv, user=ALICE)
    w.ok("DELE 1")
    w.ok("DELE 2")
    w.close()
    srv.wait_log(r"user=alice@example\.test retrieved=0 deleted=0")
    assert len(srv.db_messages("alice")) == 2
    assert len(srv.messages("alice")) == 2


def test_dele_quit_removes_also_for_imap(srv):
    msgs = deliver_n(srv, 3)
    before = srv.db_messages("alice")
    w = wire(srv, user=ALICE)
    w.ok("DELE 2")
    assert "1 message deleted" in w.ok("QUIT")
    assert w.closed()
    after = srv.db_messages("alice")
    assert after == [before[0], before[2]]
    assert [m.name for m in srv.messages("alice")] == [msgs[0].name, msgs[2].name]
    m = imap_login(srv)
    typ, data = m.select("INBOX")
    assert typ == "OK" and int(data[0]) == 2
    assert imap_uids(m) == [before[0][1], before[2][1]]
    m.logout()
    srv.wait_log(r"pop3 P[0-9A-F]+: user=alice@example\.test: deleted 1 message\(s\)")
    # A new session sees two messages numbered 1 and 2.
    w = wire(srv, user=ALICE)
    assert w.ok("STAT").startswith("+OK 2 ")
    w.ok("QUIT")


def test_imap_expunge_during_pop3_session(srv):
    """IMAP expunges a message a POP3 session still lists: RETR answers
    -ERR [SYS/TEMP], the rest of the session works, QUIT is clean."""
    msgs = deliver_n(srv, 3)
    uids = [uid for _, uid in srv.db_messages("alice")]
    w = wire(srv, user=ALICE)
    m = imap_login(srv)
    m.select("INBOX")
    m.uid("STORE", str(uids[0]), "+FLAGS", r"(\Deleted)")
    typ, _ = m.expunge()
    assert typ == "OK"
    # The POP3 view does not change during the session (RFC 1939)...
    assert w.ok("STAT").startswith("+OK 3 ")
    # ...but the content is gone.
    r = w.err("RETR 1")
    assert r.startswith("-ERR [SYS/TEMP]"), r
    assert w.err("TOP 1 0").startswith("-ERR [SYS/TEMP]")
    w.ok("RETR 2")
    assert unstuff(w.multi()) == msgs[1].raw
    w.ok("DELE 1")
    w.ok("DELE 2")
    w.ok("QUIT")
    assert w.closed()
    assert [uid for _, uid in srv.db_messages("alice")] == [uids[2]]
    # The IMAP session learns about the POP3 deletion.
    typ, _ = m.noop()
    assert typ == "OK"
    assert imap_uids(m) == [uids[2]]
    m.logout()


def test_two_pop3_sessions_same_mailbox(srv):
    msgs = deliver_n(srv, 3)
    a = wire(srv, user=ALICE)
    b = wire(srv, "ssl", user=ALICE)
    a.ok("DELE 1")
    a.ok("QUIT")
    assert b.err("RETR 1").startswith("-ERR [SYS/TEMP]")
    b.ok("RETR 3")
    assert unstuff(b.multi()) == msgs[2].raw
    b.ok("DELE 1")   # already gone: nothing to do, no error
    b.ok("DELE 2")
    assert "2 messages deleted" in b.ok("QUIT")
    assert len(srv.db_messages("alice")) == 1
    assert [m.name for m in srv.messages("alice")] == [msgs[2].name]


def test_users_see_only_their_mail(srv):
    deliver_n(srv, 2, rcpt=ALICE)
    deliver_n(srv, 1, rcpt=BOB)
    w = wire(srv, user=BOB)
    assert w.ok("STAT").startswith("+OK 1 ")
    w.err("RETR 2")
    w.ok("QUIT")


def test_empty_maildrop(srv):
    w = wire(srv, user=ALICE)
    assert w.ok("STAT") == "+OK 0 0"
    _, lines = w.ok_multi("LIST")
    assert lines == []
    _, lines = w.ok_multi("UIDL")
    assert lines == []
    w.err("RETR 1")
    assert "0 messages deleted" in w.ok("QUIT")


# ----- errors -----


def test_errors_bad_commands_and_arguments(srv):
    deliver_n(srv, 2)
    w = wire(srv)
    # Before login.
    w.err("STAT")
    w.err("RETR 1")
    w.err("NOOP")
    w.err("XYZZY")
    w.err("APOP alice 0123456789abcdef")
    w.err("USER")
    w.login()
    # After login.
    w.err("USER alice")
    w.err("PASS x")
    w.err("AUTH PLAIN")
    w.err("RETR")
    w.err("RETR 0")
    w.err("RETR 3")
    w.err("RETR abc")
    w.err("RETR 1 2")
    w.err("RETR 99999999999999999999999")
    w.err("LIST 1 2")
    w.err("LIST 7")
    w.err("UIDL x")
    w.err("DELE")
    w.err("STAT 1")
    w.err("")
    w.ok("DELE 1")
    assert "already deleted" in w.err("DELE 1")
    w.err("RETR 1")
    w.err("LIST 1")
    w.err("UIDL 1")
    w.err("TOP 1 1")
    # Case-insensitive keywords, lenient trailing space.
    w.ok("stat")
    w.ok("list ")
    w.multi()
    w.ok("RSET")
    w.ok("QUIT")


def test_bad_bytes_and_long_lines(srv):
    w = wire(srv, user=ALICE)
    assert w.err("NO\0OP").startswith("-ERR")
    w.send(b"NOOP\rSTAT\r\n")
    assert w.line().startswith(b"-ERR")
    # Over-long line: one error, then the session goes on.
    w.send(b"LIST " + b"1" * 5000 + b"\r\nNOOP\r\n")
    assert w.line().startswith(b"-ERR")
    assert w.line() == b"+OK"
    # A bare LF ends a line too.
    w.send(b"NOOP\n")
    assert w.line() == b"+OK"
    w.ok("QUIT")


def test_too_many_errors_disconnect(srv):
    w = wire(srv)
    replies = []
    w.send("BOGUS\r\n" * 40)
    try:
        while True:
            replies.append(w.line())
    except (ConnectionClosed, ConnectionResetError):
        pass
    assert len(replies) < 40
    assert replies[-1].startswith(b"-ERR")
    assert b"Too many errors" in replies[-1]


def test_quit_before_login(srv):
    w = wire(srv, "plain")
    assert w.ok("QUIT").startswith("+OK")
    assert w.closed()


# ----- shutdown -----


def test_sigterm_closes_sessions_without_applying_deletions(srv):
    deliver_n(srv, 2)
    w = wire(srv, user=ALICE)
    w.ok("DELE 1")
    t0 = time.monotonic()
    rc = srv.stop()
    assert rc == 0
    assert time.monotonic() - t0 < 10
    r = w.line()
    assert r.startswith(b"-ERR [SYS/TEMP]"), r
    assert w.closed()
    srv.start()
    assert len(srv.db_messages("alice")) == 2


# ----- fetchmail -----


SAVE_MDA = textwrap.dedent("""\
    import os, sys
    d = sys.argv[1]
    data = sys.stdin.buffer.read()
    n = len(os.listdir(d))
    with open(os.path.join(d, "%04d.eml" % n), "xb") as f:
        f.write(data)
""")


def run_fetchmail(srv, tmp_path, options, name="fm"):
    """Run fetchmail once against the test server; messages go through an
    MDA into tmp_path/<name>-out/. Returns (exit status, output, files)."""
    home = tmp_path / f"{name}-home"
    out = tmp_path / f"{name}-out"
    home.mkdir(exist_ok=True)
    out.mkdir(exist_ok=True)
    mda = tmp_path / "save_mda.py"
    mda.write_text(SAVE_MDA)
    rc = home / "fetchmailrc"
    rc.write_text(
        "set no syslog\n"
        f"poll 127.0.0.1 with protocol pop3 port {options.pop('port')} "
        f"{options.pop('server', '')}\n"
        f"  user \"{ALICE}\" there with password \"{PASSWORD}\" is \"nobody\" here\n"
        f"  options {options.pop('opts')} no sslcertck\n"
        f"  mda \"{sys.executable} {mda} {out}\"\n")
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(home))
    r = subprocess.run([FETCHMAIL, "-v", "-f", str(rc), "--idfile", str(home / ".fetchids"),
                        "--nosyslog"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, env=env)
    files = sorted(out.iterdir())
    return r.returncode, r.stdout.decode("utf-8", "replace"), [f.read_bytes() for f in files]


def lf(b):
    return b.replace(b"\r\n", b"\n")


@needs_fetchmail
def test_fetchmail_stls_fetches_and_deletes(srv, tmp_path):
    msgs = deliver_n(srv, 2)
    deliver(srv, b"From: sender@example.net\r\nSubject: dotted\r\n\r\n"
                 b".starts with a dot\r\n..two dots\r\n.\r\nlast\r\n")
    msgs = srv.wait_messages("alice", 3)
    rc, out, got = run_fetchmail(srv, tmp_path, {"port": pop3_port(srv),
                                                 "opts": "sslproto tls1.2+"})
    assert rc == 0, out
    assert "STLS" in out, out
    assert len(got) == 3, out
    for m, g in zip(msgs, got):
        # fetchmail adds its own Received: line on top; the message follows.
        assert lf(m.content) in lf(g), (m.content, g)
    assert b"\n.starts with a dot\n..two dots\n.\nlast\n" in lf(got[2])
    # Deleted on the server (fetchmail's default), also for IMAP.
    assert srv.db_messages("alice") == []
    assert srv.messages("alice") == []
    srv.wait_log(r"pop3 P[0-9A-F]+: user=alice@example\.test: deleted 3 message\(s\)")
    assert PASSWORD not in srv.log()


@needs_fetchmail
def test_fetchmail_pop3s_keep_uidl(srv, tmp_path):
    msgs = deliver_n(srv, 2)
    opts = {"port": pop3s_port(srv), "server": "uidl", "opts": "ssl sslproto tls1.2+ keep"}
    rc, out, got = run_fetchmail(srv, tmp_path, dict(opts))
    assert rc == 0, out
    assert len(got) == 2
    assert len(srv.db_messages("alice")) == 2  # kept
    # Second run: the unique-ids are the same, nothing new (exit 1: no mail).
    rc, out, got = run_fetchmail(srv, tmp_path, dict(opts))
    assert rc == 1, out
    assert len(got) == 2
    # A new message: only it is fetched.
    deliver(srv, "From: sender@example.net\r\nSubject: third\r\n\r\nnew one\r\n")
    srv.wait_messages("alice", 3)
    rc, out, got = run_fetchmail(srv, tmp_path, dict(opts))
    assert rc == 0, out
    assert len(got) == 3
    assert b"Subject: third" in got[2]
    assert len(srv.db_messages("alice")) == 3
    assert lf(msgs[0].content) in lf(got[0])
