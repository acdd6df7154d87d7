"""Several IMAP sessions on one mailbox: IDLE woken by mail arriving over
SMTP and by other sessions' APPEND/STORE/EXPUNGE, untagged updates on the
next command without IDLE (EXISTS, RECENT, FETCH, EXPUNGE, VANISHED), the
RFC 9051 7.5.1 rule that FETCH/STORE do not send EXPUNGE, and CONDSTORE /
QRESYNC resynchronisation (SELECT ... QRESYNC, FETCH CHANGEDSINCE,
VANISHED (EARLIER))."""

import re
import time

import pytest

from conftest import DOMAIN
from imapwire import parse, quote

ALICE = f"alice@{DOMAIN}"
WAKE = 2.0  # seconds within which an idling client must hear of a change


def simple(n):
    return (b"From: sender@example.net\r\nTo: alice@example.test\r\n"
            b"Subject: sync %d\r\nMessage-ID: <sync%d@example.net>\r\n\r\nbody %d\r\n" % (n, n, n))


def append(w, mailbox, data, flags=None):
    before = quote(mailbox) + (f" ({flags})" if flags is not None else "")
    r = w.cmd_lit(f"APPEND {before} ", data)
    assert r.ok, r
    return int(r.code.split()[2])


def codes(r):
    out = {}
    for line in r.lines("OK"):
        m = re.match(r"OK \[([A-Z0-9-]+)(?: ([^\]]*))?\]", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def fetch_map(responses):
    """{seq: {ITEM: value}} from a list of Response objects."""
    out = {}
    for r in responses:
        m = re.match(rb"\* (\d+) FETCH ", r.raw)
        if m:
            items = parse(r.raw[m.end():])[0]
            d = out.setdefault(int(m.group(1)), {})
            for k in range(0, len(items) - 1, 2):
                d[items[k].upper()] = items[k + 1]
    return out


def mailbox_with(imap_srv, n):
    w = imap_srv.imap_wire(user="alice")
    for i in range(1, n + 1):
        append(w, "INBOX", simple(i))
    return w


# ----- IDLE -----


def test_idle_woken_by_smtp_delivery(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok("SELECT INBOX")
    tag, _ = w.idle_start()
    time.sleep(0.2)
    imap_srv.deliver("alice", simple(1))
    t0 = time.monotonic()
    r, got = w.wait_for(rb"^\* 1 EXISTS", timeout=WAKE + 3)
    elapsed = time.monotonic() - t0
    assert elapsed <= WAKE, f"IDLE heard of new mail only after {elapsed:.2f}s"
    # RECENT comes with it for an IMAP4rev1 session.
    more = w.poll(0.3)
    assert any(x.line == "* 1 RECENT" for x in got + more), got + more
    w.idle_done(tag)
    # A second delivery while idling again.
    tag, _ = w.idle_start()
    imap_srv.deliver("alice", simple(2))
    w.wait_for(rb"^\* 2 EXISTS", timeout=WAKE)
    w.idle_done(tag)
    f = w.ok("FETCH 1:2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]").fetches()
    assert f[2]["BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: sync 2\r\n\r\n"


def test_idle_woken_by_smtp_delivery_many_sessions(imap_srv):
    """Sessions spread over the event loops all hear of the delivery."""
    sessions = []
    for _ in range(6):
        w = imap_srv.imap_wire(user="alice")
        w.ok("SELECT INBOX")
        sessions.append((w, w.idle_start()[0]))
    imap_srv.deliver("alice", simple(1))
    for w, tag in sessions:
        w.wait_for(rb"^\* 1 EXISTS", timeout=WAKE)
        w.idle_done(tag)


def test_idle_woken_by_other_session_store_and_expunge(imap_srv):
    mailbox_with(imap_srv, 3)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    tag, _ = a.idle_start()
    b.ok("STORE 2 +FLAGS (\\Flagged)")
    r, _ = a.wait_for(rb"^\* 2 FETCH", timeout=WAKE)
    assert "\\Flagged" in fetch_map([r])[2]["FLAGS"], r
    b.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    a.wait_for(rb"^\* 3 EXPUNGE", timeout=WAKE)
    b.ok("UID MOVE 1 Trash")
    a.wait_for(rb"^\* 1 EXPUNGE", timeout=WAKE)
    append(b, "INBOX", simple(9))
    a.wait_for(rb"^\* 2 EXISTS", timeout=WAKE)
    a.idle_done(tag)
    f = a.ok("FETCH 1:* (UID FLAGS)").fetches()
    assert [v["UID"] for v in f.values()] == ["2", "4"], f


def test_idle_with_qresync_reports_vanished(imap_srv):
    mailbox_with(imap_srv, 3)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    tag, _ = a.idle_start()
    b.ok("STORE 1 +FLAGS (\\Seen)")
    r, _ = a.wait_for(rb"^\* 1 FETCH", timeout=WAKE)
    f = fetch_map([r])[1]
    assert f["UID"] == "1" and "MODSEQ" in f, r
    b.ok("STORE 2:3 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    r, got = a.wait_for(rb"^\* VANISHED ", timeout=WAKE)
    assert r.line in ("* VANISHED 2:3", "* VANISHED 2,3"), got
    assert not any(b" EXPUNGE" in x.raw for x in got)
    a.idle_done(tag)


def test_idle_without_selected_mailbox(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    tag, _ = w.idle_start()
    imap_srv.deliver("alice", simple(1))
    assert w.poll(0.5) == [] or True  # nothing selected: nothing to report
    w.line("done")  # DONE is case-insensitive
    t = w.read_tagged(tag)
    assert t.ok, t


def test_idle_bad_continuation_line(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok("SELECT INBOX")
    tag, _ = w.idle_start()
    w.line("NOT DONE")
    t = w.read_tagged(tag)
    assert t.status == "BAD", t
    w.ok("NOOP")


def test_idle_reports_pending_changes_at_start(imap_srv):
    mailbox_with(imap_srv, 1)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("SELECT INBOX")
    append(b, "INBOX", simple(2))
    tag, before = a.idle_start()
    after = a.poll(0.5)
    assert any(r.line == "* 2 EXISTS" for r in before + after), before + after
    a.idle_done(tag)


# ----- two sessions without IDLE -----


def test_other_session_changes_on_noop(imap_srv):
    mailbox_with(imap_srv, 3)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    # New mail over SMTP and by APPEND.
    imap_srv.deliver("alice", simple(4))
    append(b, "INBOX", simple(5))
    r = a.ok("NOOP")
    assert r.lines("EXISTS")[-1] == "5 EXISTS", r
    # Flags.
    b.ok("STORE 1 +FLAGS (\\Answered)")
    r = a.ok("NOOP")
    f = r.fetches()
    assert "\\Answered" in f[1]["FLAGS"], r
    # Expunge.
    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    r = a.ok("NOOP")
    assert r.lines("EXPUNGE") == ["2 EXPUNGE"], r
    f = a.ok("FETCH 1:* UID").fetches()
    assert [v["UID"] for v in f.values()] == ["1", "3", "4", "5"]


def test_no_expunge_during_fetch_or_store(imap_srv):
    """RFC 9051 7.5.1: EXPUNGE may not be sent while FETCH, STORE or SEARCH
    run (sequence numbers would shift under the client); they come with the
    next command that allows them."""
    mailbox_with(imap_srv, 3)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    r = a.ok("FETCH 1:3 UID")
    assert not r.lines("EXPUNGE"), r
    # Still the old numbering: message 1 (UID 1) is addressable as 1 or
    # answered with nothing, never as another message.
    f = r.fetches()
    assert f.get(2, {}).get("UID") == "2" and f.get(3, {}).get("UID") == "3", r
    r = a.ok("STORE 3 +FLAGS (\\Flagged)")
    assert not r.lines("EXPUNGE"), r
    assert r.fetches()[3]["FLAGS"] and "\\Flagged" in r.fetches()[3]["FLAGS"]
    r = a.ok("NOOP")
    assert r.lines("EXPUNGE") == ["1 EXPUNGE"], r
    f = a.ok("FETCH 1:* (UID FLAGS)").fetches()
    assert f[2]["UID"] == "3" and "\\Flagged" in f[2]["FLAGS"]


def test_uid_fetch_may_send_expunge(imap_srv):
    mailbox_with(imap_srv, 2)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    r = a.ok("UID FETCH 1:* FLAGS")
    r2 = a.ok("NOOP")
    assert (r.lines("EXPUNGE") + r2.lines("EXPUNGE")) == ["1 EXPUNGE"], (r, r2)


def test_new_mail_exists_and_recent_on_noop(imap_srv):
    a = imap_srv.imap_wire(user="alice")
    a.ok("SELECT INBOX")
    imap_srv.deliver("alice", simple(1))
    r = a.ok("NOOP")
    assert r.lines("EXISTS") == ["1 EXISTS"] and r.lines("RECENT") == ["1 RECENT"], r


def test_vanished_under_qresync_between_sessions(imap_srv):
    mailbox_with(imap_srv, 4)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    r = a.ok("NOOP")
    assert r.lines("VANISHED") in (["VANISHED 2,4"],), r
    assert not r.lines("EXPUNGE")
    # Flag changes come with UID under QRESYNC.
    b.ok("STORE 1 +FLAGS (\\Seen)")
    f = a.ok("NOOP").fetches()
    assert f[1]["UID"] == "1" and "MODSEQ" in f[1], f
    # Own EXPUNGE: VANISHED too.
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    r = a.ok("EXPUNGE")
    assert r.lines("VANISHED") == ["VANISHED 3"], r


def test_flag_changes_with_condstore_show_modseq(imap_srv):
    mailbox_with(imap_srv, 1)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("SELECT INBOX (CONDSTORE)")
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS (\\Flagged)")
    f = a.ok("NOOP").fetches()
    assert "\\Flagged" in f[1]["FLAGS"] and "MODSEQ" in f[1], f


# ----- CONDSTORE / QRESYNC resynchronisation -----


def test_qresync_select_resync(imap_srv):
    w = mailbox_with(imap_srv, 5)
    w.ok("ENABLE QRESYNC")
    r = w.ok("SELECT INBOX")
    uidvalidity = int(codes(r)["UIDVALIDITY"])
    modseq = int(codes(r)["HIGHESTMODSEQ"])
    w.ok("LOGOUT")
    # Changes while the client is away.
    o = imap_srv.imap_wire(user="alice")
    o.ok("SELECT INBOX")
    o.ok("STORE 2 +FLAGS (\\Seen)")
    o.ok("STORE 3,4 +FLAGS.SILENT (\\Deleted)")
    o.ok("EXPUNGE")
    append(o, "INBOX", simple(6))
    o.ok("LOGOUT")
    # The client comes back.
    c = imap_srv.imap_wire(user="alice")
    c.ok("ENABLE QRESYNC")
    r = c.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq}))")
    assert r.lines("VANISHED") == ["VANISHED (EARLIER) 3:4"], r
    f = r.fetches()
    by_uid = {v["UID"]: v for v in f.values()}
    assert set(by_uid) == {"2", "6"}, f
    assert "\\Seen" in by_uid["2"]["FLAGS"] and "MODSEQ" in by_uid["2"]
    new_modseq = int(codes(r)["HIGHESTMODSEQ"])
    assert new_modseq > modseq
    # With the known UIDs parameter, only those are considered.
    c.ok("UNSELECT")
    r = c.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq} 1:3))")
    assert r.lines("VANISHED") == ["VANISHED (EARLIER) 3"], r
    assert {v["UID"] for v in r.fetches().values()} == {"2"}
    # Up to date: nothing to report.
    c.ok("UNSELECT")
    r = c.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {new_modseq}))")
    assert not r.lines("VANISHED") and not r.fetches(), r


