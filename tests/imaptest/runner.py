#!/usr/bin/python3
"""runner.py - an interpreter of Dovecot imaptest's scripted tests.

imaptest (https://github.com/dovecot/imaptest, MIT) ships a directory of
protocol scripts: commands to send, the tagged and untagged replies that must
(or must not) come back, variables bound on first match. The program itself
is not packaged for Debian and nothing may be downloaded, so this file runs
the same scripts with the Python standard library only.

What it follows (the semantics of imaptest's test-parser.c and test-exec.c,
read from the imaptest sources; no code copied):

* A script starts with a header ("capabilities:", "connections:", "state:",
  "messages:", "ignore_extra_untagged:", "user N:") ended by an empty line;
  "#" lines are comments. "{{{" at the end of a line starts a literal that
  runs to a line starting with "}}}" ("~{{{" for a binary literal8).
* Setup before every script: log in every connection, CAPABILITY, LIST and
  LSUB "imaptest*" and DELETE/UNSUBSCRIBE all of it (DELETE failures are
  ignored), CREATE "imaptest", APPEND the messages of SCRIPT.mbox (else
  default.mbox) and SELECT it on every connection, stopping early for
  "state: nonauth | auth | created".
* Command lines: "[conn] [tagN] [ok|no|bad|\"\"] command"; a command without
  a status waits for a reply line ("ok ...", "no [trycreate]", "tag1 ok");
  tagged commands of one group are pipelined. "append" alone, or "append
  ARGS" without a message body, appends the next message of the mbox.
* Untagged expectations "* ..." (must come), "! ..." (must not), "? ..."
  (may); matched unordered against everything the server sends while the
  group runs; extra untagged replies are ignored unless
  "ignore_extra_untagged: no". Tagged replies and untagged OK/NO/BAD/BYE
  match by prefix (trailing human text is ignored).
* Matching is case-insensitive (literal contents too) except for variable
  values; strings compare as C strings (a NUL byte ends them) and NIL also
  reads as the astring "NIL", as with Dovecot 2.3's parser; "$name" or
  "${name}" binds on first match (a failed match unbinds), "$" alone matches
  anything, "$N" is the relative sequence number N (adjusted by EXPUNGEs seen
  in the group), "$$" is a literal "$". Lists may start with directives
  "$!unordered[=N]", "$!ordered", "$!noextra", "$!extra", "$!ignore=X",
  "$!ban=X"; FETCH items, STATUS items and LIST flags are unordered by
  default and FETCH FLAGS must match exactly (ignoring \\Recent).
* Mailbox state tracking: EXISTS never shrinks, EXPUNGE and FETCH use valid
  sequence numbers, a sequence keeps its UID, FLAGS lists hold valid atoms
  and announced keywords, \\Recent goes to one session, a UID's
  INTERNALDATE/RFC822.SIZE/ENVELOPE/BODY/BODYSTRUCTURE never change.
  imaptest disconnects (failing the script) on the protocol errors and
  logs the consistency errors; here both fail the script.

Anything the interpreter does not support makes the script SKIP with the
reason, never PASS. Output: one line per script, then
"imaptest: N passed, M failed, K skipped". The exit status is 0 when the run
completed (whatever the scripts' results), 2 on usage or connection errors.
"""

import argparse
import base64
import os
import re
import socket
import ssl
import sys
import time

FULL = sys.maxsize  # "everything matched" (imaptest's UINT_MAX)
DEFAULT_MAILBOX = "imaptest"
READ_TIMEOUT = 30.0  # seconds for any one server response (imaptest: 30)
MAX_RESPONSE = 64 * 1024 * 1024

NIL, ATOM, STRING, LITERAL, LIST = "NIL", "ATOM", "STRING", "LITERAL", "LIST"

# ASCII-only case folding, as C's toupper() in the "C" locale (the text is
# bytes decoded as latin-1, so str.upper() would also fold 8-bit letters).
_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}
_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def up(s):
    return s.translate(_UPPER)


def low(s):
    return s.translate(_LOWER)


def cstr(s):
    """imaptest compares NUL-terminated C strings: text after a NUL byte is
    invisible to it."""
    i = s.find("\0")
    return s if i < 0 else s[:i]


def str_to_uint(s):
    """Dovecot's str_to_uint(): digits only, no sign, fits in 32 bits."""
    if not s or not s.isdigit() or not s.isascii():
        return None
    v = int(s)
    return v if v < 2**32 else None


class ScriptError(Exception):
    """The script uses syntax this interpreter does not understand."""


class ParseError(Exception):
    pass


class TestFailed(Exception):
    """Ends the script as FAIL (a disconnection, a fatal protocol error)."""


class TestSkipped(Exception):
    pass


# ---------------------------------------------------------------------------
# IMAP arguments: Dovecot's imap-parser with the flags imaptest uses
# (ATOM_ALLCHARS, LITERAL8, LITERAL_TYPE, MULTILINE_STR for scripts).
# An argument is a tuple (type, value); a LIST's value is a Python list.
# ---------------------------------------------------------------------------

_LITERAL_HEAD = re.compile(r"(\d*)(\+?)\}")


def parse_args(s, multiline_str=False):
    """Parse one IMAP line (literals inline as "{N}\\r\\n<N bytes>").
    Parsing stops at the first CR or LF outside strings and literals."""
    pos, n = 0, len(s)
    root = []
    cur = root
    stack = []
    while True:
        while pos < n and s[pos] == " ":
            pos += 1
        if pos >= n or s[pos] in "\r\n":
            break
        c = s[pos]
        if c == '"':
            pos += 1
            buf = []
            while True:
                if pos >= n:
                    raise ParseError("Missing '\"'")
                ch = s[pos]
                if ch == '"':
                    pos += 1
                    break
                if ch == "\\":
                    if pos + 1 >= n:
                        raise ParseError("Missing '\"'")
                    buf.append(s[pos + 1])
                    pos += 2
                    continue
                if ch in "\r\n" and not multiline_str:
                    raise ParseError("Missing '\"'")
                buf.append(ch)
                pos += 1
            cur.append((STRING, "".join(buf)))
        elif c == "{" or (c == "~" and pos + 1 < n and s[pos + 1] == "{"):
            pos += 2 if c == "~" else 1
            m = _LITERAL_HEAD.match(s, pos)
            if m is None:
                raise ParseError("Invalid literal size")
            size = int(m.group(1) or "0")
            pos = m.end()
            if pos < n and s[pos] == "\r":
                pos += 1
            if pos >= n or s[pos] != "\n":
                raise ParseError("Missing LF after literal size")
            pos += 1
            if pos + size > n:
                raise ParseError("Literal shorter than its size")
            cur.append((LITERAL, s[pos:pos + size]))
            pos += size
        elif c == "(":
            new = []
            cur.append((LIST, new))
            stack.append(cur)
            cur = new
            pos += 1
        elif c == ")":
            if not stack:
                raise ParseError("Unexpected ')'")
            cur = stack.pop()
            pos += 1
        else:
            start = pos
            while pos < n:
                ch = s[pos]
                if ch == " " or ch == "\r" or ch == "\n":
                    break
                if ch == ")" and stack:
                    break
                pos += 1
            atom = s[start:pos]
            if up(atom) == "NIL":
                # Dovecot keeps NIL's text: it is also the astring "NIL"
                cur.append((NIL, atom))
            else:
                cur.append((ATOM, atom))
    if stack:
        raise ParseError("Missing ')'")
    return root


def is_astring(a):
    """imap_arg_get_astring(): atoms, strings, literals, and (as in RFC 3501
    4.5 and Dovecot 2.3) NIL read as the astring "NIL"."""
    return a[0] in (ATOM, STRING, LITERAL, NIL)


def get_atom(a):
    """imap_arg_get_atom(): an atom, or NIL (Dovecot 2.3 returns its text)."""
    return a[1] if a is not None and a[0] in (ATOM, NIL) else None


def _quote(v):
    if any(ch in v for ch in "\r\n\0") or any(ord(ch) > 127 for ch in v):
        return "{%d}\r\n%s" % (len(v.encode("latin-1")), v)
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def args_to_str(args):
    """imap_args_to_str(): for messages and for comparing values."""
    out = []
    for a in args:
        t, v = a
        if t == NIL:
            out.append("NIL")
        elif t == ATOM:
            out.append(v)
        elif t == LIST:
            out.append("(" + args_to_str(v) + ")")
        else:
            out.append(_quote(v))
    return " ".join(out)


def imap_quote(v):
    """A mailbox name or password as imaptest sends it (quoted string, or a
    literal for CR/LF/8-bit)."""
    return _quote(v)


def printable(s, limit=300):
    s = s.replace("\r\n", "\\r\\n").replace("\r", "\\r").replace("\n", "\\n")
    s = "".join(ch if 32 <= ord(ch) < 127 else "\\x%02x" % ord(ch) for ch in s)
    if len(s) > limit:
        s = s[:limit] + "...(%d more)" % (len(s) - limit)
    return s


