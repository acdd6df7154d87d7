"""A real Postfix (Debian's package) started by a test, as the remote end of
postane's outbound delivery, or as a relay in benchmarks.

Each PostfixPeer lives under the directory it is given: its own
configuration directory (main.cf, master.cf, Cyrus SASL config and password
database, TLS key), data directory, log file and one Maildir that receives
every recipient of its domains. Only the queue directory is elsewhere, at a
short path /tmp/pfqXXXXXXXX linked from there (Postfix's log socket lives in
it, and a unix socket path must fit in 107 bytes); stop() removes it.
Nothing under /etc/postfix is read or changed, and the system's Postfix (if
any) is left alone.

The master daemon runs in the foreground as our own child
(`master -c DIR -d -e LIFETIME`) in a new session of its own (with -d the
master does not call setsid itself, and on SIGTERM it signals its whole
process group): stop() signals exactly that PID, the master stops its
children, and every wait is bounded; -e makes the master exit by itself
after LIFETIME seconds should the test process die without stop(). Running
master directly skips `postfix start` and its slow checks; the queue tree
is made here as post-install would make it. As root, neither `postfix -c
DIR` nor `master -c DIR` asks for DIR in alternate_config_directories of
the default main.cf (there is none with Debian's "No configuration"): that
check only applies to callers that are not root. start() takes about 0.2 s.

Several peers run side by side (pytest-xdist): each has its own address and
port, queue and syslog_name, and logs to its own file (maillog_file through
the postlog service: there is no syslog daemon in the sandbox).

The Maildir belongs to the unprivileged delivery user (postfix, or nobody),
and Postfix's unprivileged daemons read the SASL database as the postfix
user, so the peer's directory must be reachable by them: start() adds the
search bit (o+x, never read) to each ancestor owned by us that lacks it
(pytest's /tmp/pytest-of-root is 0700; pytest puts that mode back at its
next session).

SMTP AUTH uses Postfix's Cyrus SASL: the PLAIN and LOGIN mechanisms
(libsasl2-modules, in scripts/install-deps.sh) over the sasldb auxprop
plugin (libsasl2-modules-db, pulled in by postfix). The password database is
a Berkeley DB file written here with Python's dbm.ndbm, which Debian links
against the same libdb, so neither saslauthd, Dovecot nor saslpasswd2
(sasl2-bin) is needed.

    peer = PostfixPeer(tmp_path, address="127.0.0.5", port=free_port("127.0.0.5"),
                       domains=["peer.test"], auth_users={"u": "pw"}, tls=True)
    peer.start()
    ...            # mail to anyone@peer.test
    msgs = peer.messages(count=1, timeout=10)   # [bytes]
    peer.stop()
"""

import dbm.ndbm
import grp
import os
import pty
import pwd
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

from smtp_sink import free_port, make_self_signed, port_free  # noqa: F401 (re-exported)

POSTCONF = shutil.which("postconf") or "/usr/sbin/postconf"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


def postfix_installed():
    """True when Debian's postfix package (postconf and master) is there."""
    if not os.path.exists(POSTCONF):
        return False
    return os.access(os.path.join(_daemon_directory(), "master"), os.X_OK)


