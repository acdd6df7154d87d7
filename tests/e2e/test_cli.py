"""The `postane` command line: help texts, error messages ("postane: ..."
and a non-zero status), and the domain / user / alias life cycles as seen in
the SQLite index and by the SMTP server."""

import os
import re
import subprocess

import pytest

from conftest import POSTANE_BIN, PASSWORD


def argon2id_verify(encoded, password):
    """Check an encoded hash with the system's libargon2 (independent of
    postane's code)."""
    import ctypes
    import ctypes.util
    name = ctypes.util.find_library("argon2") or "libargon2.so.1"
    lib = ctypes.CDLL(name)
    lib.argon2id_verify.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    lib.argon2id_verify.restype = ctypes.c_int
    pw = password.encode()
    return lib.argon2id_verify(encoded.encode(), pw, len(pw)) == 0


def run(*args, input=None, env=None):
    e = {k: v for k, v in os.environ.items() if k != "POSTANE_CONFIG"}
    if env:
        e.update(env)
    r = subprocess.run([POSTANE_BIN, *args], input=(input or "").encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, env=e)
    r.stdout = r.stdout.decode("utf-8", "replace")
    r.stderr = r.stderr.decode("utf-8", "replace")
    return r


def assert_error(r, *fragments):
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert r.stderr.startswith("postane: "), r.stderr
    for f in fragments:
        assert f in r.stderr, (f, r.stderr)


# ----- help -----

def test_global_help():
    for args in (["--help"], ["-h"], ["help"]):
        r = run(*args)
        assert r.returncode == 0
        assert r.stdout.startswith("usage: postane")
        for cmd in ("init", "serve", "domain", "user", "alias"):
            assert cmd in r.stdout


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert re.match(r"postane \d+\.\d+\.\d+\n$", r.stdout)


