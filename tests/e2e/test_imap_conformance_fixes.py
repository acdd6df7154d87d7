"""Regression tests for imaptest conformance fixes, each on the wire:

* SEARCH FROM/TO/CC/BCC match the parsed addresses as well as the decoded
  header text (imaptest search-addresses): comments and blanks inside an
  address, groups; also through the cached header digest.
* SORT by an address whose first entry is a group sorts by the group name
  (RFC 5256 2.2 over the ENVELOPE layout; imaptest sort-addresses), and
  DISPLAYTO too (RFC 5957; imaptest sort-display-to); ESORT and SORT=DISPLAY
  are advertised.
* LIST (SUBSCRIBED RECURSIVEMATCH) with several patterns: CHILDINFO for a
  parent that is not subscribed only when one of its subscribed
  descendants is not returned itself (RFC 5258 3.5; imaptest listext), and
  a mailbox matched by two patterns is returned once.
* APPEND of a literal8 with NUL bytes in a binary part: stored as base64,
  so BODY[1] carries no NUL, BINARY[1] gives the original bytes back, and
  RFC822.SIZE / BODYSTRUCTURE describe what BODY[] sends (RFC 3516 4.3;
  imaptest append-binary)."""

import base64
import re

import pytest

from imapwire import parse

pytestmark = pytest.mark.postane_config(auth={"plaintext_loopback": "yes"})


def lit(data):
    return b"{%d+}\r\n" % len(data) + data


def numbers(r, name):
    lines = [u.raw for u in r.untagged if u.raw == b"* " + name or
             u.raw.startswith(b"* " + name + b" ")]
    assert len(lines) == 1, r
    return [int(x) for x in lines[0].split()[2:]]


def fill(w, messages):
    # internal dates one minute apart, in mailbox order
    for i, m in enumerate(messages):
        w.ok(b'APPEND INBOX "01-Jan-2024 12:%02d:00 +0000" ' % i + lit(m))
    w.ok("SELECT INBOX")


# ----- SEARCH: address keys -----

# imaptest search-addresses.mbox
ADDRESS_MESSAGES = [
    b"From: user-from@domain.org\r\nTo: user-to@domain.org\r\nCc: user-cc@domain.org\r\n"
    b"Bcc: user-bcc@domain.org\r\n\r\nbody\r\n",
    b"From: RealFrom <user-from@domain.org>\r\nTo: RealTo <user-to@domain.org>\r\n"
    b"Cc: RealCc <user-cc@domain.org>\r\nBcc: RealBcc <user-bcc@domain.org>\r\n\r\nbody2\r\n",
    b"From: <user-from (comment)@ (comment) domain.org>\r\nTo: <user-to@domain.org>\r\n"
    b"Cc: <user-cc@domain.org>\r\nBcc: <user-bcc@domain.org>\r\n\r\nbody3\r\n",
    b"From: user-from@domain.org (RealFrom)\r\nTo: user-to@domain.org (RealTo)\r\n"
    b"Cc: user-cc@domain.org (RealCc)\r\nBcc: user-bcc@domain.org (RealBcc)\r\n\r\nbody4\r\n",
    b"From: user-from1@domain.org, user-from2@domain.org\r\nCc: user-cc@domain.org\r\n"
    b"\r\nbody5\r\n",
    b"From: RealFrom <user-from@domain.org>\r\n"
    b"To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n"
    b"  groupname2: groupuser3@domain.org;\r\n\r\nbody6\r\n",
    b"From: RealFrom <user-from@domain.org>\r\nTo: groupname:;\r\n\r\nbody7\r\n",
]


