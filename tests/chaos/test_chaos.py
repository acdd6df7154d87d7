"""Crash consistency under load (reliability plan F2 and F11): clients send
and change mail continuously while the server is killed with SIGKILL at
random moments and started again, many times. Afterwards:

* every message that got its 250 is in each local recipient's mailbox
  exactly once, byte for byte, and in the outbound queue for each remote
  recipient;
* a message that did not get its 250 is, per recipient, either complete or
  absent (never truncated, never twice);
* nothing unknown is anywhere; `postane check` finds nothing, with the
  server running and stopped;
* IMAP: UIDs are unique, never change meaning, new ones are above all
  earlier ones; an APPEND that got OK is there exactly once unless its
  client expunged it; an expunge that got OK never comes back.

The number of kills comes from --chaos-kills or $CHAOS_KILLS (default 6,
CI's short form; `make chaos` runs 25). SIGKILL keeps the page cache, so
these tests check the order of operations and recovery, not fsync (that
would need a file system that drops unsynced writes, plan F3)."""

import imaplib
import os
import random
import re
import smtplib
import socket
import threading
import time

import pytest

from postane_e2e_conftest import DOMAIN, PASSWORD, split_trace

SEED = int(os.environ.get("CHAOS_SEED") or time.time())
MSGID_RE = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
LOCAL = ("alice", "bob")
CONNECT_ERRORS = (OSError, smtplib.SMTPException, imaplib.IMAP4.error, EOFError)


def msgid_of(content):
    m = MSGID_RE.search(content)
    return m.group(1).decode() if m else None


def make_message(msgid, sender, rcpts, rng):
    filler = "".join(rng.choice("abcdefghij klmnop") for _ in range(rng.randrange(60, 400)))
    lines = [f"line {n:05d} of {msgid} {filler}" for n in range(rng.randrange(1, 60))]
    return (f"From: {sender}\r\nTo: {', '.join(rcpts)}\r\nSubject: chaos {msgid}\r\n"
            f"Message-ID: {msgid}\r\nDate: Sun, 22 Nov 2026 05:00:00 +0000\r\n\r\n"
            + "\r\n".join(lines) + "\r\n").encode()


