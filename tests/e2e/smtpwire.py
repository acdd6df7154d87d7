"""A raw SMTP client for protocol tests: exact bytes out, exact replies in.

Unlike smtplib it never rewrites what it sends (no dot-stuffing, no line
ending fixes), so tests can pipeline, smuggle and misbehave on purpose.
Every read is bounded by the socket timeout.
"""

import re
import socket
import ssl
import time
import warnings


class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines  # text after "NNN-" / "NNN "

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def enhanced(self):
        """The enhanced status code of the last line ("5.1.1"), or None."""
        m = re.match(r"([245]\.\d{1,3}\.\d{1,3})\b", self.lines[-1])
        return m.group(1) if m else None

    def __iter__(self):  # code, text = reply
        return iter((self.code, self.text))

    def __repr__(self):
        return f"Reply({self.code}, {self.lines!r})"


class ConnectionClosed(Exception):
    pass


def tls_client_context(minimum=None, maximum=None, ciphers=None):
    """A client context for the server's self-signed certificate: no
    verification (check_hostname off, CERT_NONE), optional version bounds
    (ssl.TLSVersion) and cipher string."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    with warnings.catch_warnings():
        # TLSv1/TLSv1_1 are deprecated: tests use them to check refusals.
        warnings.simplefilter("ignore", DeprecationWarning)
        if minimum is not None:
            ctx.minimum_version = minimum
        if maximum is not None:
            ctx.maximum_version = maximum
    return ctx


class SMTPWire:
    def __init__(self, port, host="127.0.0.1", timeout=15.0, tls_context=None):
        """tls_context: wrap the socket in TLS at once (implicit TLS, 465)."""
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        if tls_context is not None:
            self.sock = tls_context.wrap_socket(self.sock, server_hostname="localhost")

    def starttls(self, context=None):
        """Handshake on the current socket (after a 220 to STARTTLS). Any
        unread bytes the server sent before are an error: a server must
        not answer pipelined plaintext that came after STARTTLS."""
        assert self.buf == b"", f"plaintext left before the handshake: {self.buf!r}"
        self.sock = (context or tls_client_context()).wrap_socket(
            self.sock, server_hostname="localhost")
        return self.sock

    @property
    def tls_version(self):
        """"TLSv1.3" etc. once TLS is on, else None."""
        return self.sock.version() if isinstance(self.sock, ssl.SSLSocket) else None

    # ----- output -----

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def line(self, text):
        """Send one command line (CRLF added)."""
        self.send((text.encode("utf-8") if isinstance(text, str) else text) + b"\r\n")

    # ----- input -----

    def _fill(self):
        if self.eof:
            raise ConnectionClosed("connection closed by server")
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError) as e:
            self.eof = True
            raise ConnectionClosed(f"connection reset: {e}") from e
        if not chunk:
            self.eof = True
            raise ConnectionClosed("connection closed by server")
        self.buf += chunk

    def read_line(self):
        while b"\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\n", 1)
        assert line.endswith(b"\r"), f"reply line without CRLF: {line!r}"
        return line[:-1].decode("utf-8", "replace")

    def reply(self):
        """Read one (possibly multi-line) reply."""
        lines = []
        code = None
        while True:
            ln = self.read_line()
            m = re.match(r"(\d{3})([ -])(.*)$", ln)
            assert m, f"malformed reply line {ln!r}"
            c = int(m.group(1))
            assert code is None or c == code, f"code changed inside a reply: {ln!r}"
            code = c
            lines.append(m.group(3))
            if m.group(2) == " ":
                return Reply(code, lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def cmd(self, text):
        self.line(text)
        return self.reply()

    def expect(self, code, text=None, enhanced=None):
        """Optionally send a command, then assert the reply code."""
        if text is not None:
            self.line(text)
        r = self.reply()
        assert r.code == code, f"{text!r}: expected {code}, got {r!r}"
        if enhanced is not None:
            assert r.enhanced == enhanced, f"{text!r}: expected {enhanced}, got {r!r}"
        return r

    def closed(self, timeout=10.0):
        """True once the server has closed the connection (bounded wait).
        Data still arriving is read and dropped."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        try:
            while time.monotonic() < deadline:
                if self.eof:
                    return True
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    continue
                except (ConnectionResetError, ssl.SSLError):
                    self.eof = True
                    return True
                if not chunk:
                    self.eof = True
                    return True
                self.buf += chunk
            return False
        finally:
            self.sock.settimeout(self.timeout)

    def pending(self, wait=0.3):
        """Bytes the server sent without being asked (read for `wait` s)."""
        self.sock.settimeout(wait)
        try:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    self.eof = True
                    break
                self.buf += chunk
        finally:
            self.sock.settimeout(self.timeout)
        return self.buf

    # ----- convenience -----

    def transaction(self, sender, rcpts, content, mail_params=""):
        """MAIL/RCPT/DATA, one step at a time; content is sent as is and must
        end with the end-of-data marker. Returns the final reply."""
        self.expect(250, f"MAIL FROM:<{sender}>{mail_params}")
        for r in rcpts:
            self.expect(250, f"RCPT TO:<{r}>")
        self.expect(354, "DATA")
        self.send(content)
        return self.reply()

    def quit(self):
        try:
            self.line("QUIT")
            r = self.reply()
            assert r.code == 221, r
        finally:
            self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def queue_id(reply):
    """The ID from "250 2.0.0 Ok: queued as ID"."""
    text = reply.text if isinstance(reply, Reply) else reply
    if isinstance(text, bytes):
        text = text.decode()
    m = re.search(r"queued as (\S+)", text)
    assert m, f"no queue id in {text!r}"
    return m.group(1)
