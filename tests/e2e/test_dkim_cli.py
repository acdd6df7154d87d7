"""`postane dkim keygen|list` and `postane dns records`: the printed zone
lines parse and carry the key that was written, keys are never replaced,
key files are private, and `dns records` lists every record a domain needs.

The keys are checked with the openssl command (public half of the key file
== the p= of the record) and, for RSA, with dkimpy: a message signed with
the key file verifies against the printed record."""

import base64
import hashlib
import os
import re
import stat
import subprocess

import pytest

from conftest import DOMAIN, POSTANE_BIN

ZONE_TXT = re.compile(r'^(\S+)\._domainkey\.(\S+)\. IN TXT \(((?:"[^"]*" ?)+)\)$')


def run(*args):
    e = {k: v for k, v in os.environ.items() if k != "POSTANE_CONFIG"}
    r = subprocess.run([POSTANE_BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60, env=e)
    r.stdout = r.stdout.decode("utf-8", "replace")
    r.stderr = r.stderr.decode("utf-8", "replace")
    return r


def assert_error(r, *fragments):
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert r.stderr.startswith("postane: "), r.stderr
    for f in fragments:
        assert f in r.stderr, (f, r.stderr)


def zone_records(text):
    """{(selector, domain): value} of every DKIM zone line in text; checks
    the 255-byte string limit."""
    out = {}
    for line in text.splitlines():
        m = ZONE_TXT.match(line)
        if m is None:
            continue
        parts = re.findall(r'"([^"]*)"', m.group(3))
        assert all(len(p.encode()) <= 255 for p in parts), parts
        out[(m.group(1), m.group(2))] = "".join(parts)
    return out


def tags(record):
    return {k.strip(): v.strip() for k, v in
            (t.split("=", 1) for t in record.split(";") if "=" in t)}


def public_der(keyfile):
    r = subprocess.run(["openssl", "pkey", "-in", str(keyfile), "-pubout", "-outform", "DER"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return r.stdout


def key_dir(postane):
    return postane.data / "dkim" / DOMAIN


def keygen(postane, *args):
    r = postane.cli("dkim", "keygen", DOMAIN, *args)
    assert r.returncode == 0, r.stderr
    recs = zone_records(r.stdout)
    assert len(recs) == 1, r.stdout
    # The whole output pastes into a zone file: comments or the record.
    for line in r.stdout.splitlines():
        assert line.startswith(";") or ZONE_TXT.match(line), line
    return r, recs


def test_keygen_rsa(postane):
    r, recs = keygen(postane)
    (selector, domain), value = next(iter(recs.items()))
    assert (selector, domain) == ("postane", DOMAIN)
    t = tags(value)
    assert value.startswith("v=DKIM1; ")
    assert t["v"] == "DKIM1" and t["k"] == "rsa"
    keyfile = key_dir(postane) / "postane.rsa.key"
    assert str(keyfile) in r.stdout
    der = base64.b64decode(t["p"])
    assert der == public_der(keyfile)
    text = subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-noout", "-text"],
                          input=der, stdout=subprocess.PIPE, check=True).stdout.decode()
    assert "2048 bit" in text
    # Private: 0600 file in 0700 directories.
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_dir(postane).stat().st_mode) == 0o700
    assert stat.S_IMODE((postane.data / "dkim").stat().st_mode) == 0o700
    # A long record is split into strings of at most 255 bytes.
    assert len(value) > 255
    assert re.search(r'IN TXT \("[^"]{255}" "', r.stdout)


def test_keygen_ed25519(postane):
    r, recs = keygen(postane, "--algorithm", "ed25519")
    (selector, domain), value = next(iter(recs.items()))
    # One selector, one DNS name: Ed25519 gets its own by default.
    assert (selector, domain) == ("postane-ed25519", DOMAIN)
    t = tags(value)
    assert t["k"] == "ed25519"
    raw = base64.b64decode(t["p"])
    assert len(raw) == 32  # RFC 8463: the raw public key, not a SubjectPublicKeyInfo
    keyfile = key_dir(postane) / "postane-ed25519.ed25519.key"
    assert public_der(keyfile)[-32:] == raw
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert re.search(r'IN TXT \("v=DKIM1; k=ed25519; p=[A-Za-z0-9+/=]{44}"\)$', r.stdout, re.M)


def test_keygen_refuses_to_overwrite(postane):
    keygen(postane)
    keyfile = key_dir(postane) / "postane.rsa.key"
    before = hashlib.sha256(keyfile.read_bytes()).hexdigest()
    r = postane.cli("dkim", "keygen", DOMAIN)
    assert_error(r, "exists already", "postane.rsa.key")
    assert r.stdout == ""
    assert hashlib.sha256(keyfile.read_bytes()).hexdigest() == before
    # The other algorithm under the same selector is refused too.
    r = postane.cli("dkim", "keygen", DOMAIN, "--algorithm", "ed25519", "--selector", "postane")
    assert_error(r, "choose another selector")
    assert sorted(p.name for p in key_dir(postane).iterdir()) == ["postane.rsa.key"]


def test_keygen_config_and_options(postane, tmp_path):
    keys = tmp_path / "keys"
    postane.set_config("dkim", "dir", str(keys))
    postane.set_config("dkim", "selector", "mail2026")
    _, recs = keygen(postane)
    assert ("mail2026", DOMAIN) in recs
    assert (keys / DOMAIN / "mail2026.rsa.key").is_file()
    _, recs = keygen(postane, "--selector", "Ed-One", "--algorithm", "ed25519")
    assert ("ed-one", DOMAIN) in recs  # selectors are stored lowercase
    assert (keys / DOMAIN / "ed-one.ed25519.key").is_file()
    # An IDN domain becomes its A-label.
    r = postane.cli("dkim", "keygen", "örnek.test", "--algorithm", "ed25519")
    assert r.returncode == 0, r.stderr
    assert ("mail2026-ed25519", "xn--rnek-4qa.test") in zone_records(r.stdout)
    r = postane.cli("dkim", "list")
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [row[:4] for row in rows] == [
        [DOMAIN, "ed-one", "ed25519", "256"],
        [DOMAIN, "mail2026", "rsa", "2048"],
        ["xn--rnek-4qa.test", "mail2026-ed25519", "ed25519", "256"],
    ]
    r = postane.cli("dkim", "list", "xn--rnek-4qa.test")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1


def test_keygen_errors(postane):
    assert_error(postane.cli("dkim", "keygen"), "DOMAIN is required")
    assert_error(postane.cli("dkim", "keygen", "nodot"), "not a valid domain")
    assert_error(postane.cli("dkim", "keygen", "a..b.test"), "not a valid domain")
    assert_error(postane.cli("dkim", "keygen", DOMAIN, "--algorithm", "dsa"), "rsa or ed25519")
    assert_error(postane.cli("dkim", "keygen", DOMAIN, "--selector", "a_b"), "not valid")
    assert_error(postane.cli("dkim", "keygen", DOMAIN, "--selector", "../x"), "not valid")
    assert_error(postane.cli("dkim", "keygen", DOMAIN, "extra"), "unexpected argument")
    assert_error(postane.cli("dkim", "rotate"), "unknown subcommand")
    assert_error(postane.cli("dns", "zone", DOMAIN), "unknown subcommand")
    assert_error(postane.cli("dns", "records"), "DOMAIN is required")
    assert not (postane.data / "dkim").exists()
    # A broken key file is reported, not skipped.
    d = key_dir(postane)
    d.mkdir(parents=True)
    (d / "bad.rsa.key").write_text("garbage\n")
    os.chmod(d / "bad.rsa.key", 0o600)
    assert_error(postane.cli("dkim", "list"), "bad.rsa.key")


@pytest.mark.parametrize("cmd,expect", [
    ("dkim", "usage: postane [-c FILE] dkim keygen DOMAIN"),
    ("dns", "usage: postane [-c FILE] dns records DOMAIN"),
])
def test_help_without_config(cmd, expect):
    r = run("-c", "/nonexistent/postane.conf", cmd, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(expect)
    r = run("--help")
    assert cmd in r.stdout


def test_dns_records(postane):
    host = postane.hostname
    r = postane.cli("dns", "records", DOMAIN)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert r.stderr == ""
    assert f"{DOMAIN}. IN MX 10 {host}.\n" in out
    assert f'{DOMAIN}. IN TXT "v=spf1 mx -all"\n' in out
    assert (f'_dmarc.{DOMAIN}. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@{DOMAIN}"\n'
            in out)
    assert "p=quarantine" in out and "p=reject" in out
    # 127.0.0.1 is not public: placeholders for A and PTR.
    assert re.search(rf"^; FILL IN: {re.escape(host)}\. IN A ", out, re.M)
    assert re.search(rf"^; FILL IN: .* IN PTR {re.escape(host)}\.$", out, re.M)
    # No key yet: the hint.
    assert f"postane dkim keygen {DOMAIN}" in out
    assert not zone_records(out)
    # Every line is a comment, blank, or a record.
    for line in out.splitlines():
        assert line == "" or line.startswith(";") or " IN " in line, line

    keygen(postane)
    keygen(postane, "--algorithm", "ed25519")
    r = postane.cli("dns", "records", DOMAIN)
    recs = zone_records(r.stdout)
    assert set(recs) == {("postane", DOMAIN), ("postane-ed25519", DOMAIN)}
    assert tags(recs[("postane", DOMAIN)])["k"] == "rsa"
    assert tags(recs[("postane-ed25519", DOMAIN)])["k"] == "ed25519"
    assert f"postane dkim keygen {DOMAIN}" not in r.stdout


def test_dns_records_public_addresses(postane):
    postane.set_config("listen", "address", "127.0.0.1, 93.184.216.34, 10.0.0.1, "
                       "[2a00:1450:4001:82b::200e], fd00::1, 192.0.2.1")
    r = postane.cli("dns", "records", DOMAIN)
    assert r.returncode == 0, r.stderr
    host = postane.hostname
    out = r.stdout
    assert f"{host}. IN A 93.184.216.34\n" in out
    assert f"{host}. IN AAAA 2a00:1450:4001:82b::200e\n" in out
    assert "10.0.0.1" not in out and "fd00::1" not in out and "192.0.2.1" not in out
    assert f"34.216.184.93.in-addr.arpa. IN PTR {host}.\n" in out
    ptr6 = ("e.0.0.2.0.0.0.0.0.0.0.0.0.0.0.0.b.2.8.0.1.0.0.4.0.5.4.1.0.0.a.2.ip6.arpa."
            f" IN PTR {host}.\n")
    assert ptr6 in out
    assert "FILL IN" not in out


def test_dns_records_unknown_domain_warns(postane):
    r = postane.cli("dns", "records", "Other.Example")
    assert r.returncode == 0
    assert r.stderr.startswith("postane: warning: other.example is not a domain"), r.stderr
    assert "other.example. IN MX 10 " in r.stdout


def test_rsa_key_signs_for_dkimpy(postane):
    """An independent signer (dkimpy) using the key file verifies against
    the printed record: file and record belong together."""
    import dkim
    _, recs = keygen(postane)
    record = recs[("postane", DOMAIN)]
    key = (key_dir(postane) / "postane.rsa.key").read_bytes()
    msg = (f"From: alice@{DOMAIN}\r\nTo: bob@example.net\r\nSubject: hi\r\n"
           "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n\r\nhello\r\n").encode()
    sig = dkim.sign(msg, b"postane", DOMAIN.encode(), key,
                    canonicalize=(b"relaxed", b"relaxed"), include_headers=[b"from"])

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        return record.encode() if name.rstrip(".") == f"postane._domainkey.{DOMAIN}" else None

    assert dkim.verify(sig + msg, dnsfunc=dnsfunc)
    assert not dkim.verify(sig + msg.replace(b"hello", b"HELLO"), dnsfunc=dnsfunc)
