#!/bin/bash
# test.sh - install, build and run the whole test suite: cppcheck, C unit
# tests (also under Valgrind memcheck), the end-to-end suite against a real
# server, the same two under AddressSanitizer + UndefinedBehaviorSanitizer,
# and a short run of every fuzz target.
# The last line is the overall summary: "N passed, M failed".
#   scripts/test.sh                 everything (what CI runs)
#   FUZZ_SECONDS=N scripts/test.sh  fuzz each target N seconds (default 10)
#   SKIP_INSTALL=1 scripts/test.sh  do not call install-deps.sh
set -u
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
JOBS="$(nproc 2>/dev/null || echo 2)"
LOG=build/test-logs
passed=0
failed=0
phases=()

if [ -z "${SKIP_INSTALL:-}" ]; then
	scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
fi
mkdir -p "$LOG"

# add_counts NAME FILE: read "N passed" / "N failed" (and pytest's "error")
# from the last summary line of a phase log.
add_counts() {
	local name="$1" file="$2" line p f e
	line=$(grep -E '[0-9]+ (passed|failed)' "$file" | tail -n 1)
	p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || true)
	f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || true)
	e=$(echo "$line" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+' || true)
	p=${p:-0}; f=${f:-0}; e=${e:-0}
	passed=$((passed + p))
	failed=$((failed + f + e))
	phases+=("$name: ${p} passed, $((f + e)) failed")
}

# run_phase NAME CMD...: run, keep the log, count; a phase that fails
# without any summary line counts as one failure.
run_phase() {
	local name="$1"; shift
	local file="$LOG/$name.log"
	echo "=== $name: $*"
	"$@" 2>&1 | tee "$file"
	local rc=${PIPESTATUS[0]}
	if grep -qE '[0-9]+ (passed|failed)' "$file"; then
		add_counts "$name" "$file"
		if [ "$rc" -ne 0 ] && ! grep -qE '[1-9][0-9]* (failed|errors?)' <(grep -E '[0-9]+ (passed|failed)' "$file" | tail -n 1); then
			failed=$((failed + 1))
			phases+=("$name: exit status $rc")
		fi
	else
		if [ "$rc" -ne 0 ]; then
			failed=$((failed + 1))
			phases+=("$name: FAILED (exit status $rc, no summary)")
		fi
	fi
}

run_phase build make -j"$JOBS" all
run_phase lint make lint
run_phase unit make -j"$JOBS" unit
# The release unit test binaries again under memcheck (about 2.5 min).
run_phase valgrind scripts/run-valgrind.sh build/tests
run_phase e2e /usr/bin/python3 -m pytest -q -p no:cacheprovider -n 4 tests/e2e
# Crash consistency (tests/chaos): SIGKILL under SMTP and IMAP load, short
# form (6 kills per test, about half a minute); `make chaos` runs 25.
run_phase chaos /usr/bin/python3 -m pytest -q -s -p no:cacheprovider tests/chaos --chaos-kills 6
run_phase asan-build make -j"$JOBS" asan
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
run_phase asan-unit scripts/run-unit.sh build/asan/tests
run_phase asan-e2e env POSTANE_BIN="$PWD/build/asan/postane" /usr/bin/python3 -m pytest -q -p no:cacheprovider -n 4 tests/e2e
unset ASAN_OPTIONS UBSAN_OPTIONS
run_phase fuzz make fuzz-run FUZZ_SECONDS="$FUZZ_SECONDS"

echo
echo "=== summary"
for p in "${phases[@]}"; do
	echo "  $p"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