def test_qresync_wrong_uidvalidity_reports_nothing(imap_srv):
    w = mailbox_with(imap_srv, 2)
    w.ok("SELECT INBOX")
    w.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    w.ok("EXPUNGE")
    c = imap_srv.imap_wire(user="alice")
    c.ok("ENABLE QRESYNC")
    r = c.ok("SELECT INBOX (QRESYNC (1 1))")
    if int(codes(r)["UIDVALIDITY"]) != 1:
        assert not r.lines("VANISHED") and not r.fetches(), r


def test_qresync_select_needs_enable(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    r = w.cmd("SELECT INBOX (QRESYNC (1 1))")
    assert r.status == "BAD", r


def test_fetch_changedsince(imap_srv):
    w = mailbox_with(imap_srv, 4)
    w.ok("ENABLE CONDSTORE")
    r = w.ok("SELECT INBOX")
    modseq = int(codes(r)["HIGHESTMODSEQ"])
    w.ok("STORE 2 +FLAGS (\\Flagged)")
    w.ok("STORE 4 +FLAGS (\\Answered)")
    r = w.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq})")
    f = r.fetches()
    assert set(f) == {2, 4}, r
    assert all("MODSEQ" in v for v in f.values())
    r = w.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq})")
    assert {v["UID"] for v in r.fetches().values()} == {"2", "4"}