@pytest.mark.parametrize("cmd,expect", [
    ("init", "usage: postane init DIR --domain DOMAIN"),
    ("serve", "usage: postane [-c FILE] serve"),
    ("domain", "usage: postane [-c FILE] domain add DOMAIN"),
    ("user", "usage: postane [-c FILE] user add ADDRESS"),
    ("alias", "usage: postane [-c FILE] alias add ALIAS TARGET"),
])
def test_command_help(cmd, expect):
    """`postane COMMAND --help` works without any configuration file."""
    r = run("-c", "/nonexistent/postane.conf", cmd, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(expect), r.stdout
    assert r.stderr == ""


def test_no_command_prints_usage():
    r = run()
    assert r.returncode == 2
    assert r.stderr.startswith("usage: postane")


def test_unknown_command():
    r = run("frobnicate")
    assert r.returncode != 0
    assert r.stderr == 'postane: unknown command "frobnicate" (see `postane --help`)\n'


def test_unknown_global_option():
    r = run("--frob", "serve")
    assert r.returncode == 2
    assert "usage: postane" in r.stderr


def test_missing_config(tmp_path):
    r = run("-c", str(tmp_path / "nope.conf"), "user", "list")
    assert_error(r, str(tmp_path / "nope.conf"), "No such file or directory")


def test_config_from_environment(postane):
    r = run("user", "list", env={"POSTANE_CONFIG": str(postane.conf)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["alice@example.test", "bob@example.test"]


def test_config_unknown_key_names_file_line_key(postane):
    text = postane.conf.read_text()
    postane.conf.write_text(text.replace("[smtp]\n", "[smtp]\nmax_frobs = 3\n"))
    lineno = postane.conf.read_text().splitlines().index("max_frobs = 3") + 1
    r = postane.cli("user", "list")
    assert_error(r, f"{postane.conf}:{lineno}: unknown setting [smtp] max_frobs")


@pytest.mark.parametrize("key,value", [("max_errors", "0"), ("max_message_size", "12abc"),
                                        ("timeout_command", "-1"), ("max_line_length", "100")])
def test_config_bad_value(postane, key, value):
    postane.set_config("smtp", key, value)
    r = postane.cli("serve")
    assert_error(r, f"[smtp] {key}: invalid value \"{value}\"", str(postane.conf))


def test_config_bad_sync_method(postane):
    postane.set_config("store", "sync_method", "sometimes")
    r = postane.cli("serve")
    assert_error(r, "sync_method must be")


def test_serve_extra_argument(postane):
    r = postane.cli("serve", "now")
    assert_error(r, 'serve: unexpected argument "now"')


# ----- init -----

def test_init_writes_config(tmp_path):
    d = tmp_path / "inst"
    r = run("init", str(d), "--domain", "Example.ORG", "--hostname", "mx1.example.org",
            "--port-base", "40000")
    assert r.returncode == 0, r.stderr
    conf = (d / "postane.conf").read_text()
    for section in ("[server]", "[listen]", "[smtp]", "[store]", "[tls]"):
        assert section in conf
    assert "hostname = mx1.example.org" in conf
    assert f"data_dir = {d}/data" in conf
    assert "smtp = 40025" in conf and "imap = 40143" in conf and "submission = 40587" in conf
    assert (d / "data" / "postane.db").is_file()
    r = run("-c", str(d / "postane.conf"), "domain", "list")
    assert r.returncode == 0
    assert r.stdout.startswith("example.org\t")


def test_init_refuses_to_overwrite(postane):
    r = postane.run_cli("init", str(postane.dir), "--domain", "example.test", config=False)
    assert_error(r, "already exists", "--force")
    r = postane.run_cli("init", str(postane.dir), "--domain", "example.test",
                        "--port-base", str(postane.port_base), "--force", config=False)
    assert r.returncode == 0, r.stderr
    # Accounts survive a forced re-init (the database is kept).
    assert postane.cli("user", "list").stdout.splitlines() == ["alice@example.test",
                                                             "bob@example.test"]


@pytest.mark.parametrize("args,fragment", [
    (["--port-base", "10"], "--domain is required"),
    (["--domain", "localhost"], "not a valid domain name"),
    (["--domain", "bad_domain.test"], "not a valid domain name"),
    (["--domain", "example.test", "--port-base", "99999"], "--port-base must be a number"),
    (["--domain", "example.test", "--port-base", "abc"], "--port-base must be a number"),
])
def test_init_errors(tmp_path, args, fragment):
    r = run("init", str(tmp_path / "x"), *args)
    assert_error(r, fragment)
    assert not (tmp_path / "x" / "postane.conf").exists()


# ----- domains -----

def test_domain_lifecycle(postane):
    r = postane.cli("domain", "list")
    assert r.returncode == 0
    assert r.stdout == "example.test\t2 account(s)\t1 alias(es)\n"
    r = postane.cli("domain", "add", "Other.Test")
    assert r.returncode == 0 and r.stdout == "postane: domain other.test added\n"
    assert_error(postane.cli("domain", "add", "other.test"),
                 "domain other.test: domain already exists")
    r = postane.cli("domain", "list")
    assert r.stdout.splitlines() == ["example.test\t2 account(s)\t1 alias(es)",
                                     "other.test\t0 account(s)\t0 alias(es)"]
    r = postane.cli("domain", "del", "other.test")
    assert r.returncode == 0 and r.stdout == "postane: domain other.test deleted\n"
    assert_error(postane.cli("domain", "del", "other.test"), "domain other.test: no such domain")
    assert postane.db_query("SELECT name FROM domains") == [("example.test",)]


def test_domain_del_with_accounts(server):
    srv = server
    w = srv.wire()
    assert w.transaction("s@remote.test", ["bob@example.test"], b"x\r\n.\r\n").code == 250
    w.quit()
    r = srv.cli("domain", "del", "example.test")
    assert_error(r, "domain has 2 account(s)", "--force")
    r = srv.cli("domain", "del", "example.test", "--force")
    assert r.returncode == 0, r.stderr
    assert srv.db_query("SELECT count(*) FROM accounts") == [(0,)]
    assert srv.db_query("SELECT count(*) FROM aliases") == [(0,)]
    # Mail was moved aside, not erased.
    kept = list((srv.data / "deleted" / "example.test").glob("bob.*/new/*"))
    assert len(kept) == 1
    # The domain is no longer local: relaying is refused.
    w = srv.wire()
    w.expect(250, "MAIL FROM:<s@remote.test>")
    w.expect(554, "RCPT TO:<bob@example.test>", "5.7.1")
    w.quit()


@pytest.mark.parametrize("args,fragment", [
    (["domain", "add"], "domain add: DOMAIN is required"),
    (["domain", "add", "no_dots"], "not a valid domain name"),
    (["domain", "add", "nodot"], "not a valid domain name"),
    (["domain", "add", "a.test", "b.test"], 'unexpected argument "b.test"'),
    (["domain", "rename", "a.test"], 'domain: unknown subcommand "rename"'),
])
def test_domain_errors(postane, args, fragment):
    assert_error(postane.cli(*args), fragment)


# ----- users -----

def test_user_add_stores_argon2id(postane):
    r = postane.cli("user", "add", "Carol@Example.Test", input="s3cret pass\n")
    assert r.returncode == 0, r.stderr
    assert "postane: user carol@example.test added" in r.stdout
    [(pw,)] = postane.db_query(
        "SELECT a.password FROM accounts a JOIN domains d ON d.id = a.domain_id"
        " WHERE a.localpart = 'carol' AND d.name = 'example.test'")
    assert pw.startswith("$argon2id$"), pw
    assert "s3cret" not in pw
    # The hash really is of the password given on stdin (newline removed).
    assert argon2id_verify(pw, "s3cret pass")
    assert not argon2id_verify(pw, "s3cret pass\n")
    assert not argon2id_verify(pw, "wrong")
    # The password never appears on the command line or in the output.
    assert "s3cret" not in r.stdout + r.stderr
    # The maildir exists with the default folders.
    md = postane.maildir("carol")
    for sub in ("cur", "new", "tmp", ".Sent/cur", ".Drafts/new", ".Junk/tmp", ".Trash/cur",
                ".Archive/new"):
        assert (md / sub).is_dir(), sub
    assert (md / ".Sent" / "maildirfolder").is_file()
    boxes = postane.db_query(
        "SELECT b.name, b.special_use FROM mailboxes b JOIN accounts a ON a.id = b.account_id"
        " WHERE a.localpart = 'carol' ORDER BY b.name")
    assert boxes == [("Archive", "\\Archive"), ("Drafts", "\\Drafts"), ("INBOX", None),
                     ("Junk", "\\Junk"), ("Sent", "\\Sent"), ("Trash", "\\Trash")]


def test_user_passwd(postane):
    def pw():
        return postane.db_query("SELECT password FROM accounts WHERE localpart = 'bob'")[0][0]

    before = pw()
    r = postane.cli("user", "passwd", "bob@example.test", input="new password\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "postane: password of bob@example.test changed\n"
    after = pw()
    assert after.startswith("$argon2id$") and after != before
    assert argon2id_verify(after, "new password")
    assert argon2id_verify(before, PASSWORD)
    assert_error(postane.cli("user", "passwd", "nobody@example.test", input="x\n"),
                 "user nobody@example.test: no such user")


def test_user_same_password_different_salt(postane):
    postane.add_user("carol@example.test", password=PASSWORD)
    rows = postane.db_query("SELECT password FROM accounts ORDER BY localpart")
    hashes = [h for (h,) in rows]
    assert len(set(hashes)) == len(hashes)  # alice, bob, carol share PASSWORD


def test_user_list(postane):
    r = postane.cli("user", "list")
    assert r.stdout.splitlines() == ["alice@example.test", "bob@example.test"]
    postane.cli("domain", "add", "other.test")
    r = postane.cli("user", "add", "zed@other.test", "--quota", "1000000", input="pw\n")
    assert r.returncode == 0, r.stderr
    r = postane.cli("user", "list")
    assert r.stdout.splitlines() == ["alice@example.test", "bob@example.test",
                                     "zed@other.test\tquota 1000000"]
    r = postane.cli("user", "list", "other.test")
    assert r.stdout.splitlines() == ["zed@other.test\tquota 1000000"]
    # The password hash is never listed.
    assert "$argon2" not in r.stdout


def test_user_errors(postane):
    assert_error(postane.cli("user", "del", "nobody@example.test"),
                 "user nobody@example.test: no such user")
    assert postane.cli("user", "del", "nobody@example.test").stderr == \
        "postane: user nobody@example.test: no such user\n"
    assert_error(postane.cli("user", "add", "bob@example.test", input="pw\n"),
                 "user bob@example.test: already exists")
    assert_error(postane.cli("user", "add", "x@nowhere.test", input="pw\n"),
                 "user x@nowhere.test: no such domain")
    assert_error(postane.cli("user", "add", "x+y@example.test", input="pw\n"),
                 "local part may only use")
    assert_error(postane.cli("user", "add", "x..y@example.test", input="pw\n"), "x..y@example.test")
    assert_error(postane.cli("user", "add", "not-an-address", input="pw\n"), "not-an-address")
    assert_error(postane.cli("user", "add", "carol@example.test", input=""),
                 "no password given on standard input")
    assert_error(postane.cli("user", "add", "carol@example.test", input="\n"), "empty password")
    assert_error(postane.cli("user", "add"), "user add: ADDRESS is required")
    assert_error(postane.cli("user", "frob", "a@example.test"), 'unknown subcommand "frob"')
    assert_error(postane.cli("user", "add", "carol@example.test", "extra", input="pw\n"),
                 'unexpected argument "extra"')
    assert_error(postane.cli("user", "add", "carol@example.test", "--quota", "lots",
                             input="pw\n"), "--quota must be a number")
    # None of the failures created anything.
    assert postane.cli("user", "list").stdout.splitlines() == ["alice@example.test",
                                                             "bob@example.test"]


def test_user_password_only_first_line(postane):
    """One line is read: the rest of stdin is not part of the password."""
    r = postane.cli("user", "add", "carol@example.test", input="line one\nline two\n")
    assert r.returncode == 0
    [(pw,)] = postane.db_query("SELECT password FROM accounts WHERE localpart = 'carol'")
    assert argon2id_verify(pw, "line one")


def test_user_password_crlf_stripped(postane):
    r = postane.cli("user", "add", "carol@example.test", input="windows\r\n")
    assert r.returncode == 0
    [(pw,)] = postane.db_query("SELECT password FROM accounts WHERE localpart = 'carol'")
    assert argon2id_verify(pw, "windows")


def test_user_del_moves_mail_aside(server):
    srv = server
    w = srv.wire()
    assert w.transaction("s@remote.test", ["bob@example.test"],
                         b"Subject: keep\r\n\r\nx\r\n.\r\n").code == 250
    w.quit()
    r = srv.cli("user", "del", "bob@example.test")
    assert r.returncode == 0 and "postane: user bob@example.test deleted" in r.stdout
    assert not srv.maildir("bob").exists()
    kept = list((srv.data / "deleted" / "example.test").glob("bob.*/new/*"))
    assert len(kept) == 1 and b"Subject: keep" in kept[0].read_bytes()
    assert srv.db_query("SELECT count(*) FROM accounts WHERE localpart = 'bob'") == [(0,)]
    # Index rows of the account went with it.
    assert srv.db_query("SELECT count(*) FROM messages") == [(0,)]


def test_user_recreated_does_not_inherit_mail(server):
    """`user del` moves the maildir to DATA/deleted/DOMAIN/LOCAL.<seconds>;
    when that name is taken (the same address deleted earlier in the same
    second) the mail must still leave the account's directory, or the next
    account of that name inherits it. (Was a bug; fixed in 233e6a0.)"""
    srv = server
    w = srv.wire()
    assert w.transaction("s@remote.test", ["bob@example.test"],
                         b"Subject: private\r\n\r\nx\r\n.\r\n").code == 250
    w.quit()
    # An earlier `user del bob` in this very second (made certain here by
    # occupying the names of the next seconds too).
    import time
    now = int(time.time())
    for t in range(now, now + 30):
        d = srv.data / "deleted" / "example.test" / f"bob.{t}" / "new"
        d.mkdir(parents=True)
        (d / "earlier-mail").write_bytes(b"x")
    r = srv.cli("user", "del", "bob@example.test")
    assert r.returncode == 0
    srv.add_user("bob@example.test")
    assert srv.message_paths("bob") == []
    srv.restart()
    assert srv.db_messages("bob") == []


# ----- aliases -----

def test_alias_lifecycle(postane):
    r = postane.cli("alias", "list")
    assert r.stdout == "postmaster@example.test\talice@example.test\n"
    r = postane.cli("alias", "add", "Team@Example.Test", "alice@example.test", "bob@example.test")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["postane: alias team@example.test -> alice@example.test added",
                                     "postane: alias team@example.test -> bob@example.test added"]
    r = postane.cli("alias", "add", "@example.test", "bob@example.test")
    assert r.returncode == 0, r.stderr
    r = postane.cli("alias", "add", "list@example.test", "alice@example.test,bob@example.test")
    assert r.returncode == 0, r.stderr
    r = postane.cli("alias", "list", "example.test")
    assert r.stdout.splitlines() == [
        "@example.test\tbob@example.test",
        "list@example.test\talice@example.test",
        "list@example.test\tbob@example.test",
        "postmaster@example.test\talice@example.test",
        "team@example.test\talice@example.test",
        "team@example.test\tbob@example.test",
    ]
    assert_error(postane.cli("alias", "add", "team@example.test", "bob@example.test"),
                 "alias team@example.test: alias already has target bob@example.test")
    r = postane.cli("alias", "del", "team@example.test", "bob@example.test")
    assert r.returncode == 0
    assert r.stdout == "postane: alias team@example.test deleted for bob@example.test\n"
    r = postane.cli("alias", "del", "list@example.test")
    assert r.returncode == 0 and r.stdout == "postane: alias list@example.test deleted\n"
    r = postane.cli("alias", "del", "@example.test")
    assert r.returncode == 0
    assert postane.cli("alias", "list").stdout.splitlines() == [
        "postmaster@example.test\talice@example.test",
        "team@example.test\talice@example.test",
    ]
    assert_error(postane.cli("alias", "del", "team@example.test", "bob@example.test"),
                 "alias team@example.test: no such alias")
    assert_error(postane.cli("alias", "del", "ghost@example.test"),
                 "alias ghost@example.test: no such alias")


@pytest.mark.parametrize("args,fragment", [
    (["alias", "add"], "alias add: ALIAS is required"),
    (["alias", "add", "a@example.test"], "at least one TARGET is required"),
    (["alias", "add", "a@example.test", "x@remote.test"],
     "target x@remote.test: not a local domain"),
    (["alias", "add", "a@nowhere.test", "bob@example.test"], "no such domain"),
    (["alias", "add", "a@example.test", "not-an-address"], "target not-an-address"),
    (["alias", "add", "bad address@example.test", "bob@example.test"], "bad address@example.test"),
    (["alias", "del"], "alias del: ALIAS is required"),
    (["alias", "frob", "a@example.test"], 'unknown subcommand "frob"'),
    (["alias", "list", "example.test", "more"], 'unexpected argument "more"'),
])
def test_alias_errors(postane, args, fragment):
    assert_error(postane.cli(*args), fragment)
    assert postane.db_query("SELECT count(*) FROM aliases") == [(1,)]  # postmaster only


def test_postmaster_alias_points_to_first_user(tmp_path):
    d = tmp_path / "i"
    assert run("init", str(d), "--domain", "fresh.test").returncode == 0
    conf = str(d / "postane.conf")
    r = run("-c", conf, "user", "add", "zoe@fresh.test", input="pw\n")
    assert "postane: postmaster@fresh.test now delivers to zoe@fresh.test" in r.stdout
    r = run("-c", conf, "user", "add", "adam@fresh.test", input="pw\n")
    assert "postmaster" not in r.stdout
    r = run("-c", conf, "alias", "list")
    assert r.stdout == "postmaster@fresh.test\tzoe@fresh.test\n"


def test_cli_while_server_running(server):
    """Admin commands work while the server holds the database open."""
    srv = server
    w = srv.wire()
    w.expect(250, "MAIL FROM:<s@remote.test>")
    for i in range(5):
        r = srv.cli("alias", "add", f"a{i}@example.test", "bob@example.test")
        assert r.returncode == 0, r.stderr
        w.expect(250, f"RCPT TO:<a{i}@example.test>")
    w.expect(354, "DATA")
    w.send(b"x\r\n.\r\n")
    w.expect(250)
    w.quit()
    assert len(srv.messages("bob")) == 1
