"""IMAP message commands on the selected mailbox: FETCH (every data item:
FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, BODY, BODY[...]
sections and partials, BINARY and BINARY.SIZE, UID, MODSEQ, macros), \\Seen
by BODY[] but not BODY.PEEK, STORE (+FLAGS -FLAGS FLAGS .SILENT, keywords,
UNCHANGEDSINCE), COPY and MOVE with COPYUID, UID variants, EXPUNGE and UID
EXPUNGE, CLOSE against UNSELECT, and UIDs: ascending, never reused, also
across a restart."""

import base64
import imaplib
import re
import time

import pytest

from conftest import DOMAIN
from imapwire import Literal, parse, quote

ALICE = f"alice@{DOMAIN}"

ATTACHMENT = bytes(range(256)) * 3  # with NUL and 8-bit bytes
B64 = base64.encodebytes(ATTACHMENT).replace(b"\n", b"\r\n")

HEADER = (b'From: "Alice Example" <alice@example.test>\r\n'
          b"To: Bob <bob@example.test>, carol@example.net\r\n"
          b"Cc: dave@example.org\r\n"
          b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= test\r\n"
          b"Date: Tue, 14 Nov 2023 10:00:00 +0100\r\n"
          b"Message-ID: <multi1@example.test>\r\n"
          b"In-Reply-To: <parent@example.test>\r\n"
          b"MIME-Version: 1.0\r\n"
          b'Content-Type: multipart/mixed; boundary="XYZ"\r\n'
          b"\r\n")