def test_fetch_changedsince_vanished(imap_srv):
    w = mailbox_with(imap_srv, 4)
    w.ok("ENABLE QRESYNC")
    r = w.ok("SELECT INBOX")
    modseq = int(codes(r)["HIGHESTMODSEQ"])
    o = imap_srv.imap_wire(user="alice")
    o.ok("SELECT INBOX")
    o.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    o.ok("EXPUNGE")
    o.ok("UID STORE 3 +FLAGS (\\Seen)")
    r = w.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)")
    assert "VANISHED (EARLIER) 1" in r.lines("VANISHED"), r
    assert {v["UID"] for v in r.fetches().values()} == {"3"}, r
    # VANISHED is only for UID FETCH.
    assert w.cmd(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq} VANISHED)").status == "BAD"


def test_highestmodseq_grows_with_every_change(imap_srv):
    w = mailbox_with(imap_srv, 2)

    def hms():
        line = w.ok("STATUS INBOX (HIGHESTMODSEQ)").first("STATUS")
        return int(re.search(r"HIGHESTMODSEQ (\d+)", line).group(1))

    m0 = hms()
    append(w, "INBOX", simple(3))
    m1 = hms()
    w.ok("SELECT INBOX")
    w.ok("STORE 1 +FLAGS (\\Seen)")
    m2 = hms()
    w.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    w.ok("EXPUNGE")
    m3 = hms()
    assert m0 < m1 < m2 < m3, (m0, m1, m2, m3)


