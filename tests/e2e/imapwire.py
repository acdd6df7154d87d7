"""A raw IMAP client for protocol tests: exact bytes out, whole responses in.

imaplib hides the wire (it drops or merges untagged responses, cannot
pipeline, has no IDLE before Python 3.14); this client sends exactly what a
test writes and reads responses with their literals inline, so tests can
assert on the real exchange. Every read is bounded by the socket timeout or
an explicit deadline. A small parser turns a response's data into nested
Python lists (for FETCH, LIST, STATUS ...).
"""

import re
import socket
import ssl
import time

from smtpwire import ConnectionClosed, tls_client_context

LITERAL_END = re.compile(rb"~?\{(\d+)\+?\}\r\n$")


class Response:
    """One complete server response: untagged ("*"), continuation ("+") or
    tagged. `raw` holds the bytes with literals inline (CRLFs kept inside
    literals, the final CRLF removed); `line` is its text decoded."""

    def __init__(self, raw):
        self.raw = raw
        self.line = raw.decode("utf-8", "replace")
        parts = self.line.split(" ", 2)
        self.tag = parts[0]
        self.status = parts[1].upper() if len(parts) > 1 else ""
        self.text = parts[2] if len(parts) > 2 else ""

    @property
    def untagged(self):
        return self.tag == "*"

    @property
    def continuation(self):
        return self.tag == "+"

    @property
    def code(self):
        """The response code in brackets after the status: "TOOBIG",
        "APPENDUID 123 4" ..., or None."""
        m = re.match(r"\[([^\]]*)\]", self.text)
        return m.group(1) if m else None

    def __repr__(self):
        r = self.raw if len(self.raw) < 400 else self.raw[:400] + b"..."
        return f"<Response {r!r}>"


class Tagged:
    """The result of one command: its tagged completion and the untagged
    responses that came before it."""

    def __init__(self, tagged, untagged):
        self.tagged = tagged
        self.untagged = untagged

    @property
    def status(self):
        return self.tagged.status

    @property
    def text(self):
        return self.tagged.text

    @property
    def code(self):
        return self.tagged.code

    @property
    def ok(self):
        return self.tagged.status == "OK"

    def lines(self, kind=None):
        """Decoded untagged lines (without "* "), optionally only those whose
        first word (or second, for "N EXISTS"/"N FETCH") is `kind`."""
        out = []
        for r in self.untagged:
            text = r.line[2:] if r.line.startswith("* ") else r.line
            if kind is None:
                out.append(text)
                continue
            words = text.split(" ", 2)
            if words[0].upper() == kind.upper() or (
                    len(words) > 1 and words[0].isdigit() and words[1].upper() == kind.upper()):
                out.append(text)
        return out

    def first(self, kind):
        ls = self.lines(kind)
        assert ls, f"no untagged {kind} in {self!r}"
        return ls[0]

    def fetches(self):
        """{seq: {ITEM: value}} of the untagged FETCH responses (later ones
        for the same message update earlier ones)."""
        out = {}
        for r in self.untagged:
            m = re.match(rb"\* (\d+) FETCH ", r.raw)
            if not m:
                continue
            items = parse(r.raw[m.end():])[0]
            d = out.setdefault(int(m.group(1)), {})
            for k in range(0, len(items) - 1, 2):
                d[items[k].upper() if isinstance(items[k], str) else items[k]] = items[k + 1]
        return out

    def __repr__(self):
        return f"<Tagged {self.tagged!r} untagged={self.untagged!r}>"


class IMAPError(AssertionError):
    pass


