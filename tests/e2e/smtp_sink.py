"""A programmable SMTP server for outbound-delivery tests, on top of
aiosmtpd's Controller (Debian's python3-aiosmtpd 1.4): it records every
transaction exactly as received and answers what the test tells it to.

    sink = SmtpSink("127.0.0.2", port, tls_context=server_tls_context(tmp_path),
                    auth={"relay": "secret"})
    sink.start()
    sink.rcpt_reply["bad@peer.test"] = "550 5.1.1 no such user"
    sink.fail_next(1, "451 4.7.1 try again later")   # next DATA only
    ...
    [msg] = sink.wait(1, timeout=10)   # msg.data: the message bytes
    sink.stop()

What it advertises after EHLO is `extensions` (default SIZE, 8BITMIME,
SMTPUTF8, PIPELINING, DSN, ENHANCEDSTATUSCODES), plus STARTTLS with a TLS
context and AUTH PLAIN LOGIN with `auth` (only after STARTTLS when
auth_require_tls, the default with TLS). MAIL and RCPT parameters are
checked against what was advertised (BODY, SMTPUTF8, SIZE, RET, ENVID, AUTH
/ NOTIFY, ORCPT) and kept as sent, case included: aiosmtpd itself knows no
DSN parameters and upper-cases them. The null reverse path <> is accepted.

Replies are programmable per stage: greeting_reply (a non-220 reply instead
of the greeting: 421 closes the connection, 554 and others answer 503 to
everything but QUIT), ehlo_reply (the whole EHLO reply), mail_reply /
rcpt_reply (address -> reply, "*" for any), data_reply (sticky) and
fail_next(n, reply) (the next n DATA commands). A reply is "CODE TEXT";
"CODE-TEXT\\r\\nCODE TEXT" gives a multi-line one. The default DATA reply
names the message: "250 2.0.0 Ok: queued as S<n>".

Also here, shared with postfix_peer.py: port_free/free_port (one port free
on several loopback addresses) and make_self_signed/server_tls_context.
"""

import asyncio
import collections
import logging
import os
import random
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult


class _QuietDeprecation(logging.Filter):
    """aiosmtpd 1.4 itself sets Session.login_data after every successful
    AUTH and then warns that it is deprecated: drop that line."""

    def filter(self, record):
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_QuietDeprecation())

