#!/usr/bin/env bash
# bench/outbound/run.sh - outbound delivery benchmark: messages delivered per
# second from the queue to a local SMTP sink at 32 parallel deliveries,
# postane beside Postfix relaying to the same sink, in the same run, as
# medians with the ratio postane/postfix. outbound_bench.py does the work
# (see README.md); this script checks, builds, runs it bounded, and keeps the
# results.
#
#   sudo bash bench/outbound/run.sh [--runs N] [--messages N] [--concurrency N]
#                                   [--modes stream,preload] [--peers-only]
#                                   [--install] [--keep] [--results DIR]
#                                   [-- extra outbound_bench.py options]
#
# Run as root. Only loopback is used (sink 127.0.0.9, Postfix relay
# 127.0.0.10, postane and its DNS server on 127.0.0.1, ports picked free).
# It stops only what it started, by PID.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_NAME=outbound
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$HERE/../lib/common.sh"    # REPO, RUNS=3, INSTALL, KEEP, RESULTS, EXTRA

MESSAGES=2000
CONCURRENCY=32
MODES=stream,preload
PEERS_ONLY=0
PORT_BASE=20000               # accepted for symmetry with the other drivers; unused
PYTHON=/usr/bin/python3       # Debian's: python3-aiosmtpd, python3-dnslib

usage() {
    usage_header
    echo
    cat <<'EOF'
Options:
  --runs N          interleaved runs per mode and target; medians (default 3)
  --messages N      messages per phase (default 2000)
  --concurrency N   parallel deliveries of each server (default 32)
  --modes L         stream (timed from the first injection), preload (all
                    queued while the sink refuses, timed from the release);
                    comma list (default stream,preload)
  --peers-only      only Postfix (checks the harness without postane)
  --install         run scripts/install-deps.sh first (installs postfix)
  --keep            keep the temporary run directory
  --results DIR     where table.md, runs.jsonl and the logs go
                    (default bench/outbound/results/<date-time>)
  -- ARGS           passed to outbound_bench.py as is
Environment: POSTANE (binary, default <repo>/build/postane).
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --messages) MESSAGES="$2"; shift 2 ;;
        --concurrency) CONCURRENCY="$2"; shift 2 ;;
        --modes) MODES="$2"; shift 2 ;;
        --peers-only) PEERS_ONLY=1; shift ;;
        --) shift; EXTRA=("$@"); break ;;
        *) bench_common_option "$@"; shift "$BENCH_SHIFT" ;;
    esac
done
need_numbers "$RUNS" "$MESSAGES" "$CONCURRENCY"
[[ "$RUNS" -ge 1 && "$MESSAGES" -ge 1 && "$CONCURRENCY" -ge 1 ]] ||
    usage_error "--runs, --messages and --concurrency must be >= 1"

need_root "Postfix needs it"
if [[ $INSTALL -eq 1 ]]; then
    log "installing packages (scripts/install-deps.sh)"
    "$REPO/scripts/install-deps.sh" </dev/null >&2 || die "install-deps.sh failed"
fi
if ! command -v postconf >/dev/null || [[ ! -x "$(postconf -d -h daemon_directory)/master" ]]; then
    die "postfix is not installed (use --install)"
fi
"$PYTHON" -c 'import aiosmtpd, dnslib' 2>/dev/null ||
    die "$PYTHON lacks python3-aiosmtpd / python3-dnslib (use --install)"
POSTANE="${POSTANE:-$REPO/build/postane}"
TARGETS=postfix,postane
if [[ $PEERS_ONLY -eq 1 ]]; then
    TARGETS=postfix
else
    build_postane "$POSTANE"
fi

bench_start_run
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "postane: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/')$([[ $PEERS_ONLY -eq 1 ]] && echo ' (not run: --peers-only)')"
    echo "peers: $(dpkg-query -W -f='${Package} ${Version}; ' postfix python3-aiosmtpd 2>/dev/null)"
    echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "options: runs=$RUNS messages=$MESSAGES concurrency=$CONCURRENCY modes=$MODES targets=$TARGETS extra=${EXTRA[*]:-}"
} >"$RESULTS/meta.txt"

log "measuring: runs=$RUNS messages=$MESSAGES concurrency=$CONCURRENCY modes=$MODES targets=$TARGETS; results in $RESULTS"
# Bounded by the driver's own timeouts (injection 300 s + delivery 180 s per
# phase); run in the background so that the exit trap can stop it by PID.
rc=0
run_bg "$PYTHON" "$HERE/outbound_bench.py" --targets "$TARGETS" \
    --runs "$RUNS" --messages "$MESSAGES" --concurrency "$CONCURRENCY" --modes "$MODES" \
    --postane "$POSTANE" --workdir "$RUN_DIR" \
    --json "$RESULTS/runs.jsonl" --md "$RESULTS/table.md" "${EXTRA[@]}" || rc=$?
# postane.log is copied by the exit trap; Postfix's log is here.
for f in "$RUN_DIR"/postfix-*/maillog; do
    [[ -f "$f" ]] && cp "$f" "$RESULTS/postfix-maillog.txt"
done
[[ -f "$RESULTS/table.md" ]] || die "outbound_bench.py failed (exit $rc); see the log above"
[[ $rc -eq 0 ]] || log "warning: some phases did not deliver every message in time (exit $rc); see $RESULTS/runs.jsonl"

cat <<EOF

Ratios: postane/postfix, medians of the same interleaved runs. delivered_msgs_per_s
is higher-better; delivered_s, drain and CPU per message lower-better.
stream: from the first injection until the sink has all N (includes accepting them);
preload: from the release of a fully queued backlog until the sink has all N.
Table: $RESULTS/table.md   raw phases: $RESULTS/runs.jsonl
EOF
exit "$rc"
