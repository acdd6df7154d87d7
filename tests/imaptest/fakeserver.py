"""fakeserver.py - a scripted IMAP server to check runner.py itself.

The server answers a fixed set of commands (the setup runner.py performs
before every script, plus the commands of SELFTEST_SCRIPTS below) from a rule
table. A "mutation" replaces one answer by a wrong one; runner.py must report
FAIL for every mutation and PASS for the correct server and for the harmless
variations (other letter case, other item order, extra untagged replies).

Used by tests/e2e/test_imaptest_conformance.py; also runnable by hand:

    python3 tests/imaptest/fakeserver.py [MUTATION]   # prints its port

Loopback only, one thread per connection, every read bounded by a timeout.
"""

import re
import socket
import sys
import threading

MSG1 = ("From: a@example.org\r\nSubject: one\r\n\r\nbody one\r\n\r\n")
MSG2 = ("From: b@example.org\r\nSubject: two\r\n\r\nbody two\r\n\r\n")

# The mbox the scripts append from (runner.py adds CRLFs).
SELFTEST_MBOX = ("From user@domain  Fri Feb 22 17:06:23 2008\n"
                 + MSG1.replace("\r\n", "\n")
                 + "From user@domain  Fri Feb 22 17:06:24 2008\n"
                 + MSG2.replace("\r\n", "\n"))

SELFTEST_SCRIPTS = {
    # the default state: "imaptest" created, 2 messages appended, selected
    "selected": """messages: 2

ok fetch 1:2 (uid flags)
* 1 fetch (uid $uid1 flags (\\seen))
* 2 fetch (uid $uid2 flags ($$kw \\flagged))

ok uid fetch $uid2 uid
* 2 fetch (uid $uid2)

ok fetch 1 body.peek[]
* 1 fetch (body[] {{{
From: a@example.org
Subject: one

body one


}}})

ok status $mailbox (messages uidnext)
* status $mailbox (messages 2 uidnext $next)

copy 1 nothere
no [trycreate]

ok noop
! 1 expunge

ok store 1 +flags \\deleted
ok expunge
* $1 expunge
""",
    "auth": """state: auth

tag1 list "" ""
tag2 status INBOX (messages)
* list () $sep ""
* status INBOX (messages $n)
tag1 ok
tag2 ok

examine INBOX
* $n exists
ok [read-only]

ok status {{{
INBOX
}}} (messages)
* status INBOX (messages $n)
""",
}

CAPS = "IMAP4rev1 LITERAL+ UIDPLUS"


def capabilities(mutation):
    if mutation == "no_literal_plus":  # harmless: synchronising literals
        return CAPS.replace("LITERAL+ ", "")
    return CAPS


