#!/bin/bash
# run.sh - run Dovecot's imaptest scripts against a throw-away postane.
#
#   tests/imaptest/run.sh [TESTS_DIR] [runner options...]
#
# TESTS_DIR defaults to the older imaptest-tests/ (the set Dovecot passes
# 71/71, see /work/shared/conformance/README.md); runner options are passed
# through, e.g. `--only fetch select -v` or `--log-dir /tmp/itlogs`.
# Environment: POSTANE_BIN (default build/postane), IMAPTEST_KEEP=1 keeps the
# server directory and its log.
#
# It creates a server directory with `postane init`, the accounts
# testuser@example.test and testuser2@example.test, allows LOGIN without TLS
# on loopback, starts `postane serve`, runs runner.py, and stops the server
# by its PID (SIGTERM, SIGKILL after a bound). The exit status is the
# runner's: 0 when every script ran (whatever their results: the pass count
# is tracked by tests/e2e/test_imaptest_conformance.py), non-zero when the
# server could not be started or the runner itself failed.
set -u
cd "$(dirname "$0")/../.."
REPO=$(pwd)
BIN=${POSTANE_BIN:-build/postane}
case "$BIN" in /*) ;; *) BIN="$REPO/$BIN" ;; esac
TESTS=/work/shared/conformance/imaptest-tests
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	TESTS=$1
	shift
fi
PASS1="imaptest pass one"
PASS2="imaptest pass two"

if [ ! -x "$BIN" ]; then
	echo "run.sh: $BIN not found (make first)" >&2
	exit 2
fi
if [ ! -d "$TESTS" ]; then
	echo "run.sh: no tests directory $TESTS" >&2
	exit 2
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/postane-imaptest.XXXXXX")
PID=
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null
		for _ in $(seq 1 400); do
			kill -0 "$PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$PID" 2>/dev/null; then
			echo "run.sh: server did not stop on SIGTERM, killing" >&2
			kill -KILL "$PID" 2>/dev/null
		fi
		wait "$PID" 2>/dev/null
	fi
	# A sanitizer build reports errors (leaks at exit) in its log: show them
	# (tests/e2e/test_imaptest_conformance.py fails on this marker).
	if [ -f "$DIR/server.log" ] &&
		grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$DIR/server.log"; then
		echo "run.sh: SANITIZER REPORT in the server log:" >&2
		grep -E -A 14 'ERROR: (Address|Leak)Sanitizer|runtime error:|(Direct|Indirect) leak' \
			"$DIR/server.log" | head -n 120 >&2
	fi
	if [ -n "${IMAPTEST_KEEP:-}" ]; then
		echo "run.sh: kept $DIR (server log: $DIR/server.log)" >&2
	else
		rm -rf "$DIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a port base whose IMAP port (base+143) and SMTP port are free on loopback
BASE=$(/usr/bin/python3 - <<'EOF'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    b = random.randrange(20000, 60000, 10)
    if all(free(b + d) for d in (25, 80, 110, 143, 465, 587, 993, 995)):
        print(b)
        break
EOF
)
if [ -z "$BASE" ]; then
	echo "run.sh: no free port base found" >&2
	exit 2
fi
PORT=$((BASE + 143))

CONF="$DIR/postane/postane.conf"
"$BIN" init "$DIR/postane" --domain example.test --port-base "$BASE" >/dev/null || exit 2
echo "$PASS1" | "$BIN" -c "$CONF" user add testuser@example.test >/dev/null || exit 2
echo "$PASS2" | "$BIN" -c "$CONF" user add testuser2@example.test >/dev/null || exit 2
printf '\n[auth]\nplaintext_loopback = yes\n' >>"$CONF"

"$BIN" -c "$CONF" serve >"$DIR/server.log" 2>&1 &
PID=$!
ready=
for _ in $(seq 1 300); do
	if ! kill -0 "$PID" 2>/dev/null; then
		break
	fi
	if /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 1).close()" 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.1
done
if [ -z "$ready" ]; then
	echo "run.sh: server did not start; its log:" >&2
	cat "$DIR/server.log" >&2
	exit 2
fi

/usr/bin/python3 "$REPO/tests/imaptest/runner.py" --host 127.0.0.1 --port "$PORT" \
	--user testuser@example.test --password "$PASS1" \
	--user2 testuser2@example.test --password2 "$PASS2" \
	--tests "$TESTS" "$@"
rc=$?
if ! kill -0 "$PID" 2>/dev/null; then
	echo "run.sh: the server exited during the run; its log:" >&2
	tail -n 50 "$DIR/server.log" >&2
	PID=
	[ "$rc" -eq 0 ] && rc=3
fi
exit "$rc"
