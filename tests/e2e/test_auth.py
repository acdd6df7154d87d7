"""SMTP AUTH (RFC 4954) on the submission ports: where it is offered, the
SASL PLAIN and LOGIN exchanges on the wire, failures that do not reveal
whether a user exists (same reply, comparable verification time), throttling
(growing failure delays, lockout per IP and per account with a log line that
fail2ban can match), and migrated password hashes re-hashed at login."""

import base64
import re
import statistics
import time
from datetime import datetime, timezone

import pytest

from conftest import DOMAIN, PASSWORD
from smtpwire import tls_client_context

ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
AUTH_FAILED = "535 5.7.8 Error: authentication failed"


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain(user=ALICE, password=PASSWORD, authzid=""):
    return b64(f"{authzid}\0{user}\0{password}")


def tls_wire(srv, port=None):
    """Submission session after STARTTLS and a second EHLO."""
    w = srv.wire(port=port or srv.submission_port)
    w.expect(220, "STARTTLS")
    w.starttls()
    r = w.expect(250, "EHLO client.example.net")
    assert "AUTH PLAIN LOGIN" in r.lines, r
    return w


def ehlo_keywords(reply):
    return [ln.split()[0] for ln in reply.lines[1:]]


def reply_line(r):
    return f"{r.code} {r.text}"


# ----- where AUTH is offered -----


def test_auth_before_starttls_not_advertised_and_refused_538(srv):
    w = srv.wire(port=srv.submission_port, ehlo=None)
    r = w.expect(250, "EHLO client.example.net")
    assert "AUTH" not in ehlo_keywords(r)
    assert "STARTTLS" in ehlo_keywords(r)
    r = w.expect(538, f"AUTH PLAIN {plain()}", enhanced="5.7.11")
    assert "encryption required" in r.text
    r = w.expect(538, "AUTH LOGIN", enhanced="5.7.11")
    # Nothing was authenticated.
    w.expect(530, f"MAIL FROM:<{ALICE}>")
    w.quit()
    assert "authenticated user=" not in srv.log()


def test_auth_on_port_25_refused_503(srv):
    w = srv.wire(ehlo=None)
    r = w.expect(250, "EHLO client.example.net")
    assert "AUTH" not in ehlo_keywords(r)
    w.expect(503, f"AUTH PLAIN {plain()}", enhanced="5.5.1")
    # Not after STARTTLS either.
    w.expect(220, "STARTTLS")
    w.starttls()
    r = w.expect(250, "EHLO client.example.net")
    assert "AUTH" not in ehlo_keywords(r)
    assert "STARTTLS" not in ehlo_keywords(r)
    w.expect(503, f"AUTH PLAIN {plain()}", enhanced="5.5.1")
    w.expect(503, "AUTH LOGIN", enhanced="5.5.1")
    w.quit()


def test_auth_offered_on_465_at_once(srv):
    w = srv.wire(port=srv.submissions_port, tls_context=tls_client_context(), ehlo=None)
    r = w.expect(250, "EHLO client.example.net")
    assert "AUTH PLAIN LOGIN" in r.lines
    w.expect(235, f"AUTH PLAIN {plain()}", enhanced="2.7.0")
    w.quit()


@pytest.mark.postane_config(auth={"plaintext_loopback": "yes"})
def test_plaintext_loopback_allows_auth_without_tls(srv):
    w = srv.wire(port=srv.submission_port, ehlo=None)
    r = w.expect(250, "EHLO client.example.net")
    assert "AUTH PLAIN LOGIN" in r.lines
    assert "STARTTLS" in ehlo_keywords(r)
    w.expect(235, f"AUTH PLAIN {plain()}")
    w.expect(250, f"MAIL FROM:<{ALICE}>")
    w.expect(250, f"RCPT TO:<{BOB}>")
    w.expect(354, "DATA")
    w.send(b"From: alice@example.test\r\nSubject: plain\r\n\r\nx\r\n.\r\n")
    w.expect(250)
    w.quit()
    [m] = srv.wait_messages("bob", 1)
    assert "with ESMTPA id" in m.received.decode()  # no S: no TLS
    # Still no AUTH on port 25.
    w = srv.wire()
    w.expect(503, f"AUTH PLAIN {plain()}")
    w.quit()


def test_plaintext_loopback_defaults_off(srv):
    assert srv.get_config("auth", "plaintext_loopback") in (None, "no", "false", "0")
    import smtplib
    s = srv.submission(starttls=False)
    assert not s.has_extn("auth")
    with pytest.raises(smtplib.SMTPNotSupportedError):
        s.login(ALICE, PASSWORD)
    s.quit()


