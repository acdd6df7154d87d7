"""Real IMAP clients against postane: mbsync (isync) synchronising both ways
over IMAPS and STARTTLS, fetchmail fetching over IMAP into an MDA, and mutt
reading over IMAPS / STARTTLS in a pseudo-terminal (driven by `push`),
piping messages out and setting a flag that must reach the server.

The clients trust the server's self-signed certificate through the file
`postane init` wrote (CertificateFile / certificate_file), or skip
verification (fetchmail: no sslcertck)."""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import DOMAIN, PASSWORD
from imapwire import quote

ALICE = f"alice@{DOMAIN}"
CLIENT_TIMEOUT = 90


def need(tool):
    return pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} not installed")


def run_client(argv, cwd, env=None, timeout=CLIENT_TIMEOUT, input=None):
    """Run a client in its own process group; on timeout kill that group
    (only what we started) and fail."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen(argv, cwd=cwd, env=e, stdin=subprocess.PIPE if input else
                         subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        out, _ = p.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(f"{argv[0]} did not finish within {timeout}s:\n"
                    f"{out.decode('utf-8', 'replace')[-4000:]}")
    return p.returncode, out.decode("utf-8", "replace")


def message(n, tag="m"):
    return (f"From: sender@example.net\r\nTo: {ALICE}\r\nSubject: {tag} {n}\r\n"
            f"Message-ID: <{tag}{n}@example.net>\r\nDate: Tue, 14 Nov 2023 10:00:0{n % 10} +0000"
            f"\r\n\r\nbody of {tag} {n}\r\n").encode()


def append(w, mailbox, data, flags=None):
    before = quote(mailbox) + (f" ({flags})" if flags is not None else "")
    r = w.cmd_lit(f"APPEND {before} ", data)
    assert r.ok, r


def server_messages(srv, mailbox="INBOX"):
    """{subject: flags set} of a mailbox, read over IMAP."""
    w = srv.imap_wire(user="alice", security="ssl")
    w.ok(f"EXAMINE {quote(mailbox)}")
    r = w.ok("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    out = {}
    for f in r.fetches().values():
        subj = f["BODY[HEADER.FIELDS (SUBJECT)]"].decode().strip()
        out[subj.removeprefix("Subject: ")] = set(f["FLAGS"]) - {"\\Recent"}
    w.ok("LOGOUT")
    return out


def cert_file(srv):
    return srv.get_config("tls", "cert")


# ----- mbsync -----


def mbsync_config(srv, local, ssltype):
    port = srv.imaps_port if ssltype == "IMAPS" else srv.imap_port
    return f"""IMAPAccount postane
Host 127.0.0.1
Port {port}
User {ALICE}
Pass "{PASSWORD}"
SSLType {ssltype}
CertificateFile {cert_file(srv)}
SystemCertificates no
Timeout 30