# ---------------------------------------------------------------------------
# Scripts
# ---------------------------------------------------------------------------

STATES = ("nonauth", "auth", "created", "appended", "selected")
EXIST_MUST, EXIST_MUST_NOT, EXIST_MAY = "*", "!", "?"
DIRECTIVE_RE = re.compile(r"(unordered(=\d+)?|ordered|noextra|extra|ignore=.*|ban=.*)$")


class Untagged:
    def __init__(self, existence, args, text, linenum):
        self.existence = existence
        self.args = args
        self.text = text
        self.linenum = linenum


class Command:
    def __init__(self, linenum, tag, text, reply):
        self.linenum = linenum
        self.tag = tag  # the script's tagN (0: none)
        self.text = text
        self.reply = reply  # expected tagged reply args, or None yet
        self.cur_tag = None  # wire tag while waiting for the reply


class Group:
    def __init__(self, conn):
        self.conn = conn
        self.commands = []
        self.untagged = []
        self.replies_pending = 0
        self.have_untagged_bye = False
        self.ordered = False
        self.sleep = 0.0
        self.output = []


class Script:
    def __init__(self, path, name, mbox):
        self.path = path
        self.name = name
        self.mbox = mbox
        self.capabilities = None
        self.connections = 1
        self.message_count = 0  # -1: all
        self.state = "selected"
        self.ignore_extra_untagged = True
        self.users = {}
        self.require_user2 = False
        self.groups = []
        self.have_banner_check = False


class ScriptParser:
    """test-parser.c: header, command groups, untagged expectations."""

    def __init__(self, script):
        self.t = script
        self.group = None
        self.ifenv = []  # stack of (linenum, saved skip, else seen)
        self.skip = False

    def parse(self, text):
        if text and not text.endswith("\n"):
            raise ScriptError("last line doesn't end with LF")
        lines = text.split("\n")[:-1]
        header = True
        continues = False
        multiline = ""
        start_pos = last_line_end = 0
        binary = False
        start_linenum = 0
        for linenum, line in enumerate(lines, 1):
            if continues:
                if not line.startswith("}}}"):
                    multiline += line
                    last_line_end = len(multiline)
                    multiline += "\n" if binary else "\r\n"
                    continue
                multiline = multiline[:last_line_end]
                line = line[3:]
                lit = multiline[start_pos:]
                multiline = (multiline[:start_pos] + ("~" if binary else "")
                             + "{%d}\r\n" % len(lit) + lit)
                if line.endswith("{{{"):
                    binary = len(line) > 3 and line[-4] == "~"
                    multiline += line[:-4] if binary else line[:-3]
                    start_pos = last_line_end = len(multiline)
                    continue
                line = multiline + line
                continues = False
            else:
                start_linenum = linenum
                if line == "":
                    header = False
                    continue
                if line.startswith("#"):
                    continue
                if line.endswith("{{{"):
                    binary = len(line) > 3 and line[-4] == "~"
                    multiline = line[:-4] if binary else line[:-3]
                    start_pos = last_line_end = len(multiline)
                    continues = True
                    continue
            try:
                if header:
                    self.header_line(line)
                else:
                    self.command_line(line, start_linenum)
            except (ScriptError, ParseError) as e:
                raise ScriptError("line %d: %s" % (linenum, e)) from None
        if continues:
            raise ScriptError("multiline literal at line %d not ended" % start_linenum)
        if not self.t.groups:
            raise ScriptError("no commands in file")
        if self.group is not None and self.group.replies_pending > 0:
            raise ScriptError("missing reply at end of file")
        if self.ifenv:
            raise ScriptError("!ifenv not closed with !endif")
        self.add_logout()

    def header_line(self, line):
        i = line.find(":")
        if i < 0:
            raise ScriptError("header line without ':'")
        key = low(line[:i].rstrip(" "))
        value = line[i + 1:].lstrip(" ")
        t = self.t
        if key == "capabilities":
            t.capabilities = value.split()
        elif key == "connections":
            n = str_to_uint(value.split(" ")[0]) if value else None
            if not n or n > 100:
                raise ScriptError("bad connection count")
            t.connections = n
        elif key == "ignore_extra_untagged":
            t.ignore_extra_untagged = value[:1] == "y"
        elif key.startswith("user ") and str_to_uint(key[5:]):
            idx = str_to_uint(key[5:])
            if value in ("$user2", "${user2}"):
                t.require_user2 = True
                value = None  # the --user2 account
            t.users[idx] = value
            t.connections = max(t.connections, idx)
        elif key == "messages":
            t.message_count = -1 if value == "all" else int(re.match(r"\d*", value).group() or 0)
        elif key == "state":
            v = low(value)
            if v not in ("nonauth", "auth", "created", "appended", "selected"):
                raise ScriptError("unknown state value %r" % value)
            t.state = v
        else:
            raise ScriptError("unsupported header %r" % key)

    @staticmethod
    def untagged_kind(line):
        if line[:2] in ("* ", "! ", "? "):
            return line[0]
        return None

    @staticmethod
    def get_cmd_reply(line):
        """"[tagN ]ok|no|bad|\"\" ..." -> (tag, reply args or None, rest)."""
        tag = 0
        arg = line.split(" ", 1)[0]
        if low(arg[:3]) == "tag":
            p = line.find(" ")
            n = str_to_uint(arg[3:])
            if p >= 0 and n:
                tag = n
                line = line[p + 1:]
                arg = line.split(" ", 1)[0]
        reply = None
        la = low(arg)
        if la == "ok":
            reply, line = [(ATOM, "ok")], line[2:]
        elif la == "no":
            reply, line = [(ATOM, "no")], line[2:]
        elif la == "bad":
            reply, line = [(ATOM, "bad")], line[3:]
        elif arg == '""':
            reply, line = [(ATOM, "")], line[2:]
        if reply is not None and line.startswith(" "):
            line = line[1:]
        return tag, reply, line

    def command_line(self, line, linenum):
        for prefix, negate in (("!ifenv ", False), ("!ifnenv ", True)):
            if line.startswith(prefix):
                # imaptest skips an !ifenv block when the variable is unset
                unset = os.environ.get(line[len(prefix):]) is None
                if negate:
                    unset = not unset
                self.ifenv.append([linenum, self.skip, False])
                if unset:
                    self.skip = True
                return
        if line == "!else":
            if not self.ifenv:
                raise ScriptError("!else without !ifenv")
            top = self.ifenv[-1]
            if top[2]:
                raise ScriptError("!else already seen")
            top[2] = True
            if not top[1]:
                self.skip = not self.skip
            return
        if line == "!endif":
            if not self.ifenv:
                raise ScriptError("!endif without !ifenv")
            self.skip = self.ifenv.pop()[1]
            return
        if self.skip:
            return
        t = self.t
        g = self.group
        if g is not None:
            if line.startswith("!sleep "):
                m = re.match(r"\s*(\d+(?:\.\d+)?)\s*(ms|msecs?|s|secs?)?\s*$", line[7:])
                if not m:
                    raise ScriptError("unsupported !sleep value")
                v = float(m.group(1))
                g.sleep = v / 1000.0 if (m.group(2) or "ms").startswith("m") else v
                return
            if line.startswith("!output "):
                g.output.append(line[8:])
                return
            if line == "!ordered":
                g.ordered = True
                return
            kind = self.untagged_kind(line)
            if kind:
                self.add_untagged(g, kind, line[2:], linenum)
                return
            if g.replies_pending > 0:
                rest = line
                reply_conn = 0
                if t.connections > 1:
                    first = rest.split(" ", 1)[0]
                    n = str_to_uint(first)
                    if n:
                        reply_conn = n
                        rest = rest[len(first) + 1:] if " " in rest else ""
                tag, reply, _ = self.get_cmd_reply(rest)
                if reply is not None:
                    # new syntax prefixes the reply with its connection, the
                    # old one (imaptest 924f619) does not: accept both
                    if reply_conn and reply_conn - 1 != g.conn:
                        raise ScriptError("reply for wrong connection")
                    self.command_finish(g, tag, rest)
                    return
        if g is None or g.replies_pending == 0:
            g = Group(0)
            self.group = g
            t.groups.append(g)
        if t.connections > 1:
            first = line.split(" ", 1)[0]
            idx = str_to_uint(first)
            if not idx:
                raise ScriptError("missing client index")
            if idx > 100:
                raise ScriptError("too many connections")
            if g.commands and g.conn != idx - 1:
                raise ScriptError("all pipelined commands must use the same connection")
            g.conn = idx - 1
            t.connections = max(t.connections, idx)
            line = line[len(first) + 1:] if " " in line else ""
        tag, reply, rest = self.get_cmd_reply(line)
        if tag == 0:
            if g.replies_pending > 0:
                raise ScriptError("missing reply from previous command group")
        elif any(c.tag == tag for c in g.commands):
            raise ScriptError("tag reused within command group")
        if not g.commands and self.untagged_kind(rest):
            # a banner check: expectations for the greeting
            raise ScriptError("banner checks are not supported")
        if reply is None:
            g.replies_pending += 1
        g.commands.append(Command(linenum, tag, rest, reply))

    def command_finish(self, g, tag, line):
        cmd = next((c for c in g.commands if c.tag == tag), None)
        if cmd is None:
            raise ScriptError("reply for unknown tag")
        if cmd.reply is not None:
            raise ScriptError("command already has a reply")
        args = parse_args(line, multiline_str=True)
        cmd.reply = args[0 if tag == 0 else 1:]
        g.replies_pending -= 1

    def add_untagged(self, g, kind, text, linenum):
        args = parse_args(text, multiline_str=True)
        name = ""
        a0 = get_atom(args[0]) if args else None
        if a0 is not None:
            name = a0
            if a0[:1] == "$" or a0[:1].isdigit():
                name = get_atom(args[1]) if len(args) > 1 else None
                name = name or ""
        add_directives(args, None, name, 0, None)
        if up(name[:3]) == "BYE":
            if kind == EXIST_MUST:
                g.have_untagged_bye = True
            elif kind == EXIST_MAY:
                raise ScriptError("? BYE not supported")
        g.untagged.append(Untagged(kind, args, text, linenum))

    def add_logout(self):
        """Every script ends with LOGOUT on the first connection unless it
        logs out (or expects BYE) itself."""
        for g in self.t.groups:
            if g.have_untagged_bye:
                return
            for c in g.commands:
                if low(c.text) == "logout":
                    return
        g = Group(0)
        g.commands.append(Command(0, 0, "logout", [(ATOM, "ok")]))
        self.t.groups.append(g)


