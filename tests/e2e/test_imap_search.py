"""SEARCH, SORT and THREAD end to end (RFC 9051 6.4.4, RFC 4731 ESEARCH,
RFC 5182 SEARCHRES, RFC 5256 SORT/THREAD, RFC 5957 DISPLAYFROM, RFC 7162
MODSEQ): a real server, messages APPENDed with flags and internal dates,
every search key, the response forms, errors, the structure cache, and a
10,000-message mailbox where index-only searches must not read a file.

The IMAP client is the conftest's raw one (imap_wire) so that responses
are checked exactly as sent; UTF-8 search strings go as LITERAL+
literals."""

import os
import re
import time

import pytest

from conftest import PASSWORD

pytestmark = pytest.mark.postane_config(auth={"plaintext_loopback": "yes"},
                                        server={"log_level": "debug"})

USER = "alice@example.test"


class Session:
    """The conftest's raw client (imapwire.IMAPWire) with the calls these
    tests make: cmd(*parts) -> (status, text, [untagged raw lines]),
    ok(*parts) -> [untagged raw lines], last_tag."""

    def __init__(self, wire):
        self.w = wire
        self.last_tag = None

    def close(self):
        self.w.close()

    def cmd(self, *parts):
        text = b" ".join(p if isinstance(p, bytes) else p.encode() for p in parts)
        r = self.w.cmd(text, timeout=300)
        self.last_tag = r.tagged.tag
        return r.status, r.text, [u.raw for u in r.untagged]

    def ok(self, *parts):
        status, text, untagged = self.cmd(*parts)
        assert status == "OK", (parts, status, text, untagged)
        return untagged


def lit(s):
    """A LITERAL+ literal holding s (UTF-8)."""
    b = s.encode() if isinstance(s, str) else s
    return b"{%d+}\r\n" % len(b) + b


def numbers(untagged, name):
    """The numbers of the one '* NAME ...' response (MODSEQ part apart)."""
    lines = [u for u in untagged if u == b"* " + name.encode() or
             u.startswith(b"* " + name.encode() + b" ")]
    assert len(lines) == 1, untagged
    text = lines[0][len(name) + 2:].decode()
    text = re.sub(r"\s*\(MODSEQ \d+\)$", "", text)
    return [int(x) for x in text.split()]


def esearch(untagged):
    lines = [u.decode() for u in untagged if u.startswith(b"* ESEARCH")]
    assert len(lines) == 1, untagged
    return lines[0]


def connect(srv, user=USER):
    return Session(srv.imap_wire(user, PASSWORD, timeout=300))


# ----- the test mailbox -----

def msg(headers, body, extra=b""):
    h = b"".join(k.encode() + b": " + (v if isinstance(v, bytes) else v.encode()) + b"\r\n"
                 for k, v in headers)
    return h + extra + b"\r\n" + body


LOREM = b"lorem ipsum dolor sit amet " * 200 + b"\r\n"

