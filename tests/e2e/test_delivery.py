"""Outbound delivery: the queue, DNS routing, the SMTP client, retries,
bounces, restarts.

Every test runs its own DNS server (dnsserver.py) and SMTP sinks
(smtp_sink.py) on loopback addresses 127.0.0.2, 127.0.0.3 ... at one free
port, which postane's [delivery] port names; [delivery] dns_servers points at
the DNS server. Retries are made fast through [delivery] retry_schedule, not
by sleeping."""

import email
import email.policy
import time

import pytest

from dnsserver import DNSServer
from smtp_sink import SmtpSink, free_port

ALICE = "alice@example.test"
PW = "correct horse battery staple"


def zone():
    return {
        "remote.test": [("MX", 10, "mx1.remote.test"), ("MX", 20, "mx2.remote.test")],
        "mx1.remote.test": [("A", "127.0.0.2")],
        "mx2.remote.test": [("A", "127.0.0.3")],
        "nomx.test": [("A", "127.0.0.2")],
        "nullmx.test": [("MX", 0, ".")],
        "broken.test": "SERVFAIL",
    }


class Outbound:
    def __init__(self, postane, dns, port):
        self.postane = postane
        self.dns = dns
        self.port = port
        self.sinks = []

    def sink(self, address, start=True, **kw):
        s = SmtpSink(address=address, port=self.port, **kw)
        self.sinks.append(s)
        if start:
            s.start()
        return s

    def submit(self, to, subject="hello", body="Hi there.\r\n", sender=ALICE, extra=""):
        if isinstance(to, str):
            to = [to]
        msg = (f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\n"
               f"Message-ID: <{subject.replace(' ', '.')}.{time.monotonic_ns()}@example.test>\r\n"
               f"{extra}\r\n{body}")
        s = self.postane.submission(user=sender)
        try:
            refused = s.sendmail(sender, to, msg.encode())
        finally:
            s.quit()
        assert refused == {}
        return msg.encode()

    def wait_queue_empty(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.postane.queue_rows() == []:
                return
            time.sleep(0.1)
        raise AssertionError(f"queue not empty: {self.postane.queue_rows()}")

    def wait_rcpt_state(self, address, pred, timeout=20.0):
        """Wait until the queue row of `address` satisfies pred(state, attempts, error)."""
        deadline = time.monotonic() + timeout
        rows = []
        while time.monotonic() < deadline:
            rows = self.postane.db_query(
                "SELECT state, attempts, last_error FROM queue_rcpt WHERE address = ?", address)
            if rows and pred(*rows[0]):
                return rows[0]
            time.sleep(0.1)
        raise AssertionError(f"{address}: {rows}")


@pytest.fixture
def outbound(postane):
    dns = DNSServer(zone())
    port = free_port("127.0.0.2", "127.0.0.3", "127.0.0.4")
    postane.configure(delivery={"dns_servers": f"127.0.0.1:{dns.port}", "port": port,
                                "retry_schedule": "1", "connect_timeout": 5, "timeout": 20})
    o = Outbound(postane, dns, port)
    yield o
    for s in o.sinks:
        s.stop()
    dns.stop()


def inbox_dsns(postane, user="alice", count=1, timeout=20.0):
    msgs = postane.wait_messages(user, count, timeout=timeout)
    assert len(msgs) >= count, f"{len(msgs)} message(s) in {user}'s INBOX"
    return [email.message_from_bytes(m.raw, policy=email.policy.default) for m in msgs]


def delivery_status(dsn):
    """The per-recipient blocks of a DSN's message/delivery-status part."""
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    parts = list(dsn.iter_parts())
    status = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    assert len(status) == 1
    blocks = status[0].get_payload()
    return [dict((k.lower(), str(v)) for k, v in b.items()) for b in blocks[1:]]


def test_submitted_message_reaches_the_mx(outbound):
    mx1 = outbound.sink("127.0.0.2")
    outbound.postane.start()
    sent = outbound.submit("bob@remote.test", subject="first")
    [t] = mx1.wait(1, timeout=20)
    assert t.mail_from == ALICE
    assert t.rcpt_tos == ["bob@remote.test"]
    assert t.helo == outbound.postane.hostname
    # The message as submitted, below our trace header.
    assert t.data.endswith(sent.split(b"\r\n\r\n", 1)[1])
    assert b"Subject: first\r\n" in t.data
    assert b"Received: " in t.data
    outbound.wait_queue_empty()
    log = outbound.postane.log()
    assert "to=<bob@remote.test>" in log and "status=sent" in log


def test_several_recipients_one_transaction_and_reuse(outbound):
    mx1 = outbound.sink("127.0.0.2")
    outbound.postane.start()
    outbound.submit(["a@remote.test", "b@remote.test", "c@remote.test"], subject="three")
    outbound.submit("d@remote.test", subject="second")
    got = mx1.wait(2, timeout=20)
    assert len(got) == 2
    by_subject = {b"three" in t.data: t for t in got}
    assert sorted(by_subject[True].rcpt_tos) == ["a@remote.test", "b@remote.test",
                                                 "c@remote.test"]
    outbound.wait_queue_empty()


def test_second_mx_when_the_first_is_down(outbound):
    # Nothing listens on mx1 (127.0.0.2): connection refused, then mx2.
    mx2 = outbound.sink("127.0.0.3")
    outbound.postane.start()
    outbound.submit("bob@remote.test", subject="fallback")
    [t] = mx2.wait(1, timeout=20)
    assert t.rcpt_tos == ["bob@remote.test"]
    outbound.wait_queue_empty()


def test_no_mx_falls_back_to_the_address_record(outbound):
    a = outbound.sink("127.0.0.2")
    outbound.postane.start()
    outbound.submit("carol@nomx.test", subject="implicit")
    [t] = a.wait(1, timeout=20)
    assert t.rcpt_tos == ["carol@nomx.test"]
    assert ("nomx.test", "MX") in [(n, str(q)) for n, q in outbound.dns.queries]
    outbound.wait_queue_empty()


def test_null_mx_bounces_at_once(outbound):
    outbound.postane.start()
    outbound.submit("dave@nullmx.test", subject="nowhere")
    [dsn] = inbox_dsns(outbound.postane)
    assert dsn["From"].addresses[0].username.upper() == "MAILER-DAEMON"
    [block] = delivery_status(dsn)
    assert block["final-recipient"].lower() == "rfc822; dave@nullmx.test"
    assert block["action"] == "failed"
    assert block["status"].startswith("5.")
    outbound.wait_queue_empty()
    # The bounce has the null sender: no bounce of the bounce.
    assert "Return-Path: <>" in outbound.postane.wait_messages("alice", 1)[0].raw.decode(
        "utf-8", "replace")


def test_temporary_failure_is_retried_until_it_works(outbound):
    mx1 = outbound.sink("127.0.0.2")
    mx1.fail_next(2, "451 4.3.0 try again later")
    outbound.postane.start()
    outbound.submit("bob@remote.test", subject="patience")
    got = mx1.wait(1, timeout=30)
    assert len(got) == 1
    assert len(mx1.transactions) == 3  # two refusals, then accepted
    outbound.wait_queue_empty()
    log = outbound.postane.log()
    assert log.count("status=deferred") >= 2
    assert outbound.postane.wait_messages("alice", 0) == []  # no DSN for a success


def test_permanent_refusal_of_one_recipient_bounces_only_it(outbound):
    mx1 = outbound.sink("127.0.0.2")
    mx1.rcpt_reply = {"nobody@remote.test": "550 5.1.1 <nobody@remote.test>: no such user"}
    outbound.postane.start()
    original = outbound.submit(["bob@remote.test", "nobody@remote.test"], subject="mixed")
    [t] = mx1.wait(1, timeout=20)
    assert t.rcpt_tos == ["bob@remote.test"]
    [dsn] = inbox_dsns(outbound.postane)
    [block] = delivery_status(dsn)
    assert block["final-recipient"].lower() == "rfc822; nobody@remote.test"
    assert block["action"] == "failed"
    assert block["status"] == "5.1.1"
    assert "no such user" in block["diagnostic-code"]
    assert "127.0.0.2" in block.get("remote-mta", "") or "mx1.remote.test" in \
        block.get("remote-mta", "")
    # The original comes back with it.
    attached = [p for p in dsn.iter_parts() if p.get_content_type() in
                ("message/rfc822", "text/rfc822-headers")]
    assert attached and b"Subject: mixed" in attached[0].as_bytes()
    assert b"Subject: mixed" in original
    outbound.wait_queue_empty()


def test_dns_failure_is_temporary(outbound):
    outbound.postane.start()
    outbound.submit("eve@broken.test", subject="dns")
    outbound.wait_rcpt_state("eve@broken.test", lambda st, att, err: st == 0 and att >= 1)
    assert outbound.postane.wait_messages("alice", 0) == []


def test_expired_message_bounces(outbound):
    outbound.postane.set_config("delivery", "max_queue_lifetime", 3)
    outbound.postane.start()
    outbound.submit("bob@remote.test", subject="too late")  # no MX listens
    [dsn] = inbox_dsns(outbound.postane, timeout=30)
    [block] = delivery_status(dsn)
    assert block["action"] == "failed"
    assert block["status"] == "4.4.7"
    outbound.wait_queue_empty()


def test_queue_cli_hold_release_flush_delete(outbound):
    outbound.postane.set_config("delivery", "retry_schedule", "3600")
    outbound.postane.start()
    outbound.submit("bob@remote.test", subject="held")  # mx down: deferred for an hour
    outbound.wait_rcpt_state("bob@remote.test", lambda st, att, err: att >= 1)
    r = outbound.postane.cli("queue", "list")
    assert r.returncode == 0, r.stderr
    qid = r.stdout.split()[0]
    assert "<alice@example.test>" in r.stdout and "1/1 pending" in r.stdout
    show = outbound.postane.cli("queue", "show", qid)
    assert show.returncode == 0
    assert "recipient: <bob@remote.test> pending attempts=1" in show.stdout
    assert "connect to" in show.stdout or "refused" in show.stdout.lower()
    assert outbound.postane.cli("queue", "hold", qid).returncode == 0
    assert "held" in outbound.postane.cli("queue", "list").stdout
    mx1 = outbound.sink("127.0.0.2")
    # flush while held: nothing goes
    assert outbound.postane.cli("queue", "flush").returncode == 0
    time.sleep(2)
    assert mx1.messages == []
    assert outbound.postane.cli("queue", "release", qid).returncode == 0
    assert outbound.postane.cli("queue", "flush", qid).returncode == 0
    assert len(mx1.wait(1, timeout=20)) == 1
    outbound.wait_queue_empty()
    # delete: a second message never goes out
    mx1.stop()
    outbound.submit("bob@remote.test", subject="deleted")
    outbound.wait_rcpt_state("bob@remote.test", lambda st, att, err: att >= 1)
    qid = outbound.postane.cli("queue", "list").stdout.split()[0]
    r = outbound.postane.cli("queue", "delete", qid)
    assert r.returncode == 0, r.stderr
    assert outbound.postane.queue_rows() == []
    assert list(outbound.postane.queue_dir.iterdir()) == []
    r = outbound.postane.cli("queue", "show", qid)
    assert r.returncode != 0 and "no such message" in r.stderr


def test_kill9_with_queued_mail_delivers_each_once_after_restart(outbound):
    outbound.postane.set_config("delivery", "retry_schedule", "2")
    outbound.postane.start()
    subjects = [f"crash {i}" for i in range(5)]
    for s in subjects:
        outbound.submit("bob@remote.test", subject=s)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = outbound.postane.db_query(
            "SELECT COUNT(*) FROM queue_rcpt WHERE attempts >= 1")
        if rows[0][0] == 5:
            break
        time.sleep(0.1)
    outbound.postane.kill9()
    mx1 = outbound.sink("127.0.0.2")
    outbound.postane.start()
    got = mx1.wait(5, timeout=30)
    time.sleep(3)  # anything delivered twice would show up by now
    got = list(mx1.messages)
    seen = sorted(next(line for line in t.data.split(b"\r\n") if line.startswith(b"Subject:"))
                  for t in got)
    assert seen == sorted(f"Subject: {s}".encode() for s in subjects)
    outbound.wait_queue_empty()


def test_dkim_signature_verifies(outbound):
    dkim = pytest.importorskip("dkim")
    r = outbound.postane.cli("dkim", "keygen", "example.test")
    assert r.returncode == 0, r.stderr
    mx1 = outbound.sink("127.0.0.2")
    outbound.postane.start()
    outbound.submit("bob@remote.test", subject="signed")
    [t] = mx1.wait(1, timeout=20)
    assert t.data.startswith(b"DKIM-Signature:")
    rec = outbound.postane.cli("dns", "records", "example.test").stdout
    [line] = [ln for ln in rec.splitlines() if ln.startswith("postane._domainkey.example.test.")]
    value = "".join(line.split('"')[1::2])
    assert value.startswith("v=DKIM1; k=rsa; p=")

    def dnsfunc(name, timeout=5):
        assert name.startswith(b"postane._domainkey.example.test")
        return value.encode()

    assert dkim.verify(t.data, dnsfunc=dnsfunc)


def submit_with_dsn(outbound, rcpt_params, mail_params, rcpt="nobody@remote.test",
                    subject="dsn"):
    s = outbound.postane.submission(user=ALICE)
    try:
        msg = (f"From: {ALICE}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\n"
               + "body line\r\n" * 50).encode()
        code, _ = s.mail(ALICE, mail_params)
        assert code == 250
        code, _ = s.rcpt(rcpt, rcpt_params)
        assert code == 250
        code, _ = s.data(msg)
        assert code == 250
    finally:
        s.quit()


def test_dsn_parameters_shape_the_bounce(outbound):
    mx1 = outbound.sink("127.0.0.2")
    mx1.rcpt_reply = {"nobody@remote.test": "550 5.1.1 no such user"}
    outbound.postane.start()
    submit_with_dsn(outbound, ["NOTIFY=FAILURE", "ORCPT=rfc822;Nobody+2BX@remote.test"],
                    ["RET=HDRS", "ENVID=track+2B42"])
    [dsn] = inbox_dsns(outbound.postane)
    parts = list(dsn.iter_parts())
    status = [p for p in parts if p.get_content_type() == "message/delivery-status"][0]
    per_msg = dict((k.lower(), str(v)) for k, v in status.get_payload()[0].items())
    assert per_msg["original-envelope-id"] == "track+2B42" or \
        per_msg["original-envelope-id"] == "track+42"
    [block] = delivery_status(dsn)
    assert block["original-recipient"].lower().startswith("rfc822;")
    assert "nobody+" in block["original-recipient"].lower()
    # RET=HDRS: only the header section of the original comes back.
    [orig] = [p for p in parts if p.get_content_type() == "text/rfc822-headers"]
    raw = orig.get_payload(decode=True) or orig.as_bytes()
    assert b"Subject: dsn" in raw and b"body line" not in raw
    outbound.wait_queue_empty()


def test_notify_never_means_no_bounce(outbound):
    mx1 = outbound.sink("127.0.0.2")
    mx1.rcpt_reply = {"nobody@remote.test": "550 5.1.1 no such user"}
    outbound.postane.start()
    submit_with_dsn(outbound, ["NOTIFY=NEVER"], [])
    outbound.wait_queue_empty()
    assert "status=bounced" in outbound.postane.log()
    time.sleep(1)
    assert outbound.postane.wait_messages("alice", 0) == []


def test_smarthost_with_starttls_and_auth(outbound, tmp_path):
    import ssl
    tls_dir = outbound.postane.dir / "tls"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls_dir / "cert.pem", tls_dir / "key.pem")
    relay = outbound.sink("127.0.0.4", start=False, tls_context=ctx,
                          auth={"relayuser": "s3cret pass"}, auth_required=True)
    relay.start()
    authfile = tmp_path / "relay.auth"
    authfile.write_text("relayuser:s3cret pass\n")
    authfile.chmod(0o600)
    outbound.postane.configure(delivery={"smarthost": f"127.0.0.4:{outbound.port}",
                                         "smarthost_auth_file": str(authfile)})
    outbound.postane.start()
    # A domain the DNS knows nothing about: the smarthost takes everything.
    outbound.submit(["x@nowhere.test", "y@remote.test"], subject="relayed")
    got = relay.wait(2, timeout=20)
    assert sum(len(t.rcpt_tos) for t in got) == 2
    assert all(t.tls and t.auth_user == "relayuser" for t in got)
    outbound.wait_queue_empty()