IMAPStore remote
Account postane

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns INBOX Projects
Create Both
Expunge Both
SyncState *
Sync All
"""


def local_messages(folder):
    """{subject: (path, maildir flags)} of a local Maildir folder."""
    out = {}
    for sub in ("new", "cur"):
        d = folder / sub
        if not d.is_dir():
            continue
        for p in d.iterdir():
            m = re.search(rb"^Subject: (.*)\r?$", p.read_bytes(), re.M)
            info = p.name.split(":2,", 1)[1] if ":2," in p.name else ""
            out[m.group(1).decode().strip() if m else p.name] = (p, info)
    return out


def mbsync(srv, tmp_path, cfg):
    rc, out = run_client(["mbsync", "-c", str(cfg), "sync"], cwd=tmp_path,
                         env={"HOME": str(tmp_path)})
    assert rc == 0, out
    return out


@need("mbsync")
@pytest.mark.parametrize("ssltype", ["IMAPS", "STARTTLS"])
def test_mbsync_two_way(server, tmp_path, ssltype):
    srv = server
    local = tmp_path / "Mail"
    local.mkdir()
    cfg = tmp_path / "mbsyncrc"
    cfg.write_text(mbsync_config(srv, local, ssltype))
    srv.deliver("alice", message(1))
    srv.deliver("alice", message(2))
    w = srv.imap_wire(user="alice", security="ssl")
    w.ok("CREATE Projects")
    append(w, "Projects", message(3), flags="\\Seen")
    append(w, "INBOX", message(4), flags="\\Answered")

    # 1. Server to local.
    mbsync(srv, tmp_path, cfg)
    inbox = local_messages(local / "INBOX")
    assert set(inbox) == {"m 1", "m 2", "m 4"}, inbox
    assert "R" in inbox["m 4"][1], inbox
    assert b"body of m 2" in inbox["m 2"][0].read_bytes()
    proj = local_messages(local / "Projects")
    assert set(proj) == {"m 3"} and "S" in proj["m 3"][1], proj

    # 2. Local to server: a new message, a flag, a deletion.
    (local / "INBOX" / "new" / "1700000000.local1.client").write_bytes(
        message(5, "local").replace(b"\r\n", b"\n"))
    path, info = inbox["m 1"]
    path.rename(path.with_name(path.name.split(":2,")[0] + ":2," +
                               "".join(sorted(set(info) | {"F"}))))
    inbox["m 2"][0].unlink()
    mbsync(srv, tmp_path, cfg)
    on_server = server_messages(srv)
    assert set(on_server) == {"m 1", "m 4", "local 5"}, on_server
    assert "\\Flagged" in on_server["m 1"], on_server

    # 3. Server changes again: new mail and a flag set by another client.
    srv.deliver("alice", message(6))
    w = srv.imap_wire(user="alice", security="ssl")
    w.ok("SELECT INBOX")
    r = w.ok("FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    seq = [k for k, v in r.fetches().items()
           if b"local 5" in v["BODY[HEADER.FIELDS (SUBJECT)]"]][0]
    w.ok(f"STORE {seq} +FLAGS (\\Seen)")
    w.ok("LOGOUT")
    mbsync(srv, tmp_path, cfg)
    inbox = local_messages(local / "INBOX")
    assert set(inbox) == {"m 1", "m 4", "local 5", "m 6"}, inbox
    assert "S" in inbox["local 5"][1] and "F" in inbox["m 1"][1], inbox

    # 4. Nothing changed: a further run changes nothing on either side.
    before = {k: v[1] for k, v in local_messages(local / "INBOX").items()}
    mbsync(srv, tmp_path, cfg)
    assert {k: v[1] for k, v in local_messages(local / "INBOX").items()} == before
    assert set(server_messages(srv)) == set(before)


# ----- fetchmail -----


def fetchmail_rc(srv, out, keep):
    return f"""set no syslog
poll 127.0.0.1 with proto IMAP port {srv.imaps_port} timeout 30
  user "{ALICE}" there with password "{PASSWORD}" is "root" here
  ssl no sslcertck
  {"keep" if keep else "nokeep"}
  {"" if keep else "fetchall"}
  mda "/bin/sh -c 'cat >> {out}; echo ==END== >> {out}'"
