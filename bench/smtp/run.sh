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
REPO="$(cd "$HERE/../.." && pwd)"
SHARED_BENCH="${SHARED_BENCH:-$REPO/../shared/bench}"

RUNS=3
MESSAGES=1000
INSTALL=0
KEEP=0
PEERS_ONLY=0
PORT_BASE=20000
CONCURRENCY=1,8,32
REUSE=1,0
RESULTS=""
EXTRA=()

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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
        --runs) RUNS="$2"; shift 2 ;;
        --messages) MESSAGES="$2"; shift 2 ;;
        --install) INSTALL=1; shift ;;
        --keep) KEEP=1; shift ;;
        --peers-only) PEERS_ONLY=1; shift ;;
        --port-base) PORT_BASE="$2"; shift 2 ;;
        --concurrency) CONCURRENCY="$2"; shift 2 ;;
        --reuse) REUSE="$2"; shift 2 ;;
        --results) RESULTS="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; EXTRA=("$@"); break ;;
        *) echo "run.sh: unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
for v in "$RUNS" "$MESSAGES" "$PORT_BASE"; do
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "run.sh: not a number: $v" >&2; exit 2; }
done
[[ "$RUNS" -ge 1 && "$MESSAGES" -ge 1 ]] || { echo "run.sh: --runs and --messages must be >= 1" >&2; exit 2; }
[[ "$PORT_BASE" -ge 1024 && "$PORT_BASE" -le 65000 ]] || { echo "run.sh: --port-base must be 1024..65000" >&2; exit 2; }