PART1_BODY = b"Hello =C3=A9 world\r\nsecond line\r\n"
PART1 = (b"Content-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + PART1_BODY)
PART2_MIME = (b'Content-Type: application/octet-stream; name="data.bin"\r\n'
              b"Content-Transfer-Encoding: base64\r\n"
              b'Content-Disposition: attachment; filename="data.bin"\r\n\r\n')
TEXT = (b"preamble\r\n--XYZ\r\n" + PART1 + b"--XYZ\r\n" + PART2_MIME + B64 +
        b"--XYZ--\r\n")
MULTI = HEADER + TEXT

SIMPLE = (b"From: sender@example.net\r\nTo: alice@example.test\r\nSubject: simple\r\n"
          b"Message-ID: <simple@example.net>\r\n\r\n0123456789abcdefghij\r\nline two\r\n")


def simple(n):
    return SIMPLE.replace(b"Subject: simple", b"Subject: simple %d" % n)


def append(w, mailbox, data, flags=None):
    before = quote(mailbox) + (f" ({flags})" if flags is not None else "")
    r = w.cmd_lit(f"APPEND {before} ", data)
    assert r.ok, r
    return int(r.code.split()[2])


@pytest.fixture
def box(imap_srv):
    """alice's INBOX with MULTI (1) and two simple messages (2, 3), selected
    in a raw session."""
    w = imap_srv.imap_wire(user="alice")
    append(w, "INBOX", MULTI)
    append(w, "INBOX", simple(2))
    append(w, "INBOX", simple(3))
    w.ok("SELECT INBOX")
    return w


def flags_of(w, seqset="1:*", uid=False):
    r = w.ok(f"{'UID ' if uid else ''}FETCH {seqset} FLAGS")
    return {k: set(v["FLAGS"]) for k, v in r.fetches().items()}


# ----- FETCH -----


def test_fetch_simple_items(box):
    f = box.ok("FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE UID)").fetches()[1]
    assert f["FLAGS"] == [] or set(f["FLAGS"]) <= {"\\Recent"}, f
    assert re.fullmatch(r"\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}",
                        f["INTERNALDATE"].decode()), f
    assert int(f["RFC822.SIZE"]) == len(MULTI)
    assert f["UID"] == "1"


def test_fetch_envelope(box):
    env = box.ok("FETCH 1 ENVELOPE").fetches()[1]["ENVELOPE"]
    date, subject, frm, sender, reply_to, to, cc, bcc, in_reply_to, message_id = env
    assert date == b"Tue, 14 Nov 2023 10:00:00 +0100"
    assert subject == b"=?utf-8?q?Gr=C3=BC=C3=9Fe?= test"
    assert frm == [[b"Alice Example", None, b"alice", b"example.test"]]
    assert sender == frm and reply_to == frm
    assert to == [[b"Bob", None, b"bob", b"example.test"],
                  [None, None, b"carol", b"example.net"]]
    assert cc == [[None, None, b"dave", b"example.org"]]
    assert bcc is None
    assert in_reply_to == b"<parent@example.test>"
    assert message_id == b"<multi1@example.test>"


def test_fetch_envelope_simple(box):
    env = box.ok("FETCH 2 ENVELOPE").fetches()[2]["ENVELOPE"]
    assert env[0] is None  # no Date:
    assert env[1] == b"simple 2"
    assert env[2] == [[None, None, b"sender", b"example.net"]]
    assert env[9] == b"<simple@example.net>"


def _lower(x):
    if isinstance(x, list):
        return [_lower(y) for y in x]
    if isinstance(x, (bytes, str)):
        return (x.decode() if isinstance(x, bytes) else x).lower()
    return x


def test_fetch_bodystructure(box):
    bs = box.ok("FETCH 1 BODYSTRUCTURE").fetches()[1]["BODYSTRUCTURE"]
    p1, p2, subtype = bs[0], bs[1], bs[2]
    assert _lower(subtype) == "mixed"
    assert _lower(bs[3]) == ["boundary", "xyz"]
    assert _lower(p1[:6]) == ["text", "plain", ["charset", "utf-8"], None, None,
                              "quoted-printable"]
    assert int(p1[6]) == len(PART1_BODY) - 2  # the last CRLF belongs to the boundary
    assert int(p1[7]) in (1, 2)  # lines of a text part (the last has no CRLF of its own)
    assert _lower(p2[:6]) == ["application", "octet-stream", ["name", "data.bin"], None, None,
                              "base64"]
    assert int(p2[6]) == len(B64) - 2
    # The extension data of BODYSTRUCTURE: disposition.
    assert ["attachment", ["filename", "data.bin"]] in _lower(p2[7:])
    # BODY is the same without extension data.
    body = box.ok("FETCH 1 BODY").fetches()[1]["BODY"]
    assert _lower(body[0][:7]) == _lower(p1[:7])
    assert _lower(body[2]) == "mixed" and len(body) == 3


def test_fetch_bodystructure_simple(box):
    bs = box.ok("FETCH 2 BODYSTRUCTURE").fetches()[2]["BODYSTRUCTURE"]
    body_len = len(SIMPLE.split(b"\r\n\r\n", 1)[1])
    assert _lower(bs[:6]) == ["text", "plain", ["charset", "us-ascii"], None, None, "7bit"]
    assert int(bs[6]) == body_len and int(bs[7]) == 2


def test_fetch_body_sections(box):
    f = box.ok("FETCH 1 (BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] "
               "BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[1.MIME])").fetches()[1]
    assert f["BODY[]"] == MULTI
    assert f["BODY[HEADER]"] == HEADER
    assert f["BODY[TEXT]"] == TEXT
    # The CRLF before a boundary belongs to the boundary (RFC 2046 5.1.1).
    assert f["BODY[1]"] == PART1_BODY[:-2]
    assert f["BODY[2]"] == B64[:-2]
    assert f["BODY[2.MIME]"] == PART2_MIME
    assert f["BODY[1.MIME]"].startswith(b"Content-Type: text/plain")


def test_fetch_header_fields(box):
    f = box.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT message-id)] "
               "BODY.PEEK[HEADER.FIELDS.NOT (Subject To Cc From Date Message-ID In-Reply-To)])"
               ).fetches()[1]
    keys = list(f)
    got = f[[k for k in keys if k.startswith("BODY[HEADER.FIELDS (")][0]]
    assert got == (b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= test\r\n"
                   b"Message-ID: <multi1@example.test>\r\n\r\n"), got
    notf = f[[k for k in keys if k.startswith("BODY[HEADER.FIELDS.NOT")][0]]
    assert notf == (b"MIME-Version: 1.0\r\n"
                    b'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n'), notf