"""


@need("fetchmail")
def test_fetchmail_imap(server, tmp_path):
    srv = server
    for i in range(1, 4):
        srv.deliver("alice", message(i, "fm"))
    out = tmp_path / "delivered.txt"
    rc_file = tmp_path / "fetchmailrc"
    rc_file.write_text(fetchmail_rc(srv, out, keep=True))
    rc_file.chmod(0o600)
    env = {"HOME": str(tmp_path), "FETCHMAILHOME": str(tmp_path)}
    argv = ["fetchmail", "-f", str(rc_file), "--nodetach", "--nosyslog", "-v"]
    rc, log = run_client(argv, cwd=tmp_path, env=env)
    assert rc == 0, log
    text = out.read_text()
    assert text.count("==END==") == 3, text
    for i in range(1, 4):
        assert f"Subject: fm {i}" in text and f"body of fm {i}" in text
    # keep: still on the server, now \Seen.
    msgs = server_messages(srv)
    assert set(msgs) == {"fm 1", "fm 2", "fm 3"}
    assert all("\\Seen" in f for f in msgs.values()), msgs
    # A second run with keep fetches nothing new (only unseen mail).
    rc, log = run_client(argv, cwd=tmp_path, env=env)
    assert rc in (0, 1), log  # 1: no mail
    assert out.read_text().count("==END==") == 3
    # nokeep + fetchall: fetched again and deleted from the server.
    srv.deliver("alice", message(4, "fm"))
    rc_file.write_text(fetchmail_rc(srv, out, keep=False))
    rc, log = run_client(argv, cwd=tmp_path, env=env)
    assert rc == 0, log
    text = out.read_text()
    assert text.count("==END==") == 7, text
    assert "Subject: fm 4" in text
    assert server_messages(srv) == {}


# ----- mutt -----


MUTTRC = """set folder="{folder}"
set imap_user="{user}"
set imap_pass="{password}"
set certificate_file="{certs}"
set ssl_verify_host=no
set ssl_starttls=yes
set ssl_force_tls=yes
set wait_key=no
set quit=yes
set move=no
set mark_old=no
set pipe_split=yes
set pipe_decode=no
set header_cache=""
set message_cachedir=""
set mail_check=0
set imap_passive=yes
set imap_check_subscribed=no
set record=""
set sort=date-sent
"""


def run_mutt(srv, tmp_path, url, keys):
    certs = tmp_path / "certs.pem"
    shutil.copy(cert_file(srv), certs)
    rc_path = tmp_path / "muttrc"
    folder = url.rsplit("/", 1)[0] + "/"
    rc_path.write_text(MUTTRC.format(user=ALICE, password=PASSWORD, certs=certs,
                                     folder=folder))
    cmd = f"mutt -n -F {rc_path} -f {url} -e 'push \"{keys}\"'"
    # mutt needs a terminal: script(1) gives it a pseudo-terminal.
    rc, out = run_client(["script", "-qfec", cmd, str(tmp_path / "typescript")],
                         cwd=tmp_path, env={"HOME": str(tmp_path), "TERM": "xterm"})
    return rc, out


@need("mutt")
@need("script")
@pytest.mark.parametrize("scheme", ["imaps", "imap"])
def test_mutt_reads_over_imap(server, tmp_path, scheme):
    """mutt opens INBOX (imaps://, or imap:// with STARTTLS), pipes every
    message to a file, flags the first and syncs the mailbox."""
    srv = server
    for i in range(1, 3):
        srv.deliver("alice", message(i, "mutt"))
    out = tmp_path / "piped.txt"
    port = srv.imaps_port if scheme == "imaps" else srv.imap_port
    url = f"{scheme}://127.0.0.1:{port}/INBOX"
    keys = (f"<tag-pattern>~A<enter><tag-prefix><pipe-message>cat >> {out}<enter>"
            "<first-entry><flag-message><sync-mailbox><quit>")
    rc, log = run_mutt(srv, tmp_path, url, keys)
    assert rc == 0, log
    assert out.exists(), log[-3000:]
    text = out.read_text()
    assert "Subject: mutt 1" in text and "Subject: mutt 2" in text, text
    assert "body of mutt 1" in text and "body of mutt 2" in text
    msgs = server_messages(srv)
    assert set(msgs) == {"mutt 1", "mutt 2"}
    assert "\\Flagged" in msgs["mutt 1"] and "\\Flagged" not in msgs["mutt 2"], msgs


@need("mutt")
@need("script")
def test_mutt_saves_to_another_folder(server, tmp_path):
    """<save-message> to another IMAP folder: COPY plus \\Deleted and
    expunge on sync."""
    srv = server
    srv.deliver("alice", message(1, "keep"))
    srv.deliver("alice", message(2, "move"))
    url = f"imaps://127.0.0.1:{srv.imaps_port}/INBOX"
    # sort=date-sent: "move 2" is the second entry.
    keys = ("<last-entry><save-message>=Archive<enter><sync-mailbox><quit>")
    rc_extra = "set confirmappend=no\nset delete=yes\n"
    certs = tmp_path / "certs.pem"
    shutil.copy(cert_file(srv), certs)
    rc_path = tmp_path / "muttrc"
    rc_path.write_text(MUTTRC.format(user=ALICE, password=PASSWORD, certs=certs,
                                     folder=f"imaps://127.0.0.1:{srv.imaps_port}/") + rc_extra)
    cmd = f"mutt -n -F {rc_path} -f {url} -e 'push \"{keys}\"'"
    rc, log = run_client(["script", "-qfec", cmd, str(tmp_path / "typescript")],
                         cwd=tmp_path, env={"HOME": str(tmp_path), "TERM": "xterm"})
    assert rc == 0, log
    assert set(server_messages(srv, "Archive")) == {"move 2"}
    assert set(server_messages(srv)) == {"keep 1"}
