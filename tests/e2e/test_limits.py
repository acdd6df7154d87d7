"""Open connections per client address ([server] max_connections_per_ip).

The limit is counted over every protocol together and every loop thread. A
client over it is refused at once, before any session exists, in its
protocol's words; on the implicit-TLS ports it is closed without a word.
Closing a connection frees its place.
"""

import re
import socket
import time

import pytest

LIMIT = 3

REFUSAL = {
    "smtp": b"421 4.7.0 Too many connections from your address\r\n",
    "imap": b"* BYE Too many connections from your address\r\n",
    "pop3": b"-ERR [SYS/TEMP] Too many connections\r\n",
}
GREETING = {"smtp": b"220 ", "imap": b"* OK ", "pop3": b"+OK "}


class Raw:
    """A bare TCP client: the first line the server sends, and whether it
    then closes."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def first_line(self):
        while b"\r\n" not in self.buf:
            try:
                chunk = self.sock.recv(4096)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return self.buf  # closed before a full line
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line + b"\r\n"

    def closed(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return True
            if not chunk:
                return True
        return False

    def close(self):
        self.sock.close()


def port(srv, proto):
    return int(srv.get_config("listen", proto))


def wait_open_sessions(srv, n, timeout=10.0):
    """Wait until the server log shows exactly n sessions open (connects
    minus disconnects): closing a socket is seen by the server a moment
    later, and the start-up probe of the fixture is one such connection."""
    deadline = time.monotonic() + timeout
    while True:
        log = srv.run_log()
        opened = len(re.findall(r"\bconnect from ", log))
        closed = len(re.findall(r"\bdisconnect from ", log))
        if opened - closed == n:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{opened - closed} sessions open, expected {n}:\n{log[-3000:]}")
        time.sleep(0.05)


def admitted(srv, proto):
    c = Raw(port(srv, proto))
    line = c.first_line()
    assert line.startswith(GREETING[proto]), (proto, line)
    return c


def refused(srv, proto, listener=None):
    c = Raw(port(srv, listener or proto))
    line = c.first_line()
    assert line == REFUSAL[proto], (proto, line)
    assert c.closed(), f"{proto}: refused connection left open"
    c.close()


@pytest.mark.postane_config(server={"max_connections_per_ip": LIMIT})
@pytest.mark.parametrize("proto", ["smtp", "imap", "pop3"])
def test_fourth_connection_refused_then_admitted_after_close(srv, proto):
    wait_open_sessions(srv, 0)
    clients = [admitted(srv, proto) for _ in range(LIMIT)]
    refused(srv, proto)
    refused(srv, proto)  # and again: a refusal does not count
    clients.pop(0).close()
    wait_open_sessions(srv, LIMIT - 1)
    clients.append(admitted(srv, proto))
    refused(srv, proto)
    for c in clients:
        c.close()
    wait_open_sessions(srv, 0)
    assert re.search(r"refused \d+ client\(s\) over max_connections_per_ip 3", srv.run_log())


@pytest.mark.postane_config(server={"max_connections_per_ip": LIMIT})
def test_limit_counts_all_protocols_together(srv):
    wait_open_sessions(srv, 0)
    clients = [admitted(srv, p) for p in ("smtp", "imap", "pop3")]
    for p in ("smtp", "imap", "pop3"):
        refused(srv, p)
    refused(srv, "smtp", listener="submission")
    # The implicit-TLS ports close without a TLS handshake.
    for p in ("imaps", "pop3s", "submissions"):
        c = Raw(port(srv, p))
        assert c.first_line() == b"", p
        c.close()
    clients.pop(1).close()  # the IMAP one
    wait_open_sessions(srv, 2)
    clients.append(admitted(srv, "pop3"))
    refused(srv, "imap")
    for c in clients:
        c.close()
    wait_open_sessions(srv, 0)


@pytest.mark.postane_config(server={"max_connections_per_ip": 0})
def test_zero_means_unlimited(srv):
    wait_open_sessions(srv, 0)
    clients = [admitted(srv, "smtp") for _ in range(60)]  # over the default of 50
    for c in clients:
        c.close()
    wait_open_sessions(srv, 0)


def test_default_limit_is_50(srv):
    wait_open_sessions(srv, 0)
    clients = [admitted(srv, "smtp") for _ in range(50)]
    refused(srv, "smtp")
    for c in clients:
        c.close()
    wait_open_sessions(srv, 0)
