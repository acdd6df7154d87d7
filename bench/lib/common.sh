# bench/lib/common.sh - what the benchmark drivers bench/*/run.sh share:
# logging, option helpers, the shared tools and the Postfix + Dovecot peers
# (install, preflight, start, stop), starting postane, and the exit trap.
#
# Sourced, not run: each run.sh sets "set -euo pipefail" and BENCH_NAME (smtp,
# imap, tls: the log prefix and the run directory's name), then sources this
# file. It defines functions and the variables listed under "set on source";
# it starts nothing by itself. The trap set by bench_start_run stops only what
# this run started, each by the PID recorded here (CHILD_PID, POSTANE_PID), and
# the peers through peers/stop-postfix-dovecot.sh (by their master PIDs) only
# if this run started them. Every wait is bounded.
# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are used by the run.sh

# ---------------------------------------------------------------- set on source
BENCH_SCRIPT="${BASH_SOURCE[1]}"      # the run.sh that sources this file
BENCH_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_LIB/../.." && pwd)"
SHARED_BENCH="${SHARED_BENCH:-$REPO/../shared/bench}"

# Option defaults common to all drivers (each run.sh sets its own PORT_BASE).
RUNS=3
INSTALL=0
KEEP=0
RESULTS=""
EXTRA=()

PEER_ROOT=/tmp/bench-mail             # fixed by the shared peers scripts
PF_SMTP_PORT=2525 DV_IMAP_PORT=11143 DV_POP3_PORT=11110
# every port postane init --port-base writes into postane.conf
POSTANE_PORTS=(25 587 465 143 993 110 995 80)

# ---------------------------------------------------------------- messages
log() { printf '[bench/%s] %s\n' "$BENCH_NAME" "$*" >&2; }
die() { log "error: $*"; exit 1; }
# log_file FILE [INDENT]: every line of FILE as a log line, after INDENT
log_file() { sed "s|^|[bench/$BENCH_NAME] ${2:-}|" "$1" >&2; }

# ---------------------------------------------------------------- options
usage_error() { echo "run.sh: $*" >&2; exit 2; }

# The comment block at the top of the run.sh (line 2 up to the first line that
# is not a comment), without the "# ": the first part of each --help.
usage_header() {
    awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$BENCH_SCRIPT"
}

# bench_common_option ARGS...: the options every run.sh takes (--runs,
# --port-base, --results, --install, --keep, -h/--help); anything else is an
# unknown option. Sets BENCH_SHIFT to the number of arguments it used.
bench_common_option() {
    BENCH_SHIFT=2
    case "$1" in
        --runs) RUNS="$2" ;;
        --port-base) PORT_BASE="$2" ;;
        --results) RESULTS="$2" ;;
        --install) INSTALL=1; BENCH_SHIFT=1 ;;
        --keep) KEEP=1; BENCH_SHIFT=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown option: $1 (see --help)" ;;
    esac
}

need_numbers() {  # value...
    local v
    for v in "$@"; do
        [[ "$v" =~ ^[0-9]+$ ]] || usage_error "not a number: $v"
    done
}

need_port_base() {  # highest allowed --port-base
    [[ "$PORT_BASE" -ge 1024 && "$PORT_BASE" -le "$1" ]] || usage_error "--port-base must be 1024..$1"
}

# ---------------------------------------------------------------- environment
need_root() {  # why
    [[ "$(id -u)" -eq 0 ]] || die "run as root ($1)"
}

# Checks SHARED_BENCH, makes it absolute and exports it (the Python helpers
# and bench/lib/benchutil.py read it); sets PEERS.
use_shared_bench() {
    [[ -f "$SHARED_BENCH/compare.py" ]] || die "shared bench tools not found at $SHARED_BENCH (set SHARED_BENCH)"
    SHARED_BENCH="$(cd "$SHARED_BENCH" && pwd)"
    export SHARED_BENCH
    PEERS="$SHARED_BENCH/peers"
}

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

# The peers' programs and the accounts peers/start-postfix-dovecot.sh needs.
need_peers() {
    if ! command -v postfix >/dev/null || ! command -v dovecot >/dev/null; then
        die "postfix/dovecot not installed (use --install)"
    fi
    if ! getent passwd postfix >/dev/null || ! getent group postdrop >/dev/null; then
        die "postfix user/postdrop group missing (reinstall postfix)"
    fi
}

# ---------------------------------------------------------------- preflight
# Never take over peers that someone else has running: the shared start script
# with --clean would stop whatever runs under /tmp/bench-mail.
check_peer_ports() {  # [more peer ports...]
    local p
    for p in "$PF_SMTP_PORT" "$DV_IMAP_PORT" "$DV_POP3_PORT" "$@"; do
        port_open "$p" && die "port $p is already in use (another benchmark's Postfix/Dovecot?); stop it first"
    done
    return 0
}

check_postane_ports() {  # offset... (from --port-base)
    local off
    for off in "$@"; do
        port_open $((PORT_BASE + off)) && die "port $((PORT_BASE + off)) is already in use; choose another --port-base"
    done
    return 0
}

build_postane() {  # binary: run make if it is missing
    [[ -x "$1" ]] && return 0
    log "building postane (make)"
    make -C "$REPO" >&2 || die "make failed"
    [[ -x "$1" ]] || die "make did not produce $1"
}

