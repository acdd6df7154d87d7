#!/usr/bin/env bash
# bench/tls/run.sh - TLS handshakes per second on IMAPS, postane beside Dovecot
# in the same run: C concurrent clients each loop over connect + full TLS
# handshake (new session every time, no resumption) + read the greeting +
# close, for a fixed duration; reports handshakes/s and server CPU per
# handshake, as medians with the ratio postane/dovecot. Dovecot is the shared
# peer (../shared/bench/peers) with an extra config include that turns on
# ssl and an IMAPS listener, with a certificate made for the run with the same
# key type and size as postane's.
#
#   sudo bash bench/tls/run.sh [--runs N] [--duration S] [--clients C] [--procs P]
#                              [--dovecot-conf default|perf|both] [--close abort|logout|notify]
#                              [--port-base N] [--install] [--keep] [--results DIR]
#
# Run as root. Only loopback is used. It stops only the servers it started,
# by their PIDs, and leaves the system's own Postfix/Dovecot alone.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_NAME=tls
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$HERE/../lib/common.sh"    # REPO, SHARED_BENCH, RUNS=3, INSTALL, KEEP, RESULTS

DURATION=10
CLIENTS=16
PROCS=2
DOVECOT_MODES=both
CLOSE=abort
PORT_BASE=22000

usage() {
    usage_header
    echo
    cat <<'EOF'
Options:
  --runs N             interleaved runs per server; medians (default 3)
  --duration S         seconds of load per run and server (default 10)
  --clients C          concurrent clients (default 16)
  --procs P            client processes the clients are spread over (default 2)
  --dovecot-conf M     default = the shared dovecot.conf (one imap-login process
                       per connection: Dovecot's default high-security mode),
                       perf = dovecot-perf.conf (login processes reused), both =
                       measure both, each as a baseline (default both)
  --close M            abort = close TCP after the greeting, no close_notify;
                       logout = IMAP LOGOUT first; notify = close_notify then
                       close (default abort)
  --port-base N        postane ports N+25, N+143, N+993, ... (default 22000)
  --install            apt-get install postfix dovecot-imapd dovecot-pop3d first
  --keep               keep the temporary run directory and /tmp/bench-mail
  --results DIR        where the results go (default bench/tls/results/<date-time>)
Environment: SHARED_BENCH (default <repo>/../shared/bench), POSTANE (binary,
default <repo>/build/postane; copied into the run directory at the start).
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --clients) CLIENTS="$2"; shift 2 ;;
        --procs) PROCS="$2"; shift 2 ;;
        --dovecot-conf) DOVECOT_MODES="$2"; shift 2 ;;
        --close) CLOSE="$2"; shift 2 ;;
        *) bench_common_option "$@"; shift "$BENCH_SHIFT" ;;
    esac
done
need_numbers "$RUNS" "$DURATION" "$CLIENTS" "$PROCS" "$PORT_BASE"
[[ "$RUNS" -ge 1 && "$DURATION" -ge 1 && "$CLIENTS" -ge 1 && "$PROCS" -ge 1 ]] || usage_error "--runs, --duration, --clients, --procs must be >= 1"
need_port_base 64000
[[ "$CLOSE" =~ ^(abort|logout|notify)$ ]] || usage_error "--close must be abort, logout or notify"
case "$DOVECOT_MODES" in
    default) MODES=(default) ;;
    perf) MODES=(perf) ;;
    both) MODES=(default perf) ;;
    *) usage_error "--dovecot-conf must be default, perf or both" ;;
esac

need_root "Dovecot needs it"
use_shared_bench
DV_IMAPS_PORT=11993                   # added by this script's config include
IMAPS_PORT=$((PORT_BASE + 993))
POSTANE_SRC="${POSTANE:-$REPO/build/postane}"

wait_port() {  # port, tenths of a second
    local i
    for ((i = 0; i < $2; i++)); do port_open "$1" && return 0; sleep 0.1; done
    return 1
}

# ---------------------------------------------------------------- install, preflight
[[ $INSTALL -eq 1 ]] && install_peers
need_peers
command -v openssl >/dev/null || die "openssl (the command) is needed to make Dovecot's certificate"
check_peer_ports "$DV_IMAPS_PORT"
check_postane_ports "${POSTANE_PORTS[@]}"
build_postane "$POSTANE_SRC"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

DOVECOT_LOG_TO_RESULTS=1
bench_start_run

# ---------------------------------------------------------------- postane
POSTANE="$RUN_DIR/postane"
cp "$POSTANE_SRC" "$POSTANE"      # private copy: build/postane is rebuilt by others
PD="$RUN_DIR/postane-dir"
log "postane: $POSTANE_SRC ($(sha256sum "$POSTANE" | cut -c1-12)), init $PD (IMAPS $IMAPS_PORT)"
postane_init "$PD"
PT_CERT="$(sed -n 's/^cert *= *//p' "$PD/postane.conf" | head -n 1)"
[[ -s "$PT_CERT" ]] || die "postane init made no certificate (looked for [tls] cert in $PD/postane.conf)"
postane_serve "$PD/postane.conf" "$IMAPS_PORT" || die "postane serve is not listening on 127.0.0.1:$IMAPS_PORT after 10 s"
log "postane: serving, pid $POSTANE_PID"