def test_smarthost_refuses_to_send_without_tls(outbound, tmp_path):
    relay = outbound.sink("127.0.0.4")  # no STARTTLS offered
    outbound.postane.configure(delivery={"smarthost": f"[127.0.0.4]:{outbound.port}"})
    outbound.postane.start()
    outbound.submit("x@nowhere.test", subject="plain")
    outbound.wait_rcpt_state("x@nowhere.test", lambda st, att, err: att >= 1 and st == 0)
    assert relay.messages == []


def dkim_records(postane, domain="example.test"):
    """{"sel._domainkey.domain": "v=DKIM1; ..."} from `postane dns records`."""
    out = postane.cli("dns", "records", domain).stdout
    recs = {}
    for line in out.splitlines():
        if "._domainkey." in line and not line.startswith(";"):
            name = line.split()[0].rstrip(".").lower()
            recs[name] = "".join(line.split('"')[1::2])
    return recs


def test_postfix_peer_receives_it_intact_and_dkim_verifies(outbound, tmp_path):
    dkim = pytest.importorskip("dkim")
    from postfix_peer import PostfixPeer
    from test_dkim_sign import run_opendkim
    p = outbound.postane
    assert p.cli("dkim", "keygen", "example.test").returncode == 0
    r = p.cli("dkim", "keygen", "example.test", "--selector", "ed", "--algorithm", "ed25519")
    assert r.returncode == 0, r.stderr
    records = dkim_records(p)
    assert set(records) == {"postane._domainkey.example.test", "ed._domainkey.example.test"}
    outbound.dns.update({"peer.test": [("MX", 10, "mx.peer.test")],
                         "mx.peer.test": [("A", "127.0.0.5")]})
    peer = PostfixPeer(tmp_path / "pf", address="127.0.0.5", port=outbound.port,
                       domains=["peer.test"], tls=True)
    peer.start()
    try:
        p.start()
        body = ("Dear Pat,\r\n.a line that starts with a dot\r\n..two dots\r\n"
                + "x" * 900 + "\r\nend\r\n")
        outbound.submit("pat@peer.test", subject="to postfix", body=body)
        [raw] = peer.messages(timeout=30, count=1)
    finally:
        peer.stop()
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    head, got_body = raw.split(b"\r\n\r\n", 1)
    assert got_body == body.encode()
    assert b"Subject: to postfix" in head
    assert b"TLS" in head or b"ESMTPS" in head  # Postfix's Received: shows TLS
    outbound.wait_queue_empty()

    def dnsfunc(name, timeout=5):
        return records[name.decode().rstrip(".").lower()].encode()

    d = dkim.DKIM(raw)
    sigs = [line for line in head.split(b"\r\n") if line.startswith(b"DKIM-Signature:")]
    assert len(sigs) == 2
    for i in range(2):
        assert d.verify(idx=i, dnsfunc=dnsfunc), f"signature {i}"
    # OpenDKIM verifies it too; a tampered copy fails.
    tampered = raw.replace(b"Dear Pat", b"Dear Pam")
    results = run_opendkim(tmp_path, records, [("good", raw), ("bad", tampered)])
    assert results["good"][0] == 0, results["good"]
    assert results["bad"][0] != 0, results["bad"]


