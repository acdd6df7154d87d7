#!/bin/bash
# run-fuzz.sh - run every libFuzzer target in BINDIR for SECONDS seconds each,
# starting from a scratch copy of its seed corpus fuzz/corpus/<target>/.
#
#   scripts/run-fuzz.sh BINDIR SECONDS      (make fuzz-run FUZZ_SECONDS=N)
#
# The repository corpus is never modified: each target works on a copy under
# build/fuzz/corpus-work/<target>/, and its log is build/fuzz/logs/<target>.log.
# Crash, timeout and OOM inputs are written to build/fuzz/artifacts/. Prints
# one line per target and a final "fuzz: N passed, M failed"; exits non-zero
# if any target failed.
set -u

if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -eq 0 ]; then
	echo "usage: $0 BINDIR SECONDS" >&2
	exit 2
fi
bindir=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/build/fuzz/corpus-work
logs=$root/build/fuzz/logs
artifacts=$root/build/fuzz/artifacts
mkdir -p "$work" "$logs" "$artifacts" || exit 2

# UBSan findings are reports by default; make them crashes like ASan's.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

passed=0
failed=0
found=0
for bin in "$bindir"/fuzz_*; do
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
		continue
	fi
	found=1
	name=$(basename "$bin")
	corpus=$work/$name
	log=$logs/$name.log
	rm -rf "$corpus"
	mkdir -p "$corpus"
	seeds=0
	if [ -d "$root/fuzz/corpus/$name" ]; then
		cp -R "$root/fuzz/corpus/$name/." "$corpus/"
		seeds=$(find "$corpus" -type f | wc -l)
	fi
	opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
	      -artifact_prefix="$artifacts/$name-" -print_final_stats=1)
	if [ -f "$root/fuzz/$name.dict" ]; then
		opts+=(-dict="$root/fuzz/$name.dict")
	fi

	"$bin" "${opts[@]}" "$corpus" >"$log" 2>&1
	rc=$?

	# libFuzzer's last status line: "#N DONE cov: C ft: F corp: K/..."
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	corp=$(find "$corpus" -type f | wc -l)
	stats="${runs:-?} runs, ${rate:-?} exec/s, cov ${cov:-?}, corpus $seeds -> $corp"
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "ok     $name: ${seconds}s, $stats"
	else
		failed=$((failed + 1))
		art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		why=$(grep -m 1 -o 'ERROR: [A-Za-z]*Sanitizer: [^ ]*\|ERROR: libFuzzer: [a-z-]*\|runtime error: .*\|Assertion .* failed' "$log")
		echo "FAILED $name: exit $rc, ${why:-see log}; input ${art:-none}; log $log"
	fi
done

if [ "$found" -eq 0 ]; then
	echo "run-fuzz.sh: no fuzz_* executables in $bindir (run 'make fuzz')" >&2
	exit 2
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