# ---------------------------------------------------------------- certificate for Dovecot
# Same key type and size as postane's certificate (postane init: RSA-2048),
# same signature hash, self-signed, made for this run.
PT_TEXT="$(openssl x509 -in "$PT_CERT" -noout -text)"
PT_ALG="$(sed -n 's/^ *Public Key Algorithm: *//p' <<<"$PT_TEXT" | head -n 1)"
PT_BITS="$(sed -n 's/^ *Public-Key: *(\([0-9]*\) bit).*/\1/p' <<<"$PT_TEXT" | head -n 1)"
PT_CURVE="$(sed -n 's/^ *NIST CURVE: *//p' <<<"$PT_TEXT" | head -n 1)"
PT_SIG="$(sed -n 's/^ *Signature Algorithm: *//p' <<<"$PT_TEXT" | head -n 1)"
case "$PT_ALG" in
    rsaEncryption) NEWKEY=(-newkey "rsa:$PT_BITS") ;;
    id-ecPublicKey) NEWKEY=(-newkey ec -pkeyopt "ec_paramgen_curve:${PT_CURVE:-P-256}") ;;
    ED25519) NEWKEY=(-newkey ed25519) ;;
    ED448) NEWKEY=(-newkey ed448) ;;
    *) die "postane's certificate has a key type this script does not know: $PT_ALG" ;;
esac
DIGEST=()
case "$PT_SIG" in
    sha256*|*SHA256*) DIGEST=(-sha256) ;;
    sha384*|*SHA384*) DIGEST=(-sha384) ;;
    sha512*|*SHA512*) DIGEST=(-sha512) ;;
esac
DV_CERT="$RUN_DIR/dovecot-cert.pem" DV_KEY="$RUN_DIR/dovecot-key.pem"
openssl req -x509 "${NEWKEY[@]}" "${DIGEST[@]}" -nodes -days 2 -subj "/CN=mx.bench.test" \
    -keyout "$DV_KEY" -out "$DV_CERT" >"$RUN_DIR/openssl.log" 2>&1 || { cat "$RUN_DIR/openssl.log" >&2; die "openssl req failed"; }
DV_TEXT="$(openssl x509 -in "$DV_CERT" -noout -text)"
key_desc() { sed -n 's/^ *Public Key Algorithm: *//p; s/^ *Public-Key: *//p; s/^ *NIST CURVE: *//p' <<<"$1" | paste -sd' '; }
log "certificates: postane $(key_desc "$PT_TEXT"), signed $PT_SIG; dovecot $(key_desc "$DV_TEXT"), signed $(sed -n 's/^ *Signature Algorithm: *//p' <<<"$DV_TEXT" | head -n 1)"
[[ "$(key_desc "$PT_TEXT")" == "$(key_desc "$DV_TEXT")" ]] || die "could not make a Dovecot key like postane's"

# ---------------------------------------------------------------- peers
peers_start
peers_need_port dovecot "$DV_IMAP_PORT"
# The shared dovecot.conf has ssl = no and the imaps listener at port 0: add an
# include per mode (in the rendered copy under /tmp/bench-mail/conf/dovecot,
# where peers/restart-dovecot.sh finds it) that turns both on.
for mode in "${MODES[@]}"; do
    base=dovecot.conf
    [[ $mode == perf ]] && base=dovecot-perf.conf
    cat >"$PEER_ROOT/conf/dovecot/dovecot-tls-$mode.conf" <<EOF
# written by bench/tls/run.sh: $base + TLS on an IMAPS listener (loopback only)
!include $base
ssl = yes
ssl_cert = <$DV_CERT
ssl_key = <$DV_KEY
service imap-login {
  inet_listener imaps {
    address = 127.0.0.1
    port = $DV_IMAPS_PORT
    ssl = yes
  }
}
EOF
done
CUR_MODE=""
dovecot_mode() {  # restart the peer Dovecot (by its master PID) in the given mode
    [[ "$CUR_MODE" == "$1" ]] && return 0
    DOVECOT_CONF="dovecot-tls-$1.conf" bash "$PEERS/restart-dovecot.sh" </dev/null >>"$RUN_DIR/dovecot-restart.log" 2>&1 ||
        { tail -n 20 "$RUN_DIR/dovecot-restart.log" "$PEER_ROOT/dovecot.log" >&2; die "dovecot did not restart with dovecot-tls-$1.conf"; }
    wait_port "$DV_IMAPS_PORT" 100 || { tail -n 20 "$PEER_ROOT/dovecot.log" >&2; die "dovecot ($1) is not listening on 127.0.0.1:$DV_IMAPS_PORT"; }
    sleep 1  # let pre-forked login processes (perf mode) come up
    CUR_MODE=$1
}
label_of() { [[ $1 == default ]] && echo dovecot || echo dovecot-perf; }