DEFAULT_EXTENSIONS = ("SIZE", "8BITMIME", "SMTPUTF8", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES")
DATA_SIZE_LIMIT = 50 * 1024 * 1024
STOP_TIMEOUT = 10.0


# ---------------------------------------------------------------- helpers

def port_free(port, address="127.0.0.1"):
    """Whether a listener could bind address:port now (with SO_REUSEADDR,
    as Postfix, asyncio and postane do: TIME_WAIT does not count)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(*addresses):
    """A TCP port in 20000..60000 free on every given address and on
    127.0.0.1 (where postane's own listeners are): one port for a test's
    peers on 127.0.0.2, .3 ..., which postane's [delivery] port then names."""
    want = set(addresses or ("127.0.0.1",)) | {"127.0.0.1"}
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(500):
        port = rng.randrange(20000, 60000)
        if all(port_free(port, a) for a in want):
            return port
    raise RuntimeError(f"no port free on all of {sorted(want)}")


def make_self_signed(directory, common_name, prefix="tls"):
    """(key path, cert path): a throwaway P-256 key and self-signed
    certificate for common_name, made with the openssl command."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / f"{prefix}-key.pem"
    cert = directory / f"{prefix}-cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "7", "-subj", f"/CN={common_name}",
         "-addext", f"subjectAltName=DNS:{common_name}",
         "-keyout", str(key), "-out", str(cert)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        timeout=30, check=True)
    os.chmod(key, 0o600)
    return key, cert


def server_tls_context(directory, common_name="sink.test"):
    """A server SSLContext with a fresh self-signed certificate (written
    under directory) for SmtpSink(tls_context=...)."""
    key, cert = make_self_signed(directory, common_name, prefix=f"sink-{common_name}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def _code(reply):
    return reply[:3]


def _reply_lines(reply):
    """A reply given as text -> the lines to send (multi-line replies are
    given with CRLF or LF between lines, each line with its own code)."""
    return [line for line in reply.replace("\r\n", "\n").split("\n") if line]


# ---------------------------------------------------------------- records

@dataclass
class Transaction:
    """One MAIL ... DATA transaction that reached the end of its data."""
    mail_from: str                      # "" for the null reverse path <>
    rcpt_tos: List[str]                 # accepted recipients, in order
    mail_options: List[str]             # MAIL parameters as sent ("BODY=8BITMIME", ...)
    rcpt_options: List[List[str]]       # RCPT parameters per accepted recipient
    data: bytes                         # the message: CRLFs kept, dot-stuffing undone
    peer: tuple                         # (address, port) of the client
    tls: bool                           # STARTTLS was done on this connection
    tls_version: Optional[str] = None
    auth_user: Optional[str] = None     # the AUTH login, if any
    helo: Optional[str] = None          # the EHLO/HELO argument
    reply: str = ""                     # what the sink answered to the data
    rejected_rcpts: List[tuple] = field(default_factory=list)  # (address, reply)
    session_id: int = 0                 # connection number (1, 2, ...)
    when: float = 0.0                   # time.time() at the end of DATA

    @property
    def accepted(self):
        return self.reply.startswith("2")


# ---------------------------------------------------------------- protocol

def _split_path(arg, keyword):
    """'FROM:<a@b> X=Y' -> (address, [params]); None on a syntax error.
    The path must be in angle brackets (RFC 5321); "<>" gives ""."""
    if arg is None or arg[:len(keyword)].upper() != keyword:
        return None
    rest = arg[len(keyword):].lstrip()
    if not rest.startswith("<"):
        return None
    quoted = False
    for i in range(1, len(rest)):
        ch = rest[i]
        if ch == "\\" and quoted:
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == ">" and not quoted:
            address = rest[1:i]
            if ":" in address and address.startswith("@"):  # source route
                address = address.split(":", 1)[1]
            return address, rest[i + 1:].split()
    return None


class _SinkSMTP(SMTP):
    """aiosmtpd's SMTP session with the sink's greeting, EHLO, MAIL, RCPT
    and AUTH; DATA is aiosmtpd's (dot-unstuffing, size limit), its reply
    comes from the sink's handler."""

    def __init__(self, sink, handler, **kw):
        super().__init__(handler, **kw)
        self.sink = sink
        self._sink_id = 0
        # Set here rather than passed: aiosmtpd warns when AUTH is required
        # without TLS, which tests may want on purpose.
        self._auth_required = sink.auth_required
        # aiosmtpd keeps these limits in a dict shared by all sessions and
        # adds to it on every EHLO: give each session its own, with room
        # for DSN parameters (ORCPT up to 500 octets).
        self.command_size_limits = collections.defaultdict(
            lambda: 512, {"MAIL": 2048, "RCPT": 2048})

    def connection_made(self, transport):
        # Called again with the TLS transport after STARTTLS (and aiosmtpd
        # then starts a new Session): count the connection only once.
        first = self.transport is None
        super().connection_made(transport)
        if first:
            with self.sink.lock:
                self.sink.connections += 1
                self.sink._open += 1
                self.sink.max_parallel = max(self.sink.max_parallel, self.sink._open)
                self._sink_id = self.sink.connections
                self._sink_closed = False

    def connection_lost(self, error):
        with self.sink.lock:
            if not getattr(self, "_sink_closed", True):
                self._sink_closed = True
                self.sink._open -= 1
        super().connection_lost(error)

    async def _handle_client(self):
        greeting = self.sink.greeting_reply
        if not greeting or greeting.startswith("220"):
            return await super()._handle_client()
        for line in _reply_lines(greeting):
            self._writer.write(line.encode("utf-8") + b"\r\n")
        await self._writer.drain()
        if greeting.startswith("421"):
            self.transport.close()
            return
        # 554 at connect (RFC 5321 3.1): wait for QUIT, refuse the rest.
        try:
            while self.transport is not None:
                line = await self._reader.readuntil()
                if line.strip().upper() == b"QUIT":
                    await self.push("221 2.0.0 Bye")
                    self.transport.close()
                    return
                await self.push("503 5.5.1 Error: no service")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            if self.transport is not None:
                self.transport.close()

    async def smtp_EHLO(self, hostname):
        if self.sink.ehlo_reply:
            if not hostname:
                return await self.push("501 Syntax: EHLO hostname")
            if self.sink.ehlo_reply.startswith("2"):
                self._set_rset_state()
                self.session.extended_smtp = True
                self.session.host_name = hostname
            for line in _reply_lines(self.sink.ehlo_reply):
                await self.push(line)
            return
        return await super().smtp_EHLO(hostname)

    def advertised(self, keyword):
        return keyword in self.sink.extensions

    async def smtp_AUTH(self, arg):
        if not self.sink.auth:
            return await self.push("502 5.5.1 Error: AUTH not available")
        return await super().smtp_AUTH(arg)

    async def _params_refused(self, params, allowed, command):
        """False when every parameter is allowed and well-formed; else True,
        after sending the refusal."""
        for p in params:
            name, eq, value = p.partition("=")
            name = name.upper()
            if name not in allowed:
                reply = f"555 5.5.4 {command} parameter {name} not supported"
            elif name == "SIZE" and not value.isdigit():
                reply = "501 5.5.4 bad SIZE parameter"
            elif name == "BODY" and value.upper() not in ("7BIT", "8BITMIME"):
                reply = "501 5.5.4 bad BODY parameter"
            elif name == "RET" and value.upper() not in ("FULL", "HDRS"):
                reply = "501 5.5.4 bad RET parameter"
            elif name == "SMTPUTF8" and eq:
                reply = "501 5.5.4 SMTPUTF8 takes no value"
            else:
                continue
            await self.push(reply)
            return True
        return False

    async def smtp_MAIL(self, arg):
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("MAIL"):
            return
        if self.envelope.mail_from is not None:
            return await self.push("503 5.5.1 Error: nested MAIL command")
        parsed = _split_path(arg, "FROM:")
        if parsed is None:
            return await self.push("501 5.5.4 Syntax: MAIL FROM:<address> [parameters]")
        address, params = parsed
        if params and not self.session.extended_smtp:
            return await self.push("501 5.5.4 parameters need EHLO")
        allowed = {"AUTH"} if self.sink.auth else set()
        for ext, names in (("SIZE", ("SIZE",)), ("8BITMIME", ("BODY",)),
                           ("SMTPUTF8", ("SMTPUTF8",)), ("DSN", ("RET", "ENVID"))):
            if self.advertised(ext):
                allowed.update(names)
        if await self._params_refused(params, allowed, "MAIL"):
            return
        for p in params:
            name, _, value = p.partition("=")
            if name.upper() == "SIZE" and int(value) > self.sink.data_size_limit:
                return await self.push("552 5.3.4 message size exceeds fixed maximum")
        utf8 = any(p.upper() == "SMTPUTF8" for p in params)
        if not address.isascii() and not utf8:
            return await self.push("553 5.6.7 non-ASCII address needs SMTPUTF8")
        reply = self.sink._lookup(self.sink.mail_reply, address)
        if reply is None:
            reply = "250 2.1.0 Ok"
        if reply.startswith("2"):
            self.envelope.mail_from = address
            self.envelope.mail_options = list(params)
            self.envelope.smtp_utf8 = utf8
            self.envelope.sink_rcpt_options = []
            self.envelope.sink_rejected = []
        for line in _reply_lines(reply):
            await self.push(line)

    async def smtp_RCPT(self, arg):
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("RCPT"):
            return
        if self.envelope.mail_from is None:
            return await self.push("503 5.5.1 Error: need MAIL command")
        parsed = _split_path(arg, "TO:")
        if parsed is None or not parsed[0]:
            return await self.push("501 5.5.4 Syntax: RCPT TO:<address> [parameters]")
        address, params = parsed
        if params and not self.session.extended_smtp:
            return await self.push("501 5.5.4 parameters need EHLO")
        allowed = {"NOTIFY", "ORCPT"} if self.advertised("DSN") else set()
        if await self._params_refused(params, allowed, "RCPT"):
            return
        if not address.isascii() and not self.envelope.smtp_utf8:
            return await self.push("553 5.6.7 non-ASCII address needs SMTPUTF8")
        reply = self.sink._lookup(self.sink.rcpt_reply, address)
        if reply is None:
            reply = "250 2.1.5 Ok"
        if reply.startswith("2"):
            self.envelope.rcpt_tos.append(address)
            self.envelope.sink_rcpt_options.append(list(params))
        else:
            self.envelope.sink_rejected.append((address, reply))
        for line in _reply_lines(reply):
            await self.push(line)

    async def push(self, status):
        # Replies may carry UTF-8 (SMTPUTF8 sessions); never fail on them.
        if isinstance(status, str):
            status = status.encode("utf-8")
        await super().push(status)


class _SinkHandler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        sink = self.sink
        lines = [sink.hostname]
        for ext in sink.extensions:
            if ext == "SIZE":
                lines.append(f"SIZE {sink.data_size_limit}")
            else:
                lines.append(ext)
        if sink.tls_context is not None and server._tls_protocol is None:
            lines.append("STARTTLS")
        if sink.auth and (not sink.auth_require_tls or server._tls_protocol is not None):
            lines.append("AUTH PLAIN LOGIN")
        return [f"250-{x}" for x in lines[:-1]] + [f"250 {lines[-1]}"]

    async def handle_DATA(self, server, session, envelope):
        sink = self.sink
        tls_version = None
        if server._tls_protocol is not None:
            obj = server.transport.get_extra_info("ssl_object")
            tls_version = obj.version() if obj is not None else None
        login = getattr(session.auth_data, "login", None) if session.authenticated else None
        if isinstance(login, bytes):
            login = login.decode("utf-8", "replace")
        with sink.lock:
            sink._data_count += 1
            if sink._fail_queue:
                reply = sink._fail_queue.popleft()
            elif sink.data_reply:
                reply = sink.data_reply
            else:
                reply = f"250 2.0.0 Ok: queued as S{sink._data_count}"
            t = Transaction(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                mail_options=list(envelope.mail_options),
                rcpt_options=list(getattr(envelope, "sink_rcpt_options", [])),
                data=bytes(envelope.original_content),
                peer=tuple(session.peer[:2]) if session.peer else (),
                tls=server._tls_protocol is not None,
                tls_version=tls_version,
                auth_user=login,
                helo=session.host_name,
                reply=reply,
                rejected_rcpts=list(getattr(envelope, "sink_rejected", [])),
                session_id=server._sink_id,
                when=time.time(),
            )
            sink.transactions.append(t)
            if t.accepted:
                sink.messages.append(t)
            sink.cond.notify_all()
        lines = _reply_lines(reply)
        for line in lines[:-1]:
            await server.push(line)
        return lines[-1]


class _SinkController(Controller):
    def __init__(self, sink, **kw):
        self.sink = sink
        super().__init__(_SinkHandler(sink), **kw)

    def factory(self):
        return _SinkSMTP(self.sink, self.handler, **self.SMTP_kwargs)


# ---------------------------------------------------------------- the sink

class SmtpSink:
    """An SMTP server on address:port (port None: a free one) in a thread
    of its own. See the module docstring; the attributes tests use:

    messages        accepted transactions (Transaction), in order
    transactions    every transaction that reached the end of DATA
    connections     connections accepted since start()
    max_parallel    most connections open at the same time
    greeting_reply, ehlo_reply, mail_reply{}, rcpt_reply{}, data_reply
                    programmable replies (None: the default)
    extensions      EHLO keywords offered (STARTTLS, AUTH are added)
    """

    def __init__(self, address="127.0.0.2", port=None, tls_context=None, auth=None,
                 hostname=None, extensions=DEFAULT_EXTENSIONS, auth_require_tls=None,
                 auth_required=False, data_size_limit=DATA_SIZE_LIMIT, timeout=60):
        self.address = address
        self.port = port if port is not None else free_port(address)
        self._port_given = port is not None
        self.tls_context = tls_context
        self.auth = dict(auth) if auth else None
        self.hostname = hostname or f"sink-{address}"
        self.extensions = list(extensions)
        self.auth_require_tls = (tls_context is not None) if auth_require_tls is None \
            else auth_require_tls
        self.auth_required = auth_required
        self.data_size_limit = data_size_limit
        self.timeout = timeout
        self.greeting_reply = None
        self.ehlo_reply = None
        self.mail_reply = {}
        self.rcpt_reply = {}
        self.data_reply = None
        self.auth_attempts = []  # (mechanism, login, success)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.messages = []
        self.transactions = []
        self.connections = 0
        self.max_parallel = 0
        self._open = 0
        self._data_count = 0
        self._fail_queue = collections.deque()
        self._controller = None

    # ----- programming -----

    def fail_next(self, n, reply="451 4.3.0 try again later"):
        """Answer the next n DATA commands with reply (then the default or
        data_reply again)."""
        with self.lock:
            self._fail_queue.extend([reply] * n)

    @staticmethod
    def _lookup(table, address):
        if not table:
            return None
        if address in table:
            return table[address]
        low = address.lower()
        for k, v in table.items():
            if k.lower() == low:
                return v
        return table.get("*")

    def reset(self):
        """Forget what was recorded and every programmed reply."""
        with self.lock:
            self.messages.clear()
            self.transactions.clear()
            self.auth_attempts.clear()
            self._fail_queue.clear()
            self.connections = 0
            self.max_parallel = self._open
        self.greeting_reply = self.ehlo_reply = self.data_reply = None
        self.mail_reply = {}
        self.rcpt_reply = {}

    # ----- process control -----

    def _authenticator(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = self.auth is not None and self.auth.get(login) == password
        with self.lock:
            self.auth_attempts.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def start(self):
        """Bind and serve; with an automatic port, a port taken meanwhile is
        replaced. Returns self."""
        for attempt in range(5):
            self._controller = _SinkController(
                self, hostname=self.address, port=self.port, ready_timeout=10.0,
                server_hostname=self.hostname, tls_context=self.tls_context,
                authenticator=self._authenticator, auth_require_tls=self.auth_require_tls,
                data_size_limit=self.data_size_limit, enable_SMTPUTF8=True,
                decode_data=False, timeout=self.timeout)
            try:
                self._controller.start()
                break
            except OSError:
                self._controller = None
                if self._port_given or attempt == 4:
                    raise
                self.port = free_port(self.address)
        # The trigger connection of Controller.start() is not counted.
        with self.lock:
            self.connections = 0
            self.max_parallel = 0
        return self

    def stop(self, timeout=STOP_TIMEOUT):
        """Stop serving (bounded): open connections are dropped."""
        c = self._controller
        if c is None:
            return
        self._controller = None
        c.loop.call_soon_threadsafe(c.cancel_tasks)
        if c._thread is not None:
            c._thread.join(timeout)
            c._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ----- results -----

    def wait(self, count, timeout=10.0):
        """Wait (bounded) until at least count messages were accepted;
        returns the list of accepted transactions (may be shorter)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.messages)

    def wait_transactions(self, count, timeout=10.0):
        """Like wait(), for every transaction that reached end of DATA,
        whatever the reply."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.transactions) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.transactions)