class IMAPWire:
    def __init__(self, port, host="127.0.0.1", timeout=15.0, tls_context=None, greet=True,
                 rcvbuf=None):
        """tls_context: implicit TLS (IMAPS). greet: read the greeting.
        rcvbuf: a small receive buffer, set before connecting so that the
        window is small from the start (a slow reader that still reads at
        full speed once it does read; shrinking it after the handshake makes
        loopback TCP crawl)."""
        if rcvbuf is None:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        else:
            self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = bytearray()
        self.eof = False
        self.ntag = 0
        self.greeting = None
        if tls_context is not None:
            self.sock = tls_context.wrap_socket(self.sock, server_hostname="localhost")
        if greet:
            self.greeting = self.read_response()
            assert self.greeting.untagged and self.greeting.status in ("OK", "PREAUTH"), \
                self.greeting

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----- output -----

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def next_tag(self):
        self.ntag += 1
        return f"T{self.ntag:03d}"

    def line(self, text):
        """Send one line; CRLF is added."""
        self.send((text.encode("utf-8") if isinstance(text, str) else text) + b"\r\n")

    # ----- input -----

    def _fill(self, deadline=None):
        if self.eof:
            raise ConnectionClosed("connection closed by server")
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("deadline passed")
            self.sock.settimeout(min(left, self.timeout))
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError) as e:
            self.eof = True
            raise ConnectionClosed(f"connection reset: {e}") from e
        finally:
            if deadline is not None:
                self.sock.settimeout(self.timeout)
        if not chunk:
            self.eof = True
            raise ConnectionClosed("connection closed by server")
        self.buf += chunk

    def _read_line(self, deadline=None):
        start = 0
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                break
            start = max(0, len(self.buf) - 1)
            self._fill(deadline)
        line = bytes(self.buf[:i + 2])
        del self.buf[:i + 2]
        return line

    def read_response(self, timeout=None):
        """One whole response (literals included). Raises socket.timeout
        when nothing complete arrives within `timeout` (default: the socket
        timeout)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        out = bytearray()
        while True:
            line = self._read_line(deadline)
            out += line
            m = LITERAL_END.search(line)
            if not m:
                return Response(bytes(out[:-2]))
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill(deadline)
            out += self.buf[:n]
            del self.buf[:n]

    def poll(self, timeout=0.3):
        """Responses that arrive within `timeout` seconds (maybe none)."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 and self.buf.find(b"\r\n") < 0:
                return out
            try:
                out.append(self.read_response(timeout=max(left, 0.01)))
            except socket.timeout:
                return out

    def wait_for(self, pattern, timeout=5.0):
        """Read responses until one matches the regex `pattern` (bytes or
        str); returns (match_response, all_read). Raises on timeout."""
        if isinstance(pattern, str):
            pattern = pattern.encode()
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise IMAPError(f"no response matching {pattern!r} within {timeout}s: {got!r}")
            try:
                r = self.read_response(timeout=left)
            except socket.timeout:
                continue
            got.append(r)
            if re.search(pattern, r.raw):
                return r, got

    def read_tagged(self, tag, timeout=None):
        untagged = []
        while True:
            r = self.read_response(timeout=timeout)
            if r.tag == tag:
                return Tagged(r, untagged)
            untagged.append(r)

    def closed(self, timeout=5.0):
        """True once the server has closed the connection (bounded wait).
        Data still arriving is read and kept in self.buf."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.eof:
                return True
            try:
                self._fill(deadline)
            except ConnectionClosed:
                return True
            except (socket.timeout, ssl.SSLError):
                if self.eof:
                    return True
            except OSError:
                self.eof = True
                return True
        return self.eof

    # ----- commands -----

    def cmd(self, text, timeout=None):
        """Send "TAG text" and read through the tagged completion. Literals
        in `text` must be non-synchronising ({n+}) or sent with cmd_lit."""
        tag = self.next_tag()
        if isinstance(text, str):
            text = text.encode("utf-8")
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.read_tagged(tag, timeout=timeout)

    def ok(self, text, timeout=None):
        r = self.cmd(text, timeout=timeout)
        if not r.ok:
            raise IMAPError(f"{text!r}: {r!r}")
        return r

    def cmd_lit(self, before, literal, after=b"", timeout=None):
        """A command with one synchronising literal: waits for the "+"
        continuation before sending the literal. Returns the Tagged result;
        if the server answers the literal announcement with a tagged reply
        instead of "+", that reply is returned and the literal is not sent."""
        tag = self.next_tag()
        if isinstance(before, str):
            before = before.encode()
        if isinstance(literal, str):
            literal = literal.encode()
        if isinstance(after, str):
            after = after.encode()
        self.send(tag.encode() + b" " + before + b"{%d}\r\n" % len(literal))
        untagged = []
        while True:
            r = self.read_response(timeout=timeout)
            if r.continuation:
                break
            if r.tag == tag:
                return Tagged(r, untagged)
            untagged.append(r)
        self.send(literal + after + b"\r\n")
        t = self.read_tagged(tag, timeout=timeout)
        t.untagged = untagged + t.untagged
        return t

    def login(self, user, password):
        return self.ok(f"LOGIN {quote(user)} {quote(password)}")

    def starttls(self, context=None):
        r = self.ok("STARTTLS")
        assert not self.buf, f"plaintext left before the handshake: {bytes(self.buf)!r}"
        self.sock = (context or tls_client_context()).wrap_socket(
            self.sock, server_hostname="localhost")
        return r

    def idle_start(self):
        """Send IDLE and wait for the continuation; returns (tag, responses
        that came before the "+")."""
        tag = self.next_tag()
        self.line(f"{tag} IDLE")
        before = []
        while True:
            r = self.read_response()
            if r.continuation:
                return tag, before
            assert r.untagged, f"IDLE refused: {r!r}"
            before.append(r)

    def idle_done(self, tag):
        self.line("DONE")
        t = self.read_tagged(tag)
        assert t.ok, t
        return t


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ----- a small parser for response data -----

class Literal(bytes):
    """A string that came as a literal."""


def _atom_end(data, i):
    """End of an atom starting at i; brackets ("BODY[HEADER.FIELDS (A B)]")
    are part of the atom."""
    depth = 0
    n = len(data)
    while i < n:
        c = data[i:i + 1]
        if c == b"[":
            depth += 1
        elif c == b"]":
            depth -= 1
        elif depth == 0 and c in (b" ", b"(", b")", b"\r", b"\n"):
            break
        i += 1
    return i


def parse(data):
    """Parse IMAP data (bytes) into a list of items: atoms and numbers as
    str, NIL as None, quoted strings and literals as bytes, parenthesised
    lists as Python lists."""
    if isinstance(data, str):
        data = data.encode()
    pos = 0
    stack = [[]]
    n = len(data)
    while pos < n:
        c = data[pos:pos + 1]
        if c in (b" ", b"\r", b"\n"):
            pos += 1
        elif c == b"(":
            stack.append([])
            pos += 1
        elif c == b")":
            lst = stack.pop()
            stack[-1].append(lst)
            pos += 1
        elif c == b'"':
            pos += 1
            out = bytearray()
            while data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                out += data[pos:pos + 1]
                pos += 1
                if pos >= n:
                    raise ValueError(f"unterminated quoted string in {data!r}")
            pos += 1
            stack[-1].append(bytes(out))
        elif c in (b"{", b"~") and re.match(rb"~?\{(\d+)\+?\}\r\n", data[pos:]):
            m = re.match(rb"~?\{(\d+)\+?\}\r\n", data[pos:])
            size = int(m.group(1))
            start = pos + m.end()
            stack[-1].append(Literal(data[start:start + size]))
            pos = start + size
        else:
            end = _atom_end(data, pos)
            if end == pos:
                raise ValueError(f"cannot parse at {pos}: {data[pos:pos + 40]!r}")
            atom = data[pos:end].decode("utf-8", "replace")
            stack[-1].append(None if atom.upper() == "NIL" else atom)
            pos = end
    assert len(stack) == 1, f"unbalanced parentheses in {data!r}"
    return stack[0]