class Ledger:
    """What the clients were told, by Message-ID."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = {}      # msgid -> (content, local users, remote addresses)
        self.acked = set()  # got 250
        self.refused = 0

    def add(self, msgid, content, local, remote):
        with self.lock:
            self.sent[msgid] = (content, tuple(local), tuple(remote))

    def ack(self, msgid):
        with self.lock:
            self.acked.add(msgid)


def smtp_sender(srv, k, ledger, stop, seed):
    """Port 25 (local recipients) for even k, authenticated submission with
    a remote recipient for odd k; reconnects whenever the server is gone."""
    rng = random.Random(seed * 100 + k)
    i = 0
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                if k % 2 == 0:
                    conn = smtplib.SMTP("127.0.0.1", srv.smtp_port,
                                        local_hostname="chaos.example.net", timeout=10)
                else:
                    conn = smtplib.SMTP("127.0.0.1", srv.submission_port,
                                        local_hostname="chaos.example.net", timeout=10)
                    conn.login(f"alice@{DOMAIN}", PASSWORD)
            i += 1
            msgid = f"<chaos-{seed}-{k}-{i}@{DOMAIN}>"
            if k % 2 == 0:
                sender = f"s{k}@sender.example.net"
                local = rng.choice([["alice"], ["bob"], ["alice", "bob"]])
                remote = []
            else:
                sender = f"alice@{DOMAIN}"
                local = rng.choice([[], ["bob"]])
                remote = [f"r{k}-{i}@remote{k}.test"]
            rcpts = [f"{u}@{DOMAIN}" for u in local] + remote
            content = make_message(msgid, sender, rcpts, rng)
            ledger.add(msgid, content, local, remote)
            refused = conn.sendmail(sender, rcpts, content)
            if refused:
                ledger.refused += 1
            else:
                ledger.ack(msgid)
        except CONNECT_ERRORS:
            # Killed under us (or 4xx while it starts): the message's fate
            # is unknown; try again with a new connection.
            try:
                if conn is not None:
                    conn.close()
            except Exception:
                pass
            conn = None
            time.sleep(0.02)


def run_kills(srv, kills, rng, stats):
    """SIGKILL at random moments, restart each time."""
    for _ in range(kills):
        time.sleep(rng.uniform(0.3, 1.6))
        srv.kill9()
        stats["kills"] += 1
        time.sleep(rng.uniform(0.0, 0.2))
        srv.start()
    time.sleep(1.0)


def mailbox_files(srv, user):
    """{filename: content} of new/ and cur/ (info part dropped)."""
    out = {}
    for sub in ("new", "cur"):
        d = srv.maildir(user) / sub
        for p in d.iterdir() if d.is_dir() else []:
            out[p.name.split(":")[0]] = p.read_bytes()
    return out


def run_check(srv):
    r = srv.cli("check")
    assert r.returncode == 0 and "no problems" in r.stdout, (r.returncode, r.stdout, r.stderr)
    return r.stdout.strip().splitlines()[-1]


def verify_smtp(srv, ledger, stats):
    with ledger.lock:
        sent = dict(ledger.sent)
        acked = set(ledger.acked)
    # Local mailboxes: every file indexed, every row has its file.
    found = {}  # (user, msgid) -> count
    for user in LOCAL:
        files = mailbox_files(srv, user)
        rows = srv.db_messages(user)
        assert sorted(fn for fn, _ in rows) == sorted(files), f"{user}: index and files differ"
        uids = [uid for _, uid in rows]
        assert len(set(uids)) == len(uids), f"{user}: duplicate UIDs"
        [(uidnext,)] = srv.db_query(
            "SELECT b.uidnext FROM mailboxes b JOIN accounts a ON a.id = b.account_id"
            " WHERE a.localpart = ? AND b.name = 'INBOX'", user)
        assert not uids or max(uids) < uidnext
        for fn, raw in files.items():
            _, _, content = split_trace(raw)
            msgid = msgid_of(content)
            assert msgid in sent, f"{user}/{fn}: unknown message {msgid}"
            assert content == sent[msgid][0], f"{user}/{fn}: content of {msgid} differs"
            assert user in sent[msgid][1], f"{user}/{fn}: {msgid} was not for {user}"
            found[(user, msgid)] = found.get((user, msgid), 0) + 1
    # The queue: every entry's file is there and is a message we sent.
    queued = {}  # (address, msgid) -> count
    for qid, filename, _sender, _auth, rcpts in srv.queue_rows():
        raw = (srv.queue_dir / filename).read_bytes()
        _, _, content = split_trace(raw)
        msgid = msgid_of(content)
        assert msgid in sent and content == sent[msgid][0], f"queue {qid}: unknown or damaged"
        for address, _domain, _state in rcpts:
            assert address in sent[msgid][2], f"queue {qid}: {address} not a recipient"
            queued[(address, msgid)] = queued.get((address, msgid), 0) + 1
    for key, n in list(found.items()) + list(queued.items()):
        assert n == 1, f"{key} is there {n} times"
    lost = []
    for msgid in acked:
        _content, local, remote = sent[msgid]
        lost += [(u, msgid) for u in local if (u, msgid) not in found]
        lost += [(a, msgid) for a in remote if (a, msgid) not in queued]
    assert not lost, f"{len(lost)} acknowledged deliveries lost: {lost[:5]}"
    unacked = set(sent) - acked
    stats["acknowledged"] += len(acked)
    stats["unacknowledged"] += len(unacked)
    stats["found"] += len({m for _, m in found} | {m for _, m in queued})
    stats["unacknowledged_found"] += len(unacked & ({m for _, m in found} |
                                                    {m for _, m in queued}))
    stats["queued"] += len(queued)


def report(stats, srv):
    text = " ".join(f"{k}={v}" for k, v in stats.items())
    print(f"\nchaos: seed={SEED} {text}")
    with open(srv.root.parent / "chaos-summary.txt", "a") as f:
        f.write(text + "\n")


def test_chaos_smtp(postane, kills):
    """F2: 4 senders (2 on port 25 to alice/bob, 2 submitting as alice with
    a remote recipient each), SIGKILL at random moments."""
    srv = postane
    srv.set_config("auth", "plaintext_loopback", "yes")
    srv.start()
    rng = random.Random(SEED)
    ledger = Ledger()
    stats = {"kills": 0, "acknowledged": 0, "unacknowledged": 0, "found": 0,
             "unacknowledged_found": 0, "queued": 0}
    stop = threading.Event()
    threads = [threading.Thread(target=smtp_sender, args=(srv, k, ledger, stop, SEED),
                                daemon=True) for k in range(4)]
    for t in threads:
        t.start()
    try:
        run_kills(srv, kills, rng, stats)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert stats["kills"] == kills
    assert len(ledger.acked) >= 10 * kills, "too little load to mean anything"
    assert ledger.refused == 0
    srv.wait_spool_empty()
    verify_smtp(srv, ledger, stats)
    stats["check_running"] = run_check(srv)
    srv.stop()
    stats["check_stopped"] = run_check(srv)
    report(stats, srv)


# ----- IMAP -----

class ImapLedger:
    def __init__(self):
        self.lock = threading.Lock()
        self.appended = {}       # msgid -> uid (APPEND got OK)
        self.append_unknown = set()
        self.expunged = set()    # msgid (UID EXPUNGE got OK)
        self.expunge_unknown = set()
        self.uid_seen = {}       # uid -> msgid, from every listing
        self.uidvalidity = None
        self.errors = []
        self.ops = {"append": 0, "store": 0, "expunge": 0, "listings": 0}


def imap_listing(m):
    """[(uid, msgid)] of the selected mailbox, in the server's order."""
    for _ in range(10):
        # imaplib keeps the FETCH responses of a command that failed and
        # hands them out with the next one: start clean.
        m.untagged_responses.pop("FETCH", None)
        typ, data = m.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        if typ == "NO" and b"EXPUNGEISSUED" in data[0]:
            # The other client expunged one of them after our SELECT
            # (RFC 9051 7.1): let the session learn of it, then again.
            m.noop()
            continue
        break
    assert typ == "OK", data
    out = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
        out.append((uid, msgid_of(item[1])))
    return out