def test_fetch_partial(box):
    r = box.ok("FETCH 1 (BODY.PEEK[]<0.10> BODY.PEEK[TEXT]<9.5> BODY.PEEK[1]<1000.10>)")
    f = r.fetches()[1]
    assert f["BODY[]<0>"] == MULTI[:10]
    assert f["BODY[TEXT]<9>"] == TEXT[9:14]
    assert f["BODY[1]<1000>"] == b""
    assert b"BODY[]<0> {10}" in r.untagged[0].raw


def test_fetch_binary(box):
    r = box.ok("FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1] BINARY.SIZE[1])")
    f = r.fetches()[1]
    assert f["BINARY[2]"] == ATTACHMENT
    assert int(f["BINARY.SIZE[2]"]) == len(ATTACHMENT)
    assert f["BINARY[1]"] == "Hello é world\r\nsecond line".encode()
    assert int(f["BINARY.SIZE[1]"]) == len(f["BINARY[1]"])
    # Binary data with NUL bytes must come as literal8.
    assert b"BINARY[2] ~{%d}" % len(ATTACHMENT) in r.untagged[0].raw
    f = box.ok("FETCH 1 BINARY.PEEK[2]<10.20>").fetches()[1]
    assert f["BINARY[2]<10>"] == ATTACHMENT[10:30]