def test_search_matches_parsed_addresses(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    fill(w, ADDRESS_MESSAGES)
    expected = [
        ("FROM user-from@domain.org", [1, 2, 3, 4, 6, 7]),
        ("TO user-to@domain.org", [1, 2, 3, 4]),
        ("FROM realfrom", [2, 4, 6, 7]),
        ("FROM ser-fro", [1, 2, 3, 4, 5, 6, 7]),
        ("FROM comment", [3]),  # the header text still counts
        ("TO groupname", [6, 7]),
        ("TO groupuser3@domain.org", [6]),
        ("TO groupuser4", []),
        ("NOT FROM user-from@domain.org", [5]),
    ]
    # twice: the digests are computed from the files, then read from the cache
    for _ in range(2):
        for criteria, want in expected:
            assert numbers(w.ok("SEARCH " + criteria), b"SEARCH") == want, criteria
    rows = imap_srv.db_query("SELECT count(*) FROM cache WHERE field = 'search.2'")
    assert rows[0][0] == len(ADDRESS_MESSAGES)
    w.close()


# ----- SORT: groups, DISPLAY, ESORT -----

SORT_MESSAGES = [
    b"From: user2@domain2.org\r\nTo: foo bar <user2@domain2.org>\r\n"
    b"Cc: user2@domain2.org (foo bar)\r\n\r\n1\r\n",
    b"From: user2@domain1.org\r\nTo: z: aa@aa.org, bb@bb.org;\r\n"
    b"Cc: user2: blah@domain1.org;\r\n\r\n2\r\n",
    b"From: user1@domain1.org\r\nTo: empty:;\r\nCc: user1@domain1.org\r\n\r\n3\r\n",
    b"From: d\r\nTo: =?iso-8859-1?q?foo_aar?= <e@f.g>\r\n\r\n4\r\n",
]


def test_sort_by_group_name_and_capabilities(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    caps = w.ok("CAPABILITY").first("CAPABILITY").split()
    assert "ESORT" in caps and "SORT=DISPLAY" in caps, caps
    fill(w, SORT_MESSAGES)

    def sort(criteria):
        return numbers(w.ok("SORT (%s) US-ASCII ALL" % criteria), b"SORT")

    # CC: "user2" for 1, the group "user2" for 2 (a tie: mailbox order), "user1"
    assert sort("CC") == [4, 3, 1, 2]
    assert sort("REVERSE CC") == [1, 2, 3, 4]
    assert sort("CC REVERSE ARRIVAL") == [4, 3, 2, 1]
    # DISPLAYTO: "empty", "foo aar", "foo bar", "z"
    assert sort("DISPLAYTO") == [3, 4, 1, 2]
    # TO: "empty", "e", "user2", "z"
    assert sort("TO") == [4, 3, 1, 2]
    # DISPLAYFROM: "d" (no MISSING_DOMAIN), then the addresses
    assert sort("DISPLAYFROM") == [4, 3, 2, 1]
    r = w.ok("SORT RETURN (MIN MAX COUNT ALL) (DISPLAYTO) US-ASCII ALL")
    assert r.first("ESEARCH") == 'ESEARCH (TAG "%s") MIN 3 MAX 2 COUNT 4 ALL 3:4,1:2' % \
        r.tagged.tag
    w.close()


# ----- LIST (SUBSCRIBED RECURSIVEMATCH) -----

def list_lines(w, command):
    out = {}
    for line in w.ok(command).lines("LIST"):
        items = parse(line[len("LIST "):].encode())
        name = items[2].decode() if isinstance(items[2], bytes) else items[2]
        assert name not in out, ("listed twice", name, line)
        out[name] = (items[0], items[3:])
    return out


def test_list_recursivematch_childinfo(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    for name in ["t", "t/a", "t/a/sub", "t/b/sub", "t/c", "t/c/sub"]:
        w.ok("CREATE " + name)
    for name in ["t/a/sub", "t/b/sub", "t/c", "t/c/sub"]:
        w.ok("SUBSCRIBE " + name)
    cmd = 'LIST (SUBSCRIBED RECURSIVEMATCH) "" '
    childinfo = [[b"CHILDINFO", [b"SUBSCRIBED"]]]
    # the parent alone: CHILDINFO, its subscribed child is not returned
    got = list_lines(w, cmd + "(t/a)")
    assert got == {"t/a": (["\\HasChildren"], childinfo)}, got
    # the child returned too: the parent's CHILDINFO would be redundant
    got = list_lines(w, cmd + "(t/a t/a/sub)")
    assert got == {"t/a/sub": (["\\HasNoChildren", "\\Subscribed"], [])}, got
    # a grandparent whose descendants are not all returned
    got = list_lines(w, cmd + "(t t/a/sub)")
    assert got == {"t": (["\\HasChildren"], childinfo),
                   "t/a/sub": (["\\HasNoChildren", "\\Subscribed"], [])}, got
    got = list_lines(w, cmd + "(t t/a/sub t/b/sub t/c)")  # t/c/sub is not returned
    assert got["t"] == (["\\HasChildren"], childinfo), got
    got = list_lines(w, cmd + "(t t/*)")
    assert set(got) == {"t/a/sub", "t/b/sub", "t/c", "t/c/sub"}, got
    # a subscribed mailbox with subscribed descendants (RFC 5258 4 table)
    assert got["t/c"] == (["\\HasChildren", "\\Subscribed"], childinfo), got
    got = list_lines(w, cmd + "t/%")
    assert got == {"t/a": (["\\HasChildren"], childinfo),
                   "t/b": (["\\HasChildren"], childinfo),  # CREATE made it
                   "t/c": (["\\HasChildren", "\\Subscribed"], childinfo)}, got
    # a parent that does not exist: \NonExistent, and CHILDINFO
    w.ok("SUBSCRIBE t/x/ghost")
    got = list_lines(w, cmd + "t/x")
    assert got == {"t/x": (["\\NonExistent"], childinfo)}, got
    # two patterns matching one mailbox: returned once (list_lines checks)
    got = list_lines(w, 'LIST "" (t/* t/a*)')
    assert set(got) == {"t/a", "t/a/sub", "t/b", "t/b/sub", "t/c", "t/c/sub"}, got
    w.close()


# ----- APPEND of binary content with NUL -----

BINARY_BODY = b"\x00-\xe4\n\r\n\n"  # imaptest append-binary: BINARY.SIZE 7
BINARY_MESSAGE = (b"From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\n"
                  b"Mime-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
                  b"Content-Transfer-Encoding: binary\r\n\r\n" + BINARY_BODY)


def test_append_binary_with_nul(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok(b"APPEND INBOX ~{%d+}\r\n" % len(BINARY_MESSAGE) + BINARY_MESSAGE)
    # a multipart: only the part that needs it is converted
    multi = (b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
             b"--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n"
             b"--b\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Transfer-Encoding: binary\r\n\r\n" + bytes(range(256)) +
             b"\r\n--b--\r\n")
    w.ok(b"APPEND INBOX ~{%d+}\r\n" % len(multi) + multi)
    w.ok("SELECT INBOX")

    # BODY[1]: a plain literal without NUL (base64), never literal8
    raw = w.ok("FETCH 1 BODY.PEEK[1]").untagged[0].raw
    m = re.search(rb"BODY\[1\] \{(\d+)\}\r\n", raw)
    assert m, raw
    content = raw[m.end():m.end() + int(m.group(1))]
    assert b"\x00" not in content and b"\x80" not in content, raw
    assert base64.b64decode(content) == BINARY_BODY
    # BINARY[1]: the original bytes, as literal8
    raw = w.ok("FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])").untagged[0].raw
    assert b"BINARY.SIZE[1] 7" in raw, raw
    m = re.search(rb"BINARY\[1\] ~\{7\}\r\n", raw)
    assert m and raw[m.end():m.end() + 7] == BINARY_BODY, raw
    # what BODYSTRUCTURE and RFC822.SIZE say matches what BODY[] sends
    f = w.ok("FETCH 1 (RFC822.SIZE BODYSTRUCTURE BODY.PEEK[])").fetches()[1]
    assert int(f["RFC822.SIZE"]) == len(f["BODY[]"])
    assert b"\x00" not in f["BODY[]"]
    bs = f["BODYSTRUCTURE"]
    assert bs[5].upper() == b"BASE64" and int(bs[6]) == len(content), bs

    f = w.ok("FETCH 2 (BODYSTRUCTURE BODY.PEEK[1] BINARY.PEEK[2])").fetches()[2]
    assert f["BODY[1]"] == b"plain text"
    assert f["BINARY[2]"] == bytes(range(256))
    assert f["BODYSTRUCTURE"][0][5].upper() == b"7BIT"
    assert f["BODYSTRUCTURE"][1][5].upper() == b"BASE64"
    # a message without NUL or bare line ends is stored byte for byte
    plain = (b"Mime-Version: 1.0\r\nContent-Transfer-Encoding: binary\r\n\r\n"
             b"\xff\xfe bytes\r\n")
    w.ok(b"APPEND INBOX ~{%d+}\r\n" % len(plain) + plain)
    w.ok("NOOP")
    f = w.ok("FETCH 3 BODY.PEEK[]").fetches()[3]
    assert f["BODY[]"] == plain
    w.close()