def test_smarthost_is_a_postfix_with_auth(outbound, tmp_path):
    from postfix_peer import PostfixPeer
    peer = PostfixPeer(tmp_path / "pf", address="127.0.0.6", port=outbound.port,
                       domains=["far.test"], tls=True, auth_users={"relay": "pf pass"},
                       require_auth=True)
    peer.start()
    try:
        authfile = tmp_path / "relay.auth"
        authfile.write_text("relay:pf pass\n")
        authfile.chmod(0o600)
        outbound.postane.configure(delivery={"smarthost": f"127.0.0.6:{outbound.port}",
                                             "smarthost_auth_file": str(authfile)})
        outbound.postane.start()
        outbound.submit("kim@far.test", subject="via smarthost")
        [raw] = peer.messages(timeout=30, count=1)
    finally:
        peer.stop()
    assert b"Subject: via smarthost" in raw
    # Postfix records the authenticated submission in its Received: header.
    assert b"Authenticated sender" in raw or b"ESMTPSA" in raw
    outbound.wait_queue_empty()


def test_eight_bit_message_to_a_seven_bit_peer_bounces(outbound):
    mx1 = outbound.sink("127.0.0.2", extensions=("SIZE", "PIPELINING", "ENHANCEDSTATUSCODES"))
    outbound.postane.start()
    s = outbound.postane.submission(user=ALICE)
    msg = (f"From: {ALICE}\r\nTo: bob@remote.test\r\nSubject: caf\u00e9\r\n"
           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
           "\r\nCaf\u00e9 cr\u00e8me\r\n").encode()
    s.sendmail(ALICE, ["bob@remote.test"], msg, mail_options=["BODY=8BITMIME"])
    s.quit()
    [dsn] = inbox_dsns(outbound.postane)
    [block] = delivery_status(dsn)
    assert block["status"] == "5.6.3"
    assert mx1.messages == []
    outbound.wait_queue_empty()