# ----- SASL exchanges -----


def test_plain_with_initial_response(srv):
    w = tls_wire(srv)
    w.expect(235, f"AUTH PLAIN {plain()}", enhanced="2.7.0")
    w.expect(503, f"AUTH PLAIN {plain()}", enhanced="5.5.1")  # already authenticated
    r = w.expect(250, "EHLO client.example.net")
    assert "AUTH" not in ehlo_keywords(r)
    w.quit()
    srv.wait_log(r"authenticated user=alice@example\.test")
    assert PASSWORD not in srv.log()
    assert plain() not in srv.log()


def test_plain_without_initial_response(srv):
    w = tls_wire(srv)
    r = w.expect(334, "AUTH PLAIN")
    assert r.lines == [""]  # an empty challenge
    w.expect(235, plain())
    w.quit()


def test_plain_mechanism_name_case_insensitive(srv):
    w = tls_wire(srv)
    w.expect(235, f"auth plain {plain()}")
    w.quit()


def test_login_exchange(srv):
    w = tls_wire(srv)
    r = w.expect(334, "AUTH LOGIN")
    assert base64.b64decode(r.text) == b"Username:"
    r = w.expect(334, b64(ALICE))
    assert base64.b64decode(r.text) == b"Password:"
    w.expect(235, b64(PASSWORD), enhanced="2.7.0")
    w.expect(250, f"MAIL FROM:<{ALICE}>")
    w.quit()


def test_login_with_initial_response(srv):
    w = tls_wire(srv)
    r = w.expect(334, f"AUTH LOGIN {b64(ALICE)}")
    assert base64.b64decode(r.text) == b"Password:"
    w.expect(235, b64(PASSWORD))
    w.quit()


def test_login_wrong_password(srv):
    w = tls_wire(srv)
    w.expect(334, f"AUTH LOGIN {b64(ALICE)}")
    r = w.expect(535, b64("nope"))
    assert reply_line(r) == AUTH_FAILED
    w.quit()


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_cancel_with_star(srv, mech):
    w = tls_wire(srv)
    w.expect(334, f"AUTH {mech}")
    r = w.expect(501, "*", enhanced="5.0.0")
    assert "cancelled" in r.text
    # A new exchange works afterwards.
    w.expect(235, f"AUTH PLAIN {plain()}")
    w.quit()


def test_cancel_login_at_password_prompt(srv):
    w = tls_wire(srv)
    w.expect(334, "AUTH LOGIN")
    w.expect(334, b64(ALICE))
    w.expect(501, "*", enhanced="5.0.0")
    w.expect(530, f"MAIL FROM:<{ALICE}>")
    w.quit()


@pytest.mark.parametrize("response", [
    "!!!!",                    # not base64
    "AGFsaWNl",                # fine...
    "AGFsaWNlQGV4YW1wbGUudGVzdABwYXNzd29yZA",  # missing padding
    "AGFs aWNl",               # blank inside
    "AGFsaWNl=",               # bad length
    "YR==",                    # non-zero unused bits
])
def test_malformed_base64_501(srv, response):
    w = tls_wire(srv)
    if response == "AGFsaWNl":
        # valid base64 of "\0alice": no second NUL: malformed PLAIN.
        r = w.expect(501, f"AUTH PLAIN {response}", enhanced="5.5.2")
        assert "malformed" in r.text
    else:
        r = w.expect(501, f"AUTH PLAIN {response}", enhanced="5.5.2")
        assert "base64" in r.text
    # A malformed exchange is a syntax error, not a login failure: no
    # throttling and no failure log line.
    w.expect(235, f"AUTH PLAIN {plain()}")
    w.quit()
    assert "failed login" not in srv.log()


def test_malformed_base64_in_login_response(srv):
    w = tls_wire(srv)
    w.expect(334, "AUTH LOGIN")
    w.expect(501, "not*base64", enhanced="5.5.2")
    w.quit()


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_empty_initial_response_equals_sign(srv, mech):
    """"=" is an empty initial response (RFC 4954): neither mechanism can use
    an empty message, so the exchange fails as malformed."""
    w = tls_wire(srv)
    w.expect(501, f"AUTH {mech} =", enhanced="5.5.2")
    w.quit()


