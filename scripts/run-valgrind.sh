#!/bin/sh
# run-valgrind.sh - run every cmocka unit test binary in DIR (test_*) under
# Valgrind memcheck, print one result line per binary with its time, and end
# with "valgrind: N passed, M failed", where N and M count binaries. Exits
# non-zero if anything failed.
#
# A binary fails when a test fails, when memcheck reports an error (invalid
# read/write, use of uninitialised memory, bad free, definite leak: exit
# status 99), on a crash, or on a timeout. Its TAP output and the memcheck
# report are shown in full when it fails.
#
# Memcheck is built for the release binaries (build/tests, -O2 -g); the
# sanitizer binaries (build/asan) cannot run under it. tests/valgrind.supp
# holds suppressions for third-party libraries only, each with its reason;
# our own code is never suppressed.
#
# Environment:
#   VALGRIND_TIMEOUT  seconds per binary (default 600)
#   VALGRIND_SKIP     space-separated binary names not to run, each printed
#                     as SKIP with the reason below (default: none)
#   VALGRIND_ONLY     space-separated binary names: run only these
#   VALGRIND_OPTS     more valgrind options (e.g. --track-origins=yes)

set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1
timeout_s=${VALGRIND_TIMEOUT:-600}
skip_list=${VALGRIND_SKIP:-}
only_list=${VALGRIND_ONLY:-}
supp="$(cd "$(dirname "$0")/.." && pwd)/tests/valgrind.supp"

if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind not installed (scripts/install-deps.sh installs it)" >&2
	echo "valgrind: 0 passed, 1 failed"
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-valgrind.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

in_list() {
	case " $2 " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

passed=0
failed=0
skipped=0
bins=0
start_all=$(date +%s)

for bin in "$dir"/test_*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=$(basename "$bin")
	if [ -n "$only_list" ] && ! in_list "$name" "$only_list"; then
		continue
	fi
	bins=$((bins + 1))
	if in_list "$name" "$skip_list"; then
		skipped=$((skipped + 1))
		echo "SKIP $name: in VALGRIND_SKIP${VALGRIND_SKIP_REASON:+ ($VALGRIND_SKIP_REASON)}"
		continue
	fi
	set -- --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite --num-callers=30 ${VALGRIND_OPTS:-} \
		--log-file="$tmp/vg"
	[ -f "$supp" ] && set -- "$@" --suppressions="$supp"
	t0=$(date +%s)
	CMOCKA_MESSAGE_OUTPUT=TAP timeout "$timeout_s" valgrind "$@" "$bin" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	t=$(($(date +%s) - t0))

	pass=$(grep -c '^ok ' "$tmp/out")
	fail=$(grep '^not ok ' "$tmp/out" | grep -vc '# *SKIP')
	why=""
	if [ "$rc" -eq 99 ]; then
		why="memcheck errors"
	elif [ "$rc" -eq 124 ]; then
		why="timed out after ${timeout_s}s"
	elif [ "$rc" -ne 0 ] || [ "$fail" -gt 0 ]; then
		why="exit status $rc, $fail test(s) failed"
	fi
	if [ -z "$why" ]; then
		passed=$((passed + 1))
		echo "PASS $name: $pass tests, ${t}s"
	else
		failed=$((failed + 1))
		echo "FAIL $name: $why, ${t}s"
		sed 's/^/    | /' "$tmp/out"
		sed 's/^/    ! /' "$tmp/err"
		sed 's/^/    = /' "$tmp/vg"
	fi
done

if [ "$bins" -eq 0 ]; then
	echo "no test binaries (test_*) in $dir" >&2
	failed=$((failed + 1))
fi
[ "$skipped" -gt 0 ] && echo "($skipped binary(ies) skipped)"
echo "valgrind: total $(($(date +%s) - start_all))s"
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