# ----- a message expunged by another session, before this one heard of it -----


def test_fetch_body_after_concurrent_expunge_returns_the_others(imap_srv):
    mailbox_with(imap_srv, 3)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    r = a.cmd("FETCH 1:3 (UID BODY.PEEK[])")
    assert r.code != "SERVERBUG", r
    f = r.fetches()
    assert f.get(2, {}).get("BODY[]") == simple(2), r
    assert f.get(3, {}).get("BODY[]") == simple(3), r
    assert r.ok or r.code == "EXPUNGEISSUED", r


def test_envelope_after_concurrent_expunge_is_valid(imap_srv):
    mailbox_with(imap_srv, 2)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    r = a.cmd("FETCH 1:2 (UID ENVELOPE)")
    f = r.fetches()
    assert f[2]["ENVELOPE"][1] == b"sync 2", r
    if 1 in f:
        assert isinstance(f[1].get("ENVELOPE"), list), r


def test_store_copy_move_after_concurrent_expunge(imap_srv):
    mailbox_with(imap_srv, 3)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    r = a.cmd("STORE 1:3 +FLAGS (\\Flagged)")
    assert r.status in ("OK", "NO"), r
    r = a.cmd("UID COPY 1:3 Archive")
    assert r.ok, r
    code = r.code.split()
    assert code[0] == "COPYUID" and code[2] in ("2:3", "2,3"), r
    r = a.cmd("UID MOVE 1:3 Trash")
    assert r.ok, r
    st = a.ok("STATUS Archive (MESSAGES)").first("STATUS")
    assert "MESSAGES 2" in st
    st = a.ok("STATUS Trash (MESSAGES)").first("STATUS")
    assert "MESSAGES 2" in st
    a.ok("NOOP")
    assert a.ok("FETCH 1:* UID").fetches() == {}


def test_inbox_rename_by_other_session_updates_selected_session(imap_srv):
    mailbox_with(imap_srv, 2)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    assert a.ok("SELECT INBOX").first("EXISTS") == "2 EXISTS"
    b.ok("RENAME INBOX Saved")
    r = a.ok("NOOP")
    assert len(r.lines("EXPUNGE")) == 2, r
    imap_srv.deliver("alice", simple(3))
    r = a.ok("NOOP")
    assert r.lines("EXISTS") == ["1 EXISTS"], r
    f = a.ok("FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])").fetches()
    assert [v["BODY[HEADER.FIELDS (SUBJECT)]"] for v in f.values()] == \
        [b"Subject: sync 3\r\n\r\n"], f


def test_unchangedsince_between_two_sessions(imap_srv):
    mailbox_with(imap_srv, 1)
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("SELECT INBOX (CONDSTORE)")
    b.ok("SELECT INBOX (CONDSTORE)")
    ma = int(a.ok("FETCH 1 MODSEQ").fetches()[1]["MODSEQ"][0])
    mb = int(b.ok("FETCH 1 MODSEQ").fetches()[1]["MODSEQ"][0])
    assert ma == mb
    r = b.ok(f"STORE 1 (UNCHANGEDSINCE {mb}) +FLAGS ($B)")
    assert not (r.code or "").startswith("MODIFIED"), r
    r = a.ok(f"STORE 1 (UNCHANGEDSINCE {ma}) +FLAGS ($A)")
    assert r.code == "MODIFIED 1", r
    fl = a.ok("FETCH 1 FLAGS").fetches()[1]["FLAGS"]
    assert "$B" in fl and "$A" not in fl, fl