def rules(mutation):
    """(regex on the command after the tag, response lines) in order;
    "{tag}" is replaced by the command's tag. Literals in commands appear
    as "<literal N>"."""
    m = mutation
    caps = capabilities(m)
    fetch1 = "* 1 FETCH (UID 10 FLAGS (\\Seen))"
    fetch2 = "* 2 FETCH (FLAGS ($kw \\Flagged) UID 11)"
    if m == "flags_extra":
        fetch1 = "* 1 FETCH (UID 10 FLAGS (\\Seen \\Answered))"
    elif m == "flags_missing":
        fetch2 = "* 2 FETCH (FLAGS ($kw) UID 11)"
    elif m == "case_and_order":  # harmless
        fetch1 = "* 1 fetch (flags (\\SEEN \\Recent) uid 10)"
        fetch2 = "* 2 Fetch (Uid 11 Flags (\\flagged $KW))"
    uid2 = "* 2 FETCH (UID 11)"
    if m == "uid_changed":
        uid2 = "* 2 FETCH (UID 12)"
    body = MSG1
    if m == "body_differs":
        body = MSG1.replace("body one", "body 0ne")  # (case is ignored, as by imaptest)
    status = "* STATUS imaptest (UIDNEXT 12 MESSAGES 2)"
    if m == "status_count":
        status = "* STATUS imaptest (UIDNEXT 12 MESSAGES 3)"
    copy = ["{tag} NO [TRYCREATE] No such mailbox"]
    if m == "copy_wrong_code":
        copy = ["{tag} NO [ALREADYEXISTS] No such mailbox"]
    elif m == "copy_ok":
        copy = ["{tag} OK [COPYUID 1 10 1] Done"]
    noop = ["{tag} OK NOOP done"]
    if m == "noop_expunge":
        noop = ["* 1 EXPUNGE", "{tag} OK NOOP done"]
    elif m == "noop_exists_drop":
        noop = ["* 1 EXISTS", "{tag} OK NOOP done"]
    elif m == "extra_untagged":  # harmless
        noop = ["* OK still here", "* 2 EXISTS", "{tag} OK NOOP done"]
    expunge = ["* 1 EXPUNGE", "{tag} OK Expunged"]
    if m == "expunge_wrong_seq":
        expunge = ["* 2 EXPUNGE", "{tag} OK Expunged"]
    flags = "* FLAGS (\\Seen \\Flagged \\Deleted $kw)"
    if m == "keyword_not_announced":
        flags = "* FLAGS (\\Seen \\Flagged \\Deleted)"
    status_tagged = ["{tag} OK Status done"]
    if m == "status_bad":
        status_tagged = ["{tag} BAD Status failed"]
    fetch_all = [fetch1, fetch2, "{tag} OK Fetch done"]
    if m == "fetch_nothing":
        fetch_all = ["{tag} OK Fetch done"]
    elif m == "fetch_no_tagged":
        fetch_all = [fetch1, fetch2]
    elif m == "fetch_tagged_no":
        fetch_all = [fetch1, fetch2, "{tag} NO Fetch failed"]
    inbox_status = ["* STATUS INBOX (MESSAGES 7)", "{tag} OK done"]
    examine = ["* 7 EXISTS", "{tag} OK [READ-ONLY] Examined"]
    if m == "examine_exists":
        examine = ["* 6 EXISTS", "{tag} OK [READ-ONLY] Examined"]
    elif m == "examine_readwrite":
        examine = ["* 7 EXISTS", "{tag} OK [READ-WRITE] Examined"]
    return [
        (r"LOGIN ", ["{tag} OK [CAPABILITY %s] Logged in" % caps]),
        (r"CAPABILITY$", ["* CAPABILITY " + caps, "{tag} OK done"]),
        (r'LIST "" "imaptest\*"$', ['* LIST () "/" imaptest', "{tag} OK done"]),
        (r'LSUB "" "imaptest\*"$', ["{tag} OK done"]),
        (r'DELETE "imaptest"$', ["{tag} OK done"]),
        (r'CREATE "imaptest"$', ["{tag} OK done"]),
        (r'APPEND "imaptest" ', ["{tag} OK [APPENDUID 1 1] done"]),
        (r'SELECT "imaptest"$', [flags, "* 2 EXISTS", "* 0 RECENT",
                                 "* OK [UIDVALIDITY 1] ok", "{tag} OK [READ-WRITE] done"]),
        (r"fetch 1:2 \(uid flags\)$", fetch_all),
        (r"uid fetch 11 uid$", [uid2, "{tag} OK done"]),
        (r"fetch 1 body\.peek\[\]$",
         ["* 1 FETCH (BODY[] {%d}\r\n%s)" % (len(body), body), "{tag} OK done"]),
        (r"status imaptest \(messages uidnext\)$", [status] + status_tagged),
        (r"copy 1 nothere$", copy),
        (r"noop$", noop),
        (r"store 1 \+flags \\deleted$", ["* 1 FETCH (FLAGS (\\Seen \\Deleted))", "{tag} OK done"]),
        (r"expunge$", expunge),
        (r'list "" ""$', ['* LIST (\\Noselect) "/" ""', "{tag} OK done"]),
        (r"status INBOX \(messages\)$", inbox_status),
        (r"status <literal 5> \(messages\)$", inbox_status),
        (r"examine INBOX$", examine),
        (r"logout$", ["* BYE bye", "{tag} OK bye"]),
    ]


class FakeServer:
    def __init__(self, mutation=None):
        self.rules = [(re.compile(r, re.I), lines) for r, lines in rules(mutation)]
        self.caps = capabilities(mutation)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def session(self, conn):
        conn.settimeout(30)
        f = conn.makefile("rb")
        try:
            conn.sendall(("* OK [CAPABILITY %s AUTH=PLAIN] fake ready\r\n" % self.caps).encode())
            while True:
                line = f.readline()
                if not line:
                    return
                text = line.decode("latin-1").rstrip("\r\n")
                # a command with a literal: read it (LITERAL+ or after "+")
                while True:
                    lm = re.search(r"\{(\d+)(\+?)\}$", text)
                    if lm is None:
                        break
                    if not lm.group(2):
                        conn.sendall(b"+ go\r\n")
                    data = f.read(int(lm.group(1)))
                    rest = f.readline().decode("latin-1").rstrip("\r\n")
                    text = text[:lm.start()] + "<literal %d>" % len(data) + rest
                tag, _, cmd = text.partition(" ")
                for rx, lines in self.rules:
                    if rx.match(cmd):
                        out = lines
                        break
                else:
                    out = ["{tag} BAD unknown command"]
                conn.sendall("".join(x.replace("{tag}", tag) + "\r\n" for x in out).encode("latin-1"))
                if cmd.upper() == "LOGOUT":
                    return
        except OSError:
            return
        finally:
            f.close()
            conn.close()


if __name__ == "__main__":
    srv = FakeServer(sys.argv[1] if len(sys.argv) > 1 else None).start()
    print(srv.port, flush=True)
    try:
        srv.thread.join()
    except KeyboardInterrupt:
        srv.stop()
