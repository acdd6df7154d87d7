"""DSN format, checked by an independent parser.

The unit test binary test_dsn writes the sample DSNs it builds to
$DSN_EXPORT_DIR (NAME.eml); here Python's email package (policy.default)
parses each one as a mail client would: multipart/report with
report-type=delivery-status, a text part, a message/delivery-status part
parsed into its per-message and per-recipient blocks, the original attached.

The binary is $DSN_TEST_BIN, else tests/test_dsn next to $POSTANE_BIN's
build directory (build/tests/test_dsn, or build/asan/tests/test_dsn when the
suite runs against the ASan build). `make unit` builds it.
"""

import email
import email.policy
import email.utils
import os
import re
import subprocess
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = ("failure", "delay", "headers_only", "multi", "injection", "utf8", "long")

# What test_dsn.c puts in: the original message of most samples.
ORIG = (
    b"Return-Path: <alice@example.org>\r\n"
    b"Received: from client.example.org by mx.example.org\r\n"
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@example.net>\r\n"
    b"Subject: Lunch\r\n"
    b"Message-ID: <lunch-1@example.org>\r\n"
    b"\r\n"
    b"Shall we have lunch on Friday?\r\n"
    b"-- \r\n"
    b"Alice\r\n"
)


def dsn_binary():
    env = os.environ.get("DSN_TEST_BIN")
    if env:
        return Path(env)
    postane = os.environ.get("POSTANE_BIN") or str(REPO / "build" / "postane")
    if not os.path.isabs(postane):
        postane = str(REPO / postane)
    return Path(postane).parent / "tests" / "test_dsn"


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    binary = dsn_binary()
    if not binary.exists():
        pytest.fail(f"{binary} is missing: build it with `make unit`")
    out = tmp_path_factory.mktemp("dsn")
    env = dict(os.environ, DSN_EXPORT_DIR=str(out))
    r = subprocess.run([str(binary)], env=env, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    raw = {}
    for name in SAMPLES:
        path = out / f"{name}.eml"
        assert path.exists(), f"test_dsn did not write {path}"
        raw[name] = path.read_bytes()
    return raw


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def report(data):
    """Parse a DSN and check what every DSN must have; return
    (message, text part, per-message block, recipient blocks, third part)."""
    msg = parse(data)
    assert msg.is_multipart()
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["From"].addresses[0].addr_spec == "MAILER-DAEMON@mx.example.org"
    assert msg["From"].addresses[0].display_name == "Mail Delivery System"
    assert email.utils.parsedate_to_datetime(str(msg["Date"])) is not None
    assert re.fullmatch(r"<[^<>@\s]+@mx\.example\.org>", str(msg["Message-ID"]))
    for part in msg.walk():
        assert not part.defects, (part.get_content_type(), part.defects)

    parts = msg.get_payload()
    assert len(parts) in (2, 3)
    text, status = parts[0], parts[1]
    assert text.get_content_type() == "text/plain"
    assert status.get_content_type() == "message/delivery-status"
    blocks = status.get_payload()
    assert len(blocks) >= 2
    per_message, rcpts = blocks[0], blocks[1:]
    assert per_message["Reporting-MTA"] == "dns; mx.example.org"
    for r in rcpts:
        assert r["Final-Recipient"] is not None
        assert r["Action"] in ("failed", "delayed", "delivered", "relayed", "expanded")
        assert re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", str(r["Status"]))
    # Every line CRLF-terminated and at most 998 bytes.
    assert data.endswith(b"\r\n")
    for line in data.split(b"\r\n"):
        assert b"\n" not in line and b"\r" not in line
        assert len(line) <= 998
    return msg, text, per_message, rcpts, (parts[2] if len(parts) == 3 else None)


def unfolded(value):
    return " ".join(str(value).split())


def raw_part(data, msg, index):
    """The raw bytes of body part `index` (its header and content)."""
    boundary = msg.get_boundary().encode()
    pieces = data.split(b"\r\n--" + boundary)
    return pieces[index + 1].split(b"\r\n", 1)[1]


def test_failure(samples):
    data = samples["failure"]
    msg, text, per_message, rcpts, orig = report(data)
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert msg["To"].addresses[0].addr_spec == "alice@example.org"

    body = text.get_content()
    assert "could not be delivered" in body
    assert "<bob@example.net>" in body
    assert "no such user" not in body  # the reply given was another one
    assert "User unknown" in body

    assert per_message["Original-Envelope-Id"] == "QQ314159"
    arrival = email.utils.parsedate_to_datetime(str(per_message["Arrival-Date"]))
    assert arrival.isoformat() == "2026-01-01T10:00:00+00:00"
    assert per_message["X-Postane-Queue-ID"] == "4F2A9C01B7"

    assert len(rcpts) == 1
    r = rcpts[0]
    assert r["Original-Recipient"] == "rfc822; Bob@Example.NET"
    assert r["Final-Recipient"] == "rfc822; bob@example.net"
    assert r["Action"] == "failed"
    assert r["Status"] == "5.1.1"
    assert r["Remote-MTA"] == "dns; mx1.example.net"
    assert unfolded(r["Diagnostic-Code"]) == (
        "smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown"
    )
    last = email.utils.parsedate_to_datetime(str(r["Last-Attempt-Date"]))
    assert last.isoformat() == "2026-01-01T11:00:00+00:00"
    assert r["Will-Retry-Until"] is None

    # The original, as a message and byte for byte.
    assert orig.get_content_type() == "message/rfc822"
    inner = orig.get_content()
    assert inner["Subject"] == "Lunch"
    assert inner["Message-ID"] == "<lunch-1@example.org>"
    content = inner.get_content().replace("\r\n", "\n")
    assert content == "Shall we have lunch on Friday?\n-- \nAlice\n"
    raw = raw_part(data, msg, 2)
    assert raw.split(b"\r\n\r\n", 1)[1] == ORIG


def test_delay(samples):
    msg, text, per_message, rcpts, orig = report(samples["delay"])
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    body = " ".join(text.get_content().split())
    assert "has not been delivered yet" in body
    assert "Trying until: Tue, 6 Jan 2026 10:00:00 +0000" in body
    assert per_message["Original-Envelope-Id"] is None
    (r,) = rcpts
    assert r["Action"] == "delayed"
    assert r["Status"] == "4.4.1"
    assert r["Original-Recipient"] is None
    until = email.utils.parsedate_to_datetime(str(r["Will-Retry-Until"]))
    assert until.isoformat() == "2026-01-06T10:00:00+00:00"
    assert unfolded(r["Diagnostic-Code"]).startswith("smtp; 421 4.4.1 ")
    assert orig.get_content_type() == "message/rfc822"


def test_headers_only(samples):
    data = samples["headers_only"]
    msg, text, _, rcpts, orig = report(data)
    assert orig.get_content_type() == "text/rfc822-headers"
    headers = BytesHeaderParser(policy=email.policy.default).parsebytes(
        raw_part(data, msg, 2).split(b"\r\n\r\n", 1)[1]
    )
    assert headers["Subject"] == "Lunch"
    assert headers["Message-ID"] == "<lunch-1@example.org>"
    assert b"lunch on Friday" not in data
    assert "header of your message" in " ".join(text.get_content().split())
    assert rcpts[0]["Action"] == "failed"


def test_multi(samples):
    msg, text, per_message, rcpts, orig = report(samples["multi"])
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    got = [(str(r["Final-Recipient"]), str(r["Action"]), str(r["Status"])) for r in rcpts]
    assert got == [
        ("rfc822; bob@example.net", "failed", "5.2.2"),
        ("rfc822; dave@example.net", "failed", "4.4.7"),
        ("rfc822; erin@example.net", "delivered", "2.0.0"),
    ]
    assert unfolded(rcpts[1]["Diagnostic-Code"]) == (
        "X-Postane; connect to mx.example.net[192.0.2.7]:25: Connection timed out"
    )
    assert rcpts[1]["Remote-MTA"] is None
    assert rcpts[2]["Diagnostic-Code"] is None
    assert per_message["Original-Envelope-Id"] is None


def test_injection(samples):
    """Remote replies, host names, ENVID, ORCPT with CR/LF and a fake
    boundary stay inside their own fields."""
    data = samples["injection"]
    msg, text, per_message, rcpts, orig = report(data)
    for part in msg.walk():
        for key in part.keys():
            assert key.lower() not in ("bcc", "x-injected", "x-evil"), key
    for block in [per_message] + rcpts:
        for key in block.keys():
            assert key.lower() not in ("bcc", "x-injected", "x-evil"), key
    assert len(msg.get_payload()) == 3
    (r,) = rcpts
    assert r["Status"] == "5.0.0"
    diag = unfolded(r["Diagnostic-Code"])
    assert diag.startswith("smtp; 550 5.7.1 go away Bcc: victim@example.com --")
    assert diag.isascii()
    assert "B\\x{FC}ro \\x{20AC}" in diag
    assert "\x1b" not in diag and "\x01" not in diag
    assert "B\u00fcro \u20ac" in " ".join(text.get_content().split())
    assert orig.get_content()["Subject"] == "Lunch"


def test_utf8(samples):
    msg, text, _, rcpts, orig = report(samples["utf8"])
    assert msg["Content-Transfer-Encoding"] == "8bit"
    (r,) = rcpts
    assert r["Final-Recipient"] == "utf-8; m\\x{FC}ller@example.de"
    assert r["Original-Recipient"] == "utf-8; m\\x{FC}ller@example.de"
    assert text.get_content_charset() == "utf-8"
    assert "<m\u00fcller@example.de>" in text.get_content()
    assert orig.get_content_type() == "message/rfc822"


def test_long(samples):
    msg, _, _, rcpts, _ = report(samples["long"])
    diag = unfolded(rcpts[0]["Diagnostic-Code"])
    assert diag.startswith("smtp; 554 5.7.1 word0 word1 word2")
    assert diag.endswith("xxx...")
    assert len(diag) < 1000


@pytest.mark.parametrize("name", SAMPLES)
def test_boundary_not_in_content(samples, name):
    data = samples[name]
    msg = parse(data)
    boundary = msg.get_boundary().encode()
    assert 1 <= len(boundary) <= 70
    # Delimiters only where we put them: 2 or 3 parts, one close.
    n_open = data.count(b"\r\n--" + boundary + b"\r\n")
    assert n_open == len(msg.get_payload())
    assert data.count(b"\r\n--" + boundary + b"--\r\n") == 1
    assert data.count(boundary) == n_open + 2  # + the Content-Type parameter