MESSAGES = [
    # 1
    (r"(\Seen)", "01-Jan-2024 12:00:00 +0000", msg(
        [("From", "Alice Anderson <alice@example.test>"), ("To", "Bob <bob@example.test>"),
         ("Cc", "carol@example.test"), ("Subject", "Project kickoff"),
         ("Date", "Mon, 01 Jan 2024 09:00:00 +0000"), ("Message-ID", "<m1@example.test>")],
        b"Let's start the project on Monday.\r\n")),
    # 2
    (r"(\Seen \Answered)", "02-Jan-2024 12:00:00 +0000", msg(
        [("From", "Zed Bob <bob@example.test>"), ("To", "Alice Anderson <alice@example.test>"),
         ("Subject", "Re: Project kickoff"), ("Date", "Tue, 02 Jan 2024 10:00:00 +0000"),
         ("Message-ID", "<m2@example.test>"), ("In-Reply-To", "<m1@example.test>"),
         ("References", "<m1@example.test>"), ("MIME-Version", "1.0"),
         ("Content-Type", "text/plain; charset=iso-8859-1"),
         ("Content-Transfer-Encoding", "quoted-printable")],
        b"Sounds good. Gr=FC=DFe!\r\n")),
    # 3
    (r"(\Flagged $Work)", "10-Jan-2024 12:00:00 +0000", msg(
        [("From", "=?utf-8?q?J=C3=BCrgen_Schmidt?= <juergen@example.test>"),
         ("To", "Alice Anderson <alice@example.test>"), ("Bcc", "secret@example.test"),
         ("Subject", "=?utf-8?q?R=C3=A9sum=C3=A9?= draft"),
         ("Date", "Wed, 03 Jan 2024 23:30:00 -0500"), ("Message-ID", "<m3@example.test>"),
         ("MIME-Version", "1.0"), ("Content-Type", 'multipart/mixed; boundary="b1"')],
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"RGFzIERva3VtZW50IGlzdCBmZXJ0aWc6IFrDvHJpY2g=\r\n"
        b"--b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"cGRmc2VjcmV0d29yZA==\r\n--b1--\r\n")),
    # 4
    ("()", "05-Jan-2024 12:00:00 +0000", msg(
        [("From", "carol@example.test"), ("To", "Alice Anderson <alice@example.test>"),
         ("Cc", "Bob <bob@example.test>"), ("Subject", "Re: Project kickoff"),
         ("Date", "Thu, 04 Jan 2024 08:00:00 +0000"), ("Message-ID", "<m4@example.test>"),
         ("References", "<m1@example.test>\r\n <m2@example.test>"),
         ("X-Mailer", "TestMailer 1.0")],
        b"I have a question about the budget.\r\n")),
    # 5
    (r"(\Deleted)", "06-Jan-2024 12:00:00 +0000", msg(
        [("From", "Dave <dave@example.test>"), ("To", "team@example.test"),
         ("Subject", "Lunch?"), ("Date", "Fri, 05 Jan 2024 12:00:00 +0000"),
         ("Message-ID", "<m5@example.test>")],
        LOREM)),
    # 6: no Date, no Message-ID
    (r"(\Draft)", "08-Jan-2024 12:00:00 +0000", msg(
        [("From", "eve@example.test"), ("Subject", "[list] Fwd: Lunch?")],
        b"Forwarding the lunch invite\r\n")),
    # 7
    (r"(\Seen $Work)", "07-Jan-2024 12:00:00 +0000", msg(
        [("From", "Alice Anderson <alice@example.test>"), ("To", "Dave <dave@example.test>"),
         ("Subject", "Re: Lunch?"), ("In-Reply-To", "<m5@example.test>"),
         ("Date", "Sat, 06 Jan 2024 09:00:00 +0000"), ("Message-ID", "<m7@example.test>")],
        b"Yes!\r\n")),
]


def fill(c):
    for flags, date, data in MESSAGES:
        c.ok("APPEND", "INBOX", flags, '"%s"' % date, lit(data))


@pytest.fixture
def mbox(srv):
    c = connect(srv)
    fill(c)
    c.ok("SELECT", "INBOX")
    yield c
    c.close()


def search(c, *criteria, uid=False):
    untagged = c.ok(*((["UID"] if uid else []) + ["SEARCH"] + list(criteria)))
    return numbers(untagged, "SEARCH")


# ----- SEARCH keys -----

def test_flags_and_sets(mbox):
    c = mbox
    assert search(c, "ALL") == [1, 2, 3, 4, 5, 6, 7]
    assert search(c, "SEEN") == [1, 2, 7]
    assert search(c, "UNSEEN") == [3, 4, 5, 6]
    assert search(c, "FLAGGED") == [3]
    assert search(c, "UNFLAGGED") == [1, 2, 4, 5, 6, 7]
    assert search(c, "ANSWERED") == [2]
    assert search(c, "UNANSWERED") == [1, 3, 4, 5, 6, 7]
    assert search(c, "DELETED") == [5]
    assert search(c, "UNDELETED") == [1, 2, 3, 4, 6, 7]
    assert search(c, "DRAFT") == [6]
    assert search(c, "UNDRAFT") == [1, 2, 3, 4, 5, 7]
    assert search(c, "KEYWORD", "$Work") == [3, 7]
    assert search(c, "KEYWORD", "$work") == [3, 7]
    assert search(c, "UNKEYWORD", "$Work") == [1, 2, 4, 5, 6]
    assert search(c, "KEYWORD", "Nothing") == []
    # sequence and UID sets, '*'
    assert search(c, "2:4") == [2, 3, 4]
    assert search(c, "5:*") == [5, 6, 7]
    assert search(c, "*") == [7]
    assert search(c, "1,3,6:7") == [1, 3, 6, 7]
    assert search(c, "UID", "3:5") == [3, 4, 5]
    assert search(c, "UID", "6:*") == [6, 7]
    assert search(c, "UID", "100:*") == [7]
    assert search(c, "UID", "100:200") == []
    # sizes
    assert search(c, "LARGER", "3000") == [5]
    assert search(c, "SMALLER", "3000") == [1, 2, 3, 4, 6, 7]
    # logic
    assert search(c, "OR", "FLAGGED", "DELETED") == [3, 5]
    assert search(c, "SEEN", "UNANSWERED") == [1, 7]
    assert search(c, "NOT", "SEEN") == [3, 4, 5, 6]
    assert search(c, "NOT", "(SEEN", "UNANSWERED)") == [2, 3, 4, 5, 6]
    assert search(c, "OR", "(SEEN", "KEYWORD", "$Work)", "DRAFT") == [6, 7]
    assert search(c, "(OR", "1", "2)", "(OR", "2", "3)") == [2]
    assert search(c, "NOT", "NOT", "1:2") == [1, 2]
    # IMAP4rev1 session: \Recent for this first session, NEW = RECENT UNSEEN
    assert search(c, "RECENT") == [1, 2, 3, 4, 5, 6, 7]
    assert search(c, "NEW") == [3, 4, 5, 6]
    assert search(c, "OLD") == []


def test_dates(mbox):
    c = mbox
    # INTERNALDATE (noon UTC, the same day in any zone within 11 hours)
    assert search(c, "BEFORE", "03-Jan-2024") == [1, 2]
    assert search(c, "ON", "05-Jan-2024") == [4]
    assert search(c, "ON", "5-Jan-2024") == [4]
    assert search(c, "SINCE", "07-Jan-2024") == [3, 6, 7]
    assert search(c, "SINCE", "1-Jan-2025") == []
    # Date: header in its own zone; without one, the internal date
    assert search(c, "SENTBEFORE", "03-Jan-2024") == [1, 2]
    assert search(c, "SENTON", "03-Jan-2024") == [3]
    assert search(c, "SENTON", "04-Jan-2024") == [4]
    assert search(c, "SENTON", "08-Jan-2024") == [6]
    assert search(c, "SENTSINCE", "05-Jan-2024") == [5, 6, 7]
    assert search(c, "SENTSINCE", '"05-Jan-2024"', "SENTBEFORE", "06-Jan-2024") == [5]


def test_header_keys(mbox):
    c = mbox
    assert search(c, "FROM", "alice") == [1, 7]
    assert search(c, "FROM", "\"ALICE ANDERSON\"") == [1, 7]
    assert search(c, "FROM", "juergen") == [3]
    assert search(c, "CHARSET", "UTF-8", "FROM", lit("jürgen")) == [3]
    assert search(c, "CHARSET", "UTF-8", "FROM", lit("JÜRGEN SCHMIDT")) == [3]
    assert search(c, "FROM", "J=C3=BCrgen") == []
    assert search(c, "TO", "bob") == [1]
    assert search(c, "TO", "alice@example.test") == [2, 3, 4]
    assert search(c, "CC", "bob") == [4]
    assert search(c, "CC", "carol") == [1]
    assert search(c, "BCC", "secret") == [3]
    assert search(c, "SUBJECT", '"project kickoff"') == [1, 2, 4]
    assert search(c, "SUBJECT", "re:") == [2, 4, 7]
    assert search(c, "CHARSET", "UTF-8", "SUBJECT", lit("résumé")) == [3]
    assert search(c, "CHARSET", "UTF-8", "SUBJECT", lit("RÉSUMÉ DRAFT")) == [3]
    assert search(c, "SUBJECT", "lunch") == [5, 6, 7]
    assert search(c, "NOT", "FROM", "alice") == [2, 3, 4, 5, 6]
    assert search(c, "OR", "FROM", "dave", "TO", "dave") == [5, 7]
    # HEADER: substring of the field, "" for "has the field"
    assert search(c, "HEADER", "X-Mailer", "testmailer") == [4]
    assert search(c, "HEADER", "x-mailer", '""') == [4]
    assert search(c, "HEADER", "Message-ID", "m5@") == [5]
    assert search(c, "HEADER", "Message-ID", '""') == [1, 2, 3, 4, 5, 7]
    assert search(c, "HEADER", "In-Reply-To", '""') == [2, 7]
    assert search(c, "HEADER", "References", "m2@example") == [4]
    assert search(c, "HEADER", "Content-Transfer-Encoding", "quoted") == [2]
    assert search(c, "HEADER", "Date", "2024") == [1, 2, 3, 4, 5, 7]
    assert search(c, "HEADER", "Subject", "lunch") == [5, 6, 7]


def test_body_and_text(mbox):
    c = mbox
    # quoted-printable ISO-8859-1, base64 UTF-8, plain 7bit
    assert search(c, "CHARSET", "UTF-8", "BODY", lit("grüße")) == [2]
    assert search(c, "CHARSET", "UTF-8", "BODY", lit("ZÜRICH")) == [3]
    assert search(c, "BODY", "budget") == [4]
    assert search(c, "BODY", "monday") == [1]
    assert search(c, "BODY", "Gr=FC") == []
    # an attachment is not text; headers are not body
    assert search(c, "BODY", "pdfsecretword") == []
    assert search(c, "TEXT", "pdfsecretword") == []
    assert search(c, "BODY", "kickoff") == []
    # TEXT: headers and body
    assert search(c, "TEXT", "kickoff") == [1, 2, 4]
    assert search(c, "TEXT", "juergen") == [3]
    assert search(c, "TEXT", "lunch") == [5, 6, 7]
    assert search(c, "TEXT", '"x-mailer: testmailer"') == [4]
    # cheap keys and body keys together
    assert search(c, "SEEN", "BODY", "good") == [2]
    assert search(c, "OR", "FROM", "dave", "BODY", "budget") == [4, 5]
    assert search(c, "NOT", "BODY", "lorem", "SMALLER", "5000") == [1, 2, 3, 4, 6, 7]


def test_uid_search_after_expunge(mbox):
    c = mbox
    c.ok("EXPUNGE")  # message 5 (\Deleted)
    assert search(c, "ALL") == [1, 2, 3, 4, 5, 6]
    assert search(c, "ALL", uid=True) == [1, 2, 3, 4, 6, 7]
    assert search(c, "SUBJECT", "lunch") == [5, 6]
    assert search(c, "SUBJECT", "lunch", uid=True) == [6, 7]
    assert search(c, "5:*", uid=True) == [6, 7]
    assert search(c, "UID", "5:*") == [5, 6]
    assert search(c, "UID", "5") == []
    assert search(c, "*", uid=True) == [7]
    untagged = c.ok("UID", "SEARCH", "RETURN", "(ALL)", "SUBJECT", "lunch")
    assert esearch(untagged) == '* ESEARCH (TAG "%s") UID ALL 6:7' % c.last_tag


# ----- response forms -----

def test_esearch(mbox):
    c = mbox
    u = c.ok("SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "SUBJECT", "lunch")
    assert esearch(u) == '* ESEARCH (TAG "%s") MIN 5 MAX 7 COUNT 3 ALL 5:7' % c.last_tag
    assert not any(x.startswith(b"* SEARCH") for x in u)
    u = c.ok("SEARCH", "RETURN", "()", "OR", "1", "3:4")
    assert esearch(u) == '* ESEARCH (TAG "%s") ALL 1,3:4' % c.last_tag
    u = c.ok("SEARCH", "RETURN", "(COUNT)", "KEYWORD", "Nothing")
    assert esearch(u) == '* ESEARCH (TAG "%s") COUNT 0' % c.last_tag
    u = c.ok("SEARCH", "RETURN", "(MIN MAX ALL)", "KEYWORD", "Nothing")
    assert esearch(u) == '* ESEARCH (TAG "%s")' % c.last_tag
    u = c.ok("UID", "SEARCH", "RETURN", "(MAX)", "SEEN")
    assert esearch(u) == '* ESEARCH (TAG "%s") UID MAX 7' % c.last_tag
    u = c.ok("SEARCH", "RETURN", "(PARTIAL 2:3)", "ALL")
    assert esearch(u) == '* ESEARCH (TAG "%s") PARTIAL (2:3 2:3)' % c.last_tag
    u = c.ok("SEARCH", "RETURN", "(PARTIAL -1:-2)", "ALL")
    assert esearch(u) == '* ESEARCH (TAG "%s") PARTIAL (-1:-2 6:7)' % c.last_tag
    u = c.ok("SEARCH", "RETURN", "(PARTIAL 10:20)", "ALL")
    assert esearch(u) == '* ESEARCH (TAG "%s") PARTIAL (10:20 NIL)' % c.last_tag


def test_searchres(mbox):
    c = mbox
    # SAVE alone: no ESEARCH response
    u = c.ok("SEARCH", "RETURN", "(SAVE)", "KEYWORD", "$Work")
    assert u == []
    fetched = c.ok("FETCH", "$", "(UID)")
    assert [re.match(rb"\* (\d+) FETCH", f).group(1) for f in fetched] == [b"3", b"7"]
    assert search(c, "$") == [3, 7]
    assert search(c, "NOT", "$") == [1, 2, 4, 5, 6]
    assert search(c, "$", uid=True) == [3, 7]
    assert search(c, "UID", "$", "SEEN") == [7]
    # SAVE with MIN only keeps the minimum; the ESEARCH answer still comes
    u = c.ok("UID", "SEARCH", "RETURN", "(SAVE MIN)", "UNSEEN")
    assert esearch(u) == '* ESEARCH (TAG "%s") UID MIN 3' % c.last_tag
    assert search(c, "$") == [3]
    # SAVE with ALL keeps everything; the saved result is UIDs
    c.ok("SEARCH", "RETURN", "(SAVE ALL)", "SUBJECT", "lunch")
    c.ok("EXPUNGE")  # message 5 goes: its UID drops out of $
    assert search(c, "$") == [5, 6]
    assert search(c, "$", uid=True) == [6, 7]
    # a failing search (BAD) leaves $ alone
    status, _, _ = c.cmd("SEARCH", "RETURN", "(SAVE)", "NOSUCHKEY")
    assert status == "BAD"
    assert search(c, "$", uid=True) == [6, 7]


def test_rev2_esearch(srv):
    c = connect(srv)
    fill(c)
    c.ok("ENABLE", "IMAP4rev2")
    c.ok("SELECT", "INBOX")
    u = c.ok("SEARCH", "FLAGGED")
    assert esearch(u) == '* ESEARCH (TAG "%s") ALL 3' % c.last_tag
    assert not any(x.startswith(b"* SEARCH") for x in u)
    u = c.ok("UID", "SEARCH", "KEYWORD", "Nothing")
    assert esearch(u) == '* ESEARCH (TAG "%s") UID' % c.last_tag
    # no \Recent in IMAP4rev2
    u = c.ok("SEARCH", "RETURN", "(COUNT)", "RECENT")
    assert esearch(u).endswith("COUNT 0")
    # UTF-8 quoted strings are allowed after ENABLE IMAP4rev2
    u = c.ok("SEARCH", "FROM", '"jürgen"'.encode())
    assert esearch(u).endswith("ALL 3")
    # SORT keeps its own response
    u = c.ok("SORT", "(REVERSE ARRIVAL)", "UTF-8", "SEEN")
    assert numbers(u, "SORT") == [7, 2, 1]
    c.close()


def test_condstore_modseq(mbox):
    c = mbox
    u = c.ok("SEARCH", "MODSEQ", "1")
    line = [x for x in u if x.startswith(b"* SEARCH")][0].decode()
    m = re.fullmatch(r"\* SEARCH 1 2 3 4 5 6 7 \(MODSEQ (\d+)\)", line)
    assert m, line
    high = int(m.group(1))
    # MODSEQ enabled CONDSTORE: the STORE answer carries the new MODSEQ
    u = c.ok("STORE", "2", "+FLAGS", r"(\Flagged)")
    m = re.search(rb"MODSEQ \((\d+)\)", u[0])
    assert m, u
    new = int(m.group(1))
    assert new > high
    u = c.ok("SEARCH", "MODSEQ", str(new))
    assert u == [b"* SEARCH 2 (MODSEQ %d)" % new]
    u = c.ok("SEARCH", "MODSEQ", '"/flags/\\\\Flagged"', "all", str(new))
    assert u == [b"* SEARCH 2 (MODSEQ %d)" % new]
    u = c.ok("SEARCH", "MODSEQ", str(new + 1))
    assert u == [b"* SEARCH"]
    u = c.ok("UID", "SEARCH", "RETURN", "(COUNT ALL)", "MODSEQ", str(new))
    assert esearch(u) == '* ESEARCH (TAG "%s") UID COUNT 1 ALL 2 MODSEQ %d' % (c.last_tag, new)
    u = c.ok("SORT", "(SUBJECT)", "UTF-8", "MODSEQ", str(new))
    assert u == [b"* SORT 2 (MODSEQ %d)" % new]


def test_charsets_and_errors(mbox):
    c = mbox
    status, text, _ = c.cmd("SEARCH", "CHARSET", "KOI8-R", "ALL")
    assert status == "NO" and text.startswith("[BADCHARSET (US-ASCII UTF-8)]"), text
    status, text, _ = c.cmd("SORT", "(DATE)", "ISO-8859-1", "ALL")
    assert status == "NO" and "[BADCHARSET" in text
    assert search(c, "CHARSET", "US-ASCII", "FROM", "alice") == [1, 7]
    assert search(c, "CHARSET", "utf-8", "FROM", "alice") == [1, 7]
    for args, why in [
        (["SEARCH", "NOSUCHKEY"], "Unknown search key"),
        (["SEARCH"], "Missing search key"),
        (["SEARCH", "BEFORE", "notadate"], ""),
        (["SEARCH", "LARGER", "x"], "Invalid number"),
        (["SEARCH", "UID", "1:x"], ""),
        (["SEARCH", "OR", "SEEN"], "Missing search key"),
        (["SORT", "(NOSUCH)", "UTF-8", "ALL"], "Invalid sort criterion"),
        (["THREAD", "NOSUCH", "UTF-8", "ALL"], "Unknown threading algorithm"),
        (["SEARCH", "RETURN", "(FOO)", "ALL"], "Unknown RETURN option"),
    ]:
        status, text, untagged = c.cmd(*args)
        assert status == "BAD", (args, status, text)
        assert why in text, (args, text)
        assert not any(u.startswith((b"* SEARCH", b"* SORT", b"* THREAD", b"* ESEARCH"))
                       for u in untagged)
    # still usable afterwards
    assert search(c, "FLAGGED") == [3]


def test_needs_selected_mailbox(srv):
    c = connect(srv)
    status, _, _ = c.cmd("SEARCH", "ALL")
    assert status == "BAD"
    c.ok("SELECT", "Drafts")
    assert search(c, "ALL") == []
    u = c.ok("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
    assert esearch(u) == '* ESEARCH (TAG "%s") COUNT 0' % c.last_tag
    assert c.ok("SORT", "(DATE)", "UTF-8", "ALL") == [b"* SORT"]
    assert c.ok("THREAD", "REFERENCES", "UTF-8", "ALL") == [b"* THREAD"]
    assert search(c, "UID", "1:*") == []
    assert search(c, "*") == []
    c.close()


# ----- SORT -----

def sort(c, criteria, *search_keys, uid=False):
    untagged = c.ok(*((["UID"] if uid else []) + ["SORT", criteria, "UTF-8"] +
                      (list(search_keys) or ["ALL"])))
    return numbers(untagged, "SORT")


def test_sort(mbox):
    c = mbox
    assert sort(c, "(ARRIVAL)") == [1, 2, 4, 5, 7, 6, 3]
    assert sort(c, "(REVERSE ARRIVAL)") == [3, 6, 7, 5, 4, 2, 1]
    assert sort(c, "(DATE)") == [1, 2, 3, 4, 5, 7, 6]
    assert sort(c, "(REVERSE DATE)") == [6, 7, 5, 4, 3, 2, 1]
    assert sort(c, "(SUBJECT)") == [5, 6, 7, 1, 2, 4, 3]
    assert sort(c, "(SUBJECT REVERSE DATE)") == [6, 7, 5, 4, 2, 1, 3]
    assert sort(c, "(FROM)") == [1, 7, 2, 4, 5, 6, 3]
    assert sort(c, "(TO)") == [6, 2, 3, 4, 1, 7, 5]
    assert sort(c, "(CC)") == [2, 3, 5, 6, 7, 4, 1]
    assert sort(c, "(REVERSE CC)") == [1, 4, 2, 3, 5, 6, 7]
    assert sort(c, "(DISPLAYFROM)") == [1, 7, 4, 5, 6, 3, 2]
    assert sort(c, "(DISPLAYTO)") == [6, 2, 3, 4, 1, 7, 5]
    assert sort(c, "(FROM REVERSE DATE)") == [7, 1, 2, 4, 5, 6, 3]
    # SIZE against RFC822.SIZE as FETCH reports it
    sizes = {}
    for line in c.ok("FETCH", "1:*", "(RFC822.SIZE)"):
        m = re.match(rb"\* (\d+) FETCH \(RFC822.SIZE (\d+)\)", line)
        sizes[int(m.group(1))] = int(m.group(2))
    assert sort(c, "(SIZE)") == sorted(sizes, key=lambda k: (sizes[k], k))
    assert sort(c, "(REVERSE SIZE)") == sorted(sizes, key=lambda k: (-sizes[k], k))
    # with search criteria
    assert sort(c, "(REVERSE ARRIVAL)", "SEEN") == [7, 2, 1]
    assert sort(c, "(SUBJECT)", "OR", "FLAGGED", "FROM", "alice") == [7, 1, 3]
    assert sort(c, "(DATE)", "BODY", "lunch") == [6]
    assert sort(c, "(DATE)", "KEYWORD", "Nothing") == []
    # UID SORT returns UIDs
    c.ok("EXPUNGE")
    assert sort(c, "(SUBJECT)") == [5, 6, 1, 2, 4, 3]
    assert sort(c, "(SUBJECT)", uid=True) == [6, 7, 1, 2, 4, 3]
    # ESORT-style RETURN
    u = c.ok("UID", "SORT", "RETURN", "(MIN MAX COUNT ALL)", "(SUBJECT)", "UTF-8", "ALL")
    assert esearch(u) == ('* ESEARCH (TAG "%s") UID MIN 6 MAX 3 COUNT 6 ALL 6:7,1:2,4,3'
                          % c.last_tag)


def test_sort_uses_cache(mbox, srv):
    c = mbox
    first = sort(c, "(SUBJECT)")
    srv.wait_log(r"SORT: 7 of 7 message\(s\) match; 0 digest\(s\) cached, 7 computed, "
                 r"7 file\(s\) read")
    rows = srv.db_query("SELECT count(*) FROM cache WHERE field = 'search.2'")
    assert rows[0][0] == 7
    assert sort(c, "(SUBJECT)") == first
    srv.wait_log(r"SORT: 7 of 7 message\(s\) match; 7 digest\(s\) cached, 0 computed, "
                 r"0 file\(s\) read")
    # header searches use the digests too; a body search reads files
    assert search(c, "FROM", "alice") == [1, 7]
    srv.wait_log(r"SEARCH: 2 of 7 message\(s\) match; 7 digest\(s\) cached, 0 computed, "
                 r"0 file\(s\) read")
    # copies sort the same (from the cache once computed there too)
    c.ok("CREATE", "Copies")
    c.ok("COPY", "1:*", "Copies")
    c.ok("SELECT", "Copies")
    assert sort(c, "(SUBJECT)") == first
    assert sort(c, "(SUBJECT)") == first
    wait_count(srv, r"SORT: 7 of 7 message\(s\) match; 7 digest\(s\) cached, 0 computed, "
               r"0 file\(s\) read", 2)


def wait_count(srv, pattern, n, timeout=10.0):
    deadline = time.monotonic() + timeout
    while len(re.findall(pattern, srv.log())) < n:
        assert time.monotonic() < deadline, (pattern, n, srv.log()[-3000:])
        time.sleep(0.05)


# ----- THREAD -----

def thread(c, algorithm, *search_keys, uid=False):
    untagged = c.ok(*((["UID"] if uid else []) + ["THREAD", algorithm, "UTF-8"] +
                      (list(search_keys) or ["ALL"])))
    lines = [u.decode() for u in untagged if u.startswith(b"* THREAD")]
    assert len(lines) == 1, untagged
    return lines[0][len("* THREAD"):].strip()


def test_thread(mbox):
    c = mbox
    # 1 <- 2 <- 4 by References; 7 replies to 5; 6 ("Fwd: Lunch?") joins 5
    # by subject; 3 stands alone
    assert thread(c, "REFERENCES") == "(1 2 4)(3)(5 (7)(6))"
    assert thread(c, "ORDEREDSUBJECT") == "(1 (2)(4))(3)(5 (7)(6))"
    assert thread(c, "REFERENCES", "SUBJECT", "lunch") == "(5 (7)(6))"
    assert thread(c, "REFERENCES", "NOT", "2") == "(1 4)(3)(5 (7)(6))"
    assert thread(c, "ORDEREDSUBJECT", "SEEN") == "(1 2)(7)"
    assert thread(c, "REFERENCES", "KEYWORD", "Nothing") == ""
    # without 5, 7 ("Re: Lunch?") and 6 ("Fwd: Lunch?") are two replies of
    # one subject: gathered under a dummy
    c.ok("EXPUNGE")
    assert thread(c, "REFERENCES") == "(1 2 4)(3)((6)(5))"
    assert thread(c, "REFERENCES", uid=True) == "(1 2 4)(3)((7)(6))"


def test_thread_references_loops_and_dups(srv):
    """Messages whose References loop, repeat Message-IDs or point at
    messages that are not there."""
    c = connect(srv)
    c.ok("CREATE", "Loops")
    mails = [
        ("<a@x>", "<b@x>", "one"),
        ("<b@x>", "<a@x>", "two"),
        ("<a@x>", None, "dup of one"),
        ("<c@x>", "<gone@x> <a@x>", "three"),
        ("<d@x>", "<gone2@x>", "four"),
        ("<e@x>", "<gone2@x>", "five"),
    ]
    for i, (mid, refs, subj) in enumerate(mails):
        headers = [("From", "x@example.test"), ("Subject", subj), ("Message-ID", mid),
                   ("Date", "Mon, 0%d Jan 2024 10:00:00 +0000" % (i + 1))]
        if refs:
            headers.append(("References", refs))
        c.ok("APPEND", "Loops", lit(msg(headers, b"x\r\n")))
    c.ok("SELECT", "Loops")
    # 2 <- 1 (the loop back is refused), 4 under 1 via <a@x>; 3 is a
    # duplicate; 5 and 6 under the missing <gone2@x>
    assert thread(c, "REFERENCES") == "(2 1 4)(3)((5)(6))"
    c.close()


# ----- a 10,000-message mailbox -----

def write_orphans(postane, count):
    """Put `count` messages into alice's INBOX new/ while the server is
    stopped; start-up recovery indexes them."""
    base = postane.maildir("alice")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(base / sub, exist_ok=True)
    start = 1704110400  # 2024-01-01 12:00 UTC
    for i in range(count):
        body = b"message number %d\r\n" % i
        if i % 1000 == 7:
            body += b"needle in a haystack\r\n"
        data = (b"From: user%d <user%d@example.test>\r\n" % (i % 50, i % 50) +
                b"To: alice@example.test\r\n" +
                b"Subject: %s topic %d\r\n" % (b"Re:" if i % 3 == 0 else b"", i % 100) +
                b"Date: Mon, 01 Jan 2024 12:%02d:%02d +0000\r\n" % (i // 60 % 60, i % 60) +
                b"Message-ID: <big%d@example.test>\r\n" % i +
                b"\r\n" + body)
        name = "%d.M%dP1Q%d.bench,S=%d" % (start + i, i, i, len(data))
        path = base / "new" / name
        path.write_bytes(data)
        t = start + i * 60
        os.utime(path, (t, t))


def timed(c, *args):
    t0 = time.monotonic()
    u = c.ok(*args)
    return u, time.monotonic() - t0


def test_large_mailbox(postane):
    count = 10000
    write_orphans(postane, count)
    postane.start()
    srv = postane
    c = connect(srv)
    u = c.ok("SELECT", "INBOX")
    assert b"* %d EXISTS" % count in u
    c.ok("STORE", "1:2500", "+FLAGS.SILENT", r"(\Flagged)")
    c.ok("STORE", "9001:*", "+FLAGS.SILENT", r"(\Seen \Deleted)")

    # index keys only: fast, and no file or cache access at all
    u, dt = timed(c, "SEARCH", "RETURN", "(COUNT)", "FLAGGED", "LARGER", "10", "UNDELETED",
                  "UID", "1:*", "SINCE", "1-Jan-2000", "NOT", "KEYWORD", "x")
    assert esearch(u).endswith("COUNT 2500")
    assert dt < 3.0, dt
    srv.wait_log(r"SEARCH: 2500 of 10000 message\(s\) match; 0 digest\(s\) cached, 0 computed, "
                 r"0 file\(s\) read")
    u, dt = timed(c, "SEARCH", "OR", "DELETED", "1:10")
    assert len(numbers(u, "SEARCH")) == 1010
    assert dt < 3.0, dt

    # cheap keys first: the body is read only for the 2500 flagged ones
    u = c.ok("SEARCH", "FLAGGED", "BODY", "needle")
    found = numbers(u, "SEARCH")
    assert len(found) <= 10
    srv.wait_log(r"SEARCH: %d of 10000 message\(s\) match; 0 digest\(s\) cached, 0 computed, "
                 r"2500 file\(s\) read" % len(found))
    u = c.ok("SEARCH", "BODY", "needle")
    assert len(numbers(u, "SEARCH")) == 10

    # SORT computes the digests once, then reads them from the cache
    u, dt1 = timed(c, "SORT", "(SUBJECT DATE)", "UTF-8", "ALL")
    first = numbers(u, "SORT")
    assert sorted(first) == list(range(1, count + 1))
    srv.wait_log(r"SORT: 10000 of 10000 message\(s\) match; 0 digest\(s\) cached, "
                 r"10000 computed")
    u, dt2 = timed(c, "SORT", "(SUBJECT DATE)", "UTF-8", "ALL")
    assert numbers(u, "SORT") == first
    srv.wait_log(r"SORT: 10000 of 10000 message\(s\) match; 10000 digest\(s\) cached, "
                 r"0 computed, 0 file\(s\) read")
    assert dt2 < 10.0, (dt1, dt2)
    # header searches and THREAD from the cache as well
    u = c.ok("SEARCH", "RETURN", "(COUNT)", "FROM", "user7")
    assert esearch(u).endswith("COUNT 200")
    srv.wait_log(r"SEARCH: 200 of 10000 message\(s\) match; 10000 digest\(s\) cached, "
                 r"0 computed, 0 file\(s\) read")
    u = c.ok("THREAD", "ORDEREDSUBJECT", "UTF-8", "ALL")
    line = [x for x in u if x.startswith(b"* THREAD")][0]
    assert line.count(b"(") == 100 + 9900  # 100 subjects, 99 children each
    u = c.ok("THREAD", "REFERENCES", "UTF-8", "ALL")
    line = [x for x in u if x.startswith(b"* THREAD")][0]
    assert len(re.findall(rb"\d+", line)) == count
    c.close()