def test_fetch_macros(box):
    f = box.ok("FETCH 2 ALL").fetches()[2]
    assert {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"} <= set(f), f
    f = box.ok("FETCH 2 FAST").fetches()[2]
    assert {"FLAGS", "INTERNALDATE", "RFC822.SIZE"} == set(f), f
    f = box.ok("FETCH 2 FULL").fetches()[2]
    assert {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"} == set(f), f


def test_fetch_rfc822_items(box):
    f = box.ok("FETCH 2 (RFC822.HEADER RFC822.TEXT)").fetches()[2]
    head, text = simple(2).split(b"\r\n\r\n", 1)
    assert f["RFC822.HEADER"] == head + b"\r\n\r\n"
    assert f["RFC822.TEXT"] == text
    # RFC822.TEXT sets \Seen (like BODY[TEXT]); RFC822.HEADER does not.
    assert "\\Seen" in flags_of(box, "2")[2]
    f = box.ok("FETCH 3 RFC822").fetches()[3]
    assert f["RFC822"] == simple(3)
    assert "\\Seen" in flags_of(box, "3")[3]


def test_seen_set_by_body_not_by_peek(box):
    box.ok("FETCH 1:3 (BODY.PEEK[] BODY.PEEK[HEADER] BINARY.PEEK[1])")
    assert not any("\\Seen" in f for f in flags_of(box).values())
    r = box.ok("FETCH 2 BODY[]")
    f = r.fetches()[2]
    assert "\\Seen" in f["FLAGS"], r  # the flag change is reported
    r = box.ok("FETCH 3 BODY[HEADER.FIELDS (SUBJECT)]")
    assert "\\Seen" in r.fetches()[3]["FLAGS"]
    r = box.ok("FETCH 1 BINARY[2]")
    assert "\\Seen" in r.fetches()[1]["FLAGS"]
    assert all("\\Seen" in f for f in flags_of(box).values())


def test_uid_fetch_includes_uid(box):
    r = box.ok("UID FETCH 1:* FLAGS")
    f = r.fetches()
    assert sorted(int(v["UID"]) for v in f.values()) == [1, 2, 3]
    r = box.ok("UID FETCH 2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    assert r.fetches()[2]["UID"] == "2"
    # Nonexistent UIDs are not an error.
    r = box.ok("UID FETCH 100:200 FLAGS")
    assert r.fetches() == {}
    # "*" in a UID range means the largest UID, even above it.
    r = box.ok("UID FETCH 999:* UID")
    assert [v["UID"] for v in r.fetches().values()] == ["3"]


def test_fetch_bad_sequence_numbers(box):
    r = box.cmd("FETCH 4 FLAGS")
    assert r.status in ("BAD", "NO") or r.fetches() == {}, r
    r = box.cmd("FETCH 0 FLAGS")
    assert r.status == "BAD", r
    r = box.cmd("FETCH 1 (FLAGS BOGUS)")
    assert r.status == "BAD", r
    r = box.cmd("FETCH 1 BODY[9]")
    assert r.status in ("OK", "NO", "BAD"), r
    box.ok("NOOP")


def test_fetch_modseq(box):
    f = box.ok("FETCH 1:3 (MODSEQ)").fetches()
    ms = {k: int(v["MODSEQ"][0]) for k, v in f.items()}
    assert all(m > 0 for m in ms.values())
    box.ok("STORE 2 +FLAGS (\\Flagged)")
    f2 = box.ok("FETCH 2 MODSEQ").fetches()[2]
    assert int(f2["MODSEQ"][0]) > max(ms.values())


def test_fetch_with_imaplib(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    append(w, "INBOX", MULTI)
    m = imap_srv.imap(user="alice")
    m.select("INBOX")
    typ, data = m.fetch("1", "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[1])")
    assert typ == "OK"
    literals = [d[1] for d in data if isinstance(d, tuple)]
    assert b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= test\r\n\r\n" in literals
    assert PART1_BODY[:-2] in literals
    typ, data = m.uid("FETCH", "1", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == MULTI


def test_fetch_smtp_delivered_message(imap_srv):
    content = b"From: x@example.net\r\nSubject: via smtp\r\n\r\nbody line\r\n"
    imap_srv.deliver("alice", content)
    [stored] = imap_srv.wait_messages("alice", 1)
    w = imap_srv.imap_wire(user="alice")
    w.ok("SELECT INBOX")
    f = w.ok("FETCH 1 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT])").fetches()[1]
    assert f["BODY[]"] == stored.raw
    assert int(f["RFC822.SIZE"]) == len(stored.raw)
    assert f["BODY[TEXT]"] == b"body line\r\n"


# ----- STORE -----


def test_store_flags(box):
    r = box.ok("STORE 1 +FLAGS (\\Flagged \\Answered)")
    assert {"\\Flagged", "\\Answered"} <= set(r.fetches()[1]["FLAGS"])
    r = box.ok("STORE 1 -FLAGS (\\Answered)")
    fl = set(r.fetches()[1]["FLAGS"])
    assert "\\Flagged" in fl and "\\Answered" not in fl
    r = box.ok("STORE 1 FLAGS (\\Draft)")
    assert set(r.fetches()[1]["FLAGS"]) - {"\\Recent"} == {"\\Draft"}
    r = box.ok("STORE 1:3 +FLAGS.SILENT (\\Seen)")
    assert r.fetches() == {}, r
    assert all("\\Seen" in f for f in flags_of(box).values())
    r = box.ok("STORE 1:* FLAGS.SILENT ()")
    assert r.fetches() == {}
    assert all(not (f - {"\\Recent"}) for f in flags_of(box).values())
    # \Recent cannot be stored.
    assert box.cmd("STORE 1 +FLAGS (\\Recent)").status in ("BAD", "NO")


def test_store_keywords(box):
    r = box.ok("STORE 2 +FLAGS ($Important Work $label1)")
    assert {"$Important", "Work", "$label1"} <= set(r.fetches()[2]["FLAGS"])
    r = box.ok("STORE 2 -FLAGS (work)")  # keywords are case-insensitive
    assert not {"Work", "work"} & set(r.fetches()[2]["FLAGS"]), r
    # Keywords survive a new session and show in FLAGS/PERMANENTFLAGS.
    box.ok("UNSELECT")
    r = box.ok("SELECT INBOX")
    assert {"$Important", "$label1"} <= set(flags_of(box, "2")[2])
    assert box.cmd("STORE 2 +FLAGS (bad\"kw)").status == "BAD"


def test_store_persists_across_sessions(imap_srv, box):
    box.ok("STORE 3 +FLAGS (\\Answered $Done)")
    other = imap_srv.imap_wire(user="alice")
    other.ok("EXAMINE INBOX")
    assert {"\\Answered", "$Done"} <= flags_of(other, "3")[3]


def test_uid_store(box):
    r = box.ok("UID STORE 2:3 +FLAGS (\\Deleted)")
    f = r.fetches()
    assert {v["UID"] for v in f.values()} == {"2", "3"}
    assert all("\\Deleted" in v["FLAGS"] for v in f.values())


def test_store_imaplib(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    append(w, "INBOX", simple(1))
    m = imap_srv.imap(user="alice")
    m.select("INBOX")
    typ, data = m.store("1", "+FLAGS", "(\\Flagged)")
    assert typ == "OK" and b"\\Flagged" in data[0], data
    typ, data = m.uid("STORE", "1", "-FLAGS", "(\\Flagged)")
    assert typ == "OK" and b"\\Flagged" not in data[0], data


def test_store_unchangedsince(box):
    box.ok("ENABLE CONDSTORE")
    f = box.ok("FETCH 1:3 MODSEQ").fetches()
    ms = {k: int(v["MODSEQ"][0]) for k, v in f.items()}
    # Change message 2 after the client's snapshot.
    box.ok("STORE 2 +FLAGS (\\Flagged)")
    snapshot = max(ms.values())
    r = box.ok(f"STORE 1:3 (UNCHANGEDSINCE {snapshot}) +FLAGS (\\Seen)")
    assert r.code == "MODIFIED 2", r
    f = r.fetches()
    assert set(f) == {1, 3}, f
    assert all("MODSEQ" in v for v in f.values())
    fl = flags_of(box)
    assert "\\Seen" in fl[1] and "\\Seen" in fl[3] and "\\Seen" not in fl[2]
    # With a current MODSEQ it succeeds.
    cur = int(box.ok("FETCH 2 MODSEQ").fetches()[2]["MODSEQ"][0])
    r = box.ok(f"STORE 2 (UNCHANGEDSINCE {cur}) -FLAGS (\\Flagged)")
    assert r.code is None or not r.code.startswith("MODIFIED"), r
    assert "\\Flagged" not in flags_of(box, "2")[2]


def test_store_unchangedsince_zero_always_fails(box):
    r = box.ok("UID STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\\Answered)")
    assert r.code == "MODIFIED 1", r
    assert "\\Answered" not in flags_of(box, "1")[1]


# ----- COPY / MOVE -----


def test_copy_with_copyuid(box):
    uidv = int(box.ok("STATUS Archive (UIDVALIDITY)").first("STATUS").split("UIDVALIDITY ")[1]
               .rstrip(")"))
    box.ok("STORE 2 +FLAGS (\\Flagged $kw)")
    r = box.ok("COPY 2:3 Archive")
    code = r.code.split()
    assert code[0] == "COPYUID" and int(code[1]) == uidv, r
    assert code[2] in ("2:3", "2,3") and code[3] in ("1:2", "1,2"), r
    # Originals stay; copies keep their flags.
    assert box.ok("NOOP") and len(flags_of(box)) == 3
    a = box.ok("STATUS Archive (MESSAGES)")
    assert "MESSAGES 2" in a.first("STATUS")
    box.ok("SELECT Archive")
    fl = flags_of(box)
    assert {"\\Flagged", "$kw"} <= fl[1]
    f = box.ok("FETCH 2 BODY.PEEK[]").fetches()[2]
    assert f["BODY[]"] == simple(3)


def test_uid_copy_and_trycreate(box):
    r = box.ok("UID COPY 1,3 Trash")
    code = r.code.split()
    assert code[0] == "COPYUID" and code[2] in ("1,3",), r
    r = box.cmd("COPY 1 NoSuchBox")
    assert r.status == "NO" and r.code == "TRYCREATE", r
    r = box.ok("UID COPY 500:600 Trash")  # no such UIDs: OK, nothing copied


def test_move_with_copyuid_and_expunge(box):
    r = box.ok("MOVE 2 Trash")
    copyuid = [ln for ln in r.lines("OK") if "COPYUID" in ln] or \
        ([r.code] if r.code and r.code.startswith("COPYUID") else [])
    assert copyuid, r
    assert r.lines("EXPUNGE") == ["2 EXPUNGE"], r
    assert len(flags_of(box)) == 2
    r = box.ok("UID MOVE 3 Trash")
    assert r.lines("EXPUNGE") == ["2 EXPUNGE"], r
    st = box.ok("STATUS Trash (MESSAGES)").first("STATUS")
    assert "MESSAGES 2" in st
    box.ok("SELECT Trash")
    subjects = box.ok("FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]").fetches()
    got = sorted(v["BODY[HEADER.FIELDS (SUBJECT)]"] for v in subjects.values())
    assert got == [b"Subject: simple 2\r\n\r\n", b"Subject: simple 3\r\n\r\n"]


def test_move_with_qresync_gives_vanished(box):
    box.ok("ENABLE QRESYNC")
    box.ok("SELECT INBOX")
    r = box.ok("UID MOVE 1:2 Archive")
    assert r.lines("VANISHED") == ["VANISHED 1:2"], r
    assert not r.lines("EXPUNGE")


def test_copy_move_imaplib(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    for i in range(3):
        append(w, "INBOX", simple(i))
    m = imap_srv.imap(user="alice")
    m.select("INBOX")
    typ, data = m.copy("1:2", "Archive")
    assert typ == "OK" and b"COPYUID" in data[0], data
    typ, data = m.uid("MOVE", "3", "Trash")
    assert typ == "OK", data
    typ, data = m.select("INBOX")
    assert data == [b"2"]


# ----- EXPUNGE / CLOSE / UNSELECT -----


def test_expunge_responses(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    for i in range(5):
        append(w, "INBOX", simple(i))
    w.ok("SELECT INBOX")
    w.ok("STORE 2,4,5 +FLAGS.SILENT (\\Deleted)")
    r = w.ok("EXPUNGE")
    # Sequence numbers refer to the state after earlier EXPUNGEs.
    seqs = [int(x.split()[0]) for x in r.lines("EXPUNGE")]
    assert len(seqs) == 3
    remaining = [1, 2, 3, 4, 5]
    for s in seqs:
        del remaining[s - 1]
    assert remaining == [1, 3], seqs
    f = w.ok("FETCH 1:* UID").fetches()
    assert [v["UID"] for v in f.values()] == ["1", "3"]


def test_uid_expunge_only_given_uids(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    for i in range(4):
        append(w, "INBOX", simple(i))
    w.ok("SELECT INBOX")
    w.ok("STORE 1:4 +FLAGS.SILENT (\\Deleted)")
    r = w.ok("UID EXPUNGE 2:3")
    assert len(r.lines("EXPUNGE")) == 2, r
    f = w.ok("UID FETCH 1:* FLAGS").fetches()
    assert sorted(v["UID"] for v in f.values()) == ["1", "4"]
    assert all("\\Deleted" in v["FLAGS"] for v in f.values())


def test_expunge_imaplib(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    for i in range(3):
        append(w, "INBOX", simple(i))
    m = imap_srv.imap(user="alice")
    m.select("INBOX")
    m.store("1", "+FLAGS", "\\Deleted")
    typ, data = m.expunge()
    assert typ == "OK" and data == [b"1"], data
    typ, data = m.uid("EXPUNGE", "3")
    assert typ == "OK"
    typ, data = m.select("INBOX")
    assert data == [b"2"]


def test_close_expunges_deleted(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    for i in range(3):
        append(w, "INBOX", simple(i))
    w.ok("SELECT INBOX")
    w.ok("STORE 2 +FLAGS (\\Deleted)")
    r = w.ok("CLOSE")
    assert not r.lines("EXPUNGE"), r  # CLOSE sends no EXPUNGE responses
    assert w.cmd("FETCH 1 FLAGS").status == "BAD"  # nothing selected
    st = w.ok("STATUS INBOX (MESSAGES)").first("STATUS")
    assert "MESSAGES 2" in st, st


def test_unselect_does_not_expunge(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    for i in range(3):
        append(w, "INBOX", simple(i))
    w.ok("SELECT INBOX")
    w.ok("STORE 2 +FLAGS (\\Deleted)")
    r = w.ok("UNSELECT")
    assert not r.lines("EXPUNGE")
    assert "MESSAGES 3" in w.ok("STATUS INBOX (MESSAGES)").first("STATUS")
    assert w.cmd("UNSELECT").status == "BAD"


def test_close_on_examined_mailbox_does_not_expunge(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    append(w, "INBOX", simple(1), flags="\\Deleted")
    w.ok("EXAMINE INBOX")
    w.ok("CLOSE")
    assert "MESSAGES 1" in w.ok("STATUS INBOX (MESSAGES)").first("STATUS")


def test_close_unselect_imaplib(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    for i in range(2):
        append(w, "INBOX", simple(i), flags="\\Deleted")
    m = imap_srv.imap(user="alice")
    m.select("INBOX")
    typ, _ = m.unselect()
    assert typ == "OK"
    typ, data = m.select("INBOX")
    assert data == [b"2"]
    typ, _ = m.close()
    assert typ == "OK"
    typ, data = m.select("INBOX")
    assert data == [b"0"]


# ----- UIDs -----


def _uids(w):
    return [int(v["UID"]) for v in w.ok("UID FETCH 1:* UID").fetches().values()]


def test_uids_ascending_never_reused(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    for i in range(3):
        imap_srv.deliver("alice", simple(i))
    w.ok("SELECT INBOX")
    assert _uids(w) == [1, 2, 3]
    w.ok("STORE 3 +FLAGS (\\Deleted)")
    w.ok("EXPUNGE")
    imap_srv.deliver("alice", simple(4))
    assert append(w, "INBOX", simple(5)) == 5
    w.ok("NOOP")
    assert _uids(w) == [1, 2, 4, 5]
    # Moving a message out and back gives it a new UID.
    w.ok("UID MOVE 1 Archive")
    w.ok("SELECT Archive")
    w.ok("MOVE 1 INBOX")
    w.ok("SELECT INBOX")
    assert _uids(w) == [2, 4, 5, 6]


def test_uids_and_uidvalidity_survive_restart(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    for i in range(3):
        append(w, "INBOX", simple(i))
    w.ok("SELECT INBOX")
    w.ok("STORE 3 +FLAGS (\\Deleted)")
    w.ok("EXPUNGE")
    before = w.ok("STATUS INBOX (UIDVALIDITY UIDNEXT HIGHESTMODSEQ)").first("STATUS")
    w.close()
    imap_srv.restart()
    w = imap_srv.imap_wire(user="alice")
    after = w.ok("STATUS INBOX (UIDVALIDITY UIDNEXT HIGHESTMODSEQ)").first("STATUS")
    assert before == after, (before, after)
    assert append(w, "INBOX", simple(9)) == 4
    imap_srv.deliver("alice", simple(10))
    w.ok("SELECT INBOX")
    assert _uids(w) == [1, 2, 4, 5]


def test_uids_after_kill9(imap_srv):
    for i in range(3):
        imap_srv.deliver("alice", simple(i))
    imap_srv.kill9()
    imap_srv.start()
    imap_srv.deliver("alice", simple(3))
    w = imap_srv.imap_wire(user="alice")
    w.ok("SELECT INBOX")
    assert _uids(w) == [1, 2, 3, 4]


# ----- large responses -----


def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


BIG = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 1000  # about 1 MB


def test_fetch_many_large_bodies(imap_srv):
    w = imap_srv.imap_wire(user="alice", timeout=60)
    for _ in range(20):
        w.ok(b"APPEND INBOX {%d+}\r\n" % len(BIG) + BIG)
    w.ok("SELECT INBOX")
    r = w.ok("FETCH 1:* BODY.PEEK[]", timeout=60)
    f = r.fetches()
    assert len(f) == 20 and all(v["BODY[]"] == BIG for v in f.values())


def _big_inbox_and_slow_reader(imap_srv, count):
    """count 1 MB messages in alice's INBOX; returns (a normal session, a
    session with a small receive window that has INBOX selected)."""
    w = imap_srv.imap_wire(user="alice", timeout=60)
    for _ in range(count):
        w.ok(b"APPEND INBOX {%d+}\r\n" % len(BIG) + BIG)
    slow = imap_srv.imap_wire(user="alice", timeout=60, rcvbuf=4096)
    slow.ok("SELECT INBOX")
    return w, slow


def test_fetch_output_is_bounded_for_a_slow_reader(imap_srv):
    _, slow = _big_inbox_and_slow_reader(imap_srv, 40)
    pid = imap_srv.proc.pid
    before = _rss_kb(pid)
    slow.send(b"f1 FETCH 1:* BODY.PEEK[]\r\n")
    time.sleep(2)
    grown = _rss_kb(pid) - before
    slow.close()
    assert grown < 16_000, f"server RSS grew by {grown} kB for one unread FETCH"


def test_suspended_fetch_completes_and_pipelined_commands_follow(imap_srv):
    """A FETCH that stops for a slow reader goes on where it stopped: every
    message exactly once, in order, then the pipelined NOOP's reply."""
    _, slow = _big_inbox_and_slow_reader(imap_srv, 12)
    slow.send(b"f1 FETCH 1:* (UID BODY[])\r\nn1 NOOP\r\n")
    time.sleep(1)  # the server stops writing meanwhile
    r = slow.read_tagged("f1", timeout=60)
    assert r.ok, r
    f = r.fetches()
    assert sorted(f) == list(range(1, 13))
    assert all(v["BODY[]"] == BIG for v in f.values())
    # BODY[] (not PEEK) set \Seen on each, announced in the same responses.
    assert all("\\Seen" in v["FLAGS"] for v in f.values()), f[1]["FLAGS"]
    assert slow.read_tagged("n1", timeout=30).ok


def test_suspended_fetch_does_not_block_other_sessions(imap_srv):
    """While one client's FETCH waits for it to read, the index is not
    locked: another session can store flags and append."""
    w, slow = _big_inbox_and_slow_reader(imap_srv, 12)
    slow.send(b"f1 FETCH 1:* BODY[]\r\n")
    time.sleep(0.5)
    t0 = time.monotonic()
    w.ok("SELECT INBOX")
    w.ok("STORE 12 +FLAGS (\\Flagged)", timeout=5)
    w.ok(b"APPEND INBOX {5+}\r\nhello", timeout=5)
    assert time.monotonic() - t0 < 5
    r = slow.read_tagged("f1", timeout=60)
    assert r.ok and len(r.fetches()) == 12
    # The new message is announced after the FETCH responses, not among them.
    raws = [u.raw for u in r.untagged] + [u.raw for u in slow.ok("NOOP").untagged]
    exists = [i for i, x in enumerate(raws) if x == b"* 13 EXISTS"]
    bodies = [i for i, x in enumerate(raws) if b"BODY[] {" in x]
    assert len(bodies) == 12
    assert exists and exists[0] > bodies[-1], [x[:40] for x in raws if b"BODY[] {" not in x]


def test_binary_append_then_body_has_no_nul_in_plain_literal(imap_srv):
    # Fixed: binary content with NUL is stored as base64 (imap_binary_convert.h);
    # more in test_imap_conformance_fixes.py.
    w = imap_srv.imap_wire(user="alice")
    data = (b"Subject: bin\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\n\x00\x01\x02\xff\r\n")
    r = w.cmd(b"APPEND INBOX ~{%d+}\r\n" % len(data) + data)
    if not r.ok:
        return  # refusing binary content is a valid answer
    w.ok("SELECT INBOX")
    f = w.ok("FETCH 1 BINARY.PEEK[1]").fetches()[1]
    assert f["BINARY[1]"] == b"\x00\x01\x02\xff\r\n", f  # the whole body
    r = w.ok("FETCH 1 BODY.PEEK[]")
    raw = r.untagged[0].raw
    m = re.search(rb"BODY\[\] (~?)\{(\d+)\}\r\n", raw)
    assert m, raw
    content = raw[m.end():m.end() + int(m.group(2))]
    assert m.group(1) == b"~" or b"\x00" not in content, raw