def test_eight_bit_message_goes_with_body_8bitmime(outbound):
    mx1 = outbound.sink("127.0.0.2")
    outbound.postane.start()
    s = outbound.postane.submission(user=ALICE)
    msg = (f"From: {ALICE}\r\nTo: bob@remote.test\r\nSubject: 8bit\r\n"
           "\r\nCaf\u00e9\r\n").encode()
    s.sendmail(ALICE, ["bob@remote.test"], msg, mail_options=["BODY=8BITMIME"])
    s.quit()
    [t] = mx1.wait(1, timeout=20)
    assert "BODY=8BITMIME" in t.mail_options
    assert t.data.endswith("Caf\u00e9\r\n".encode())


def test_ipv6_mx_address(outbound):
    outbound.dns.update({"six.test": [("MX", 10, "mx6.six.test")],
                         "mx6.six.test": [("AAAA", "::1")]})
    try:
        sink6 = outbound.sink("::1")
    except OSError as e:
        pytest.skip(f"no IPv6 loopback here: {e}")
    outbound.postane.start()
    outbound.submit("ann@six.test", subject="v6")
    [t] = sink6.wait(1, timeout=20)
    assert t.rcpt_tos == ["ann@six.test"]


def test_concurrency_per_domain_is_bounded(outbound):
    mx1 = outbound.sink("127.0.0.2")
    outbound.postane.set_config("delivery", "concurrency_per_domain", 2)
    outbound.postane.start()
    outbound.postane.cli("queue", "list")
    for i in range(12):
        outbound.submit(f"r{i}@remote.test", subject=f"c{i}")
    got = mx1.wait(12, timeout=30)
    assert len(got) == 12
    assert 1 <= mx1.max_parallel <= 2
    outbound.wait_queue_empty()