class _DirCtx:
    def __init__(self, parent, reply_name, prev_atom, parent_chain_idx):
        self.parent = parent
        self.reply_name = reply_name
        self.prev_atom = prev_atom
        self.parent_chain_idx = parent_chain_idx
        self.chain_count = 1
        self.directives = False


def add_directives(args, parent, reply_name, parent_chain_idx, prev_atom):
    """Validate "$!" directives and add imaptest's defaults (in place)."""
    ctx = _DirCtx(parent, reply_name, prev_atom, parent_chain_idx)
    _handle_directives(ctx, args)


def _handle_directives(ctx, args):
    for a in args:
        s = get_atom(a)
        if s is None or not s.startswith("$!"):
            break
        d = s[2:]
        if d.startswith("unordered"):
            if d == "unordered":
                pass
            elif d[9:10] == "=" and str_to_uint(d[10:]) is not None:
                ctx.chain_count = str_to_uint(d[10:])
            else:
                raise ScriptError("broken $!unordered directive")
        elif not DIRECTIVE_RE.match(d):
            raise ScriptError("unknown directive %s" % s)
        ctx.directives = True
    if not ctx.directives:
        for d in _default_directives(ctx):
            args.insert(0, (ATOM, d))
    # (imaptest's check of the list length against the chain size looks
    # at the first element only, so it never rejects a list with
    # directives; an odd length is caught when matching.)
    prev = None
    for i, a in enumerate(args):
        s = get_atom(a)
        if s is not None:
            prev = low(s)
        if a[0] != LIST:
            continue
        sub = _DirCtx(ctx, low(ctx.reply_name), prev,
                      i if ctx.chain_count == 1 else i % ctx.chain_count)
        _handle_directives(sub, a[1])


def _default_directives(ctx):
    """Directives in the order they end up at the front of the list."""
    p = ctx.parent
    if p is None:
        return []
    name = ctx.reply_name
    if name in ("list", "lsub"):
        if p.parent is None and p.parent_chain_idx == 0 and ctx.parent_chain_idx == 1:
            return ["$!unordered"]
    elif name == "status":
        if p.parent is None and p.parent_chain_idx == 0 and ctx.parent_chain_idx == 2:
            return ["$!unordered=2"]
    elif name == "fetch":
        if p.parent is None and p.parent_chain_idx == 0 and ctx.parent_chain_idx == 2:
            return ["$!unordered=2"]
        if (p.parent is not None and p.parent.parent is None
                and p.parent.parent_chain_idx == 0 and p.parent_chain_idx == 2
                and ctx.prev_atom == "flags"):
            # inserted one by one at the front: the last one comes first
            return ["$!unordered", "$!noextra", "$!ignore=\\recent",
                    "$!ignore=$HasAttachment", "$!ignore=$HasNoAttachment"]
    return []


def load_script(path, default_mbox):
    name = os.path.basename(path)
    mbox = path + ".mbox"
    if not os.path.exists(mbox):
        mbox = default_mbox
    t = Script(path, name, mbox)
    with open(path, "rb") as f:
        text = f.read().decode("latin-1")
    ScriptParser(t).parse(text)
    return t


# ---------------------------------------------------------------------------
# The mbox source of messages to APPEND
# ---------------------------------------------------------------------------

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
FROM_RE = re.compile(
    r"From (?:\"[^\"]*\"|\S*)\s+(?:[A-Za-z]{3},?\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:([+-]\d{4}|[A-Z]{3,4})\s+)?(\d{4})"
    r"(?:\s+([+-]\d{4}))?")


def parse_from_line(line):
    """An mbox From_ line's date as an IMAP date-time, or None when the line
    is not a From_ line. Without a zone the time is taken as UTC (imaptest
    uses the local zone; run with TZ=UTC for identical dates)."""
    m = FROM_RE.match(line)
    if not m:
        return None
    mon = m.group(1).capitalize()
    if mon not in MONTHS:
        return None
    day, hh, mm, ss = int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5) or 0)
    if not (1 <= day <= 31 and hh < 24 and mm < 60 and ss < 61):
        return None
    zone = m.group(8) or m.group(6)
    if zone is None or not re.match(r"[+-]\d{4}$", zone):
        zone = "+0000"
    return "%02d-%s-%s %02d:%02d:%02d %s" % (day, mon, m.group(7), hh, mm, ss, zone)


