#!/bin/sh
# demo.sh - one command from a fresh clone to a running server: install the
# dependencies, build, create a demo setup (SQLite + Maildir, loopback,
# unprivileged ports, domain example.test, user demo@example.test with a
# random password that is printed) and run it in the foreground.
#   scripts/demo.sh [DIR]        (default DIR: ./demo; PORT_BASE=10000)
set -eu
cd "$(dirname "$0")/.."
DIR="${1:-demo}"
PORT_BASE="${PORT_BASE:-10000}"
scripts/install-deps.sh
make
if [ ! -f "$DIR/postane.conf" ]; then
	build/postane init "$DIR" --domain example.test --port-base "$PORT_BASE"
	PASSWORD=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | cut -c1-16)
	echo "$PASSWORD" | build/postane -c "$DIR/postane.conf" user add demo@example.test
	echo "$PASSWORD" > "$DIR/demo-password"
	chmod 600 "$DIR/demo-password"
fi
echo
echo "  demo user:     demo@example.test"
echo "  password:      $(cat "$DIR/demo-password")"
echo "  SMTP:          127.0.0.1:$((PORT_BASE + 25))"
echo "  mail lands in: $DIR/data/mail/example.test/demo/new/"
echo "  try:           swaks --server 127.0.0.1:$((PORT_BASE + 25)) --to demo@example.test"
echo "  stop with Ctrl-C"
echo
exec build/postane -c "$DIR/postane.conf" serve
