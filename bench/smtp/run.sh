#!/usr/bin/env bash
# bench/smtp/run.sh - SMTP benchmark of postane beside Postfix (+ Dovecot), in
# the same run: throughput, latency, time until delivered into the Maildir, and
# server CPU per message, at several concurrencies, printed as medians with the
# ratio postane/postfix. Uses the shared tools in ../shared/bench (compare.py,
# smtp_load.py, peers/*.sh); nothing is copied from there.
#
#   sudo bash bench/smtp/run.sh [--runs N] [--messages N] [--install] [--keep]
#                               [--peers-only] [--port-base N]
#                               [--concurrency 1,8,32] [--reuse 1,0]
#                               [--results DIR] [-- extra compare.py options]
#
# Run as root. Only loopback is used. It stops only the servers it started,
# by their PIDs, and leaves the system's own Postfix/Dovecot alone.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_NAME=smtp
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$HERE/../lib/common.sh"    # REPO, SHARED_BENCH, RUNS=3, INSTALL, KEEP, RESULTS, EXTRA

MESSAGES=1000
PEERS_ONLY=0
PORT_BASE=20000
CONCURRENCY=1,8,32
REUSE=1,0

usage() {
    usage_header
    echo
    cat <<'EOF'
Options:
  --runs N          interleaved runs per scenario and target; medians (default 3)
  --messages N      messages per run and scenario (default 1000)
  --install         apt-get install postfix dovecot-imapd dovecot-pop3d first
  --keep            keep the temporary run directory and /tmp/bench-mail
  --peers-only      benchmark only Postfix (check the harness without postane)
  --port-base N     postane ports: SMTP N+25, IMAP N+143 (default 20000)
  --concurrency L   SMTP concurrent sessions, comma list (default 1,8,32)
  --reuse L         messages per connection, comma list; 1 = one message per
                    connection, 0 = one session per client for the whole run
                    (default 1,0)
  --results DIR     where table.md and the raw runs go
                    (default bench/smtp/results/<date-time>)
  -- ARGS           anything after -- is passed to compare.py as is
Environment: SHARED_BENCH (default <repo>/../shared/bench), POSTANE (binary,
default <repo>/build/postane).
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --messages) MESSAGES="$2"; shift 2 ;;
        --peers-only) PEERS_ONLY=1; shift ;;
        --concurrency) CONCURRENCY="$2"; shift 2 ;;
        --reuse) REUSE="$2"; shift 2 ;;
        --) shift; EXTRA=("$@"); break ;;
        *) bench_common_option "$@"; shift "$BENCH_SHIFT" ;;
    esac
done
need_numbers "$RUNS" "$MESSAGES" "$PORT_BASE"
[[ "$RUNS" -ge 1 && "$MESSAGES" -ge 1 ]] || usage_error "--runs and --messages must be >= 1"
need_port_base 65000

need_root "Postfix and Dovecot need it"
use_shared_bench
SMTP_PORT=$((PORT_BASE + 25))
IMAP_PORT=$((PORT_BASE + 143))
POSTANE="${POSTANE:-$REPO/build/postane}"

# ---------------------------------------------------------------- install, preflight
[[ $INSTALL -eq 1 ]] && install_peers
need_peers
check_peer_ports
if [[ $PEERS_ONLY -eq 0 ]]; then
    check_postane_ports 25 143
    build_postane "$POSTANE"
fi

bench_start_run
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------- postane
TARGETS=()
start_postane() {
    local dir="$RUN_DIR/postane" conf
    conf="$dir/postane.conf"
    log "postane: init $dir (SMTP $SMTP_PORT, IMAP $IMAP_PORT)"
    mkdir -p "$dir"
    postane_init "$dir"
    log "postane: adding user1..user100@bench.test"
    local i users=()
    for i in $(seq 1 100); do users+=("user$i@bench.test"); done
    postane_add_users "$conf" "${users[@]}"
    postane_serve "$conf" "$SMTP_PORT" || die "postane serve is not listening on 127.0.0.1:$SMTP_PORT after 10 s"
    echo "$POSTANE_PID" >"$RUN_DIR/postane.pid"
    log "postane: serving, pid $POSTANE_PID, log $RUN_DIR/postane.log"
    # Delivered mail: $dir/data/mail/bench.test/userN/{new,cur,tmp}. The shared
    # maildir_check.py walks the base recursively and counts files in any new/
    # or cur/ directory, so this layout needs no adapter: give it data/mail.
    TARGETS+=("name=postane,smtp=127.0.0.1:$SMTP_PORT,imap=127.0.0.1:$IMAP_PORT,maildir=$dir/data/mail,pid=$POSTANE_PID,smtp_pid=$POSTANE_PID")
}

