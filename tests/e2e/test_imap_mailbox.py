"""IMAP mailbox commands: SELECT/EXAMINE responses, CREATE (hierarchies,
CREATE-SPECIAL-USE), DELETE, RENAME (INBOX semantics, children), SUBSCRIBE,
UNSUBSCRIBE, LSUB, LIST (patterns, LIST-EXTENDED selection and RETURN
options, LIST-STATUS), the default special-use folders, STATUS, APPEND
(flags, date, literals, LITERAL+, APPENDUID, TRYCREATE, TOOBIG), QUOTA,
international mailbox names (modified UTF-7, UTF8=ACCEPT) and names that
try to leave the mail directory."""

import email.utils
import imaplib
import os
import re
import time
from datetime import datetime, timezone

import pytest

from conftest import DOMAIN
from imapwire import IMAPWire, parse, quote

ALICE = f"alice@{DOMAIN}"
SPECIAL = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Junk": "\\Junk", "Trash": "\\Trash",
           "Archive": "\\Archive"}
MSG = b"From: a@example.net\r\nTo: alice@example.test\r\nSubject: hi\r\n\r\nhello\r\n"


def msg(n=0, extra=b""):
    return (b"From: a@example.net\r\nTo: alice@example.test\r\nSubject: message %d\r\n"
            b"Message-ID: <m%d@example.net>\r\n\r\nbody %d\r\n" % (n, n, n)) + extra


def listing(r, kind="LIST"):
    """{name: (attributes set, delimiter)} from LIST/LSUB responses."""
    out = {}
    for line in r.lines(kind):
        items = parse(line[len(kind) + 1:])
        attrs, delim, name = items[0], items[1], items[2]
        if isinstance(name, bytes):
            name = name.decode("utf-8")
        out[name] = ({a.lower() for a in attrs}, delim)
    return out


def status_of(r):
    """{ITEM: int} of the first STATUS response."""
    line = r.first("STATUS")
    items = parse(line[len("STATUS "):])[1]
    return {items[i].upper(): int(items[i + 1]) for i in range(0, len(items), 2)}


