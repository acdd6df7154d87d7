#!/bin/sh
# run-unit.sh - run every cmocka unit test binary in DIR (test_*), print one
# result line per binary, and end with "unit: N passed, M failed", where N and
# M count individual tests. Exits non-zero if anything failed.
#
# Each binary runs with CMOCKA_MESSAGE_OUTPUT=TAP; its stdout (TAP) and
# stderr (logs, sanitizer reports) are captured separately and shown in full
# when the binary fails. A binary that crashes, times out, or exits non-zero
# with every test passed (a LeakSanitizer report, for instance) counts its
# missing tests as failed, and at least one.
#
# Environment: UNIT_TIMEOUT (seconds per binary, default 300).

set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1
timeout_s=${UNIT_TIMEOUT:-300}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-unit.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

total_pass=0
total_fail=0
total_skip=0
bins=0

for bin in "$dir"/test_*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	bins=$((bins + 1))
	name=$(basename "$bin")
	CMOCKA_MESSAGE_OUTPUT=TAP timeout "$timeout_s" "$bin" >"$tmp/out" 2>"$tmp/err"
	rc=$?

	# cmocka's TAP: "1..N", "ok I - name", "not ok I - name",
	# "not ok I # SKIP name"; diagnostics start with "#".
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$tmp/out" | head -n 1)
	pass=$(grep -c '^ok ' "$tmp/out")
	skip=$(grep -c '^not ok .*# *SKIP' "$tmp/out")
	fail=$(($(grep -c '^not ok ' "$tmp/out") - skip))
	note=""
	seen=$((pass + fail + skip))
	if [ -n "$plan" ] && [ "$seen" -lt "$plan" ]; then
		fail=$((fail + plan - seen))
		note=" ($((plan - seen)) test(s) did not report)"
	fi
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1
		note=" (exit status $rc)"
	fi
	if [ "$rc" -eq 124 ]; then
		note="$note (timed out after ${timeout_s}s)"
	fi

	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
	extra=""
	[ "$skip" -gt 0 ] && extra=", $skip skipped"
	if [ "$fail" -eq 0 ]; then
		echo "PASS $name: $pass passed$extra"
	else
		echo "FAIL $name: $pass passed, $fail failed$extra$note"
		sed 's/^/    | /' "$tmp/out"
		sed 's/^/    ! /' "$tmp/err"
	fi
done

if [ "$bins" -eq 0 ]; then
	echo "no test binaries (test_*) in $dir" >&2
	total_fail=$((total_fail + 1))
fi
if [ "$total_skip" -gt 0 ]; then
	echo "($total_skip test(s) skipped: see the tests marked with a bug note)"
fi
echo "unit: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