# ---------------------------------------------------------------- peers
start_peers() {
    peers_start
    peers_need_port postfix "$PF_SMTP_PORT"
    log_file "$RUN_DIR/peers-start.log" "  "
    # Baseline first: compare.py prints every other target relative to it.
    TARGETS=("name=postfix,smtp=127.0.0.1:$PF_SMTP_PORT,imap=127.0.0.1:$DV_IMAP_PORT,maildir=$PEER_ROOT/vmail,pidfile=$PEER_ROOT/dovecot-run/master.pid,smtp_pidfile=$PEER_ROOT/postfix-queue/pid/master.pid" "${TARGETS[@]}")
}

[[ $PEERS_ONLY -eq 0 ]] && start_postane
start_peers

# ---------------------------------------------------------------- smoke test
# A few messages to each target before measuring: the run stops here if a
# server refuses mail, and warns if delivered files are not found where the
# harness looks for them (then the delivery columns would be empty).
for t in "${TARGETS[@]}"; do
    name="$(sed -n 's/.*name=\([^,]*\).*/\1/p' <<<"$t")"
    hp="$(sed -n 's/.*smtp=\([^,]*\).*/\1/p' <<<"$t")"
    md="$(sed -n 's/.*maildir=\([^,]*\).*/\1/p' <<<"$t")"
    out="$(python3 "$SHARED_BENCH/smtp_load.py" --host "${hp%:*}" --port "${hp##*:}" -n 5 -c 1 \
        --max-seconds 20 --timeout 10 --maildir-base "$md" --delivery-timeout 20 --quiet --json - 2>&1 | tail -n 1)" || true
    acc="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("accepted", 0))' "$out" 2>/dev/null || echo 0)"
    dlv="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("delivered", 0))' "$out" 2>/dev/null || echo 0)"
    log "smoke test $name: accepted $acc/5, delivered $dlv/5 (under $md)"
    [[ "$acc" -eq 5 ]] || { echo "$out" >&2; die "$name did not accept the smoke-test messages"; }
    [[ "$dlv" -eq 5 ]] || log "warning: $name: delivered files not found under $md; delivery columns will be empty"
done

# ---------------------------------------------------------------- measure
TARGET_ARGS=()
for t in "${TARGETS[@]}"; do TARGET_ARGS+=(--target "$t"); done
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "postane: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo uncommitted)$([[ $PEERS_ONLY -eq 1 ]] && echo ' (not run: --peers-only)')"
    echo "peers: $(dpkg-query -W -f='${Package} ${Version}; ' postfix dovecot-imapd 2>/dev/null)"
    echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "options: runs=$RUNS messages=$MESSAGES concurrency=$CONCURRENCY reuse=$REUSE extra=${EXTRA[*]:-}"
} >"$RESULTS/meta.txt"

log "measuring: runs=$RUNS messages=$MESSAGES concurrency=$CONCURRENCY reuse=$REUSE; results in $RESULTS"
# Every load run is bounded by compare.py's own subprocess timeout
# (smtp-max-seconds + delivery-timeout + 60 s).
# compare.py runs in the background (run_bg) and is waited for, so that a
# SIGTERM or Ctrl-C to this script is acted on at once (the trap stops it by
# its PID).
rc=0
run_bg python3 "$SHARED_BENCH/compare.py" --scenarios smtp --runs "$RUNS" \
    --smtp-concurrency "$CONCURRENCY" --smtp-reuse "$REUSE" --smtp-messages "$MESSAGES" \
    --smtp-max-seconds 60 --delivery-timeout 60 --pause 2 \
    --out "$RESULTS/compare.jsonl" --md "$RESULTS/table.md" \
    "${TARGET_ARGS[@]}" "${EXTRA[@]}" || rc=$?
[[ $rc -eq 0 ]] || die "compare.py failed (exit $rc)"

cat <<EOF

Ratios: postane/postfix, medians of the same interleaved runs. "better" says
which way is good: msgs/s higher (ratio > 1 = postane faster); latency, time
to delivery and CPU ms per message lower (ratio < 1 = postane better).
msgs/s counts a message when the server says 250 after DATA; delivered_msgs_per_s
and all_delivered_after_start_s count it when its file is in new/ or cur/.
Table: $RESULTS/table.md   raw runs: $RESULTS/compare.jsonl
EOF