class MboxSource:
    """mailbox-source-mbox.c: the messages in order, every line ending in
    CRLF, the blank line before the next From_ line kept; wraps around."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read().decode("latin-1")
        self.messages = []
        cur = None
        date = None
        for line in data.split("\n")[:-1] if data.endswith("\n") else data.split("\n"):
            if line.endswith("\r"):
                line = line[:-1]
            d = parse_from_line(line) if line.startswith("From ") else None
            if d is not None and (cur is None or cur):
                if cur is not None:
                    self.messages.append((date, "".join(cur)))
                cur = []
                date = d
                continue
            if d is not None:  # From_ right after From_: empty body
                date = d
                continue
            if cur is None:
                raise ScriptError("not a valid mbox file: %s" % path)
            cur.append(line + "\r\n")
        if cur:
            self.messages.append((date, "".join(cur)))
        if not self.messages:
            raise ScriptError("empty mbox file: %s" % path)
        self.next = 0

    def eof(self):
        return self.next >= len(self.messages)

    def get_next(self):
        if self.next >= len(self.messages):
            self.next = 0
        m = self.messages[self.next]
        self.next += 1
        return m


# ---------------------------------------------------------------------------
# Matching (test-exec.c: test_expand_input, test_imap_match_args/list)
# ---------------------------------------------------------------------------

def is_var_char(c):
    return c.isascii() and (c.isalnum() or c == "_")


class Matcher:
    def __init__(self, ctx):
        self.ctx = ctx  # TestExec: variables, added, relative sequences

    def expand_input(self, s, inp):
        """Expand variables in expected text s against actual text inp.
        Returns (expanded text or None on mismatch, case-insensitive)."""
        ctx = self.ctx
        icase = True
        out = []
        i = 0
        j = 0
        n = len(s)
        ni = len(inp)
        while i < n:
            if s[i] != "$" or (i + 1 < n and s[i + 1] == "$"):
                if s[i] == "$":
                    i += 1
                ic = inp[j] if j < ni else "\0"
                if up(s[i]) != up(ic):
                    return None, icase
                j += 1
                out.append(s[i])
                i += 1
                continue
            i += 1
            if i < n and s[i] == "{":
                k = s.find("}", i + 1)
                if k < 0:
                    return "", icase
                var = s[i + 1:k]
                i = k + 1
            else:
                k = i
                while k < n and is_var_char(s[k]):
                    k += 1
                var = s[i:k]
                i = k
            seq = str_to_uint(var)
            if seq is not None:
                value = ctx.relative_seq(seq)
            elif var.startswith("case:"):
                icase = False
                value = var[5:]
            else:
                value = ctx.variables.get(var) if var else None
                if value is None:
                    # bind: take input up to the next expected character
                    rest = s[i:]
                    sub_icase = True
                    if rest[:1] == "$":
                        tmp, sub_icase = self.expand_input(rest, inp[j:])
                        if tmp is None:
                            return None, icase
                    else:
                        tmp = rest
                    stop = tmp[:1]
                    k = j
                    if stop == "":
                        k = ni
                    elif sub_icase:
                        while k < ni and up(inp[k]) != up(stop):
                            k += 1
                    else:
                        while k < ni and inp[k] != stop:
                            k += 1
                    value = inp[j:k]
                    if var:
                        ctx.variables[var] = value
                        ctx.added.append(var)
            out.append(value)
            for ch in value:
                if j >= ni or inp[j] != ch:
                    return None, icase
                j += 1
        return "".join(out), icase

    def match_args(self, match, args, maxn, prefix):
        ret = 0
        mi = ai = 0
        while mi < len(match) and maxn > 0:
            m = match[mi]
            a = args[ai] if ai < len(args) else None
            if m[0] == NIL:
                if a is None or a[0] != NIL:
                    return ret
            elif m[0] == LIST:
                if a is None or a[0] != LIST:
                    return ret
                sub = self.match_list(m[1], a[1])
                if sub != FULL:
                    return ret + sub
            else:
                mv = m[1]
                if mv == "$" and a is not None and a[0] == LIST:
                    pass  # "$" skips over a list
                elif mv == "$]":
                    # skip atoms until one containing ']'
                    while ai < len(args) and args[ai][0] in (ATOM, NIL) and "]" not in args[ai][1]:
                        ai += 1
                else:
                    if a is None or not is_astring(a):
                        return ret
                    astr = cstr(a[1])
                    mstr, icase = self.expand_input(cstr(mv), astr)
                    if mstr is None:
                        return ret
                    if prefix and mi + 1 == len(match):
                        if icase:
                            ok = up(astr[:len(mstr)]) == up(mstr)
                        else:
                            ok = astr[:len(mstr)] == mstr
                    else:
                        ok = up(astr) == up(mstr) if icase else astr == mstr
                    if not ok:
                        return ret
            ret += 1
            mi += 1
            ai += 1
            maxn -= 1
        if prefix or ai >= len(args) or maxn == 0:
            return FULL
        return ret

    def match_list(self, match, args):
        unordered = False
        chain = 1
        ignores = []
        bans = []
        noextra = -1
        k = 0
        while k < len(match) and match[k][0] == ATOM and match[k][1].startswith("$!"):
            d = match[k][1][2:]
            if d.startswith("unordered"):
                unordered = True
                if noextra == -1:
                    noextra = 0
                if d[9:10] == "=":
                    chain = int(re.match(r"\d*", d[10:]).group() or 0)
            elif d == "ordered":
                unordered = False
            elif d == "extra":
                noextra = 0
            elif d == "noextra":
                noextra = 1
            elif d.startswith("ignore="):
                ignores.append(d[7:])
            elif d.startswith("ban="):
                bans.append(d[4:])
            else:
                raise ScriptError("unknown directive $!%s" % d)
            k += 1
        match = match[k:]
        if noextra == -1:
            noextra = 1
        if not unordered:
            return self.match_args(match, args, FULL, False)
        if chain <= 0 or len(match) % chain != 0:
            # imaptest asserts here
            raise ScriptError("list of %d items with $!unordered=%d" % (len(match), chain))
        if len(args) % chain != 0:
            return 0
        matched = [False] * len(args)
        ret = 0
        for mi in range(0, len(match), chain):
            found = False
            for ai in range(0, len(args), chain):
                if self.match_args(match[mi:mi + chain], args[ai:], chain, False) == FULL:
                    matched[ai] = True
                    found = True
                    break
            if not found:
                return ret
            ret += 1
        if noextra > 0:
            for ai in range(0, len(args), chain):
                if matched[ai] or not is_astring(args[ai]):
                    continue
                v = cstr(args[ai][1])
                if not any(up(x) == up(v) for x in ignores):
                    return ret
        elif bans:
            for ai in range(0, len(args), chain):
                if matched[ai] or not is_astring(args[ai]):
                    continue
                v = cstr(args[ai][1])
                if any(up(x) == up(v) for x in bans):
                    return ret
        return FULL


# ---------------------------------------------------------------------------
# Connections and mailbox state tracking (imap-client.c, mailbox-state.c)
# ---------------------------------------------------------------------------

SYSTEM_FLAGS = {"\\SEEN", "\\ANSWERED", "\\FLAGGED", "\\DELETED", "\\DRAFT", "\\RECENT"}
DATE_TIME_RE = re.compile(r"^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$")


class Disconnected(Exception):
    pass


class StaticMsg:
    """What a UID's message must keep: the same for every session."""

    def __init__(self):
        self.recent_owner = None
        self.fields = {}


class Storage:
    """One mailbox of one user, shared by the sessions that select it."""

    def __init__(self, name):
        self.name = name
        self.uidvalidity = 0
        self.msgs = {}
        self.dont_track_recent = False

    def reset(self):
        self.uidvalidity = 0
        self.msgs = {}
        self.dont_track_recent = False

    def msg(self, uid):
        m = self.msgs.get(uid)
        if m is None:
            m = self.msgs[uid] = StaticMsg()
        return m


class View:
    """A session's view of its selected mailbox."""

    def __init__(self, storage):
        self.storage = storage
        self.uidmap = []  # sequence-1 -> UID (0: not known yet)
        self.keywords = set()  # upper-cased, from FLAGS
        self.readwrite = False