def codes(r):
    """Response codes of the untagged OK responses: {NAME: rest}."""
    out = {}
    for line in r.lines("OK"):
        m = re.match(r"OK \[([A-Z0-9-]+)(?: ([^\]]*))?\]", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def append(w, mailbox, data, flags=None, date=None):
    before = quote(mailbox)
    if flags is not None:
        before += f" ({flags})"
    if date is not None:
        before += f' "{date}"'
    return w.cmd_lit(f"APPEND {before} ", data)


# ----- SELECT / EXAMINE -----


def test_select_responses(imap_srv):
    for i in range(3):
        imap_srv.deliver("alice", msg(i))
    w = imap_srv.imap_wire(user="alice")
    r = w.ok("SELECT INBOX")
    flags = parse(r.first("FLAGS")[len("FLAGS "):])[0]
    assert set(flags) >= {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"}, flags
    c = codes(r)
    perm = parse(c["PERMANENTFLAGS"])[0]
    assert "\\*" in perm and "\\Seen" in perm and "\\Deleted" in perm, perm
    assert r.first("EXISTS") == "3 EXISTS"
    assert r.first("RECENT") == "3 RECENT"
    assert c["UNSEEN"] == "1"
    assert int(c["UIDVALIDITY"]) > 0
    assert int(c["UIDNEXT"]) == 4
    assert int(c["HIGHESTMODSEQ"]) >= 1
    assert r.code == "READ-WRITE", r


def test_select_recent_only_for_first_session(imap_srv):
    imap_srv.deliver("alice", msg(1))
    imap_srv.deliver("alice", msg(2))
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    # EXAMINE does not claim \Recent.
    b.ok("EXAMINE INBOX")
    assert a.ok("SELECT INBOX").first("RECENT") == "2 RECENT"
    r = b.ok("SELECT INBOX")
    assert r.first("RECENT") == "0 RECENT", r
    f = a.ok("FETCH 1:* FLAGS").fetches()
    assert all("\\Recent" in v["FLAGS"] for v in f.values()), f
    f = b.ok("FETCH 1:* FLAGS").fetches()
    assert not any("\\Recent" in v["FLAGS"] for v in f.values()), f


def test_examine_reports_recent_without_claiming(imap_srv):
    """RFC 3501 6.3.2: EXAMINE shows \\Recent but must not clear it."""
    imap_srv.deliver("alice", msg(1))
    imap_srv.deliver("alice", msg(2))
    b = imap_srv.imap_wire(user="alice")
    r = b.ok("EXAMINE INBOX")
    assert r.first("RECENT") == "2 RECENT", r
    a = imap_srv.imap_wire(user="alice")
    assert a.ok("SELECT INBOX").first("RECENT") == "2 RECENT"


def test_examine_is_read_only(imap_srv):
    imap_srv.deliver("alice", msg(1))
    w = imap_srv.imap_wire(user="alice")
    r = w.ok("EXAMINE INBOX")
    assert r.code == "READ-ONLY", r
    assert parse(codes(r)["PERMANENTFLAGS"])[0] == [], r
    assert w.cmd("STORE 1 +FLAGS (\\Deleted)").status == "NO"
    assert w.cmd("EXPUNGE").status == "NO"
    # BODY[] does not set \Seen in a read-only mailbox.
    w.ok("FETCH 1 BODY[]")
    f = w.ok("FETCH 1 FLAGS").fetches()
    assert "\\Seen" not in f[1]["FLAGS"], f
    assert w.cmd("MOVE 1 Trash").status == "NO"
    w.ok("COPY 1 Trash")  # copying out of a read-only mailbox is fine


def test_imaplib_select_and_readonly(imap_srv):
    imap_srv.deliver("alice", msg(1))
    m = imap_srv.imap(user="alice")
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"1"]
    assert m.response("UIDVALIDITY")[1][0]
    typ, data = m.select("INBOX", readonly=True)
    assert typ == "OK" and data == [b"1"]
    typ, data = m.store("1", "+FLAGS", "\\Deleted")
    assert typ == "NO", data
    m.logout()


def test_select_nonexistent_leaves_no_mailbox_selected(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok("SELECT INBOX")
    r = w.cmd("SELECT nosuchbox")
    assert r.status == "NO", r
    assert w.cmd("FETCH 1 FLAGS").status == "BAD"
    assert w.cmd("CLOSE").status == "BAD"


def test_select_closed_code_with_condstore(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok("ENABLE CONDSTORE")
    w.ok("SELECT INBOX")
    r = w.ok("SELECT Sent")
    assert any(line.startswith("OK [CLOSED]") for line in r.lines("OK")), r


def test_select_inbox_case_insensitive(imap_srv):
    imap_srv.deliver("alice", msg(1))
    w = imap_srv.imap_wire(user="alice")
    assert w.ok("SELECT inbox").first("EXISTS") == "1 EXISTS"
    assert w.ok('SELECT "InBoX"').first("EXISTS") == "1 EXISTS"


# ----- default folders -----


def test_default_folders_have_special_use(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    got = listing(w.ok('LIST "" "*"'))
    assert "INBOX" in got
    for name, attr in SPECIAL.items():
        assert name in got, got
        assert attr.lower() in got[name][0], (name, got[name])
    # Selection by SPECIAL-USE returns exactly those.
    got = listing(w.ok('LIST (SPECIAL-USE) "" "*"'))
    assert set(got) == set(SPECIAL), got
    for name, attr in SPECIAL.items():
        assert attr.lower() in got[name][0]
    # RETURN (SPECIAL-USE).
    got = listing(w.ok('LIST "" "*" RETURN (SPECIAL-USE)'))
    assert "\\sent" in got["Sent"][0]
    # Folders exist on disk as Maildir++ folders.
    for name in SPECIAL:
        d = imap_srv.maildir("alice") / f".{name}"
        assert (d / "cur").is_dir() and (d / "new").is_dir(), d


def test_default_folders_for_a_new_account(imap_srv):
    r = imap_srv.cli("user", "add", f"carol@{DOMAIN}", input="carols secret\n")
    assert r.returncode == 0, r.stderr
    w = imap_srv.imap_wire(user=f"carol@{DOMAIN}", password="carols secret")
    got = listing(w.ok('LIST "" "*"'))
    assert set(SPECIAL) | {"INBOX"} <= set(got), got


# ----- CREATE -----


def test_create_and_select(imap_srv):
    m = imap_srv.imap(user="alice")
    typ, _ = m.create("Projects")
    assert typ == "OK"
    typ, data = m.select("Projects")
    assert typ == "OK" and data == [b"0"]
    typ, data = m.create("Projects")
    assert typ == "NO" and b"ALREADYEXISTS" in data[0], data
    typ, data = m.create("INBOX")
    assert typ == "NO", data


def test_create_hierarchy_creates_parents(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok('CREATE "a/b/c"')
    got = listing(w.ok('LIST "" "a*"'))
    assert set(got) == {"a", "a/b", "a/b/c"}, got
    assert got["a"][1] == b"/" or got["a"][1] == "/"
    assert "\\haschildren" in got["a"][0] and "\\haschildren" in got["a/b"][0]
    assert "\\hasnochildren" in got["a/b/c"][0]
    # Each level can be selected (parents are real mailboxes, or at least
    # the leaf is).
    w.ok('SELECT "a/b/c"')
    w.ok('APPEND "a/b/c" {%d+}\r\n' % len(MSG) + MSG.decode())
    assert status_of(w.ok('STATUS "a/b/c" (MESSAGES)'))["MESSAGES"] == 1


def test_create_trailing_separator(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok('CREATE "parent/"')
    got = listing(w.ok('LIST "" "parent*"'))
    assert "parent" in got, got


def test_create_special_use(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok('CREATE "Important" (USE (\\Flagged))')
    got = listing(w.ok('LIST "" "Important"'))
    assert "\\flagged" in got["Important"][0], got
    got = listing(w.ok('LIST (SPECIAL-USE) "" "*"'))
    assert "Important" in got
    r = w.cmd('CREATE "Weird" (USE (\\NotAThing))')
    assert r.status == "NO" and r.code == "USEATTR", r
    assert "Weird" not in listing(w.ok('LIST "" "*"'))


def test_dot_and_slash_names_are_different_mailboxes(imap_srv):
    """Maildir++ uses "." between levels on disk: "x.y" and "x/y" must
    still be two mailboxes."""
    w = imap_srv.imap_wire(user="alice")
    w.ok('CREATE "x.y"')
    w.ok('CREATE "x/y"')
    w.ok('APPEND "x.y" {%d+}\r\n' % len(msg(1)) + msg(1).decode())
    w.ok('APPEND "x/y" {%d+}\r\n' % len(msg(2)) + msg(2).decode())
    w.ok('APPEND "x/y" {%d+}\r\n' % len(msg(3)) + msg(3).decode())
    assert status_of(w.ok('STATUS "x.y" (MESSAGES)'))["MESSAGES"] == 1
    assert status_of(w.ok('STATUS "x/y" (MESSAGES)'))["MESSAGES"] == 2
    w.ok('SELECT "x.y"')
    f = w.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]").fetches()
    assert b"message 1" in f[1]["BODY[HEADER.FIELDS (SUBJECT)]"]


def test_create_long_name_clean_refusal(imap_srv):
    """Two levels of 200 characters: the IMAP name is valid (levels up to
    255, names up to 1024); the server either creates it or refuses it
    cleanly, never with [SERVERBUG], and leaves nothing half-created."""
    w = imap_srv.imap_wire(user="alice")
    name = "a" * 200 + "/" + "b" * 200
    before = set(listing(w.ok('LIST "" "*"')))
    r = w.cmd(f"CREATE {quote(name)}")
    if r.ok:
        w.ok(f"SELECT {quote(name)}")
    else:
        assert r.status == "NO" and r.code != "SERVERBUG", r
        assert set(listing(w.ok('LIST "" "*"'))) == before


# ----- DELETE -----


def test_delete(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok("CREATE gone")
    w.ok('APPEND gone {%d+}\r\n' % len(MSG) + MSG.decode())
    w.ok("DELETE gone")
    assert "gone" not in listing(w.ok('LIST "" "*"'))
    assert not (imap_srv.maildir("alice") / ".gone").exists()
    r = w.cmd("DELETE gone")
    assert r.status == "NO" and r.code == "NONEXISTENT", r
    r = w.cmd("SELECT gone")
    assert r.status == "NO"
    # Created again: empty, and a new UIDVALIDITY or UIDs never reused.
    w.ok("CREATE gone")
    assert status_of(w.ok("STATUS gone (MESSAGES)"))["MESSAGES"] == 0


def test_delete_with_children_refused(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok('CREATE "p/q"')
    r = w.cmd("DELETE p")
    assert r.status == "NO" and r.code == "HASCHILDREN", r
    w.ok('DELETE "p/q"')
    w.ok("DELETE p")
    assert not {"p", "p/q"} & set(listing(w.ok('LIST "" "*"')))


def test_delete_inbox_refused(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    assert w.cmd("DELETE INBOX").status == "NO"
    assert "INBOX" in listing(w.ok('LIST "" "*"'))


def test_delete_selected_mailbox(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok("CREATE temp")
    w.ok("SELECT temp")
    w.ok("DELETE temp")
    assert w.cmd("NOOP").ok
    assert "temp" not in listing(w.ok('LIST "" "*"'))


def test_delete_selected_by_another_session(imap_srv):
    a = imap_srv.imap_wire(user="alice")
    b = imap_srv.imap_wire(user="alice")
    a.ok("CREATE shared")
    a.ok('APPEND shared {%d+}\r\n' % len(MSG) + MSG.decode())
    b.ok("SELECT shared")
    a.ok("DELETE shared")
    # b must not crash the server; its next commands get an answer.
    r = b.cmd("NOOP")
    assert r.status in ("OK", "NO", "BAD"), r
    r = b.cmd("FETCH 1 FLAGS")
    assert r.status in ("OK", "NO", "BAD"), r
    b.cmd("LOGOUT")


# ----- RENAME -----


def test_rename_keeps_messages(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok("CREATE old")
    for i in range(2):
        w.ok('APPEND old {%d+}\r\n' % len(msg(i)) + msg(i).decode())
    w.ok("RENAME old new")
    got = listing(w.ok('LIST "" "*"'))
    assert "new" in got and "old" not in got
    assert status_of(w.ok("STATUS new (MESSAGES)"))["MESSAGES"] == 2
    r = w.cmd("RENAME old other")
    assert r.status == "NO" and r.code == "NONEXISTENT", r
    r = w.cmd("RENAME new Sent")
    assert r.status == "NO" and r.code == "ALREADYEXISTS", r


def test_rename_children_follow(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok('CREATE "top/mid/leaf"')
    w.ok('APPEND "top/mid/leaf" {%d+}\r\n' % len(MSG) + MSG.decode())
    w.ok('RENAME top "moved"')
    got = set(listing(w.ok('LIST "" "*"')))
    assert {"moved", "moved/mid", "moved/mid/leaf"} <= got, got
    assert not {n for n in got if n.startswith("top")}, got
    assert status_of(w.ok('STATUS "moved/mid/leaf" (MESSAGES)'))["MESSAGES"] == 1


def test_rename_into_new_hierarchy(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok("CREATE flat")
    w.ok('RENAME flat "deep/er/flat"')
    got = set(listing(w.ok('LIST "" "*"')))
    assert "deep/er/flat" in got and "flat" not in got, got


def test_rename_into_itself_refused(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok("CREATE self")
    assert w.cmd('RENAME self "self/child"').status == "NO"


def test_rename_inbox_moves_messages_and_inbox_stays(imap_srv):
    for i in range(3):
        imap_srv.deliver("alice", msg(i))
    w = imap_srv.imap_wire(user="alice")
    w.ok('CREATE "INBOX/sub"')
    before = status_of(w.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)"))
    w.ok('RENAME INBOX "Old Inbox"')
    got = listing(w.ok('LIST "" "*"'))
    assert "INBOX" in got and "Old Inbox" in got
    # Inferior names of INBOX are not moved (RFC 9051 6.3.6).
    assert "INBOX/sub" in got, got
    assert status_of(w.ok('STATUS "Old Inbox" (MESSAGES)'))["MESSAGES"] == 3
    after = status_of(w.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)"))
    assert after["MESSAGES"] == 0
    # UIDs in INBOX are never reused: same UIDVALIDITY needs UIDNEXT kept.
    if after["UIDVALIDITY"] == before["UIDVALIDITY"]:
        assert after["UIDNEXT"] >= before["UIDNEXT"], (before, after)
    w.ok('SELECT "Old Inbox"')
    f = w.ok("FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]").fetches()
    assert len(f) == 3
    # New mail goes to the (new, empty) INBOX.
    imap_srv.deliver("alice", msg(9))
    r = w.ok("STATUS INBOX (MESSAGES)")
    assert status_of(r)["MESSAGES"] == 1
    w.ok("SELECT INBOX")
    f = w.ok("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])").fetches()
    assert len(f) == 1 and b"message 9" in list(f.values())[0]["BODY[HEADER.FIELDS (SUBJECT)]"]
    if after["UIDVALIDITY"] == before["UIDVALIDITY"]:
        assert int(list(f.values())[0]["UID"]) >= before["UIDNEXT"]


def test_rename_selected_inbox(imap_srv):
    imap_srv.deliver("alice", msg(1))
    w = imap_srv.imap_wire(user="alice")
    w.ok("SELECT INBOX")
    w.ok("RENAME INBOX saved")
    r = w.cmd("NOOP")
    assert r.ok, r
    assert status_of(w.ok("STATUS saved (MESSAGES)"))["MESSAGES"] == 1


# ----- SUBSCRIBE / LSUB -----


def test_subscribe_unsubscribe_lsub(imap_srv):
    m = imap_srv.imap(user="alice")
    assert m.create("news")[0] == "OK"
    assert m.subscribe("news")[0] == "OK"
    w = imap_srv.imap_wire(user="alice")
    assert "news" in listing(w.ok('LSUB "" "*"'), "LSUB")
    got = listing(w.ok('LIST (SUBSCRIBED) "" "*"'))
    assert "news" in got and "\\subscribed" in got["news"][0]
    assert m.unsubscribe("news")[0] == "OK"
    assert "news" not in listing(w.ok('LSUB "" "*"'), "LSUB")
    got = listing(w.ok('LIST "" "*" RETURN (SUBSCRIBED)'))
    assert "news" in got and "\\subscribed" not in got["news"][0], got
    assert "news" not in listing(w.ok('LIST (SUBSCRIBED) "" "*"'))


def test_lsub_percent_pattern(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok('CREATE "lists/one"')
    w.ok('SUBSCRIBE "lists/one"')
    got = listing(w.ok('LSUB "" "lists/%"'), "LSUB")
    assert set(got) == {"lists/one"}, got


def test_subscription_to_nonexistent_name(imap_srv):
    """RFC 9051 6.3.7: subscribing to a name that does not exist is allowed;
    LIST (SUBSCRIBED) shows it \\NonExistent."""
    w = imap_srv.imap_wire(user="alice")
    w.ok("SUBSCRIBE ghost")
    got = listing(w.ok('LIST (SUBSCRIBED) "" "ghost"'))
    assert "\\nonexistent" in got["ghost"][0], got
    assert "ghost" not in listing(w.ok('LIST "" "*"'))
    w.ok("UNSUBSCRIBE ghost")


# ----- LIST -----


def test_list_patterns(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok('CREATE "work/2024/q1"')
    w.ok('CREATE "work/2025"')
    star = set(listing(w.ok('LIST "" "*"')))
    assert {"INBOX", "work", "work/2024", "work/2024/q1", "work/2025"} <= star
    top = set(listing(w.ok('LIST "" "%"')))
    assert "work" in top and "work/2024" not in top and "INBOX" in top
    assert set(listing(w.ok('LIST "" "work/%"'))) == {"work/2024", "work/2025"}
    assert set(listing(w.ok('LIST "work/" "%"'))) == {"work/2024", "work/2025"}
    assert set(listing(w.ok('LIST "" "work/*"'))) == {"work/2024", "work/2024/q1", "work/2025"}
    assert set(listing(w.ok('LIST "" "w*4"'))) == {"work/2024"}
    assert set(listing(w.ok('LIST "" "w%4"'))) == set()
    assert set(listing(w.ok('LIST "" "inbox"'))) == {"INBOX"}
    assert set(listing(w.ok('LIST "" "nothing*"'))) == set()


def test_list_empty_pattern_gives_delimiter(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    r = w.ok('LIST "" ""')
    items = parse(r.first("LIST")[5:])
    assert "\\Noselect" in items[0] and items[1] == b"/" and items[2] == b"", items


def test_list_multiple_patterns(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    got = set(listing(w.ok('LIST "" ("INBOX" "Sent" "Tr*")')))
    assert got == {"INBOX", "Sent", "Trash"}, got


def test_list_imaplib(imap_srv):
    m = imap_srv.imap(user="alice")
    m.create("Receipts")
    typ, data = m.list()
    assert typ == "OK"
    names = [d.decode() for d in data]
    assert any(n.endswith(' "/" Receipts') for n in names), names
    assert any(n.endswith(" INBOX") for n in names), names
    typ, data = m.list('""', "%")
    assert typ == "OK" and len(data) >= 7


def test_list_return_children_and_status(imap_srv):
    imap_srv.deliver("alice", msg(1))
    imap_srv.deliver("alice", msg(2))
    w = imap_srv.imap_wire(user="alice")
    w.ok('CREATE "fam/kids"')
    r = w.ok('LIST "" "*" RETURN (CHILDREN SUBSCRIBED SPECIAL-USE STATUS '
             '(MESSAGES UNSEEN UIDNEXT UIDVALIDITY SIZE))')
    got = listing(r)
    assert "\\haschildren" in got["fam"][0] and "\\hasnochildren" in got["fam/kids"][0]
    assert "\\sent" in got["Sent"][0]
    statuses = {}
    for line in r.lines("STATUS"):
        items = parse(line[len("STATUS "):])
        name = items[0].decode() if isinstance(items[0], bytes) else items[0]
        statuses[name] = {items[1][i].upper(): int(items[1][i + 1])
                          for i in range(0, len(items[1]), 2)}
    assert statuses["INBOX"]["MESSAGES"] == 2 and statuses["INBOX"]["UNSEEN"] == 2
    assert statuses["INBOX"]["SIZE"] > 0
    assert statuses["Sent"]["MESSAGES"] == 0
    assert set(statuses) >= {"INBOX", "Sent", "fam/kids"}
    # Each STATUS follows its LIST line.
    order = [u.line.split(" ")[1] for u in r.untagged]
    assert order[0] == "LIST" and order[1] == "STATUS", order[:4]


def test_list_selection_subscribed_and_special_use(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok("CREATE plain")
    w.ok("UNSUBSCRIBE plain")
    w.ok("UNSUBSCRIBE Junk")
    sub = listing(w.ok('LIST (SUBSCRIBED) "" "*"'))
    assert "plain" not in sub and "Junk" not in sub
    assert all("\\subscribed" in a for a, _ in sub.values()), sub
    su = listing(w.ok('LIST (SPECIAL-USE) "" "*" RETURN (SUBSCRIBED)'))
    assert set(su) == set(SPECIAL), su
    assert "\\subscribed" not in su["Junk"][0]
    assert "\\subscribed" in su["Sent"][0]


def test_list_status_on_selected_mailbox(imap_srv):
    imap_srv.deliver("alice", msg(1))
    w = imap_srv.imap_wire(user="alice")
    w.ok("SELECT INBOX")
    r = w.ok('LIST "" "INBOX" RETURN (STATUS (MESSAGES))')
    assert status_of(r)["MESSAGES"] == 1


# ----- STATUS -----


def test_status_items(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    sizes = []
    for i in range(3):
        data = msg(i)
        sizes.append(len(data))
        flags = "\\Seen" if i == 0 else ("\\Deleted" if i == 1 else "")
        r = append(w, "INBOX", data, flags=flags)
        assert r.ok, r
    r = w.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE HIGHESTMODSEQ DELETED)")
    st = status_of(r)
    assert st["MESSAGES"] == 3
    assert st["UIDNEXT"] == 4
    assert st["UIDVALIDITY"] > 0
    assert st["UNSEEN"] == 2
    assert st["SIZE"] == sum(sizes)
    assert st["DELETED"] == 1
    assert st["HIGHESTMODSEQ"] >= 3
    sel = w.ok("SELECT INBOX")
    assert int(codes(sel)["UIDVALIDITY"]) == st["UIDVALIDITY"]
    assert int(codes(sel)["HIGHESTMODSEQ"]) == st["HIGHESTMODSEQ"]
    # RFC822.SIZE adds up to SIZE.
    f = w.ok("FETCH 1:* RFC822.SIZE").fetches()
    assert sum(int(v["RFC822.SIZE"]) for v in f.values()) == st["SIZE"]
    # A flag change raises HIGHESTMODSEQ.
    w.ok("STORE 2 +FLAGS (\\Flagged)")
    st2 = status_of(w.ok("STATUS INBOX (HIGHESTMODSEQ UNSEEN)"))
    assert st2["HIGHESTMODSEQ"] > st["HIGHESTMODSEQ"]


def test_status_errors(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    r = w.cmd("STATUS nosuch (MESSAGES)")
    assert r.status == "NO", r
    r = w.cmd("STATUS INBOX (BOGUS)")
    assert r.status == "BAD", r
    r = w.cmd("STATUS INBOX ()")
    assert r.status == "BAD", r


def test_status_imaplib(imap_srv):
    imap_srv.deliver("alice", msg(1))
    m = imap_srv.imap(user="alice")
    typ, data = m.status("INBOX", "(MESSAGES UNSEEN)")
    assert typ == "OK"
    assert re.search(rb"MESSAGES 1", data[0]) and re.search(rb"UNSEEN 1", data[0]), data


def test_status_appendlimit(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    st = status_of(w.ok("STATUS INBOX (APPENDLIMIT)"))
    assert st["APPENDLIMIT"] == int(imap_srv.get_config("smtp", "max_message_size"))


# ----- APPEND -----


def test_append_flags_date_appenduid(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    uidvalidity = status_of(w.ok("STATUS Drafts (UIDVALIDITY)"))["UIDVALIDITY"]
    r = append(w, "Drafts", msg(1), flags="\\Draft \\Seen $Important",
               date="14-Jul-2023 02:44:25 +0200")
    assert r.ok, r
    code = r.code.split()
    assert code[0] == "APPENDUID" and int(code[1]) == uidvalidity and int(code[2]) == 1, r
    r2 = append(w, "Drafts", msg(2))
    assert int(r2.code.split()[2]) == 2, r2
    w.ok("SELECT Drafts")
    f = w.ok("FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])").fetches()[1]
    flags = {x.lower() for x in f["FLAGS"]}
    assert {"\\draft", "\\seen", "$important"} <= flags, f
    when = email.utils.parsedate_to_datetime(
        f["INTERNALDATE"].decode().replace("-", " ", 2))
    assert when == datetime(2023, 7, 14, 0, 44, 25, tzinfo=timezone.utc), f["INTERNALDATE"]
    assert int(f["RFC822.SIZE"]) == len(msg(1))
    assert f["BODY[]"] == msg(1)
    # The keyword is now known to the mailbox (FLAGS / PERMANENTFLAGS \*).
    f2 = w.ok("FETCH 2 FLAGS").fetches()[2]
    assert "\\Seen" not in f2["FLAGS"]


def test_append_without_date_gets_now(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    t0 = time.time()
    assert append(w, "INBOX", msg(1)).ok
    w.ok("SELECT INBOX")
    f = w.ok("FETCH 1 INTERNALDATE").fetches()[1]
    when = email.utils.parsedate_to_datetime(f["INTERNALDATE"].decode().replace("-", " ", 2))
    assert abs(when.timestamp() - t0) < 60, when


def test_append_literal_plus(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    data = msg(1)
    # Non-synchronising: no continuation, everything in one write.
    r = w.cmd(b"APPEND INBOX (\\Flagged) {%d+}\r\n" % len(data) + data)
    assert r.ok and r.code.startswith("APPENDUID"), r
    assert not any(u.continuation for u in r.untagged)
    w.ok("SELECT INBOX")
    f = w.ok("FETCH 1 (FLAGS BODY.PEEK[])").fetches()[1]
    assert f["BODY[]"] == data and "\\Flagged" in f["FLAGS"]


def test_append_binary_and_8bit_content(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    data = ("Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\nçà ü ñ 日本\r\n").encode()
    assert append(w, "INBOX", data).ok
    w.ok("SELECT INBOX")
    assert w.ok("FETCH 1 BODY.PEEK[]").fetches()[1]["BODY[]"] == data


def test_append_imaplib(imap_srv):
    m = imap_srv.imap(user="alice")
    typ, data = m.append("INBOX", "(\\Seen)", imaplib.Time2Internaldate(time.time()), msg(5))
    assert typ == "OK" and b"APPENDUID" in data[0], data
    typ, data = m.select("INBOX")
    assert data == [b"1"]
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" in data[0]


def test_append_to_selected_mailbox_reports_exists(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    w.ok("SELECT INBOX")
    r = append(w, "INBOX", msg(1))
    assert r.ok
    exists = r.lines("EXISTS") or w.ok("NOOP").lines("EXISTS")
    assert exists == ["1 EXISTS"], r


def test_append_trycreate(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    r = append(w, "Nope", msg(1))
    assert r.status == "NO" and r.code == "TRYCREATE", r
    # Also with LITERAL+ (the literal is read, then refused).
    data = msg(1)
    r = w.cmd(b"APPEND Nope {%d+}\r\n" % len(data) + data)
    assert r.status == "NO" and r.code == "TRYCREATE", r
    w.ok("NOOP")


def test_append_bad_arguments(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    assert append(w, "INBOX", msg(1), flags="\\Bogus").status == "BAD"
    assert append(w, "INBOX", msg(1), date="not a date").status == "BAD"
    assert append(w, "INBOX", msg(1), date="31-Feb-2023 00:00:00 +0000").status == "BAD"
    r = w.cmd("APPEND INBOX")
    assert r.status == "BAD", r
    w.ok("NOOP")
    assert status_of(w.ok("STATUS INBOX (MESSAGES)"))["MESSAGES"] == 0


@pytest.mark.postane_config(smtp={"max_message_size": 4096})
def test_append_toobig_over_appendlimit(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    caps = " ".join(w.ok("CAPABILITY").lines("CAPABILITY"))
    assert "APPENDLIMIT=4096" in caps, caps
    big = msg(1, extra=b"x" * 5000 + b"\r\n")
    # Synchronising literal: refused before the client sends it.
    w.send(b"B1 APPEND INBOX {%d}\r\n" % len(big))
    r = w.read_response()
    assert r.tag == "B1" and r.status in ("NO", "BAD") and r.code == "TOOBIG", r
    w.ok("NOOP")
    # Non-synchronising: read and refused.
    r = w.cmd(b"APPEND INBOX {%d+}\r\n" % len(big) + big)
    assert r.status in ("NO", "BAD") and r.code == "TOOBIG", r
    w.ok("NOOP")
    # Exactly at the limit is fine.
    exact = msg(1, extra=b"y" * (4096 - len(msg(1)) - 2) + b"\r\n")
    assert len(exact) == 4096
    assert append(w, "INBOX", exact).ok
    assert status_of(w.ok("STATUS INBOX (MESSAGES)"))["MESSAGES"] == 1


# ----- QUOTA -----


def test_getquotaroot_without_quota(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    r = w.ok("GETQUOTAROOT INBOX")
    root = r.first("QUOTAROOT")
    assert root.startswith("QUOTAROOT INBOX"), r
    assert r.lines("QUOTA") or True  # no limit: the root may list no resources


def test_quota_reported_and_enforced(imap_srv):
    imap_srv.db_write("UPDATE accounts SET quota_bytes = ? WHERE localpart = 'alice'", 10240)
    w = imap_srv.imap_wire(user="alice")
    r = w.ok("GETQUOTAROOT INBOX")
    roots = parse(r.first("QUOTAROOT")[len("QUOTAROOT "):])
    assert roots[0] == "INBOX" and len(roots) >= 2, roots
    quota = [ln for ln in r.lines("QUOTA") if ln.startswith("QUOTA ")]
    items = parse(quota[0][len("QUOTA "):])
    res = items[1]
    assert res[0].upper() == "STORAGE" and int(res[2]) == 10, items
    used0 = int(res[1])
    assert append(w, "INBOX", msg(1, extra=b"a" * 3000)).ok
    root = parse(r.first("QUOTAROOT")[len("QUOTAROOT "):])[1]
    root = root.decode() if isinstance(root, bytes) else root
    r = w.ok(f"GETQUOTA {quote(root)}")
    used1 = int(parse(r.first("QUOTA")[len("QUOTA "):])[1][1])
    assert used1 >= used0 + 3, (used0, used1)
    r = append(w, "INBOX", msg(2, extra=b"b" * 9000))
    assert r.status == "NO" and r.code == "OVERQUOTA", r
    assert status_of(w.ok("STATUS INBOX (MESSAGES)"))["MESSAGES"] == 1


def test_copy_over_quota_refused(imap_srv):
    imap_srv.db_write("UPDATE accounts SET quota_bytes = ? WHERE localpart = 'alice'", 10240)
    w = imap_srv.imap_wire(user="alice")
    assert append(w, "INBOX", msg(1, extra=b"a" * 3000)).ok
    w.ok("SELECT INBOX")
    for _ in range(4):
        r = w.cmd("COPY 1 Archive")
        if r.status == "NO":
            assert r.code == "OVERQUOTA", r
            break
    else:
        pytest.fail("COPY kept succeeding beyond the quota")
    r = w.ok("GETQUOTAROOT INBOX")
    used, limit = parse(r.first("QUOTA")[len("QUOTA "):])[1][1:3]
    assert int(used) <= int(limit), r


def test_smtp_delivery_respects_quota(imap_srv):
    import smtplib
    imap_srv.db_write("UPDATE accounts SET quota_bytes = ? WHERE localpart = 'alice'", 10240)
    with imap_srv.smtp() as s:
        with pytest.raises(smtplib.SMTPException):
            s.sendmail("x@example.net", [ALICE], msg(1, extra=b"x" * 20000 + b"\r\n"))
    w = imap_srv.imap_wire(user="alice")
    used, limit = parse(w.ok("GETQUOTAROOT INBOX").first("QUOTA")[len("QUOTA "):])[1][1:3]
    assert int(used) <= int(limit)


def test_quota_from_cli_user_add(imap_srv):
    r = imap_srv.cli("user", "add", f"dave@{DOMAIN}", "--quota", "2048", input="dave pw 123\n")
    assert r.returncode == 0, r.stderr
    w = imap_srv.imap_wire(user=f"dave@{DOMAIN}", password="dave pw 123")
    r = w.ok("GETQUOTAROOT INBOX")
    assert "STORAGE" in r.first("QUOTA"), r
    r = append(w, "INBOX", msg(1, extra=b"z" * 3000))
    assert r.status == "NO" and r.code == "OVERQUOTA", r


def test_setquota_refused(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    r = w.cmd('SETQUOTA "" (STORAGE 1)')
    assert r.status in ("NO", "BAD"), r


# ----- international names -----


def test_mutf7_names(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    # "Äpfel" and "日本語" in modified UTF-7.
    w.ok('CREATE "&AMQ-pfel"')
    w.ok('CREATE "&ZeVnLIqe-"')
    got = set(listing(w.ok('LIST "" "*"')))
    assert "&AMQ-pfel" in got and "&ZeVnLIqe-" in got, got
    w.ok('SELECT "&AMQ-pfel"')
    assert status_of(w.ok('STATUS "&ZeVnLIqe-" (MESSAGES)'))["MESSAGES"] == 0
    # Stored under its real name: a UTF-8 session sees UTF-8.
    u = imap_srv.imap_wire(user="alice")
    u.ok("ENABLE UTF8=ACCEPT")
    got = set(listing(u.ok('LIST "" "*"')))
    assert "Äpfel" in got and "日本語" in got, got
    u.ok('SELECT "Äpfel"')


def test_utf8_names_after_enable(imap_srv):
    u = imap_srv.imap_wire(user="alice")
    u.ok("ENABLE UTF8=ACCEPT")
    u.ok('CREATE "Ünïcødé/子"')
    got = set(listing(u.ok('LIST "" "*"')))
    assert {"Ünïcødé", "Ünïcødé/子"} <= got, got
    w = imap_srv.imap_wire(user="alice")
    got = set(listing(w.ok('LIST "" "*"')))
    assert all(n.isascii() for n in got), got
    assert "&ANw-n&AO8-c&APg-d&AOk-/&W1A-" in got, got


def test_invalid_mutf7_and_raw_8bit_refused(imap_srv):
    w = imap_srv.imap_wire(user="alice")
    before = set(listing(w.ok('LIST "" "*"')))
    for name in ('"&Jjo"', '"&-x&"', '"&AGE-"'):  # unterminated, bad, encoded ASCII
        r = w.cmd(f"CREATE {name}")
        assert r.status in ("NO", "BAD"), (name, r)
    # 8-bit bytes without UTF8=ACCEPT.
    r = w.cmd('CREATE "caf\xc3\xa9"'.encode("latin-1"))
    assert r.status in ("NO", "BAD"), r
    assert set(listing(w.ok('LIST "" "*"'))) == before
    w.ok("NOOP")


# ----- names that try to escape -----


@pytest.mark.parametrize("name", ["../x", "a/../b", "/x", "..", ".", "a/./b", "x/..",
                                  "../../../../tmp/evil", "a//b", "&AC4ALg-/x"])
def test_traversal_names_refused(imap_srv, name):
    w = imap_srv.imap_wire(user="alice")
    before = set(listing(w.ok('LIST "" "*"')))
    def dirs():
        return {str(p) for p in imap_srv.root.rglob("*")
                if p.is_dir() and "spool" not in p.parts}
    dirs_before = dirs()
    for cmd in (f"CREATE {quote(name)}", f"SELECT {quote(name)}",
                f"RENAME Sent {quote(name)}", f"DELETE {quote(name)}",
                f"STATUS {quote(name)} (MESSAGES)", f"SUBSCRIBE {quote(name)}"):
        r = w.cmd(cmd)
        assert r.status in ("NO", "BAD"), (cmd, r)
    r = append(w, name, msg(1))
    assert r.status in ("NO", "BAD"), r
    assert set(listing(w.ok('LIST "" "*"'))) == before
    assert "Sent" in before
    assert dirs() == dirs_before, dirs() ^ dirs_before
    assert not os.path.exists("/tmp/evil")