log() { printf '[bench/smtp] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ "$(id -u)" -eq 0 ]] || die "run as root (Postfix and Dovecot need it)"
[[ -f "$SHARED_BENCH/compare.py" ]] || die "shared bench tools not found at $SHARED_BENCH (set SHARED_BENCH)"
SHARED_BENCH="$(cd "$SHARED_BENCH" && pwd)"
PEERS="$SHARED_BENCH/peers"
PEER_ROOT=/tmp/bench-mail             # fixed by the shared peers scripts
PF_SMTP_PORT=2525 DV_IMAP_PORT=11143 DV_POP3_PORT=11110
SMTP_PORT=$((PORT_BASE + 25))
IMAP_PORT=$((PORT_BASE + 143))
POSTANE="${POSTANE:-$REPO/build/postane}"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- install
install_peers() {
    log "installing postfix dovecot-imapd dovecot-pop3d"
    export DEBIAN_FRONTEND=noninteractive
    # Postfix: no debconf questions, no system mail configuration at all.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    echo "postfix postfix/mailname string bench.test" | debconf-set-selections
    # Keep the packages' maintainer scripts from starting the system daemons
    # (the benchmark runs its own instances on other ports). If the machine has
    # no policy-rc.d, put a temporary one in place for the install only.
    local tmp_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        tmp_policy=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    local rc=0
    if ! apt-get install -y -q postfix dovecot-imapd dovecot-pop3d </dev/null; then
        log "apt-get install failed; running apt-get update and trying once more"
        apt-get update -q </dev/null && apt-get install -y -q postfix dovecot-imapd dovecot-pop3d </dev/null || rc=$?
    fi
    if [[ $tmp_policy -eq 1 ]]; then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
    [[ $rc -eq 0 ]] || die "apt-get install failed"
    # If the system instances were started anyway (e.g. no policy-rc.d honoured
    # under systemd), stop exactly those, through their own init scripts: they
    # would hold ports 25 / 143 / 110 / 993 / 995 (not ours, but needless load).
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        systemctl stop postfix.service dovecot.service >/dev/null 2>&1 || true
        systemctl disable postfix.service dovecot.service >/dev/null 2>&1 || true
    else
        if [[ -s /var/spool/postfix/pid/master.pid ]] && kill -0 "$(tr -d ' ' </var/spool/postfix/pid/master.pid)" 2>/dev/null; then
            postfix stop >/dev/null 2>&1 || true
        fi
        if [[ -s /run/dovecot/master.pid ]] && kill -0 "$(cat /run/dovecot/master.pid)" 2>/dev/null; then
            doveadm stop >/dev/null 2>&1 || true
        fi
    fi
    log "installed: $(dpkg-query -W -f='${Package} ${Version}; ' postfix dovecot-imapd dovecot-pop3d)"
}

[[ $INSTALL -eq 1 ]] && install_peers
if ! command -v postfix >/dev/null || ! command -v dovecot >/dev/null; then
    die "postfix/dovecot not installed (use --install)"
fi
if ! getent passwd postfix >/dev/null || ! getent group postdrop >/dev/null; then
    die "postfix user/postdrop group missing (reinstall postfix)"
fi

# ---------------------------------------------------------------- preflight
# Never take over peers that someone else has running: the shared start script
# with --clean would stop whatever runs under /tmp/bench-mail.
for p in $PF_SMTP_PORT $DV_IMAP_PORT $DV_POP3_PORT; do
    port_open "$p" && die "port $p is already in use (another benchmark's Postfix/Dovecot?); stop it first"
done
if [[ $PEERS_ONLY -eq 0 ]]; then
    for p in $SMTP_PORT $IMAP_PORT; do
        port_open "$p" && die "port $p is already in use; choose another --port-base"
    done
    if [[ ! -x "$POSTANE" ]]; then
        log "building postane (make)"
        make -C "$REPO" >&2 || die "make failed"
        [[ -x "$POSTANE" ]] || die "make did not produce $POSTANE"
    fi
fi

STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="${RESULTS:-$HERE/results/$STAMP}"
mkdir -p "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"
RUN_DIR="$(mktemp -d /tmp/postane-bench-smtp.XXXXXX)"
POSTANE_PID=""
COMPARE_PID=""
PEERS_STARTED=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$COMPARE_PID" ]] && kill -0 "$COMPARE_PID" 2>/dev/null; then
        log "stopping compare.py (pid $COMPARE_PID) and its load generator"
        pkill -TERM -P "$COMPARE_PID" 2>/dev/null || true
        kill -TERM "$COMPARE_PID" 2>/dev/null || true
        wait "$COMPARE_PID" 2>/dev/null || true
    fi
    if [[ -n "$POSTANE_PID" ]] && kill -0 "$POSTANE_PID" 2>/dev/null; then
        log "stopping postane (pid $POSTANE_PID)"
        kill -TERM "$POSTANE_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$POSTANE_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$POSTANE_PID" 2>/dev/null; then
            log "postane did not stop within 10 s of SIGTERM; sending SIGKILL to pid $POSTANE_PID"
            kill -KILL "$POSTANE_PID" 2>/dev/null || true
        fi
        wait "$POSTANE_PID" 2>/dev/null || true
    fi
    if [[ $PEERS_STARTED -eq 1 ]]; then
        log "stopping postfix + dovecot (by their master PIDs)"
        bash "$PEERS/stop-postfix-dovecot.sh" >/dev/null 2>&1 || true
        [[ $KEEP -eq 1 ]] || rm -rf "$PEER_ROOT"
    fi
    if [[ -f "$RUN_DIR/postane.log" ]]; then
        cp "$RUN_DIR/postane.log" "$RESULTS/postane.log" 2>/dev/null || true
    fi
    if [[ $KEEP -eq 1 ]]; then
        log "kept $RUN_DIR and $PEER_ROOT"
    else
        rm -rf "$RUN_DIR"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------- postane
TARGETS=()
start_postane() {
    local dir="$RUN_DIR/postane" conf
    conf="$dir/postane.conf"
    log "postane: init $dir (SMTP $SMTP_PORT, IMAP $IMAP_PORT)"
    mkdir -p "$dir"
    "$POSTANE" init "$dir" --domain bench.test --port-base "$PORT_BASE" >"$RUN_DIR/postane-init.log" 2>&1 ||
        { cat "$RUN_DIR/postane-init.log" >&2; die "postane init failed"; }
    [[ -f "$conf" ]] || die "postane init did not write $conf"
    log "postane: adding user1..user100@bench.test"
    local i
    for i in $(seq 1 100); do
        echo pass | "$POSTANE" -c "$conf" user add "user$i@bench.test" >>"$RUN_DIR/postane-init.log" 2>&1 ||
            { tail -n 20 "$RUN_DIR/postane-init.log" >&2; die "postane user add user$i@bench.test failed"; }
    done
    "$POSTANE" -c "$conf" serve </dev/null >"$RUN_DIR/postane.log" 2>&1 &
    POSTANE_PID=$!
    echo "$POSTANE_PID" >"$RUN_DIR/postane.pid"
    for _ in $(seq 1 100); do
        port_open "$SMTP_PORT" && break
        kill -0 "$POSTANE_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! kill -0 "$POSTANE_PID" 2>/dev/null || ! port_open "$SMTP_PORT"; then
        tail -n 30 "$RUN_DIR/postane.log" >&2
        die "postane serve is not listening on 127.0.0.1:$SMTP_PORT after 10 s"
    fi
    log "postane: serving, pid $POSTANE_PID, log $RUN_DIR/postane.log"
    # Delivered mail: $dir/data/mail/bench.test/userN/{new,cur,tmp}. The shared
    # maildir_check.py walks the base recursively and counts files in any new/
    # or cur/ directory, so this layout needs no adapter: give it data/mail.
    TARGETS+=("name=postane,smtp=127.0.0.1:$SMTP_PORT,imap=127.0.0.1:$IMAP_PORT,maildir=$dir/data/mail,pid=$POSTANE_PID,smtp_pid=$POSTANE_PID")
}

# ---------------------------------------------------------------- peers
start_peers() {
    log "postfix + dovecot: starting with $PEERS/start-postfix-dovecot.sh --clean"
    PEERS_STARTED=1
    bash "$PEERS/start-postfix-dovecot.sh" --clean </dev/null >"$RUN_DIR/peers-start.log" 2>&1 ||
        { cat "$RUN_DIR/peers-start.log" >&2; tail -n 20 "$PEER_ROOT/start.log" >&2 2>/dev/null; die "could not start postfix + dovecot"; }
    port_open "$PF_SMTP_PORT" || { cat "$RUN_DIR/peers-start.log" >&2; die "postfix is not listening on 127.0.0.1:$PF_SMTP_PORT"; }
    sed 's/^/[bench\/smtp]   /' "$RUN_DIR/peers-start.log" >&2
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
# compare.py runs in the background and is waited for, so that a SIGTERM or
# Ctrl-C to this script is acted on at once (cleanup stops it by its PID).
python3 "$SHARED_BENCH/compare.py" --scenarios smtp --runs "$RUNS" \
    --smtp-concurrency "$CONCURRENCY" --smtp-reuse "$REUSE" --smtp-messages "$MESSAGES" \
    --smtp-max-seconds 60 --delivery-timeout 60 --pause 2 \
    --out "$RESULTS/compare.jsonl" --md "$RESULTS/table.md" \
    "${TARGET_ARGS[@]}" "${EXTRA[@]}" </dev/null &
COMPARE_PID=$!
rc=0
wait "$COMPARE_PID" || rc=$?
COMPARE_PID=""
[[ $rc -eq 0 ]] || die "compare.py failed (exit $rc)"

cat <<EOF

Ratios: postane/postfix, medians of the same interleaved runs. "better" says
which way is good: msgs/s higher (ratio > 1 = postane faster); latency, time
to delivery and CPU ms per message lower (ratio < 1 = postane better).
msgs/s counts a message when the server says 250 after DATA; delivered_msgs_per_s
and all_delivered_after_start_s count it when its file is in new/ or cur/.
Table: $RESULTS/table.md   raw runs: $RESULTS/compare.jsonl
EOF