def _daemon_directory():
    try:
        out = subprocess.run([POSTCONF, "-d", "-h", "daemon_directory"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             timeout=10, check=True).stdout.decode().strip()
        return out or "/usr/lib/postfix/sbin"
    except (OSError, subprocess.SubprocessError):
        return "/usr/lib/postfix/sbin"


def wait_port(address, port, timeout, alive=None):
    """Until address:port accepts a TCP connection; alive() (if given) is
    checked on each round and stops the wait when it returns False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            with socket.create_connection((address, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _run_on_pty(argv, timeout):
    """(exit status, output) of argv run with stdout/stderr on a pseudo
    terminal: Postfix commands print their errors on stderr only when it is
    a terminal (otherwise they go to the log, which nothing writes before
    the master runs)."""
    master_fd, slave_fd = pty.openpty()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave_fd,
                                stderr=slave_fd, close_fds=True)
    finally:
        os.close(slave_fd)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master_fd], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master_fd, 4096)
                except OSError:  # EIO: the terminal's other side is closed
                    data = b""
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master_fd)
    try:
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait(timeout=10)
    return rc, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def _delivery_ids():
    """(uid, gid) the virtual(8) agent delivers as: postfix, else nobody."""
    for name in ("postfix", "nobody"):
        try:
            pw = pwd.getpwnam(name)
            return pw.pw_uid, pw.pw_gid
        except KeyError:
            continue
    raise RuntimeError("neither a postfix nor a nobody user exists")


def _make_searchable(path):
    """o+x on path and each ancestor that we own and that lacks it, so that
    Postfix's unprivileged processes can reach files below."""
    me = os.geteuid()
    p = Path(path).resolve()
    for d in [p, *p.parents]:
        st = d.stat()
        if st.st_mode & stat.S_IXOTH:
            continue
        if st.st_uid != me:
            raise RuntimeError(f"{d} is not searchable by Postfix's users and not ours to change")
        os.chmod(d, stat.S_IMODE(st.st_mode) | stat.S_IXOTH)


# (name, owner, group, mode) below queue_directory, as in postfix-files.
QUEUE_TREE = [(name, "postfix", "root", 0o700) for name in (
    "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming",
    "private", "saved", "trace")] + [
    ("maildrop", "postfix", "postdrop", 0o730),
    ("public", "postfix", "postdrop", 0o710),
    ("pid", "root", "root", 0o755),
]

MASTER_CF = """\
# master.cf of a test peer: no chroot, one SMTP listener.
# service type  private unpriv  chroot  wakeup  maxproc command + args
{address}:{port} inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixPeer:
    """One Postfix instance under tmpdir/postfix-<address>-<port>/.

    address, port   the SMTP listener (port None: a free one is picked)
    domains         virtual_mailbox_domains; every recipient there is
                    delivered into the one Maildir that messages() reads
    recipients      None: every address of the domains exists; a list
                    ("bob@peer.test", "@other.test" for a whole domain):
                    only those, others get "550 5.1.1 ... User unknown"
    auth_users      {"user": "password"}: SMTP AUTH (PLAIN, LOGIN) through
                    Cyrus SASL with a sasldb written here; allowed without
                    TLS (smtpd_tls_auth_only = no). AUTH is offered, not
                    required; with require_auth, RCPT without it gets 554
    tls             offer STARTTLS with a throwaway self-signed certificate
    relayhost       "[127.0.0.9]:2525": relay mode for benchmarks; mail
                    from 127.0.0.0/8 to any other domain goes there
    main_cf         extra main.cf settings {name: value}, written last
    hostname        myhostname (default mx.<first domain>)
    lifetime        seconds after which the master exits by itself
                    (`master -e`): a safety net for a test process that dies
                    without stop(). PR_SET_PDEATHSIG cannot do this: the
                    master changes its effective uid, which clears it.
    """

    def __init__(self, tmpdir, address="127.0.0.5", port=None, domains=("peer.test",),
                 auth_users=None, tls=False, relayhost=None, main_cf=None, hostname=None,
                 require_auth=False, lifetime=900, recipients=None):
        self.address = address
        self.port = port if port is not None else free_port(address)
        self._port_given = port is not None
        self.domains = list(domains)
        self.auth_users = dict(auth_users) if auth_users else None
        self.tls = tls
        self.relayhost = relayhost
        self.main_cf_extra = dict(main_cf or {})
        self.hostname = hostname or ("mx." + self.domains[0] if self.domains else "relay.test")
        self.require_auth = require_auth
        self.lifetime = lifetime
        self.recipients = list(recipients) if recipients is not None else None
        self.tmpdir = Path(tmpdir).resolve()
        self.queue_dir = None
        self._set_paths()
        self.proc = None
        self.daemon_dir = _daemon_directory()

    def _set_paths(self):
        self.root = self.tmpdir / f"postfix-{self.address}-{self.port}"
        self.conf_dir = self.root / "conf"
        self.data_dir = self.root / "data"
        self.maildir = self.root / "vmail" / "Maildir"
        self.log_path = self.root / "maillog"
        self.out_path = self.root / "master.out"
        self.syslog_name = f"postfix-peer-{self.address.replace('.', '-')}-{self.port}"
        self.tls_cert = None

    def _make_queue_dir(self):
        """The queue directory: a short path of its own under /tmp, linked
        from ROOT/queue. Postfix names its log socket QUEUE/public/postlog
        by absolute path, and a unix socket path has at most 107 bytes,
        which pytest-xdist's tmp_path (plus this peer's subdirectory) can
        exceed. stop() removes it."""
        if self.queue_dir is not None and self.queue_dir.is_dir():
            return
        self.queue_dir = Path(tempfile.mkdtemp(prefix="pfq", dir="/tmp"))
        link = self.root / "queue"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(self.queue_dir)

    # ----- configuration -----

    def _main_cf(self):
        uid, gid = _delivery_ids()
        relay = self.relayhost is not None
        cf = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.data_dir),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "syslog_name": self.syslog_name,
            "maillog_file": str(self.log_path),
            "maillog_file_prefixes": str(self.root),
            "myhostname": self.hostname,
            "mydomain": self.hostname.split(".", 1)[-1],
            "myorigin": "$myhostname",
            "mydestination": "",
            # Only a configured interface address is accepted here, and
            # 127.0.0.5 is not one (lo has 127.0.0.1/8): the listener's own
            # address is in master.cf, which Postfix does not check.
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_banner": "$myhostname ESMTP Postfix test peer",
            "biff": "no",
            "append_dot_mydomain": "no",
            "readme_directory": "no",
            "smtputf8_enable": "yes",
            # Nothing local, no aliases, no bounces sent anywhere.
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "local_transport": "error:5.1.1 local delivery disabled in test peer",
            "notify_classes": "",
            "relay_domains": "",
            "relayhost": self.relayhost or "",
            # A test wants an answer now, not after Postfix's 1 s throttle.
            "in_flow_delay": "0s",
            "smtpd_error_sleep_time": "0s",
            "virtual_mailbox_domains": " ".join(self.domains),
            "virtual_mailbox_base": str(self.maildir.parent),
            "virtual_mailbox_maps": ("static:Maildir/" if self.recipients is None
                                     else f"texthash:{self.conf_dir}/vmailbox"),
            "virtual_uid_maps": f"static:{uid}",
            "virtual_gid_maps": f"static:{gid}",
            "virtual_minimum_uid": "1",
            "virtual_mailbox_limit": "0",
            "message_size_limit": "52428800",
        }
        if relay:
            # Relay for loopback clients to relayhost; the smtp client never
            # asks DNS for a bracketed literal address.
            cf["smtpd_relay_restrictions"] = ("permit_mynetworks, permit_sasl_authenticated,"
                                              " reject_unauth_destination")
            cf["default_transport"] = "smtp"
            cf["relay_transport"] = "relay"
            cf["smtp_dns_support_level"] = "disabled"
        else:
            # A destination only: mail for other domains is refused at RCPT.
            restrictions = "permit_sasl_authenticated, reject_unauth_destination"
            if self.require_auth:
                restrictions = "permit_sasl_authenticated, reject"
            cf["smtpd_relay_restrictions"] = restrictions
            cf["default_transport"] = "error:5.7.1 test peer does not relay"
            cf["relay_transport"] = "error:5.7.1 test peer does not relay"
        if self.tls:
            cf.update({
                "smtpd_tls_security_level": "may",
                "smtpd_tls_chain_files": f"{self.conf_dir}/tls-key.pem, {self.conf_dir}/tls-cert.pem",
                "smtpd_tls_received_header": "yes",
                "smtpd_tls_loglevel": "1",
                "smtpd_tls_session_cache_database": "",
            })
        else:
            cf["smtpd_tls_security_level"] = "none"
        if self.auth_users:
            cf.update({
                "smtpd_sasl_auth_enable": "yes",
                "smtpd_sasl_type": "cyrus",
                "smtpd_sasl_path": "smtpd",
                "cyrus_sasl_config_path": str(self.conf_dir / "sasl"),
                "smtpd_sasl_security_options": "noanonymous",
                "smtpd_sasl_tls_security_options": "noanonymous",
                "smtpd_tls_auth_only": "no",
                "smtpd_sasl_local_domain": "",
                "smtpd_sasl_authenticated_header": "yes",
                "broken_sasl_auth_clients": "no",
            })
        cf.update(self.main_cf_extra)
        return "".join(f"{k} = {v}\n" for k, v in cf.items())

    def _write_sasl(self):
        """Cyrus SASL for smtpd: auxprop over a sasldb (Berkeley DB hash,
        keys "user\\0realm\\0userPassword") written with Python's dbm.ndbm,
        which Debian links against the same libdb as libsasldb. No
        saslauthd and no saslpasswd2 (sasl2-bin) needed."""
        sasl = self.conf_dir / "sasl"
        sasl.mkdir(parents=True, exist_ok=True)
        base = str(sasl / "sasldb2")
        db = dbm.ndbm.open(base, "n", 0o640)
        try:
            for user, password in self.auth_users.items():
                # Postfix passes myhostname as the server FQDN; Cyrus uses it
                # as the realm of a user name without "@realm".
                if "@" in user:
                    name, realm = user.rsplit("@", 1)
                    keys = [(name, realm), (user, self.hostname)]
                else:
                    keys = [(user, self.hostname)]
                for name, realm in keys:
                    db[f"{name}\0{realm}\0userPassword".encode()] = password.encode()
        finally:
            db.close()
        path = base + ".db"
        os.chown(path, 0, grp.getgrnam("postfix").gr_gid)
        os.chmod(path, 0o640)
        (sasl / "smtpd.conf").write_text(
            "pwcheck_method: auxprop\n"
            "auxprop_plugin: sasldb\n"
            "mech_list: PLAIN LOGIN\n"
            f"sasldb_path: {path}\n")

    def write_config(self):
        for d in (self.conf_dir, self.data_dir, self.maildir.parent):
            d.mkdir(parents=True, exist_ok=True)
        self._make_queue_dir()
        _make_searchable(self.root)
        uid, gid = _delivery_ids()
        for sub in ("tmp", "new", "cur"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        for d in (self.maildir, *(self.maildir / s for s in ("tmp", "new", "cur"))):
            os.chown(d, uid, gid)
            os.chmod(d, 0o700)
        os.chmod(self.root, 0o755)
        if self.tls and self.tls_cert is None:
            _key, self.tls_cert = make_self_signed(self.conf_dir, self.hostname)
        if self.auth_users:
            self._write_sasl()
        if self.recipients is not None:
            # texthash: read when a process starts, no postmap needed.
            (self.conf_dir / "vmailbox").write_text(
                "".join(f"{r} Maildir/\n" for r in self.recipients))
        (self.conf_dir / "main.cf").write_text(self._main_cf())
        (self.conf_dir / "master.cf").write_text(
            MASTER_CF.format(address=self.address, port=self.port))
        self.log_path.touch()
        # Postfix waits (in 300 ms steps) while a file it loads has an mtime
        # that is not yet in the past ("file is being edited"): date the
        # configuration back so that the master starts at once.
        past = time.time() - 10
        for path in self.conf_dir.rglob("*"):
            if path.is_file():
                os.utime(path, (past, past))

    def _make_queue_tree(self):
        """The queue directory tree as post-install (`postfix check`) makes
        it, from Debian's postfix-files, without its slow checks (2 s)."""
        pf_uid = pwd.getpwnam("postfix").pw_uid
        pf_gid = grp.getgrnam("postfix").gr_gid
        postdrop = grp.getgrnam("postdrop").gr_gid
        os.chown(self.queue_dir, 0, 0)
        os.chmod(self.queue_dir, 0o755)
        for name, uid, gid, mode in QUEUE_TREE:
            d = self.queue_dir / name
            d.mkdir(exist_ok=True)
            os.chown(d, {"postfix": pf_uid, "root": 0}[uid],
                     {"postdrop": postdrop, "root": 0, "postfix": pf_gid}[gid])
            os.chmod(d, mode)
        os.chown(self.data_dir, pf_uid, pf_gid)
        os.chmod(self.data_dir, 0o700)

    def postconf(self, *args):
        """postconf -c CONF ARGS... (stdout as text): check the config."""
        r = subprocess.run([POSTCONF, "-c", str(self.conf_dir), *args],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        return r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")

    # ----- process control -----

    def start(self, timeout=START_TIMEOUT):
        """Write the configuration, create the queue tree, start the master in the foreground as our child, and wait (bounded)
        until the SMTP port answers with a 220 greeting. With an automatic
        port, a port taken in between is replaced and tried again."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        for attempt in range(3):
            self.write_config()
            self._make_queue_tree()
            with open(self.out_path, "ab") as out:
                self.proc = subprocess.Popen(
                    [os.path.join(self.daemon_dir, "master"), "-c", str(self.conf_dir), "-d",
                     "-e", str(int(self.lifetime))],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=str(self.root),
                    env=self._env(), start_new_session=True)
            if wait_port(self.address, self.port, timeout, alive=self.running) and self._greets():
                return self
            status = self._terminate()
            in_use = not port_free(self.port, self.address)
            if in_use and not self._port_given and attempt < 2:
                self._rename_port(free_port(self.address))
                continue
            # The master reports its errors only to the log, and before its
            # postlog service runs that is nowhere: ask `postfix check` on a
            # terminal for configuration errors.
            _rc, check = _run_on_pty(["postfix", "-c", str(self.conf_dir), "check"], timeout=60)
            self._remove_queue_dir()
            raise RuntimeError(
                f"postfix peer {self.address}:{self.port} did not start (master exit status"
                f" {status}){'; the port is in use' if in_use else ''}\n"
                f"postfix check: {check.strip() or 'no complaint'}\n"
                f"master output: {self.output()[-2000:]}\nlog: {self.log()[-4000:]}")
        raise RuntimeError("unreachable")

    def _env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MAIL_") and k not in ("POSTANE_CONFIG",)}
        env["MAIL_CONFIG"] = str(self.conf_dir)
        return env

    def _rename_port(self, port):
        self._remove_queue_dir()
        shutil.rmtree(self.root, ignore_errors=True)
        self.port = port
        self._set_paths()

    def _remove_queue_dir(self):
        if self.queue_dir is not None:
            shutil.rmtree(self.queue_dir, ignore_errors=True)
            self.queue_dir = None

    def _greets(self):
        try:
            with socket.create_connection((self.address, self.port), timeout=10) as s:
                s.settimeout(10)
                data = b""
                while b"\r\n" not in data:
                    chunk = s.recv(512)
                    if not chunk:
                        break
                    data += chunk
                s.sendall(b"QUIT\r\n")
                return data.startswith(f"220 {self.hostname} ESMTP Postfix test peer".encode())
        except OSError:
            return False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def _terminate(self, timeout=STOP_TIMEOUT):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else None
        pid = self.proc.pid
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # The master is the leader of its own session and process group
            # (it calls setsid): that group holds only this instance.
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return self.proc.wait(timeout=10)

    def stop(self, timeout=STOP_TIMEOUT, keep_queue=False):
        """SIGTERM to the master (which stops its children), bounded wait,
        then SIGKILL to its process group. Returns the exit status: -15
        (SIGTERM) is a clean stop, the master ends by resending it to its
        process group. The queue directory is removed unless keep_queue
        (for a restart with mail still queued)."""
        status = self._terminate(timeout)
        if not keep_queue:
            self._remove_queue_dir()
        return status

    def flush(self, timeout=30):
        """postqueue -f: deliver everything queued now (deferred mail too)."""
        r = subprocess.run(["postqueue", "-c", str(self.conf_dir), "-f"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, env=self._env())
        if r.returncode != 0:
            raise RuntimeError(f"postqueue -f: {r.stdout.decode(errors='replace')}")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ----- results -----

    def log(self):
        """Postfix's own log (maillog_file)."""
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def output(self):
        """What the master printed on stdout/stderr."""
        try:
            return self.out_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def message_paths(self):
        paths = []
        for sub in ("new", "cur"):
            d = self.maildir / sub
            if d.is_dir():
                paths += [p for p in d.iterdir() if not p.name.startswith(".")]
        return sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def messages(self, timeout=10.0, count=1):
        """The delivered messages (bytes, as Postfix wrote them, with its
        Return-Path / Delivered-To / Received headers and LF line ends),
        oldest first, after waiting up to `timeout` seconds for at least
        `count` of them. count=0 returns at once."""
        deadline = time.monotonic() + timeout
        while True:
            paths = self.message_paths()
            if len(paths) >= count or time.monotonic() >= deadline:
                return [p.read_bytes() for p in paths]
            time.sleep(0.05)

    def queue_files(self, queues=("incoming", "active", "deferred", "hold", "maildrop")):
        """Queue IDs still in the given queues (default: all of them)."""
        ids = []
        if self.queue_dir is None:
            return ids
        for sub in queues:
            d = self.queue_dir / sub
            if d.is_dir():
                for _dirpath, _dirs, files in os.walk(d):
                    ids += files
        return ids