# ---------------------------------------------------------------- run, trap
# Makes RESULTS (default <script dir>/results/<date-time>) and the temporary
# RUN_DIR, and sets the trap that cleans up on any exit. With
# DOVECOT_LOG_TO_RESULTS=1 the trap also keeps the peer's dovecot.log.
bench_start_run() {
    STAMP="$(date +%Y%m%d-%H%M%S)"
    RESULTS="${RESULTS:-$(dirname "$BENCH_SCRIPT")/results/$STAMP}"
    mkdir -p "$RESULTS"
    RESULTS="$(cd "$RESULTS" && pwd)"
    RUN_DIR="$(mktemp -d "/tmp/postane-bench-$BENCH_NAME.XXXXXX")"
    POSTANE_PID=""
    CHILD_PID=""
    PEERS_STARTED=0
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$CHILD_PID" ]] && kill -0 "$CHILD_PID" 2>/dev/null; then
        log "stopping the running load tool (pid $CHILD_PID) and its children"
        pkill -TERM -P "$CHILD_PID" 2>/dev/null || true
        kill -TERM "$CHILD_PID" 2>/dev/null || true
        wait "$CHILD_PID" 2>/dev/null || true
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
        if [[ "${DOVECOT_LOG_TO_RESULTS:-0}" -eq 1 ]]; then
            cp "$PEER_ROOT/dovecot.log" "$RESULTS/dovecot.log" 2>/dev/null || true
        fi
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

# Run a (bounded) tool in the background and wait for it, so that a SIGTERM or
# Ctrl-C to the script is acted on at once (the trap stops it by its PID).
run_bg() {
    "$@" </dev/null &
    CHILD_PID=$!
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return $rc
}

# ---------------------------------------------------------------- postane
postane_init() {  # dir: postane init with --port-base; dies on failure
    "$POSTANE" init "$1" --domain bench.test --port-base "$PORT_BASE" >"$RUN_DIR/postane-init.log" 2>&1 ||
        { cat "$RUN_DIR/postane-init.log" >&2; die "postane init failed"; }
    [[ -f "$1/postane.conf" ]] || die "postane init did not write $1/postane.conf"
    # Every load generator connects from 127.0.0.1: no per-address limit.
    sed -i 's/^\[server\]$/[server]\nmax_connections_per_ip = 0/' "$1/postane.conf"
}

postane_add_users() {  # conf address... (password "pass")
    local conf=$1 u
    shift
    for u in "$@"; do
        echo pass | "$POSTANE" -c "$conf" user add "$u" >>"$RUN_DIR/postane-init.log" 2>&1 ||
            { tail -n 20 "$RUN_DIR/postane-init.log" >&2; die "postane user add $u failed"; }
    done
}

# postane_serve CONF PORT...: start "postane serve" in the background (log
# appended to $RUN_DIR/postane.log), set POSTANE_PID, and wait up to 10 s for
# every PORT to listen. Returns 1, after printing the end of the log, unless
# postane is alive and the first PORT listens.
postane_serve() {
    local conf=$1
    shift
    "$POSTANE" -c "$conf" serve </dev/null >>"$RUN_DIR/postane.log" 2>&1 &
    POSTANE_PID=$!
    local p all
    for _ in $(seq 1 100); do
        all=1
        for p in "$@"; do port_open "$p" || { all=0; break; }; done
        [[ $all -eq 1 ]] && break
        kill -0 "$POSTANE_PID" 2>/dev/null || break
        sleep 0.1
    done
    if ! kill -0 "$POSTANE_PID" 2>/dev/null || ! port_open "$1"; then
        tail -n 30 "$RUN_DIR/postane.log" >&2
        return 1
    fi
}

postane_alive() { [[ -n "$POSTANE_PID" ]] && kill -0 "$POSTANE_PID" 2>/dev/null; }

check_postane() {  # [when]: die, with the end of its log, if postane is gone
    postane_alive && return 0
    local st=""
    wait "$POSTANE_PID" 2>/dev/null || st=$?
    log "postane (pid $POSTANE_PID) is gone ${1:+($1)}; exit status ${st:-0}; last lines of its log:"
    tail -n 30 "$RUN_DIR/postane.log" >&2
    POSTANE_PID=""
    die "postane died during the benchmark"
}

# The commit, whether src/ has uncommitted changes, and the binary measured
# (POSTANE_SRC, copied to POSTANE), for meta.txt.
postane_version() {
    echo "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || echo ' + uncommitted changes in src/'), binary $POSTANE_SRC sha256 $(sha256sum "$POSTANE" | cut -c1-16)"
}

# "N lines; by level: info N; warn N; ..." of postane.log
postane_log_summary() {
    echo "$(grep -c '' "$RUN_DIR/postane.log") lines; by level: $(awk '{print $2}' "$RUN_DIR/postane.log" | sort | uniq -c | awk '{printf "%s %s; ", $2, $1}')"
}

postane_log_top() {  # n: the n most frequent warn/error lines, numbers as N
    grep -E '^[^ ]+ (warn|error|crit|fatal)' "$RUN_DIR/postane.log" | sed -E 's/^[^ ]+ //; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -n "$1"
}

# ---------------------------------------------------------------- peers
# peers_start [DOVECOT_CONF]: peers/start-postfix-dovecot.sh --clean (with
# that Dovecot config file, if given); its output goes to peers-start.log.
peers_start() {
    log "postfix + dovecot: starting with ${1:+DOVECOT_CONF=$1 }$PEERS/start-postfix-dovecot.sh --clean"
    PEERS_STARTED=1
    env ${1:+"DOVECOT_CONF=$1"} bash "$PEERS/start-postfix-dovecot.sh" --clean </dev/null >"$RUN_DIR/peers-start.log" 2>&1 ||
        { cat "$RUN_DIR/peers-start.log" >&2; tail -n 20 "$PEER_ROOT/start.log" >&2 2>/dev/null; die "could not start postfix + dovecot"; }
}

peers_need_port() {  # name port: die unless that peer listens
    port_open "$2" || { cat "$RUN_DIR/peers-start.log" >&2; die "$1 is not listening on 127.0.0.1:$2"; }
}
