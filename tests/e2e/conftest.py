"""Fixtures for the postane end-to-end tests.

Every test gets its own server instance: a fresh directory made by
`postane init`, the domain example.test with the accounts alice and bob, and
a port base probed to be free. The binary comes from $POSTANE_BIN (default
build/postane in the repository), so the same suite runs against the ASan
build (`POSTANE_BIN=build/asan/postane`).

Teardown stops the server (SIGTERM, then SIGKILL after a bound) and fails the
test when the server log shows a sanitizer report or the server died on its
own. Only the processes started here are signalled, by PID.

Tests that need small limits either mark themselves

    @pytest.mark.postane_config(smtp={"max_errors": 3})

(applied before the `server` fixture starts the server) or call
`srv.set_config(...)` followed by `srv.restart()`.
"""

import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from smtpwire import SMTPWire, tls_client_context

REPO = Path(__file__).resolve().parents[2]
POSTANE_BIN = os.environ.get("POSTANE_BIN") or str(REPO / "build" / "postane")
if not os.path.isabs(POSTANE_BIN):
    POSTANE_BIN = str(REPO / POSTANE_BIN)

DOMAIN = "example.test"
PASSWORD = "correct horse battery staple"
START_TIMEOUT = 30.0  # seconds for the SMTP port to accept (ASan is slow)
STOP_TIMEOUT = 40.0  # SIGTERM grace before SIGKILL (server drains up to 30 s)
CLI_TIMEOUT = 60.0
# Exit statuses accepted by stop()/restart()/teardown: 0 is a graceful stop;
# None and -SIGKILL only when the test itself killed the server.
TEARDOWN_OK_STATUS = (0, None, -signal.SIGKILL)

SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "postane_config(**sections): config values to set before the server "
        "starts, e.g. postane_config(smtp={'max_errors': 3})",
    )
    config.addinivalue_line(
        "markers", "slow: a test that waits for a long server timeout (about a minute)")


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def pick_port_base():
    """A base N in 20000..60000 with N+25 free on 127.0.0.1."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        base = rng.randrange(20000, 60000, 10)
        if port_free(base + 25):
            return base
    raise RuntimeError("no free port base found")


class Message:
    """One delivered message file."""

    def __init__(self, path, uid=None):
        self.path = Path(path)
        self.raw = self.path.read_bytes()
        self.uid = uid
        self.return_path, self.received, self.content = split_trace(self.raw)

    @property
    def name(self):
        return self.path.name

    def __repr__(self):
        return f"<Message {self.name} {len(self.raw)} bytes>"


def split_trace(raw):
    """Split a delivered file into (Return-Path line, Received header with its
    continuation lines, the rest). Each part keeps its CRLFs."""
    assert raw.startswith(b"Return-Path: "), raw[:200]
    end = raw.index(b"\r\n") + 2
    return_path = raw[:end]
    rest = raw[end:]
    assert rest.startswith(b"Received: "), rest[:200]
    pos = rest.index(b"\r\n") + 2
    while rest[pos:pos + 1] in (b" ", b"\t"):
        pos = rest.index(b"\r\n", pos) + 2
    return return_path, rest[:pos], rest[pos:]


def _sort_key(path):
    # NAME = SEC.M<USEC>P<PID>Q<SEQ>.HOST,S=SIZE
    m = re.match(r"(\d+)\.M(\d+)P(\d+)Q(\d+)\.", path.name)
    if m is None:
        return (0, 0, 0, 0, path.name)
    return tuple(int(x) for x in m.groups()) + (path.name,)


class Postane:
    """One postane instance: paths, configuration, process, helpers."""

    def __init__(self, root):
        self.root = Path(root)
        self.dir = self.root / "postane"
        self.conf = self.dir / "postane.conf"
        self.data = self.dir / "data"
        self.maildir_root = self.data / "mail"
        self.spool_tmp = self.data / "spool" / "tmp"
        self.db_path = self.data / "postane.db"
        self.log_path = self.root / "server.log"
        self.bin = POSTANE_BIN
        self.domain = DOMAIN
        self.hostname = "mail." + DOMAIN
        self.proc = None
        self.port_base = None
        self.smtp_port = None
        self._log_offset = 0  # where the current run's log starts
        self.expected_exit = True

    # ----- setup -----

    def init(self):
        self.port_base = pick_port_base()
        r = self.run_cli("init", str(self.dir), "--domain", DOMAIN,
                         "--port-base", str(self.port_base), config=False)
        assert r.returncode == 0, r.stderr
        self.smtp_port = self.port_base + 25
        # Deterministic small event-loop count; limits stay at their defaults.
        self.set_config("server", "threads", 2)
        # Outbound delivery never leaves loopback: a DNS server address where
        # nothing answers makes every remote domain a temporary failure, until
        # a test points it at its own DNS server (dnsserver.py).
        self.set_config("delivery", "dns_servers", "127.0.0.1:9")
        for user in ("alice", "bob"):
            self.add_user(f"{user}@{DOMAIN}")

    def add_user(self, address, password=PASSWORD):
        r = self.cli("user", "add", address, input=password + "\n")
        assert r.returncode == 0, r.stderr
        return r

    # ----- configuration -----

    def set_config(self, section, key, value):
        """Set `key = value` in [section] (line-based, keeps comments)."""
        lines = self.conf.read_text().splitlines()
        out, cur, done = [], None, False
        insert_at = None
        for line in lines:
            m = re.match(r"\s*\[([^\]]+)\]\s*$", line)
            if m:
                if cur == section and not done and insert_at is None:
                    insert_at = len(out)
                cur = m.group(1)
                out.append(line)
                continue
            km = re.match(r"\s*([A-Za-z0-9_]+)\s*=", line)
            if cur == section and km and km.group(1) == key:
                out.append(f"{key} = {value}")
                done = True
                continue
            out.append(line)
        if not done:
            if cur == section and insert_at is None:
                insert_at = len(out)
            if insert_at is None:
                out += ["", f"[{section}]"]
                insert_at = len(out)
            out.insert(insert_at, f"{key} = {value}")
        self.conf.write_text("\n".join(out) + "\n")

    def configure(self, **sections):
        for section, values in sections.items():
            for key, value in values.items():
                self.set_config(section, key, value)

    def get_config(self, section, key):
        cur = None
        for line in self.conf.read_text().splitlines():
            m = re.match(r"\s*\[([^\]]+)\]\s*$", line)
            if m:
                cur = m.group(1)
                continue
            km = re.match(r"\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$", line)
            if cur == section and km and km.group(1) == key:
                return km.group(2)
        return None

    # ----- CLI -----

    def run_cli(self, *args, input=None, config=True, timeout=CLI_TIMEOUT, env=None):
        argv = [self.bin]
        if config:
            argv += ["-c", str(self.conf)]
        argv += [str(a) for a in args]
        e = dict(os.environ)
        e.pop("POSTANE_CONFIG", None)
        if env:
            e.update(env)
        if isinstance(input, str):
            input = input.encode()
        r = subprocess.run(argv, input=input if input is not None else b"",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, env=e)
        r.stdout = r.stdout.decode("utf-8", "replace")
        r.stderr = r.stderr.decode("utf-8", "replace")
        self._check_sanitizer_text(r.stderr, "CLI " + " ".join(argv[1:]))
        return r

    def cli(self, *args, **kw):
        return self.run_cli(*args, **kw)

    # ----- process control -----

    def start(self, wait=True):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        last_error = None
        for _attempt in range(5):
            with open(self.log_path, "ab") as f:
                self._log_offset = f.tell()
                f.write(f"--- start {time.strftime('%H:%M:%S')} port {self.smtp_port}\n"
                        .encode())
                f.flush()
                self.proc = subprocess.Popen(
                    [self.bin, "-c", str(self.conf), "serve"],
                    stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                    env={k: v for k, v in os.environ.items() if k != "POSTANE_CONFIG"},
                )
            self.expected_exit = False
            if not wait:
                return
            try:
                self.wait_ready()
                return
            except PortInUse as e:
                # Somebody took the port between the probe and the bind.
                last_error = e
                self._reap(self.proc, 5)
                self.move_ports()
        raise RuntimeError(f"server did not start: {last_error}")

    def move_ports(self):
        self.port_base = pick_port_base()
        self.smtp_port = self.port_base + 25
        for name, std in (("smtp", 25), ("submission", 587), ("submissions", 465),
                          ("imap", 143), ("imaps", 993), ("pop3", 110),
                          ("pop3s", 995), ("http", 80)):
            self.set_config("listen", name, self.port_base + std)

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.run_log()
                if "cannot listen" in log and "Address already in use" in log:
                    raise PortInUse(log)
                raise RuntimeError(
                    f"server exited with {self.proc.returncode} during start:\n{log}")
            # Our own server must say it is ready (recovery done): another
            # test's server may briefly hold the same port (SO_REUSEPORT).
            if "postane ready" not in self.run_log():
                time.sleep(0.05)
                continue
            try:
                with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server port {self.smtp_port} not ready after {timeout}s:\n"
                           f"{self.run_log()}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @staticmethod
    def _reap(proc, timeout):
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            return proc.wait(timeout=10)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait (bounded), then SIGKILL. Returns the exit status."""
        if self.proc is None:
            return None
        self.expected_exit = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=10)
                raise AssertionError(f"server did not stop within {timeout}s of SIGTERM")
        return self.proc.returncode

    def kill9(self):
        assert self.running(), "server not running"
        self.expected_exit = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def restart(self):
        rc = self.stop()
        assert rc in TEARDOWN_OK_STATUS, f"server exit status {rc} on SIGTERM:\n{self.run_log()}"
        self.start()

    # ----- logs -----

    def log(self):
        """The whole server log (all runs)."""
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def run_log(self):
        """The log of the current (or last) run only."""
        return self.log()[self._log_offset:]

    def wait_log(self, pattern, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log())
            if m:
                return m
            time.sleep(0.05)
        raise AssertionError(f"log never matched {pattern!r}:\n{self.log()[-4000:]}")

    @staticmethod
    def _check_sanitizer_text(text, what):
        for pat in SANITIZER_PATTERNS:
            if pat in text:
                raise AssertionError(f"sanitizer report from {what}:\n{text[-8000:]}")

    def check_sanitizers(self):
        self._check_sanitizer_text(self.log(), "server")

    # ----- mailboxes -----

    def maildir(self, user, domain=DOMAIN):
        return self.maildir_root / domain / user

    def message_paths(self, user, domain=DOMAIN, sub="new"):
        d = self.maildir(user, domain) / sub
        if not d.is_dir():
            return []
        return sorted((p for p in d.iterdir() if not p.name.startswith(".")), key=_sort_key)

    def messages(self, user, domain=DOMAIN):
        """Delivered messages of user (new/), oldest first."""
        uids = {}
        try:
            for fn, uid in self.db_messages(user, domain):
                uids[fn] = uid
        except sqlite3.Error:
            pass
        return [Message(p, uids.get(p.name)) for p in self.message_paths(user, domain)]

    def wait_messages(self, user, count, domain=DOMAIN, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            paths = self.message_paths(user, domain)
            if len(paths) >= count or time.monotonic() >= deadline:
                return self.messages(user, domain)
            time.sleep(0.05)

    def db(self):
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        return con

    def db_query(self, sql, *params):
        con = self.db()
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def db_messages(self, user, domain=DOMAIN, mailbox="INBOX"):
        """[(filename, uid)] of the user's mailbox, by UID."""
        return self.db_query(
            "SELECT m.filename, m.uid FROM messages m"
            " JOIN mailboxes b ON b.id = m.mailbox_id"
            " JOIN accounts a ON a.id = b.account_id"
            " JOIN domains d ON d.id = a.domain_id"
            " WHERE a.localpart = ? AND d.name = ? AND b.name = ? ORDER BY m.uid",
            user, domain, mailbox)

    def spool_files(self):
        if not self.spool_tmp.is_dir():
            return []
        return sorted(p.name for p in self.spool_tmp.iterdir())

    def wait_spool_empty(self, timeout=5.0):
        """The spool file of a delivered message is unlinked by the store's
        committer thread just after the 250 is posted, so it may outlive
        the reply by a moment. Returns what is left after the bound."""
        deadline = time.monotonic() + timeout
        while self.spool_files() and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.spool_files()

    # ----- clients -----

    @property
    def submission_port(self):
        return int(self.get_config("listen", "submission"))

    @property
    def submissions_port(self):
        return int(self.get_config("listen", "submissions"))

    def wire(self, timeout=15.0, greet=True, ehlo="client.example.net", port=None,
             tls_context=None):
        """A raw SMTP connection; by default greeted and EHLO'd. port: another
        listener (submission_port ...); tls_context: implicit TLS."""
        w = SMTPWire(port or self.smtp_port, timeout=timeout, tls_context=tls_context)
        if greet:
            code, text = w.reply()
            assert code == 220, (code, text)
            if ehlo:
                w.expect(250, f"EHLO {ehlo}")
        return w

    def smtp(self, timeout=30.0):
        import smtplib
        s = smtplib.SMTP("127.0.0.1", self.smtp_port, local_hostname="client.example.net",
                         timeout=timeout)
        return s

    def submission(self, timeout=30.0, starttls=True, user=None, password=PASSWORD):
        """smtplib on the submission port: EHLO, STARTTLS (unless told not
        to), EHLO, and LOGIN when `user` is given."""
        import smtplib
        s = smtplib.SMTP("127.0.0.1", self.submission_port,
                         local_hostname="client.example.net", timeout=timeout)
        s.ehlo()
        if starttls:
            s.starttls(context=tls_client_context())
            s.ehlo()
        if user is not None:
            s.login(user, password)
        return s

    def submissions(self, timeout=30.0, user=None, password=PASSWORD):
        """smtplib.SMTP_SSL on the implicit-TLS submission port (465)."""
        import smtplib
        s = smtplib.SMTP_SSL("127.0.0.1", self.submissions_port,
                             local_hostname="client.example.net", timeout=timeout,
                             context=tls_client_context())
        s.ehlo()
        if user is not None:
            s.login(user, password)
        return s

    def db_write(self, sql, *params):
        """One write statement on the live database (the server uses WAL)."""
        con = sqlite3.connect(str(self.db_path), timeout=10)
        try:
            with con:
                con.execute(sql, params)
        finally:
            con.close()

    def set_send_as(self, address, value):
        """accounts.send_as: 0 own address only, 1 own and aliases, 2 any."""
        local, domain = address.split("@")
        self.db_write("UPDATE accounts SET send_as = ? WHERE localpart = ? AND domain_id ="
                      " (SELECT id FROM domains WHERE name = ?)", value, local, domain)

    def queue_rows(self):
        """[(qid, filename, sender, auth_user, [(address, domain, state)])] of the
        outbound queue, oldest first."""
        rows = self.db_query("SELECT id, qid, filename, sender, auth_user FROM queue ORDER BY id")
        out = []
        for qrow_id, qid, filename, sender, auth_user in rows:
            rcpts = self.db_query("SELECT address, domain, state FROM queue_rcpt"
                                  " WHERE queue_id = ? ORDER BY id", qrow_id)
            out.append((qid, filename, sender, auth_user, rcpts))
        return out

    @property
    def queue_dir(self):
        return self.data / "queue"

    # ----- IMAP -----

    @property
    def imap_port(self):
        return int(self.get_config("listen", "imap"))

    @property
    def imaps_port(self):
        return int(self.get_config("listen", "imaps"))

    def _imap_connect(self, make, timeout=5.0):
        """make() until the IMAP listener accepts (it is bound by the same
        loops as SMTP, which wait_ready() probed, but give it a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return make()
            except ConnectionRefusedError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def imap(self, user=None, password=PASSWORD, security="plain", timeout=15.0):
        """imaplib on the IMAP ports. security: "plain" (port 143, needs
        [auth] plaintext_loopback to log in), "starttls" (143 + STARTTLS) or
        "ssl" (implicit TLS, 993). Logs in when `user` is given (a bare
        local part gets @DOMAIN)."""
        import imaplib
        if security == "ssl":
            m = self._imap_connect(lambda: imaplib.IMAP4_SSL(
                "127.0.0.1", self.imaps_port, ssl_context=tls_client_context(),
                timeout=timeout))
        else:
            m = self._imap_connect(lambda: imaplib.IMAP4("127.0.0.1", self.imap_port,
                                                         timeout=timeout))
            if security == "starttls":
                m.starttls(ssl_context=tls_client_context())
        if user is not None:
            m.login(user if "@" in user else f"{user}@{self.domain}", password)
        return m

    def imap_wire(self, user=None, password=PASSWORD, security="plain", timeout=15.0,
                  rcvbuf=None):
        """A raw IMAP connection (imapwire.IMAPWire), greeted, optionally
        logged in; security as for imap()."""
        from imapwire import IMAPWire
        if security == "ssl":
            w = self._imap_connect(lambda: IMAPWire(self.imaps_port, timeout=timeout,
                                                    tls_context=tls_client_context()))
        else:
            w = self._imap_connect(lambda: IMAPWire(self.imap_port, timeout=timeout,
                                                    rcvbuf=rcvbuf))
            if security == "starttls":
                w.starttls()
        if user is not None:
            w.login(user if "@" in user else f"{user}@{self.domain}", password)
        return w

    def deliver(self, rcpt, content, sender="sender@example.net"):
        """Deliver content (str or bytes) to rcpt over SMTP (port 25)."""
        if "@" not in rcpt:
            rcpt = f"{rcpt}@{self.domain}"
        if isinstance(content, str):
            content = content.encode()
        with self.smtp() as s:
            refused = s.sendmail(sender, [rcpt], content)
        assert not refused, refused


class PortInUse(Exception):
    pass


def _finish(p, request):
    """Teardown: stop the server and check it stayed healthy."""
    problems = []
    died_alone = False
    if p.proc is not None:
        was_running = p.proc.poll() is None
        if not was_running and not p.expected_exit:
            died_alone = True
        try:
            rc = p.stop()
            if not was_running:
                rc = None  # stopped (or killed) earlier, on purpose
            # A graceful stop exits 0 (and under ASan runs the leak check).
            if rc not in TEARDOWN_OK_STATUS and not died_alone:
                problems.append(f"server exit status {rc} after SIGTERM")
        except AssertionError as e:
            problems.append(str(e))
    if died_alone:
        problems.append(f"server exited by itself with status {p.proc.returncode}")
    log = p.log()
    for pat in SANITIZER_PATTERNS:
        if pat in log:
            problems.append(f"server log contains {pat!r}")
    if problems:
        pytest.fail("; ".join(problems) + "\n--- server log (tail) ---\n" + log[-8000:],
                    pytrace=False)


@pytest.fixture
def postane(tmp_path, request):
    """An initialised instance (alice, bob at example.test), not started."""
    assert os.access(POSTANE_BIN, os.X_OK), f"postane binary not found: {POSTANE_BIN}"
    p = Postane(tmp_path)
    p.init()
    marker = request.node.get_closest_marker("postane_config")
    if marker is not None:
        p.configure(**marker.kwargs)
    yield p
    _finish(p, request)


@pytest.fixture
def server(postane):
    """The same instance, started and accepting SMTP connections."""
    postane.start()
    return postane


@pytest.fixture
def srv(server):
    return server


@pytest.fixture
def imap_srv(postane):
    """A started instance that allows IMAP/POP3 login without TLS from
    loopback ([auth] plaintext_loopback = yes), for protocol tests that do
    not care about TLS."""
    postane.set_config("auth", "plaintext_loopback", "yes")
    postane.start()
    return postane