def test_authzid_different_from_authcid_refused(srv):
    w = tls_wire(srv)
    # 535 5.7.8 like any refused authentication (RFC 4954 6), before the
    # password is even looked at: it says nothing about the credentials.
    r = w.expect(535, f"AUTH PLAIN {plain(authzid=BOB)}", enhanced="5.7.8")
    assert "authorization identity not permitted" in r.text
    w.expect(530, f"MAIL FROM:<{ALICE}>")
    w.expect(535, f"AUTH PLAIN {plain(user=BOB, password='wrong', authzid=ALICE)}",
             enhanced="5.7.8")
    # authzid equal to authcid is allowed.
    w.expect(235, f"AUTH PLAIN {plain(authzid=ALICE)}")
    w.quit()


@pytest.mark.parametrize("message", [
    f"\0{ALICE}\0",                      # empty password
    f"\0\0{PASSWORD}",                   # empty authcid
    f"{ALICE}\0{PASSWORD}",              # one NUL only
    f"\0{ALICE}\0{PASSWORD}\0extra",     # NUL inside the password
    f"\0{ALICE}\0" + "p" * 300,          # over-long password
    f"\0{'a' * 300}@{DOMAIN}\0{PASSWORD}",  # over-long authcid
], ids=["empty-pw", "empty-user", "one-nul", "nul-in-pw", "long-pw", "long-user"])
def test_malformed_plain_messages_501(srv, message):
    w = tls_wire(srv)
    w.expect(501, f"AUTH PLAIN {b64(message)}", enhanced="5.5.2")
    w.quit()


def test_invalid_utf8_in_plain_refused(srv):
    w = tls_wire(srv)
    w.expect(501, "AUTH PLAIN " + b64(b"\0alice@example.test\0pass\xff\xfe"), enhanced="5.5.2")
    w.quit()


def test_unsupported_mechanism_504(srv):
    w = tls_wire(srv)
    w.expect(504, "AUTH CRAM-MD5", enhanced="5.5.4")
    w.expect(504, "AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9", enhanced="5.5.4")
    w.expect(501, "AUTH", enhanced="5.5.4")
    w.quit()


def test_auth_needs_ehlo_and_no_transaction(srv):
    w = srv.wire(port=srv.submission_port)
    w.expect(220, "STARTTLS")
    w.starttls()
    # After STARTTLS the EHLO is forgotten (RFC 3207 4.2).
    w.expect(503, f"AUTH PLAIN {plain()}", enhanced="5.5.1")
    w.expect(250, "EHLO client.example.net")
    w.expect(235, f"AUTH PLAIN {plain()}")
    w.quit()


def test_utf8_password(srv):
    pw = "pässwörd ünïcödé ✓"
    srv.add_user(f"carol@{DOMAIN}", password=pw)
    w = tls_wire(srv)
    w.expect(235, f"AUTH PLAIN {plain(f'carol@{DOMAIN}', pw)}")
    w.quit()
    w = tls_wire(srv)
    w.expect(535, f"AUTH PLAIN {plain(f'carol@{DOMAIN}', 'passwörd ünïcödé ✓')}")
    w.quit()


def test_username_case_insensitive(srv):
    w = tls_wire(srv)
    w.expect(235, f"AUTH PLAIN {plain('Alice@EXAMPLE.test')}")
    w.expect(250, f"MAIL FROM:<{ALICE}>")
    w.quit()


def test_smtplib_login_variants(srv):
    import smtplib
    for mech in ("PLAIN", "LOGIN"):
        s = srv.submission()
        s.user, s.password = ALICE, PASSWORD
        code, text = s.auth(mech, getattr(s, f"auth_{mech.lower()}"))
        assert code == 235, (mech, text)
        s.quit()
    s = srv.submission()
    with pytest.raises(smtplib.SMTPAuthenticationError) as e:
        s.login(ALICE, "bad password")
    assert e.value.smtp_code == 535
    s.quit()


# ----- failures: no user enumeration -----


def _log_time(line):
    ts = line.split(" ", 1)[0]
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def _timed_failure(srv, user, password="wrong password"):
    """One failed AUTH PLAIN on a fresh connection. Returns (reply, time from
    sending AUTH to the server's "failed login" log line, i.e. the
    verification; time to the reply)."""
    w = tls_wire(srv)
    before = srv.log().count("failed login")
    t0 = time.time()
    w.line(f"AUTH PLAIN {plain(user, password)}")
    r = w.reply()
    t_reply = time.time() - t0
    w.quit()
    lines = [ln for ln in srv.log().splitlines() if "auth: failed login" in ln]
    assert len(lines) == before + 1
    return r, _log_time(lines[-1]) - t0, t_reply


