""""250" means on stable storage: messages acknowledged before a SIGKILL are
there after a restart (file and index row), recovery cleans the spool and
indexes stray files, UIDs only grow, and SIGTERM shuts down gracefully."""

import os
import signal
import subprocess
import threading
import time

import pytest

from smtpwire import SMTPWire, queue_id


def send_one(srv, rcpt="alice@example.test", body=b"Subject: d\r\n\r\ndurable\r\n"):
    w = srv.wire()
    r = w.transaction("sender@remote.test", [rcpt], body + b".\r\n")
    assert r.code == 250, r
    w.quit()
    return queue_id(r)


@pytest.mark.parametrize("sync_method", ["auto", "syncfs", "fsync"])
def test_kill9_right_after_250(postane, sync_method):
    srv = postane
    srv.set_config("store", "sync_method", sync_method)
    srv.start()
    body = b"Subject: crash\r\n\r\nsurvive me\r\n"
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.expect(250, "RCPT TO:<bob@example.test>")
    w.expect(354, "DATA")
    w.send(body + b".\r\n")
    r = w.expect(250)
    srv.kill9()  # no QUIT, no clean shutdown
    w.close()
    qid = queue_id(r)
    srv.start()
    for user in ("alice", "bob"):
        [m] = srv.messages(user)
        assert m.content == body
        assert f"id {qid}" in m.received.decode()
        assert srv.db_messages(user) == [(m.name, 1)]
    assert srv.wait_spool_empty() == []


@pytest.mark.parametrize("sync_method", ["auto", "syncfs", "fsync"])
def test_kill9_under_load_loses_no_acknowledged_message(postane, sync_method):
    """Clients send continuously; the server is killed mid-stream. Every
    queue id that got its 250 is in the mailbox after restart, indexed."""
    srv = postane
    srv.set_config("store", "sync_method", sync_method)
    srv.start()
    acked = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(k):
        i = 0
        try:
            w = srv.wire(timeout=10)
            while not stop.is_set():
                w.expect(250, f"MAIL FROM:<c{k}@remote.test>")
                w.expect(250, "RCPT TO:<alice@example.test>")
                w.expect(354, "DATA")
                w.send(b"Subject: %d-%d\r\n\r\n" % (k, i) + b"x" * 2000 + b"\r\n.\r\n")
                r = w.reply()
                if r.code == 250:
                    with lock:
                        acked.append(queue_id(r))
                i += 1
        except Exception:
            pass  # the server died under us: expected

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with lock:
            if len(acked) >= 200:
                break
        time.sleep(0.01)
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(20)
    with lock:
        acked_ids = list(acked)
    assert len(acked_ids) >= 50, "load too low to mean anything"
    srv.start()
    msgs = srv.messages("alice")
    found = set()
    for m in msgs:
        rec = m.received.decode()
        found.add(rec.split(" id ", 1)[1].split()[0].rstrip(";"))
    missing = set(acked_ids) - found
    assert not missing, f"{len(missing)} acknowledged message(s) lost"
    # Every file in new/ is indexed exactly once, UIDs unique and dense.
    rows = srv.db_messages("alice")
    assert sorted(fn for fn, _ in rows) == sorted(m.name for m in msgs)
    assert sorted(uid for _, uid in rows) == list(range(1, len(rows) + 1))
    assert srv.wait_spool_empty() == []


def test_spool_leftover_removed_on_restart(srv):
    send_one(srv)
    assert srv.wait_spool_empty() == []
    srv.stop()
    junk = srv.spool_tmp / "1700000000.M1P1Q1.leftover"
    junk.write_bytes(b"Return-Path: <x@y>\r\n\r\nhalf a message")
    srv.start()
    assert srv.wait_spool_empty() == []
    assert "recovery: removed 1 unfinished message file(s)" in srv.run_log()
    # The leftover was not delivered anywhere.
    assert len(srv.messages("alice")) == 1
    assert srv.messages("bob") == []


def test_spool_leftover_removed_after_kill9(srv):
    """A message cut off by a crash mid-DATA leaves its spool file; the next
    start removes it and delivers nothing."""
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.expect(354, "DATA")
    w.send(b"Subject: partial\r\n\r\n" + b"p" * 300000)
    deadline = time.monotonic() + 10
    while not srv.spool_files() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(srv.spool_files()) == 1
    srv.kill9()
    w.close()
    srv.start()
    assert srv.wait_spool_empty() == []
    assert srv.messages("alice") == []