class Conn:
    global_ids = 0

    def __init__(self, exe, idx, user, password):
        self.exe = exe
        self.idx = idx
        self.user = user
        self.password = password
        Conn.global_ids += 1
        self.global_id = Conn.global_ids
        self.tag_counter = 1
        self.sock = None
        self.buf = b""
        self.caps = []
        self.postlogin_caps = False
        self.login_state = "nonauth"
        self.storage = None  # set by TestExec.setup()
        self.view = None
        self.seen_bye = False
        self.logout_sent = False
        self.closed = False
        self.qresync_enabled = False
        self.waiting = {}  # wire tag -> PendingCmd

    # ----- wire -----

    def connect(self):
        o = self.exe.opts
        try:
            s = socket.create_connection((o.host, o.port), timeout=o.timeout)
        except OSError as e:
            raise Disconnected("connect to %s:%d failed: %s" % (o.host, o.port, e)) from None
        if o.tls:
            s = self.exe.tls_context().wrap_socket(s, server_hostname=o.host)
        self.sock = s

    def starttls(self):
        self.sock = self.exe.tls_context().wrap_socket(self.sock, server_hostname=self.exe.opts.host)
        self.buf = b""

    def send(self, data):
        if self.closed:
            raise Disconnected("connection %d already closed" % (self.idx + 1))
        self.exe.log("C%d: %s" % (self.idx + 1, data))
        try:
            self.sock.sendall(data.encode("latin-1"))
        except OSError as e:
            self.closed = True
            raise Disconnected("send failed: %s" % e) from None

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TestFailed("timeout: no complete reply within %gs on connection %d"
                             % (self.exe.opts.timeout, self.idx + 1))
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TestFailed("timeout: no complete reply within %gs on connection %d"
                             % (self.exe.opts.timeout, self.idx + 1)) from None
        except OSError as e:
            self.closed = True
            raise Disconnected(str(e)) from None
        if not data:
            self.closed = True
            raise Disconnected("server closed the connection")
        self.buf += data
        if len(self.buf) > MAX_RESPONSE:
            raise TestFailed("server response too large")

    def read_line(self, deadline):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = self.buf[:i + 1]
                self.buf = self.buf[i + 1:]
                return line.decode("latin-1")
            self._fill(deadline)

    def read_bytes(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        data = self.buf[:n]
        self.buf = self.buf[n:]
        return data.decode("latin-1")

    def read_response(self):
        """One whole response with literals inline, without the final CRLF."""
        deadline = time.monotonic() + self.exe.opts.timeout
        parts = []
        in_quote = False
        while True:
            line = self.read_line(deadline)
            # find whether the line ends with a literal head outside quotes
            body = line[:-2] if line.endswith("\r\n") else line[:-1]
            esc = False
            for ch in body:
                if in_quote:
                    if esc:
                        esc = False
                    elif ch == "\\":
                        esc = True
                    elif ch == '"':
                        in_quote = False
                elif ch == '"':
                    in_quote = True
            m = None if in_quote else re.search(r"\{(\d+)\+?\}$", body)
            if m is None:
                parts.append(body)
                break
            parts.append(line)
            size = int(m.group(1))
            if size > MAX_RESPONSE:
                raise TestFailed("server literal too large")
            parts.append(self.read_bytes(size, deadline))
        raw = "".join(parts)
        self.exe.log("S%d: %s" % (self.idx + 1, raw))
        return raw

    def next_tag(self):
        tag = "%d.%d" % (self.global_id, self.tag_counter)
        self.tag_counter += 1
        return tag

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.closed = True

    # ----- state -----

    def set_caps(self, text):
        if self.login_state != "nonauth":
            self.postlogin_caps = True
        self.caps = text.split()

    def has_caps(self, wanted):
        have = {up(c) for c in self.caps}
        return [w for w in wanted if up(w) not in have]

    def mailbox_close(self):
        self.view = View(self.storage)
        if self.login_state == "selected":
            self.login_state = "auth"


class PendingCmd:
    def __init__(self, conn, tag, cmd, chunks, expect_bad, is_select, is_close):
        self.conn = conn
        self.tag = tag
        self.cmd = cmd  # Command of the script (None during setup)
        self.chunks = chunks  # wire pieces still to send after a "+"
        self.expect_bad = expect_bad
        self.is_select = is_select
        self.is_close = is_close
        self.reply = None
        self.is_login = False
        self.first = None
        self.started = False


def split_literals(text, literal_plus):
    """command_get_cmdline(): a command written with "{N}" literals becomes
    wire chunks. With LITERAL+ every literal becomes "{N+}" and there is one
    chunk; without it each chunk after the first waits for a "+"."""
    chunks = []
    cur = []
    pos = 0
    n = len(text)
    while True:
        nl = text.find("\n", pos)
        if nl < 0:
            cur.append(text[pos:])
            break
        seg = text[pos:nl + 1]
        m = re.search(r" (~?)\{(\d+)(\+?)\}\r?\n$", seg)
        if m is None:
            cur.append(seg)  # "looks like a broken line, but allow anyway"
            pos = nl + 1
            continue
        size = int(m.group(2))
        head = seg[:m.start()] + " " + m.group(1) + "{" + m.group(2)
        if literal_plus:
            cur.append(head + "+}\r\n")
            cur.append(text[nl + 1:nl + 1 + size])
        else:
            cur.append(head + "}\r\n")
            chunks.append("".join(cur))
            cur = [text[nl + 1:nl + 1 + size]]
        pos = nl + 1 + size
        if pos > n:
            break
    chunks.append("".join(cur))
    return chunks


def first_astring(text):
    try:
        args = parse_args(text)
    except ParseError:
        return None
    if args and is_astring(args[0]):
        return args[0][1]
    return None


def append_has_body(text, replace):
    """Whether APPEND ARGS carries its own message (a literal or CATENATE):
    "mailbox [(flags)] ["date"] <literal|catenate>"."""
    try:
        args = parse_args(text)
    except ParseError:
        return False
    if not args:
        return False
    i = 1 if replace else 0
    if i >= len(args):
        return False
    if i + 1 < len(args) and args[i + 1][0] == LIST:
        i += 1
    if i + 1 < len(args) and args[i + 1][0] == STRING:
        i += 1
    if i + 1 >= len(args):
        return False
    a = args[i + 1]
    return a[0] == LITERAL or (a[0] == ATOM and up(a[1]) == "CATENATE")


def parse_datetime(v):
    m = DATE_TIME_RE.match(v)
    if not m or m.group(2).capitalize() not in MONTHS:
        return None
    day = int(m.group(1))
    if not 1 <= day <= 31 or int(m.group(4)) > 23 or int(m.group(5)) > 59 or int(m.group(6)) > 60:
        return None
    return (int(m.group(3)), MONTHS.index(m.group(2).capitalize()), day,
            int(m.group(4)), int(m.group(5)), int(m.group(6)), m.group(7) + m.group(8) + m.group(9))


def mailbox_url(name):
    """A mailbox name (modified UTF-7) as an IMAP URL path segment."""
    try:
        s = name
        out = []
        i = 0
        while i < len(s):
            if s[i] == "&":
                j = s.index("-", i)
                if j == i + 1:
                    out.append("&")
                else:
                    b64 = s[i + 1:j].replace(",", "/")
                    b64 += "=" * (-len(b64) % 4)
                    out.append(base64.b64decode(b64).decode("utf-16-be"))
                i = j + 1
            else:
                out.append(s[i])
                i += 1
        utf8 = "".join(out).encode("utf-8")
    except (ValueError, UnicodeError):
        utf8 = name.encode("latin-1", "replace")
    keep = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,=:@/"
    return "".join(chr(c) if c in keep else "%%%02X" % c for c in utf8)


class TestExec:
    """Runs one script: setup, command groups, matching."""

    def __init__(self, opts, script):
        self.opts = opts
        self.t = script
        self.mailbox = opts.mailbox
        self.variables = {}
        self.added = []
        self.storages = {}
        self.conns = []
        self.failures = []
        self.transcript = []
        self.seqmap = []
        self.init_finished = False
        self.matcher = Matcher(self)
        self.group = None
        self._tls = None
        self.source = None

    # ----- helpers -----

    def tls_context(self):
        if self._tls is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self._tls = ctx
        return self._tls

    def storage(self, user, name):
        key = (user, name)
        s = self.storages.get(key)
        if s is None:
            s = self.storages[key] = Storage(name)
        return s

    def log(self, line):
        self.transcript.append(printable(line.rstrip("\r\n"), 2000))

    def fail(self, msg):
        self.log("*** " + msg)
        self.failures.append(msg)

    def state_error(self, conn, msg):
        self.fail("state error (connection %d): %s" % (conn.idx + 1, msg))

    def input_error(self, conn, msg):
        raise TestFailed("protocol error (connection %d): %s" % (conn.idx + 1, msg))

    def show_expected(self, text):
        """A script line for a message: as written, then with the variables
        bound so far."""
        def sub(m):
            var = m.group(1) or m.group(2)
            if str_to_uint(var) is not None:
                return self.relative_seq(str_to_uint(var))
            v = self.variables.get(var)
            return m.group(0) if v is None else v
        done = re.sub(r"\$\{([^}]*)\}|\$([A-Za-z0-9_]+)", sub, text.replace("$$", "\ue000"))
        done = done.replace("\ue000", "$")
        if done == text:
            return printable(text, 200)
        return "%s' = '%s" % (printable(text, 200), printable(done, 200))

    def relative_seq(self, seq):
        if seq == 0:
            return "<zero seq>"
        if seq > len(self.seqmap):
            return "<out of range>"
        v = self.seqmap[seq - 1]
        return "<expunged>" if v == 0 else str(v)

    def expand_all(self, line, skip_uninitialized=False):
        """test_expand_all(): variables in a command (or for a message)."""
        if "$" not in line:
            return line
        out = []
        i = 0
        n = len(line)
        while i < n:
            c = line[i]
            if c != "$" or i + 1 == n:
                out.append(c)
                i += 1
                continue
            i += 1
            if line[i] == "$":
                out.append("$")
                i += 1
                continue
            if line[i] == "!":
                while i + 1 < n and line[i + 1] != " ":
                    i += 1
                i += 1
                continue
            if line[i] == "{":
                k = line.find("}", i + 1)
                if k < 0:
                    raise TestFailed("missing '}' in %r" % line)
                var = line[i + 1:k]
                i = k + 1
            else:
                k = i
                while k < n and is_var_char(line[k]):
                    k += 1
                var = line[i:k]
                i = k
            seq = str_to_uint(var)
            if seq is not None:
                value = self.relative_seq(seq)
            else:
                value = self.variables.get(var)
                if value is None:
                    if not skip_uninitialized:
                        raise TestFailed("uninitialized variable: %s" % var)
                    value = "$"
            out.append(value)
        return "".join(out)

    # ----- run -----

    def run(self):
        """Returns ("PASS"|"FAIL"|"SKIP", reason)."""
        try:
            self.source = MboxSource(self.t.mbox)
            self.setup()
            self.init_finished = True
            for gi, g in enumerate(self.t.groups):
                self.run_group(gi, g)
        except TestSkipped as e:
            return "SKIP", str(e)
        except TestFailed as e:
            self.fail(str(e))
        except Disconnected as e:
            self.fail("unexpected disconnection (%s)" % e)
        finally:
            for c in self.conns:
                c.close()
        if self.failures:
            return "FAIL", self.failures[0]
        return "PASS", ""

    # ----- setup (test_send_lstate_commands / init_callback) -----

    def setup(self):
        t = self.t
        o = self.opts
        if t.require_user2 and not o.user2:
            raise TestSkipped("needs a second user (--user2)")
        for i in range(t.connections):
            user, password = o.user, o.password
            if (i + 1) in t.users:
                v = t.users[i + 1]
                if v is None:
                    user, password = o.user2, o.password2
                else:
                    user = v
            c = Conn(self, i, user, password)
            c.storage = self.storage(user, self.mailbox)
            c.view = View(c.storage)
            self.conns.append(c)
            sfx = "" if i == 0 else str(i + 1)
            self.variables["user" + sfx] = user
            self.variables["username" + sfx] = user.split("@", 1)[0]
            self.variables["domain" + sfx] = user.split("@", 1)[1] if "@" in user else o.host
            self.variables["password" + sfx] = password
        self.variables["mailbox"] = self.mailbox
        self.variables["mailbox_url"] = mailbox_url(self.mailbox)

        for c in self.conns:
            self.greet(c)
        if t.state == "nonauth":
            for c in self.conns:
                missing = c.has_caps(t.capabilities or [])
                if missing:
                    raise TestSkipped("missing capability " + " ".join(missing))
            return
        for c in self.conns:
            if c.login_state == "nonauth":
                st, args = self.init_command(c, "LOGIN %s %s" % (imap_quote(c.user), imap_quote(c.password)))
                c.login_state = "auth"
        c0 = self.conns[0]
        if not c0.postlogin_caps:
            self.init_command(c0, "CAPABILITY")
            if not c0.postlogin_caps:
                raise TestFailed("initialization failed: CAPABILITY gave no capabilities")
        missing = c0.has_caps(t.capabilities or [])
        if missing:
            raise TestSkipped("missing capability " + " ".join(missing))

        # delete everything named like the test mailbox
        mask = imap_quote(self.mailbox + "*")
        listed, lsubbed = [], []
        self.init_command(c0, 'LIST "" ' + mask, collect=("LIST", listed))
        self.init_command(c0, 'LSUB "" ' + mask, collect=("LSUB", lsubbed))
        for name in sorted(listed, key=lambda s: low(s), reverse=True):
            self.init_command(c0, "DELETE " + imap_quote(name), allow_no=True)
        for name in sorted(lsubbed, key=lambda s: low(s), reverse=True):
            self.init_command(c0, "UNSUBSCRIBE " + imap_quote(name), allow_no=True)
        if t.state == "auth":
            return
        if low(self.mailbox) != "inbox":
            self.init_command(c0, "CREATE " + imap_quote(self.mailbox))
        if t.state == "created":
            return
        count = len(self.source.messages) if t.message_count < 0 else t.message_count
        for _ in range(count):
            date, msg = self.source.get_next()
            self.init_command(c0, None, append=('"%s" "%s"' % (self.mailbox, date), msg))
        if t.state == "appended":
            return
        for c in self.conns:
            self.init_command(c, "SELECT " + imap_quote(c.storage.name))

    def greet(self, c):
        c.connect()
        raw = c.read_response()
        if up(raw[:10]) == "* PREAUTH ":
            c.login_state = "auth"
        elif up(raw[:5]) != "* OK ":
            self.input_error(c, "malformed banner %r" % printable(raw))
        m = re.search(r"\[CAPABILITY ([^\]]*)\]", raw, re.I)
        if m:
            c.set_caps(m.group(1))
        else:
            self.init_command(c, "CAPABILITY")
        if self.opts.starttls:
            self.init_command(c, "STARTTLS")
            c.starttls()
            c.caps = []
            self.init_command(c, "CAPABILITY")

    def init_command(self, c, text, allow_no=False, collect=None, append=None):
        """Send one setup command and wait for its reply; any NO or BAD
        (a DELETE/UNSUBSCRIBE NO aside) fails the script's setup."""
        tag = c.next_tag()
        if append is not None:
            args, msg = append
            chunks = self.append_chunks(c, tag, args, msg)
            text = "APPEND " + args
        else:
            chunks = split_literals("%s %s\r\n" % (tag, text), "LITERAL+" in {up(x) for x in c.caps})
        p = PendingCmd(c, tag, None, chunks[1:], False, up(text).startswith(("SELECT ", "EXAMINE ")), False)
        p.is_login = up(text).startswith("LOGIN ")
        c.waiting[tag] = p
        c.send(chunks[0])
        while p.reply is None:
            raw = c.read_response()
            args = self.parse_response(c, raw)
            kind = get_atom(args[0]) if args else None
            if kind == "+":
                if not p.chunks:
                    self.input_error(c, "unexpected command continuation")
                c.send(p.chunks.pop(0))
                continue
            if kind == "*":
                self.handle_untagged(c, args[1:])
                if collect is not None and len(args) >= 5 and up(get_atom(args[1]) or "") == collect[0] \
                        and args[2][0] == LIST and is_astring(args[4]):
                    collect[1].append(args[4][1])
                continue
            self.handle_tagged(c, args)
        st = up(get_atom(p.reply[0]) or "")
        if st == "OK" or (st == "NO" and allow_no):
            return st, p.reply
        raise TestFailed("initialization failed: %s: %s" % (printable(text, 80), printable(args_to_str(p.reply))))

    def append_chunks(self, c, tag, args, msg):
        """APPEND with a message of the mbox: "tag APPEND args {N}" + msg."""
        if "LITERAL+" in {up(x) for x in c.caps}:
            return ["%s APPEND %s {%d+}\r\n%s\r\n" % (tag, args, len(msg), msg)]
        return ["%s APPEND %s {%d}\r\n" % (tag, args, len(msg)), msg + "\r\n"]

    # ----- responses -----

    def parse_response(self, c, raw):
        try:
            args = parse_args(raw)
        except ParseError as e:
            self.input_error(c, "error parsing input: %s: %s" % (e, printable(raw)))
        if not args or args[0][0] != ATOM:
            self.input_error(c, "broken tag: %s" % printable(raw))
        return args

    def handle_tagged(self, c, args):
        tag = args[0][1]
        if len(args) < 2 or args[1][0] != ATOM:
            self.input_error(c, "broken tagged reply")
        p = c.waiting.pop(tag, None)
        if p is None:
            self.input_error(c, "unexpected tagged reply: %s" % tag)
        st = up(args[1][1])
        if st not in ("OK", "NO", "BAD"):
            self.input_error(c, "broken tagged reply: %s" % printable(args_to_str(args)))
        if st == "BAD" and not p.expect_bad:
            self.input_error(c, "BAD reply for command: %s" % printable(args_to_str(args)))
        reply = args[1:]
        if p.is_login and st == "OK":
            c.login_state = "auth"  # before the resp-text: post-login CAPABILITY
        if p.is_select and st == "OK":
            c.login_state = "selected"
        if p.is_close and st == "OK" and c.login_state == "selected":
            c.mailbox_close()
        if len(reply) > 1:
            self.resp_text_code(c, reply[1:])
        p.reply = reply
        return p

    def resp_text_code(self, c, args):
        key = get_atom(args[0])
        if key is None or not key.startswith("["):
            return
        key = up(key[1:]).split("]", 1)[0]
        value = args_to_str(args[1:]).split("]", 1)[0]
        view = c.view
        if key == "READ-WRITE":
            view.readwrite = True
        elif key == "CAPABILITY":
            c.set_caps(value)
        elif key == "CLOSED":
            if c.login_state != "selected":
                self.input_error(c, "CLOSED code sent in non-selected state")
            c.mailbox_close()
        elif key == "PERMANENTFLAGS":
            if len(args) < 2 or args[1][0] != LIST:
                self.input_error(c, "broken PERMANENTFLAGS")
            for a in args[1][1]:
                if a[0] not in (ATOM, NIL):
                    self.input_error(c, "broken PERMANENTFLAGS")
                if a[1].startswith("\\") and a[1] != "\\*" and up(a[1]) not in SYSTEM_FLAGS:
                    self.input_error(c, "broken PERMANENTFLAGS: %s" % a[1])
        elif key == "UIDVALIDITY":
            v = str_to_uint(value.strip()) or 0
            st = view.storage
            if v != st.uidvalidity:
                if st.uidvalidity != 0:
                    self.state_error(c, "UIDVALIDITY changed: %d -> %d" % (st.uidvalidity, v))
                st.uidvalidity = v
                st.msgs = {}

    def handle_untagged(self, c, args):
        """imap_client_handle_untagged(): mailbox state tracking."""
        view = c.view
        name = get_atom(args[0]) if args else None
        if name is None:
            self.input_error(c, "invalid untagged input")
        uname = up(name)
        num = str_to_uint(name)
        if num is not None:
            kw = get_atom(args[1]) if len(args) > 1 else None
            if kw is None:
                self.input_error(c, "invalid untagged input")
            kw = up(kw)
            if kw == "EXISTS":
                if num < len(view.uidmap):
                    self.input_error(c, "message count dropped %d -> %d" % (len(view.uidmap), num))
                view.uidmap.extend([0] * (num - len(view.uidmap)))
            elif kw == "EXPUNGE":
                if num == 0:
                    self.input_error(c, "tried to expunge sequence 0")
                if num > len(view.uidmap):
                    self.input_error(c, "tried to expunge sequence %d with only %d msgs"
                                     % (num, len(view.uidmap)))
                del view.uidmap[num - 1]
            elif kw == "FETCH":
                if num == 0 or num > len(view.uidmap):
                    self.input_error(c, "FETCH for sequence %d with only %d msgs"
                                     % (num, len(view.uidmap)))
                self.handle_fetch(c, num, args[2:])
        elif uname == "BYE":
            if not c.logout_sent or c.seen_bye:
                self.log("*** warning: unexpected BYE")
            c.mailbox_close()
            c.seen_bye = True
            c.login_state = "nonauth"
        elif uname == "FLAGS":
            if len(args) < 2 or args[1][0] != LIST:
                self.input_error(c, "broken FLAGS")
            kws = set()
            for a in args[1][1]:
                if a[0] not in (ATOM, NIL):
                    self.input_error(c, "broken FLAGS")
                if a[1].startswith("\\"):
                    if up(a[1]) not in SYSTEM_FLAGS:
                        self.input_error(c, "broken FLAGS: %s" % a[1])
                else:
                    kws.add(up(a[1]))
            view.keywords |= kws
        elif uname == "CAPABILITY":
            c.set_caps(args_to_str(args[1:]))
        elif uname == "ENABLED":
            for a in args[1:]:
                if get_atom(a) and up(a[1]) == "QRESYNC":
                    c.qresync_enabled = True
        elif uname == "VANISHED":
            self.handle_vanished(c, args[1:])
        elif uname == "OK":
            if len(args) > 1:
                self.resp_text_code(c, args[1:])
        elif uname == "BAD":
            self.log("*** warning: untagged BAD received")

    def handle_vanished(self, c, args):
        if not c.qresync_enabled:
            self.input_error(c, "server sent VANISHED but we hadn't enabled QRESYNC")
        if args and args[0][0] == LIST:
            inner = args[0][1]
            if len(inner) == 1 and get_atom(inner[0]) and up(inner[0][1]) == "EARLIER":
                return  # not selecting with a cache: we don't care
        if len(args) != 1 or args[0][0] != ATOM:
            self.input_error(c, "invalid VANISHED parameters")
        uids = []
        for part in args[0][1].split(","):
            m = re.match(r"^(\d+)(?::(\d+))?$", part)
            if not m:
                self.input_error(c, "invalid VANISHED sequence-set")
            a, b = int(m.group(1)), int(m.group(2) or m.group(1))
            a, b = min(a, b), max(a, b)
            if b - a > 100000:
                self.input_error(c, "VANISHED range too large for this client")
            uids.extend(range(a, b + 1))
        um = c.view.uidmap
        for uid in uids:
            if uid in um:
                um.remove(uid)
                continue
            # an unknown UID: expunge the last unknown message before the
            # first larger known one
            i = 0
            while i < len(um) and not (um[i] != 0 and um[i] > uid):
                i += 1
            if i == 0 or um[i - 1] != 0:
                self.input_error(c, "VANISHED UID=%d not found" % uid)
            del um[i - 1]

    def handle_fetch(self, c, seq, args):
        """mailbox_state_handle_fetch(): flags and per-UID invariants."""
        view = c.view
        if not args or args[0][0] != LIST:
            self.input_error(c, "FETCH didn't return a list")
        items = args[0][1]
        pairs = [(up(items[i][1]), items[i + 1]) for i in range(0, len(items) - 1, 2)
                 if items[i][0] == ATOM]
        for name, v in pairs:
            if name == "UID" and v[0] == ATOM:
                uid = int(re.match(r"\d*", v[1]).group() or 0)
                old = view.uidmap[seq - 1]
                if old == 0:
                    view.uidmap[seq - 1] = uid
                elif old != uid:
                    self.input_error(c, "UID changed for sequence %d: %d -> %d" % (seq, old, uid))
                break
        uid = view.uidmap[seq - 1]
        ms = view.storage.msg(uid) if uid else None
        for name, v in pairs:
            if name == "FLAGS":
                if v[0] != LIST:
                    self.input_error(c, "FLAGS reply isn't a list")
                recent = False
                for a in v[1]:
                    if a[0] not in (ATOM, NIL):
                        self.input_error(c, "flags list contains non-atoms")
                    f = up(a[1])
                    if f.startswith("\\"):
                        if f not in SYSTEM_FLAGS:
                            self.input_error(c, "invalid system flag: %s" % a[1])
                        recent = recent or f == "\\RECENT"
                    elif f not in view.keywords:
                        self.state_error(c, "keyword used without being in FLAGS: %s" % a[1])
                        view.keywords.add(f)
                if recent and ms is not None and not view.storage.dont_track_recent:
                    if ms.recent_owner is None:
                        if view.readwrite:
                            ms.recent_owner = c.global_id
                    elif ms.recent_owner != c.global_id:
                        self.state_error(c, "message UID=%d has \\Recent flag in multiple sessions"
                                         % uid)
                        view.storage.dont_track_recent = True
                continue
            if ms is None:
                continue
            if name == "INTERNALDATE":
                if not is_astring(v) or parse_datetime(v[1]) is None:
                    self.input_error(c, "broken INTERNALDATE")
                d = parse_datetime(v[1])
                old = ms.fields.get(name)
                if old is None:
                    ms.fields[name] = d
                elif old != d:
                    self.input_error(c, "UID=%d INTERNALDATE changed %s -> %s" % (uid, old, v[1]))
                continue
            if name in ("BODY", "BODYSTRUCTURE", "ENVELOPE", "RFC822.SIZE"):
                if v[0] == LIST:
                    value = args_to_str(v[1])
                elif is_astring(v):
                    value = v[1]
                else:
                    continue
                if name in ("BODY", "BODYSTRUCTURE") and \
                        up(value).startswith('"TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0 NIL NIL NIL'):
                    continue
                if name == "ENVELOPE" and up(value).startswith("NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL"):
                    continue
                if name == "RFC822.SIZE" and value == "0":
                    continue
                old = ms.fields.get(name)
                if old is not None and up(old) != up(value):
                    self.state_error(c, "uid=%d %s changed '%s' -> '%s'"
                                     % (uid, name, printable(old, 200), printable(value, 200)))
                ms.fields[name] = value

    # ----- command groups -----

    def run_group(self, gi, g):
        c = self.conns[g.conn]
        self.group = g
        self.seqmap = list(range(1, len(c.view.uidmap) + 1))
        self.received = [False] * len(g.untagged)
        self.maybes = [(0, None)] * len(g.untagged)
        self.mismatches = 0
        self.first_extra = None
        self.send_queue = []
        nfail = len(self.failures)
        try:
            for cmd in g.commands:
                self.send_command(c, g, cmd)
            self.pump(c)
            while any(cmd.cur_tag is not None for cmd in g.commands):
                raw = c.read_response()
                args = self.parse_response(c, raw)
                kind = args[0][1]
                if kind == "+":
                    if not self.send_queue or not self.send_queue[0].chunks:
                        self.input_error(c, "unexpected command continuation")
                    p = self.send_queue[0]
                    c.send(p.chunks.pop(0))
                    if not p.chunks:
                        self.send_queue.pop(0)
                        self.pump(c)
                    continue
                if kind == "*":
                    self.untagged_reply(c, g, args[1:])
                    continue
                p = self.handle_tagged(c, args)
                if p in self.send_queue:
                    self.send_queue.remove(p)  # rejected before its literal
                    self.pump(c)
                self.tagged_reply(c, p)
        except TestFailed as e:
            raise TestFailed("%s: %s" % (self.where(g), e)) from None
        except Disconnected as e:
            if not (g.have_untagged_bye and c.seen_bye):
                raise TestFailed("%s: unexpected disconnection (%s)" % (self.where(g), e)) from None
            for cmd in g.commands:
                if cmd.reply != [(ATOM, "")]:
                    self.fail("line %d: command expected '%s' as tagged reply - only \"\" allowed "
                              "when BYE happens" % (cmd.linenum, args_to_str(cmd.reply)))
                cmd.cur_tag = None
        self.group_finished(g)
        if len(self.failures) > nfail:
            self.failures[nfail] = "%s: %s" % (self.where(g), self.failures[nfail])

    def where(self, g):
        """The group's first command, for messages."""
        if not g.commands or g.commands[0].linenum == 0:
            return "final LOGOUT"
        return "line %d (%s)" % (g.commands[0].linenum, printable(g.commands[0].text, 60))

    def pump(self, c):
        """Send queued command pieces up to the next one waiting for "+"."""
        while self.send_queue:
            p = self.send_queue[0]
            if p.started and p.chunks:
                return
            if not p.started:
                p.started = True
                c.send(p.first)
                if p.chunks:
                    return
            self.send_queue.pop(0)

    def send_command(self, c, g, cmd):
        text = self.expand_all(cmd.text)
        ltext = low(text)
        tag = c.next_tag()
        lplus = "LITERAL+" in {up(x) for x in c.caps}
        if ltext == "append":
            date, msg = self.source.get_next()
            chunks = self.append_chunks(c, tag, '"%s" "%s"' % (c.storage.name, date), msg)
        elif ltext.startswith("append ") and not append_has_body(text[7:], False):
            date, msg = self.source.get_next()
            chunks = self.append_chunks(c, tag, text[7:], msg)
        elif ltext.startswith("replace ") and not append_has_body(text[8:], True):
            date, msg = self.source.get_next()
            chunks = self.append_chunks(c, tag, text[8:], msg)
            chunks[0] = chunks[0].replace(" APPEND ", " REPLACE ", 1)
        elif ltext.startswith("uid replace ") and not append_has_body(text[12:], True):
            date, msg = self.source.get_next()
            chunks = self.append_chunks(c, tag, text[12:], msg)
            chunks[0] = chunks[0].replace(" APPEND ", " UID REPLACE ", 1)
        else:
            chunks = split_literals("%s %s\r\n" % (tag, text), lplus)
            verb, _, rest = text.partition(" ")
            verb = up(verb)
            if verb in ("SELECT", "EXAMINE") and rest:
                name = first_astring(rest)
                if name is not None and name != c.storage.name:
                    c.storage = self.storage(c.user, name)
                    c.view = View(c.storage)
            elif verb in ("DELETE", "RENAME") and rest:
                try:
                    names = [a[1] for a in parse_args(rest) if is_astring(a)]
                except ParseError:
                    names = []
                for name in names[:1 if verb == "DELETE" else 2]:
                    st = self.storages.get((c.user, name))
                    if st is not None:
                        st.reset()
        if cmd.linenum == 0 or ltext == "logout" or g.have_untagged_bye:
            c.logout_sent = True
        expect_bad = bool(cmd.reply) and cmd.reply[0][0] == ATOM and low(cmd.reply[0][1]) == "bad"
        p = PendingCmd(c, tag, cmd, chunks[1:], expect_bad,
                       ltext.startswith(("select ", "examine ")), ltext in ("close", "unselect"))
        p.first = chunks[0]
        p.started = False
        c.waiting[tag] = p
        cmd.cur_tag = tag
        self.send_queue.append(p)

    def untagged_reply(self, c, g, args):
        self.handle_untagged(c, args)
        self.match_untagged(c, g, args)
        if len(args) >= 2 and args[0][0] == ATOM and get_atom(args[1]) and up(args[1][1]) == "EXPUNGE":
            seq = int(re.match(r"\d*", args[0][1]).group() or 0)
            if seq <= len(self.seqmap):
                for i in range(seq - 1, len(self.seqmap)):
                    if self.seqmap[i] >= seq:
                        self.seqmap[i] = 0 if self.seqmap[i] == seq else self.seqmap[i] - 1

    def match_untagged(self, c, g, args):
        """test_handle_untagged_match()."""
        if not g.untagged and (self.t.ignore_extra_untagged or c.logout_sent):
            return
        prefix = get_atom(args[0]) is not None and up(args[0][1]) in ("OK", "NO", "BAD", "BYE")
        first = g.commands[0] if g.commands else None
        tag = first.cur_tag if first is not None else None
        self.added = []
        found_some = False
        for i, u in enumerate(g.untagged):
            if self.received[i]:
                continue
            if tag is not None:
                self.variables["tag"] = tag
            mc = self.matcher.match_args(u.args, args, FULL, prefix)
            if tag is not None:
                self.variables.pop("tag", None)
            if mc == FULL:
                if u.existence == EXIST_MUST_NOT:
                    self.fail("unexpected untagged reply (line %d forbids '! %s'): '%s'"
                              % (u.linenum, self.show_expected(u.text),
                                 printable(args_to_str(args), 200)))
                    return
                self.received[i] = True
                found_some = True
                self.added = []
                if g.ordered:
                    break
                continue
            if self.maybes[i][0] < mc:
                self.maybes[i] = (mc, args_to_str(args))
            for v in self.added:
                self.variables.pop(v, None)
            self.added = []
            if g.ordered and u.existence == EXIST_MUST:
                break
        if not found_some:
            self.mismatches += 1
            if not self.t.ignore_extra_untagged and self.first_extra is None:
                self.first_extra = args_to_str(args)

    def tagged_reply(self, c, p):
        cmd = p.cmd
        self.variables["tag"] = p.tag
        self.added = []
        mc = self.matcher.match_args(cmd.reply, p.reply, FULL, True)
        self.variables.pop("tag", None)
        if mc != FULL:
            self.fail("expected tagged reply '%s', got '%s'"
                      % (printable(args_to_str(cmd.reply), 200), printable(args_to_str(p.reply), 200)))
        cmd.cur_tag = None

    def group_finished(self, g):
        missing = [i for i, u in enumerate(g.untagged)
                   if u.existence == EXIST_MUST and not self.received[i]]
        if missing:
            u = g.untagged[missing[0]]
            best = self.maybes[missing[0]][1]
            self.fail("missing %d untagged replies (%d mismatches); first expected (line %d): '* %s'%s"
                      % (len(missing), self.mismatches, u.linenum, self.show_expected(u.text),
                         "; best match: '%s'" % printable(best, 200) if best else ""))
        if self.first_extra is not None:
            self.fail("%d unexpected untagged replies received, first: %s"
                      % (self.mismatches, printable(self.first_extra, 200)))
        for line in g.output:
            self.log("output: " + self.expand_all(line, True))
        if g.sleep:
            time.sleep(min(g.sleep, 60.0))


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def list_scripts(tests_dir):
    """Every file not starting with "." and not ending in ".mbox", sorted;
    directories (imaptest's "broken/") are not scripts."""
    names = []
    for name in sorted(os.listdir(tests_dir)):
        if name.startswith(".") or name.endswith(".mbox"):
            continue
        if os.path.isdir(os.path.join(tests_dir, name)):
            continue
        names.append(name)
    return names


def probe(opts):
    """Fail early (exit 2) when nothing answers on host:port."""
    try:
        s = socket.create_connection((opts.host, opts.port), timeout=opts.timeout)
    except OSError as e:
        return "cannot connect to %s:%d: %s" % (opts.host, opts.port, e)
    s.close()
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run Dovecot imaptest scripts against an IMAP server.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=143)
    ap.add_argument("--user", required=True, help="login name of the test account")
    ap.add_argument("--password", required=True)
    ap.add_argument("--user2", help="a second account (scripts with 'user 2: $user2')")
    ap.add_argument("--password2")
    ap.add_argument("--tests", required=True, help="directory of imaptest scripts")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these scripts")
    ap.add_argument("--mailbox", default=DEFAULT_MAILBOX,
                    help="test mailbox, deleted and recreated by every script (default imaptest)")
    tls = ap.add_mutually_exclusive_group()
    tls.add_argument("--tls", action="store_true", help="implicit TLS (certificate not verified)")
    tls.add_argument("--starttls", action="store_true", help="STARTTLS (certificate not verified)")
    ap.add_argument("--timeout", type=float, default=READ_TIMEOUT,
                    help="seconds to wait for any one server response (default %(default)s)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every failure and the end of the exchange of failing scripts")
    ap.add_argument("--log-dir", help="write each script's full exchange to DIR/NAME.log")
    opts = ap.parse_args(argv)
    if opts.user2 and opts.password2 is None:
        opts.password2 = opts.password

    if not os.path.isdir(opts.tests):
        print("imaptest: no such tests directory: %s" % opts.tests, file=sys.stderr)
        return 2
    names = list_scripts(opts.tests)
    if opts.only:
        unknown = [n for n in opts.only if n not in names]
        if unknown:
            print("imaptest: no such script: %s" % " ".join(unknown), file=sys.stderr)
            return 2
        names = [n for n in names if n in opts.only]
    err = probe(opts)
    if err:
        print("imaptest: %s" % err, file=sys.stderr)
        return 2
    if opts.log_dir:
        os.makedirs(opts.log_dir, exist_ok=True)

    default_mbox = os.path.join(opts.tests, "default.mbox")
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for name in names:
        path = os.path.join(opts.tests, name)
        exe = None
        try:
            script = load_script(path, default_mbox)
        except (ScriptError, OSError) as e:
            result, reason = "SKIP", "unsupported syntax: %s" % e
        else:
            exe = TestExec(opts, script)
            try:
                result, reason = exe.run()
            except ScriptError as e:
                result, reason = "SKIP", "unsupported syntax: %s" % e
        counts[result] += 1
        if result == "PASS":
            print("PASS %s" % name)
        else:
            print("%s %s: %s" % (result, name, printable(reason, 400)))
        if exe is not None and result == "FAIL" and opts.verbose:
            for f in exe.failures[1:]:
                print("    also: %s" % printable(f, 400))
            print("    --- last exchange:")
            for line in exe.transcript[-40:]:
                print("    " + line)
        if exe is not None and opts.log_dir:
            with open(os.path.join(opts.log_dir, name + ".log"), "w") as f:
                f.write("%s %s %s\n" % (result, name, reason))
                f.write("\n".join(exe.transcript) + "\n")
        sys.stdout.flush()
        if probe(opts) is not None:
            print("imaptest: server stopped answering after %s" % name, file=sys.stderr)
            print("imaptest: %d passed, %d failed, %d skipped"
                  % (counts["PASS"], counts["FAIL"], counts["SKIP"]))
            return 2
    print("imaptest: %d passed, %d failed, %d skipped" % (counts["PASS"], counts["FAIL"], counts["SKIP"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