@pytest.mark.postane_config(auth={"failure_delay_max": 1, "max_failures_ip": 0,
                                  "max_failures_user": 0})
def test_wrong_password_and_unknown_user_same_reply_and_time(srv):
    samples = {"known": [], "unknown": [], "nodomain": []}
    users = {"known": ALICE, "unknown": f"nosuchuser@{DOMAIN}",
             "nodomain": "someone@unknown-domain.test"}
    replies = set()
    import random
    order = list(users.items())
    for _ in range(3):
        random.shuffle(order)
        for kind, user in order:
            r, verify, total = _timed_failure(srv, user)
            replies.add(reply_line(r))
            samples[kind].append(verify)
            # Every failure is answered after the (one second) delay.
            assert total >= 0.9, (kind, total)
    assert replies == {AUTH_FAILED}
    med = {k: statistics.median(v) for k, v in samples.items()}
    print("verification times (median, s):", med)
    # argon2id (19 MiB, t=2) takes tens of milliseconds; a server that
    # skipped it for unknown users would answer them in well under 1 ms.
    assert med["known"] > 0.005, med
    for kind in ("unknown", "nodomain"):
        assert med[kind] > 0.4 * med["known"], med
    # The log line names the attempted user for every case, alike.
    for user in users.values():
        assert re.search(rf"auth: failed login ip=127\.0\.0\.1 user={re.escape(user)}"
                         r" protocol=smtp failures=\d+", srv.log())


@pytest.mark.postane_config(auth={"failure_delay_max": 1})
def test_malformed_username_same_reply(srv):
    w = tls_wire(srv)
    for user in ("no-at-sign", "@example.test", "a@b@c", "alice@"):
        r = w.expect(535, f"AUTH PLAIN {plain(user, PASSWORD)}")
        assert reply_line(r) == AUTH_FAILED
    w.quit()


def test_wrong_password_then_right_one(srv):
    w = tls_wire(srv)
    w.expect(535, f"AUTH PLAIN {plain(password='x')}")
    w.expect(235, f"AUTH PLAIN {plain()}")
    w.quit()


# ----- throttling -----


@pytest.mark.postane_config(auth={"failure_delay_max": 3, "max_failures_ip": 20,
                                  "max_failures_user": 20})
def test_failure_delays_grow(srv):
    """Delays 1 s, 2 s, then capped at failure_delay_max (3 s); replies come
    on the server's one-second tick, so each bound allows a second more."""
    w = tls_wire(srv)
    times = []
    for _ in range(4):
        t0 = time.monotonic()
        r = w.expect(535, f"AUTH PLAIN {plain(password='bad')}")
        times.append(time.monotonic() - t0)
        assert reply_line(r) == AUTH_FAILED
    w.quit()
    assert 0.9 <= times[0] < 2.5, times
    assert 1.9 <= times[1] < 3.5, times
    assert 2.9 <= times[2] < 4.5, times
    assert 2.9 <= times[3] < 4.5, times  # capped
    assert times[2] > times[0] + 1.0, times
    for n in range(1, 5):
        assert f"user=alice@example.test protocol=smtp failures={n}" in srv.log()
    # A success clears the account's and the IP's counters: the next
    # failure waits one second again.
    w = tls_wire(srv)
    w.expect(235, f"AUTH PLAIN {plain()}")
    w.quit()
    _, _, total = _timed_failure(srv, ALICE)
    assert total < 2.5, total


@pytest.mark.postane_config(auth={"failure_delay_max": 1, "max_failures_ip": 3,
                                  "max_failures_user": 100, "lockout_seconds": 120})
def test_lockout_per_ip(srv):
    w = tls_wire(srv)
    for user in (ALICE, f"ghost@{DOMAIN}", BOB):
        w.expect(535, f"AUTH PLAIN {plain(user, 'bad')}")
    # Locked: even the right password is refused, for any account.
    r = w.expect(454, f"AUTH PLAIN {plain()}", enhanced="4.7.0")
    assert "too many authentication failures" in r.text
    w.quit()
    w = tls_wire(srv)
    w.expect(454, f"AUTH PLAIN {plain(BOB)}", enhanced="4.7.0")
    w.expect(530, f"MAIL FROM:<{BOB}>")
    w.quit()
    m = srv.wait_log(r"warn auth: lockout ip=127\.0\.0\.1 user=(\S+) failures=3 seconds=120")
    assert m.group(1) == BOB
    srv.wait_log(r"refused \(locked out\) ip=127\.0\.0\.1 user=alice@example\.test")
    assert len(re.findall(r"auth: lockout ", srv.log())) == 1


