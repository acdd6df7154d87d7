"""PIPELINING (RFC 2920): whole transactions written in one send, replies in
order; many messages on one connection; many connections at once."""

import threading
import time

import pytest

from smtpwire import queue_id


def test_pipelined_transactions_one_send(srv):
    """Three complete transactions, content included, in a single send()."""
    bodies = [b"Subject: p%d\r\n\r\nbody %d\r\n" % (i, i) for i in range(3)]
    blob = b""
    for i, body in enumerate(bodies):
        blob += (b"MAIL FROM:<s%d@remote.test>\r\n" % i +
                 b"RCPT TO:<alice@example.test>\r\n" +
                 (b"RCPT TO:<nobody@example.test>\r\n" if i == 1 else b"") +
                 b"RCPT TO:<bob@example.test>\r\n"
                 b"DATA\r\n" + body + b".\r\n")
    blob += b"QUIT\r\n"
    w = srv.wire()
    w.send(blob)
    got = []
    qids = []
    for i in range(3):
        got += [w.reply(), w.reply()]
        if i == 1:
            got.append(w.reply())
        got += [w.reply(), w.reply(), w.reply()]
        qids.append(queue_id(got[-1]))
    got.append(w.reply())
    codes = [(r.code, r.enhanced) for r in got]
    ok_txn = [(250, "2.1.0"), (250, "2.1.5"), (250, "2.1.5"), (354, None), (250, "2.0.0")]
    assert codes == (ok_txn + ok_txn[:2] + [(550, "5.1.1")] + ok_txn[2:] + ok_txn +
                     [(221, "2.0.0")])
    assert w.closed()
    assert len(set(qids)) == 3
    for user in ("alice", "bob"):
        msgs = srv.messages(user)
        assert [m.content for m in msgs] == bodies
        assert [m.return_path for m in msgs] == [b"Return-Path: <s%d@remote.test>\r\n" % i
                                                 for i in range(3)]
        for m, q in zip(msgs, qids):
            assert f"id {q}" in m.received.decode()


def test_pipelined_ehlo_group(srv):
    """EHLO, MAIL, RCPT, DATA pipelined right after the banner."""
    from smtpwire import SMTPWire
    w = SMTPWire(srv.smtp_port)
    w.expect(220)
    w.send(b"EHLO a.example.net\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
           b"DATA\r\n")
    assert [r.code for r in w.replies(4)] == [250, 250, 250, 354]
    w.send(b"Subject: x\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert [r.code for r in w.replies(2)] == [250, 221]
    assert len(srv.messages("alice")) == 1


def test_pipelined_rejections_keep_order(srv):
    w = srv.wire()
    w.send(b"RCPT TO:<alice@example.test>\r\n"   # 503: no MAIL
           b"MAIL FROM:<s@remote.test>\r\n"
           b"MAIL FROM:<s@remote.test>\r\n"      # 503 nested
           b"RCPT TO:<x@remote.test>\r\n"        # 554 relay
           b"RCPT TO:<ghost@example.test>\r\n"   # 550
           b"DATA\r\n"                           # 554 no valid recipients
           b"RSET\r\n"
           b"NOOP\r\n")
    codes = [(r.code, r.enhanced) for r in w.replies(8)]
    assert codes == [(503, "5.5.1"), (250, "2.1.0"), (503, "5.5.1"), (554, "5.7.1"),
                     (550, "5.1.1"), (554, "5.5.1"), (250, "2.0.0"), (250, "2.0.0")]
    w.quit()


def test_many_messages_one_connection(srv):
    n = 150
    qids = []
    with srv.smtp(timeout=120) as s:
        s.ehlo()
        for i in range(n):
            assert s.mail(f"s{i}@remote.test")[0] == 250
            assert s.rcpt("alice@example.test")[0] == 250
            code, resp = s.data(b"Subject: %d\r\n\r\nmessage %d\r\n" % (i, i))
            assert code == 250, (i, resp)
            qids.append(queue_id(resp))
    assert len(set(qids)) == n
    msgs = srv.messages("alice")
    assert len(msgs) == n
    assert sorted(m.uid for m in msgs) == list(range(1, n + 1))
    # UIDs follow the order of acceptance.
    by_uid = sorted(msgs, key=lambda m: m.uid)
    assert [m.content for m in by_uid] == [b"Subject: %d\r\n\r\nmessage %d\r\n" % (i, i)
                                           for i in range(n)]
    assert srv.wait_spool_empty() == []


def test_many_messages_pipelined_in_one_write(srv):
    n = 200
    blob = b"".join(b"MAIL FROM:<s@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
                    b"Subject: %d\r\n\r\n.%d\r\n.\r\n" % (i, i) for i in range(n))
    w = srv.wire(timeout=120)
    # Send from a thread: the server stops reading while replies are unread.
    t = threading.Thread(target=w.send, args=(blob + b"QUIT\r\n",))
    t.start()
    codes = [w.reply().code for _ in range(4 * n + 1)]
    t.join(60)
    assert codes == [250, 250, 354, 250] * n + [221]
    msgs = srv.messages("bob")
    assert len(msgs) == n
    assert {m.content for m in msgs} == {b"Subject: %d\r\n\r\n%d\r\n" % (i, i) for i in range(n)}


def test_rset_between_many_messages(srv):
    """RSET before each message is normal client behaviour; the junk-command
    limit must not cut such a session off after 100 messages (the count is
    reset after each delivery, as in Postfix). Regression test for 07fa5c6."""
    w = srv.wire(timeout=60)
    for i in range(120):
        w.expect(250, "RSET")
        r = w.transaction("s@remote.test", ["alice@example.test"],
                          b"Subject: %d\r\n\r\nx\r\n.\r\n" % i)
        assert r.code == 250, (i, r)
    w.quit()
    assert len(srv.messages("alice")) == 120


def test_concurrent_connections(srv):
    """20 clients at once, 5 messages each; every message lands once with a
    unique UID."""
    errors = []

    def client(k):
        try:
            with srv.smtp(timeout=120) as s:
                s.ehlo()
                for i in range(5):
                    assert s.mail(f"c{k}@remote.test")[0] == 250
                    assert s.rcpt("alice@example.test")[0] == 250
                    assert s.rcpt("bob@example.test")[0] == 250
                    code, resp = s.data(b"Subject: c%d-%d\r\n\r\nx\r\n" % (k, i))
                    assert code == 250, resp
        except Exception as e:  # reported below
            errors.append((k, repr(e)))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors, errors
    for user in ("alice", "bob"):
        msgs = srv.messages(user)
        assert len(msgs) == 100
        assert sorted(m.uid for m in msgs) == list(range(1, 101))
        assert len({m.content for m in msgs}) == 100


def test_output_backpressure(srv):
    """A client that writes far more commands than it reads replies (here
    ~1 MB of EHLO replies) is throttled, not dropped: every reply arrives, in
    order, and the session works afterwards."""
    n = 6000
    w = srv.wire(timeout=60)
    blob = b"".join(b"EHLO c%d.example.net\r\n" % i for i in range(n))
    t = threading.Thread(target=w.send, args=(blob,))
    t.start()
    time.sleep(1.0)  # let the server hit its output high-water mark
    for i in range(n):
        r = w.reply()
        assert r.code == 250 and r.lines[-1] == "CHUNKING", (i, r)
    t.join(60)
    assert not t.is_alive()
    r = w.transaction("s@remote.test", ["alice@example.test"], b"x\r\n.\r\n")
    assert r.code == 250
    w.quit()
    [m] = srv.messages("alice")
    assert b"from c5999.example.net " in m.received