def test_orphan_in_new_is_indexed_on_restart(srv):
    """A file that reached new/ but not the index (crash between link and
    commit) is indexed at the next start with the next UID."""
    send_one(srv)
    srv.stop()
    content = b"Subject: orphan\r\n\r\nfound me\r\n"
    orphan = (srv.maildir("alice") / "new" /
              f"1700000000.M2P2Q2.mail.example.test,S={len(content)}")
    orphan.write_bytes(content)
    srv.start()
    rows = srv.db_messages("alice")
    assert [uid for _, uid in rows] == [1, 2]
    assert rows[1][0] == orphan.name
    size = srv.db_query("SELECT size FROM messages WHERE filename = ?", orphan.name)
    assert size == [(len(content),)]
    assert "recovery: indexed 1 message(s) found in new/" in srv.run_log()
    assert orphan.read_bytes() == content
    # And delivery goes on after it.
    send_one(srv)
    assert [uid for _, uid in srv.db_messages("alice")] == [1, 2, 3]


def test_incomplete_file_in_new_is_removed_on_restart(srv):
    """A file in new/ whose size differs from its S= was never complete (so
    never acknowledged): recovery removes it instead of indexing it."""
    send_one(srv)
    srv.stop()
    bad = srv.maildir("alice") / "new" / "1700000000.M3P3Q3.mail.example.test,S=5000"
    bad.write_bytes(b"Subject: cut\r\n\r\nshort")
    srv.start()
    assert not bad.exists()
    assert [uid for _, uid in srv.db_messages("alice")] == [1]
    send_one(srv)
    assert [uid for _, uid in srv.db_messages("alice")] == [1, 2]


def test_index_row_without_file_is_dropped_on_restart(srv):
    """An index row whose file never reached new/ (crash between the index
    commit and the directory sync) is dropped; UIDs are not reused."""
    send_one(srv)
    send_one(srv)
    srv.stop()
    rows = srv.db_messages("alice")
    assert [uid for _, uid in rows] == [1, 2]
    (first, _), (second, _) = rows
    (srv.maildir("alice") / "new" / second).unlink()
    srv.start()
    assert srv.db_messages("alice") == [(first, 1)]
    assert "recovery: dropped 1 unacknowledged index row(s)" in srv.run_log()
    send_one(srv)
    assert [uid for _, uid in srv.db_messages("alice")] == [1, 3]


def test_uids_ascend_across_restarts(srv):
    for _ in range(2):
        send_one(srv)
    srv.restart()
    for _ in range(2):
        send_one(srv)
    srv.kill9()
    srv.start()
    send_one(srv)
    rows = srv.db_messages("alice")
    assert [uid for _, uid in rows] == [1, 2, 3, 4, 5]
    names = [fn for fn, _ in rows]
    assert len(set(names)) == 5
    assert sorted(p.name for p in srv.message_paths("alice")) == sorted(names)
    # uidnext and uidvalidity of the INBOX did not reset.
    [(uidnext,)] = srv.db_query(
        "SELECT b.uidnext FROM mailboxes b JOIN accounts a ON a.id = b.account_id"
        " WHERE a.localpart = 'alice' AND b.name = 'INBOX'")
    assert uidnext == 6


def test_multi_recipient_message_is_one_file_linked(srv):
    """One message to two accounts: each INBOX holds it, with its own UID."""
    send_one(srv, rcpt="alice@example.test")
    w = srv.wire()
    r = w.transaction("s@remote.test", ["alice@example.test", "bob@example.test"],
                      b"Subject: both\r\n\r\nx\r\n.\r\n")
    assert r.code == 250
    w.quit()
    [a2] = [m for m in srv.messages("alice") if m.uid == 2]
    [b1] = srv.messages("bob")
    assert b1.uid == 1
    assert a2.raw == b1.raw
    assert os.stat(a2.path).st_ino == os.stat(b1.path).st_ino


def test_sigterm_exits_cleanly(srv):
    """(Regression: SIGTERM used to kill the process because the store's
    committer thread had the signal unblocked; fixed in 07fa5c6.)"""
    send_one(srv)
    rc = srv.stop()
    assert rc == 0
    log = srv.run_log()
    assert "SIGTERM: finishing transactions in flight, then exiting" in log
    assert "postane stopped" in log