@pytest.mark.postane_config(auth={"failure_delay_max": 1, "max_failures_ip": 100,
                                  "max_failures_user": 2, "lockout_seconds": 120})
def test_lockout_per_account(srv):
    w = tls_wire(srv)
    w.expect(535, f"AUTH PLAIN {plain(password='bad1')}")
    w.expect(535, f"AUTH PLAIN {plain('ALICE@example.test', 'bad2')}")
    w.expect(454, f"AUTH PLAIN {plain()}", enhanced="4.7.0")
    # Another account from the same address is not affected.
    w.expect(235, f"AUTH PLAIN {plain(BOB)}")
    w.quit()
    srv.wait_log(r"lockout ip=127\.0\.0\.1 user=alice@example\.test failures=2 seconds=120")


@pytest.mark.postane_config(auth={"failure_delay_max": 1, "max_failures_ip": 100,
                                  "max_failures_user": 2, "lockout_seconds": 120})
def test_lockout_for_unknown_user_looks_the_same(srv):
    """Locking out a non-existent account behaves like a real one."""
    replies = {}
    for user in (ALICE, f"ghost@{DOMAIN}"):
        w = tls_wire(srv)
        seq = [reply_line(w.expect(535, f"AUTH PLAIN {plain(user, 'bad')}")),
               reply_line(w.expect(535, f"AUTH PLAIN {plain(user, 'bad')}")),
               reply_line(w.expect(454, f"AUTH PLAIN {plain(user, PASSWORD)}"))]
        w.quit()
        replies[user] = seq
    assert replies[ALICE] == replies[f"ghost@{DOMAIN}"]


@pytest.mark.postane_config(auth={"failure_delay_max": 1, "max_failures_ip": 2,
                                  "max_failures_user": 100, "lockout_seconds": 5})
def test_lockout_expires(srv):
    w = tls_wire(srv)
    w.expect(535, f"AUTH PLAIN {plain(password='bad')}")
    w.expect(535, f"AUTH PLAIN {plain(password='bad')}")  # locks for 5 s, then ~2 s delay
    w.expect(454, f"AUTH PLAIN {plain()}")
    time.sleep(5.2)
    w.expect(235, f"AUTH PLAIN {plain()}")
    w.quit()


@pytest.mark.postane_config(auth={"failure_delay_max": 2})
def test_client_disconnecting_during_delay(srv):
    """A client that hangs up while its failure reply is held back does
    not disturb the server."""
    w = tls_wire(srv)
    w.line(f"AUTH PLAIN {plain(password='bad')}")
    w.close()
    time.sleep(2.5)
    w = tls_wire(srv)
    w.expect(235, f"AUTH PLAIN {plain()}")
    w.quit()


# ----- migrated password hashes -----

def test_migrated_sha512_crypt_hash_rehashed_at_login(srv):
    import subprocess
    h = subprocess.run(["openssl", "passwd", "-6", "-salt", "migration", "migrated pw"],
                       stdout=subprocess.PIPE, check=True).stdout.decode().strip()
    srv.db_write("UPDATE accounts SET password = ? WHERE localpart = 'bob'",
                 "{SHA512-CRYPT}" + h)
    w = tls_wire(srv)
    w.expect(535, f"AUTH PLAIN {plain(BOB, PASSWORD)}")
    w.expect(235, f"AUTH PLAIN {plain(BOB, 'migrated pw')}")
    w.quit()
    srv.wait_log(r"user=bob@example\.test: password re-hashed to argon2id")
    [(stored,)] = srv.db_query("SELECT password FROM accounts WHERE localpart = 'bob'")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), stored
    w = tls_wire(srv)
    w.expect(235, f"AUTH PLAIN {plain(BOB, 'migrated pw')}")
    w.quit()


@pytest.mark.postane_config(auth={"plaintext_loopback": "yes"})
def test_starttls_after_plaintext_auth_forgets_it(srv):
    w = srv.wire(port=srv.submission_port)
    w.expect(235, f"AUTH PLAIN {plain()}")
    r = w.cmd("STARTTLS")
    if r.code == 220:
        w.starttls()
        r = w.expect(250, "EHLO client.example.net")
        assert "AUTH PLAIN LOGIN" in r.lines, r  # offered again: not authenticated
        w.expect(530, f"MAIL FROM:<{ALICE}>")
    else:
        assert r.code == 503, r  # or STARTTLS is refused after AUTH
    w.quit()