def imap_check_listing(led, listing, max_before, expunged_before):
    """UIDs unique and ascending; a UID keeps its message; a UID first
    seen now is above every UID seen in earlier listings; nothing whose
    expunge was acknowledged before the listing began is in it."""
    uids = [u for u, _ in listing]
    if uids != sorted(set(uids)):
        led.errors.append(f"UIDs not unique and ascending: {uids}")
    for uid, msgid in listing:
        old = led.uid_seen.get(uid)
        if old is not None and old != msgid:
            led.errors.append(f"UID {uid} was {old}, now {msgid}")
        if old is None and uid <= max_before and msgid not in led.appended:
            led.errors.append(f"UID {uid} ({msgid}) appeared below earlier UID {max_before}")
        led.uid_seen[uid] = msgid
        if msgid in expunged_before:
            led.errors.append(f"expunged {msgid} is back as UID {uid}")


def imap_client(srv, k, led, stop, seed):
    rng = random.Random(seed * 1000 + k)
    i = 0
    m = None
    mine = {}  # msgid -> uid of my appended messages still there
    while not stop.is_set():
        try:
            if m is None:
                m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=10)
                m.login(f"bob@{DOMAIN}", PASSWORD)
                with led.lock:
                    # Before SELECT: the listing shows the mailbox as of
                    # SELECT (FETCH may not announce expunges).
                    max_before = max(led.uid_seen, default=0)
                    expunged_before = set(led.expunged)
                typ, data = m.select("INBOX")
                assert typ == "OK", data
                uv = int(m.untagged_responses.get("UIDVALIDITY", [b"0"])[-1])
                with led.lock:
                    if led.uidvalidity is None:
                        led.uidvalidity = uv
                    elif led.uidvalidity != uv:
                        led.errors.append(f"UIDVALIDITY changed {led.uidvalidity} -> {uv}")
                listing = imap_listing(m)
                with led.lock:
                    led.ops["listings"] += 1
                    imap_check_listing(led, listing, max_before, expunged_before)
                    present = {msgid: uid for uid, msgid in listing}
                mine = {mid: present[mid] for mid in present
                        if mid.startswith(f"<imap-{seed}-{k}-")}
            op = rng.random()
            if op < 0.5 or not mine:
                i += 1
                msgid = f"<imap-{seed}-{k}-{i}@{DOMAIN}>"
                content = make_message(msgid, f"bob@{DOMAIN}", [f"bob@{DOMAIN}"], rng)
                with led.lock:
                    led.append_unknown.add(msgid)
                typ, data = m.append("INBOX", None, None, content)
                assert typ == "OK", data
                uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
                with led.lock:
                    led.append_unknown.discard(msgid)
                    led.appended[msgid] = uid
                    led.ops["append"] += 1
                mine[msgid] = uid
            elif op < 0.75:
                msgid = rng.choice(sorted(mine))
                typ, data = m.uid("STORE", str(mine[msgid]), "+FLAGS", r"(\Seen \Flagged)")
                assert typ == "OK", data
                with led.lock:
                    led.ops["store"] += 1
            else:
                msgid = rng.choice(sorted(mine))
                uid = str(mine.pop(msgid))
                with led.lock:
                    led.expunge_unknown.add(msgid)
                typ, data = m.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
                assert typ == "OK", data
                typ, data = m.uid("EXPUNGE", uid)
                assert typ == "OK", data
                with led.lock:
                    led.expunge_unknown.discard(msgid)
                    led.expunged.add(msgid)
                    led.ops["expunge"] += 1
        except CONNECT_ERRORS:
            try:
                if m is not None:
                    m.shutdown()
            except Exception:
                pass
            m = None
            time.sleep(0.02)
        except AssertionError as e:
            with led.lock:
                led.errors.append(f"client {k}: {e}")
            m = None
            time.sleep(0.05)