def test_delay_warning_once_while_still_retrying(outbound):
    outbound.postane.configure(delivery={"delay_warning": 1, "retry_schedule": "1"})
    outbound.postane.start()
    outbound.submit("bob@remote.test", subject="slow")  # no MX listens
    [dsn] = inbox_dsns(outbound.postane, timeout=30)
    assert "Delayed" in str(dsn["Subject"])
    [block] = delivery_status(dsn)
    assert block["action"] == "delayed"
    assert block["status"].startswith("4.")
    assert "will-retry-until" in block
    # Still queued, and warned only once however many retries follow.
    outbound.wait_rcpt_state("bob@remote.test", lambda st, att, err: st == 0 and att >= 3)
    assert len(outbound.postane.wait_messages("alice", 1)) == 1


def test_failed_opportunistic_tls_falls_back_to_plaintext(outbound):
    import ssl
    tls_dir = outbound.postane.dir / "tls"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls_dir / "cert.pem", tls_dir / "key.pem")
    try:  # a server stuck on TLS 1.0, which our client refuses to speak
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1
    except (ValueError, ssl.SSLError) as e:
        pytest.skip(f"cannot make a TLS 1.0-only server here: {e}")
    mx1 = outbound.sink("127.0.0.2", tls_context=ctx)
    outbound.postane.start()
    outbound.submit("bob@remote.test", subject="old tls")
    [t] = mx1.wait(1, timeout=20)
    assert not t.tls
    outbound.wait_queue_empty()


def test_starttls_used_when_offered(outbound):
    import ssl
    tls_dir = outbound.postane.dir / "tls"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls_dir / "cert.pem", tls_dir / "key.pem")
    mx1 = outbound.sink("127.0.0.2", tls_context=ctx)
    outbound.postane.start()
    outbound.submit("bob@remote.test", subject="tls")
    [t] = mx1.wait(1, timeout=20)
    assert t.tls and t.tls_version in ("TLSv1.2", "TLSv1.3")
    # self-signed: used, but logged as unverified
    assert "unverified" in outbound.postane.log()


def test_tls_required_refuses_an_unverified_peer(outbound):
    import ssl
    tls_dir = outbound.postane.dir / "tls"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls_dir / "cert.pem", tls_dir / "key.pem")
    mx1 = outbound.sink("127.0.0.2", tls_context=ctx)
    outbound.postane.set_config("delivery", "tls_required", "yes")
    outbound.postane.start()
    outbound.submit("bob@remote.test", subject="strict")
    outbound.wait_rcpt_state("bob@remote.test", lambda st, att, err: att >= 1 and st == 0)
    assert mx1.messages == []