# ---------------------------------------------------------------- handshake details
# One handshake each with openssl s_client: protocol, cipher, key exchange group,
# signature. Both servers must use the same for the figures to compare.
describe() {  # label port
    local out
    out="$(timeout 15 openssl s_client -connect "127.0.0.1:$2" -servername mx.bench.test </dev/null 2>&1)" || true
    printf '%s: %s\n' "$1" "$(grep -E '^(Protocol|    Protocol|Cipher is|New, |Server Temp Key|Peer signature type|Peer signing digest|Server public key)' <<<"$out" \
        | sed 's/^ *//' | sort -u | paste -sd';' -)"
}
{
    for mode in "${MODES[@]}"; do dovecot_mode "$mode"; describe "$(label_of "$mode")" "$DV_IMAPS_PORT"; done
    describe postane "$IMAPS_PORT"
} >"$RESULTS/handshake-info.txt"
log_file "$RESULTS/handshake-info.txt" "  "

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "postane: $(postane_version)"
    echo "peers: $(dpkg-query -W -f='${Package} ${Version}; ' dovecot-imapd 2>/dev/null) $(openssl version)"
    echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "options: runs=$RUNS duration=$DURATION clients=$CLIENTS procs=$PROCS dovecot=${MODES[*]} close=$CLOSE"
    echo "certificates: $(key_desc "$PT_TEXT") ($PT_SIG) on both"
} >"$RESULTS/meta.txt"

# ---------------------------------------------------------------- measure
LOAD=(python3 "$HERE/tls_handshake.py" run --host 127.0.0.1 -c "$CLIENTS" --procs "$PROCS" --close "$CLOSE" --timeout 10)
measure() {  # run label port pid-option... ; bounded by timeout(1) on top of --duration
    local run=$1 label=$2 port=$3 dur=$4; shift 4
    run_bg timeout $((dur + 60)) "${LOAD[@]}" --port "$port" --duration "$dur" --label "$label" --run "$run" "$@" \
        --json "$RESULTS/runs.jsonl" >"$RUN_DIR/last-run.out" 2>&1 || {
        log "warning: $label run $run: the load generator failed: $(tail -n 3 "$RUN_DIR/last-run.out" | paste -sd' ')"; }
}
summary_line() {
    python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readlines()[-1]); print("%s run %s: %s handshakes/s, server %s ms CPU per handshake, p50 %s ms, failed %s %s" % (r["label"], r.get("run"), r["handshakes_per_s"], r.get("server_cpu_ms_per_handshake"), r["total_p50_ms"], r["failed"], r["errors"] or ""))' "$RESULTS/runs.jsonl"
}

log "warm-up: 2 s per server (not recorded)"
for mode in "${MODES[@]}"; do
    dovecot_mode "$mode"
    run_bg timeout 60 "${LOAD[@]}" --port "$DV_IMAPS_PORT" --duration 2 >/dev/null 2>&1 || true
done
run_bg timeout 60 "${LOAD[@]}" --port "$IMAPS_PORT" --duration 2 >/dev/null 2>&1 || true
check_postane "during the warm-up"

log "measuring: runs=$RUNS, ${DURATION}s each, $CLIENTS clients over $PROCS processes; results in $RESULTS"
for run in $(seq 1 "$RUNS"); do
    for mode in "${MODES[@]}"; do
        dovecot_mode "$mode"
        measure "$run" "$(label_of "$mode")" "$DV_IMAPS_PORT" "$DURATION" --server-pidfile "$PEER_ROOT/dovecot-run/master.pid"
        log "$(summary_line)"
        sleep 1
    done
    measure "$run" postane "$IMAPS_PORT" "$DURATION" --server-pid "$POSTANE_PID"
    log "$(summary_line)"
    check_postane "after run $run"
    sleep 1
done

BASES=()
for mode in "${MODES[@]}"; do BASES+=(--baseline "$(label_of "$mode")"); done
{
    echo "## TLS handshakes on IMAPS: postane beside Dovecot"
    echo
    sed 's/^/    /' "$RESULTS/meta.txt"
    echo
    python3 "$HERE/tls_handshake.py" table "${BASES[@]}" "$RESULTS/runs.jsonl"
    echo
    echo "handshake details (openssl s_client, one connection each):"
    echo
    sed 's/^/    /' "$RESULTS/handshake-info.txt"
    echo
    echo "Ratios: postane/<baseline>. handshakes_per_s higher is better (ratio > 1 = postane faster);"
    echo "server CPU ms per handshake and latency lower is better (ratio < 1 = postane better)."
    echo "dovecot = the shared dovecot.conf (a new imap-login process per connection);"
    echo "dovecot-perf = dovecot-perf.conf (login processes reused)."
    echo
    echo "postane log: $(postane_log_summary)"
    postane_log_top 10 | sed 's/^/    /'
} >"$RESULTS/table.md"
echo
cat "$RESULTS/table.md"
echo
echo "Results: $RESULTS (table.md, runs.jsonl, handshake-info.txt, meta.txt, postane.log, dovecot.log)"