def test_chaos_imap(postane, kills):
    """F11: two IMAP clients APPEND, STORE and UID EXPUNGE in bob's INBOX
    while two SMTP senders deliver, and the server is killed at random."""
    srv = postane
    srv.set_config("auth", "plaintext_loopback", "yes")
    srv.start()
    rng = random.Random(SEED + 1)
    ledger = Ledger()
    led = ImapLedger()
    stats = {"kills": 0, "acknowledged": 0, "unacknowledged": 0, "found": 0,
             "unacknowledged_found": 0, "queued": 0}
    stop = threading.Event()
    threads = [threading.Thread(target=smtp_sender, args=(srv, k, ledger, stop, SEED + 1),
                                daemon=True) for k in (0, 1)]
    threads += [threading.Thread(target=imap_client, args=(srv, k, led, stop, SEED + 1),
                                 daemon=True) for k in (0, 1)]
    for t in threads:
        t.start()
    try:
        run_kills(srv, kills, rng, stats)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert stats["kills"] == kills
    assert not led.errors, led.errors[:10]
    assert led.ops["append"] >= 5 * kills and led.ops["expunge"] >= kills, led.ops

    # The final state, through IMAP and in the index.
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port, timeout=10)
    m.login(f"bob@{DOMAIN}", PASSWORD)
    m.select("INBOX", readonly=True)
    listing = imap_listing(m)
    m.logout()
    with led.lock:
        imap_check_listing(led, listing, max(led.uid_seen, default=0), set(led.expunged))
    assert not led.errors, led.errors[:10]
    count = {}
    for _uid, msgid in listing:
        count[msgid] = count.get(msgid, 0) + 1
    dup = {k: v for k, v in count.items() if v > 1}
    assert not dup, f"present more than once: {dup}"
    missing = [mid for mid in led.appended
               if mid not in led.expunged and mid not in led.expunge_unknown
               and mid not in count]
    assert not missing, f"{len(missing)} acknowledged APPENDs lost: {missing[:5]}"
    back = [mid for mid in led.expunged if mid in count]
    assert not back, f"expunged messages came back: {back[:5]}"
    # The IMAP messages are in bob's INBOX: the SMTP check must know them.
    for mid in count:
        if mid.startswith("<imap-"):
            ledger.add(mid, None, ["bob"], [])
    rows = srv.db_messages("bob")
    assert sorted(uid for _, uid in rows) == sorted(u for u, _ in listing)
    stats["found"] = verify_smtp_imap(srv, ledger)
    stats["check_running"] = run_check(srv)
    srv.stop()
    stats["check_stopped"] = run_check(srv)
    stats.update({f"imap_{k}": v for k, v in led.ops.items()})
    stats["imap_present"] = len(count)
    stats["acknowledged"] = len(ledger.acked)
    stats["unacknowledged"] = len(set(ledger.sent) - ledger.acked
                                  - {mid for mid in ledger.sent if mid.startswith("<imap-")})
    # Only the local mailboxes are read here (the remote half is queued).
    stats["found_local"] = stats.pop("found")
    for key in ("unacknowledged_found", "queued"):
        stats.pop(key)
    report(stats, srv)


def verify_smtp_imap(srv, ledger):
    """The SMTP half of the IMAP test: acknowledged mail to alice and bob is
    there once (bob's INBOX also holds the IMAP clients' messages)."""
    with ledger.lock:
        sent = dict(ledger.sent)
        acked = set(ledger.acked)
    found = set()
    for user in LOCAL:
        seen = {}
        for fn, raw in mailbox_files(srv, user).items():
            _, _, content = split_trace(raw) if raw.startswith(b"Return-Path:") else (0, 0, raw)
            msgid = msgid_of(content)
            assert msgid in sent, f"{user}/{fn}: unknown {msgid}"
            if sent[msgid][0] is not None:
                assert content == sent[msgid][0], f"{user}/{fn}: {msgid} differs"
            seen[msgid] = seen.get(msgid, 0) + 1
        assert all(n == 1 for n in seen.values()), f"{user}: duplicates"
        lost = [mid for mid in acked if user in sent[mid][1] and mid not in seen]
        assert not lost, f"{user}: {len(lost)} acknowledged messages lost"
        found |= set(seen)
    return len(found)