def test_sigterm_drains_sessions(srv):
    """SIGTERM: idle sessions get 421 4.3.2 at once; a transaction in flight
    may finish and gets its 250; then that session is closed too and the
    server exits 0."""
    idle = srv.wire()
    busy = srv.wire()
    busy.expect(250, "MAIL FROM:<sender@remote.test>")
    busy.expect(250, "RCPT TO:<alice@example.test>")
    busy.expect(354, "DATA")
    busy.send(b"Subject: in flight\r\n\r\nfirst half\r\n")
    time.sleep(0.2)
    srv.proc.send_signal(signal.SIGTERM)
    srv.expected_exit = True
    # The idle session is told to go away.
    r = idle.reply()
    assert r.code == 421 and r.enhanced == "4.3.2", r
    assert idle.closed()
    # The transaction in flight may finish.
    busy.send(b"second half\r\n.\r\n")
    r = busy.reply()
    assert r.code == 250 and "queued as" in r.text, r
    # Then the session ends: 421 right away, or after answering at most one
    # more command.
    try:
        busy.line("NOOP")
    except OSError:
        pass
    codes = []
    try:
        while True:
            codes.append(busy.reply().code)
            if codes[-1] == 421:
                break
    except Exception:
        pass
    assert codes in ([421], [250, 421]), codes
    assert busy.closed()
    assert srv.proc.wait(timeout=30) == 0
    [m] = srv.messages("alice")
    assert m.content == b"Subject: in flight\r\n\r\nfirst half\r\nsecond half\r\n"


def test_sighup_keeps_running(srv):
    """(Regression: SIGHUP used to kill the process; fixed in 07fa5c6.)"""
    srv.expected_exit = True  # asserted here, not in teardown
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    if not srv.running():
        pytest.fail(f"server died on SIGHUP: {srv.proc.returncode}")
    srv.expected_exit = False
    send_one(srv)
    assert "SIGHUP" in srv.run_log()


def test_second_instance_refuses_to_start(srv):
    """A second `postane serve` on the same data directory must not start:
    SO_REUSEPORT would let it bind the same port, and its start-up recovery
    would delete the running instance's in-flight spool files (that
    transaction then failed with 451). Regression test for 07fa5c6."""
    w = srv.wire()
    w.expect(250, "MAIL FROM:<sender@remote.test>")
    w.expect(250, "RCPT TO:<alice@example.test>")
    w.expect(354, "DATA")
    w.send(b"Subject: first instance\r\n\r\n" + b"a" * 100000 + b"\r\n")
    time.sleep(0.3)
    second = subprocess.Popen([srv.bin, "-c", str(srv.conf), "serve"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        try:
            _, err = second.communicate(timeout=10)
            second_rc = second.returncode
        except subprocess.TimeoutExpired:
            second_rc = None
        w.send(b".\r\n")
        r = w.reply()
        assert r.code == 250, f"first instance's transaction failed: {r!r}"
        assert second_rc not in (None, 0), "second instance kept running"
    finally:
        if second.poll() is None:
            second.send_signal(signal.SIGKILL)
            second.wait(10)
        w.close()


def test_serve_without_init_fails(postane, tmp_path):
    conf = tmp_path / "other.conf"
    conf.write_text(postane.conf.read_text().replace(str(postane.data), str(tmp_path / "nodata")))
    r = postane.run_cli("serve", config=False, env={"POSTANE_CONFIG": str(conf)})
    assert r.returncode != 0
    assert r.stderr.startswith("postane: ")
    assert "run `postane init` first" in r.stderr or "No such file" in r.stderr


def test_message_moved_to_cur_by_local_reader_keeps_its_row(srv):
    """A local mail reader (mutt) moving a message from new/ to cur/ with an
    info suffix is not a lost message: recovery keeps its index row."""
    send_one(srv)
    [m] = srv.messages("alice")
    assert "/new/" in str(m.path)
    cur = m.path.parent.parent / "cur" / (m.path.name + ":2,S")
    os.rename(m.path, cur)
    srv.restart()
    rows = srv.db_query("SELECT uid, in_new FROM messages")
    assert rows == [(1, 0)]
    assert "dropping its index row" not in srv.run_log()
