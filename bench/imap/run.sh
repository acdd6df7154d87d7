#!/usr/bin/env bash
# bench/imap/run.sh - IMAP benchmark of postane beside Dovecot, in the same
# run: operations/s of 8 clients running login + mixed-operation sessions on
# INBOXes of 10,000 messages, memory per idle connection at 2,000 IDLE
# connections, and the time of one "FETCH 1:* (ENVELOPE)" over a whole INBOX,
# cold and warm. Printed as medians with the ratio postane/dovecot. Uses the
# shared tools in ../shared/bench (compare.py, imap_load.py, smtp_load.py,
# procmem.py, peers/*.sh); nothing is copied from there.
#
#   sudo bash bench/imap/run.sh [--runs N] [--clients L] [--messages N]
#                               [--users N] [--duration S] [--idle-k L]
#                               [--idle-mailboxes full,empty] [--search auto|on|off]
#                               [--dovecot-conf default|perf] [--no-persistent] [--port-base N]
#                               [--install] [--keep] [--results DIR] [-- compare.py options]
#
# Run as root. Only loopback is used. It stops only the servers it started,
# by their PIDs, and leaves the system's own Postfix/Dovecot alone.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_NAME=imap
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$HERE/../lib/common.sh"    # REPO, SHARED_BENCH, RUNS=3, INSTALL, KEEP, RESULTS, EXTRA

CLIENTS=8
MESSAGES=10000
USERS=8
DURATION=30
IDLE_K=2000
IDLE_MAILBOXES=full
SEARCH=auto
DOVECOT_MODE=default
PORT_BASE=21000
FETCH_USERS=3
PERSISTENT=1

usage() {
    usage_header
    echo
    cat <<'EOF'
Options:
  --runs N             interleaved runs per scenario and server; medians (default 3)
  --clients L          concurrent IMAP clients of the load, comma list (default 8)
  --messages N         messages in each INBOX (default 10000)
  --users N            mailboxes imap1..imapN; client i uses imap(i mod N)
                       (default 8, at most 16: the Dovecot peer has imap1..imap16)
  --duration S         seconds of IMAP load per run (default 30)
  --idle-k L           idle connections, comma list (default 2000)
  --idle-mailboxes L   which INBOX the idle connections select: full = the
                       imapN INBOXes of --messages messages, empty = user1..user100
                       with empty INBOXes (the shared default); comma list
                       runs both (default full)
  --search MODE        auto: probe postane; if SEARCH answers NO, run the load
                       without SEARCH on both servers (imap_load.py --no-search);
                       on: the shared load as is (postane's NO counts as an
                       error and cuts the session short); off: never SEARCH
                       (default auto)
  --dovecot-conf M     default = the shared dovecot.conf (login processes in
                       Dovecot's default high-security mode), perf = dovecot-perf.conf
                       (high-performance mode) (default default)
  --no-persistent      skip the second load variant, in which each client logs
                       in once and loops over the rest of the session
                       (imap_load.py --persistent): it shows the IMAP commands
                       without the cost of LOGIN (postane hashes with argon2id,
                       the Dovecot peer keeps {PLAIN} passwords)
  --fetch-users N      mailboxes timed with the cold/warm FETCH (default 3)
  --port-base N        postane ports N+25, N+143, N+993, ... (default 21000)
  --install            apt-get install postfix dovecot-imapd dovecot-pop3d first
  --keep               keep the temporary run directory and /tmp/bench-mail
  --results DIR        where the results go (default bench/imap/results/<date-time>)
  -- ARGS              anything after -- is passed to compare.py as is
Environment: SHARED_BENCH (default <repo>/../shared/bench), POSTANE (binary,
default <repo>/build/postane; copied into the run directory at the start).
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --clients) CLIENTS="$2"; shift 2 ;;
        --messages) MESSAGES="$2"; shift 2 ;;
        --users) USERS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --idle-k) IDLE_K="$2"; shift 2 ;;
        --idle-mailboxes) IDLE_MAILBOXES="$2"; shift 2 ;;
        --search) SEARCH="$2"; shift 2 ;;
        --dovecot-conf) DOVECOT_MODE="$2"; shift 2 ;;
        --fetch-users) FETCH_USERS="$2"; shift 2 ;;
        --no-persistent) PERSISTENT=0; shift ;;
        --) shift; EXTRA=("$@"); break ;;
        *) bench_common_option "$@"; shift "$BENCH_SHIFT" ;;
    esac
done
need_numbers "$RUNS" "$MESSAGES" "$USERS" "$DURATION" "$PORT_BASE" "$FETCH_USERS"
for v in "$CLIENTS" "$IDLE_K"; do
    [[ "$v" =~ ^[0-9]+(,[0-9]+)*$ ]] || usage_error "not a comma list of numbers: $v"
done
[[ "$RUNS" -ge 1 && "$MESSAGES" -ge 1 && "$DURATION" -ge 1 ]] || usage_error "--runs, --messages, --duration must be >= 1"
[[ "$USERS" -ge 1 && "$USERS" -le 16 ]] || usage_error "--users must be 1..16 (the Dovecot peer has imap1..imap16)"
need_port_base 64000
[[ "$SEARCH" =~ ^(auto|on|off)$ ]] || usage_error "--search must be auto, on or off"
[[ "$IDLE_MAILBOXES" =~ ^(full|empty)(,(full|empty))*$|^none$ ]] || usage_error "--idle-mailboxes: full, empty, full,empty or none"
case "$DOVECOT_MODE" in
    default) DOVECOT_CONF_FILE=dovecot.conf ;;
    perf) DOVECOT_CONF_FILE=dovecot-perf.conf ;;
    *) usage_error "--dovecot-conf must be default or perf" ;;
esac
[[ "$FETCH_USERS" -le "$USERS" ]] || FETCH_USERS=$USERS

need_root "Dovecot and Postfix need it"
use_shared_bench
SMTP_PORT=$((PORT_BASE + 25))
IMAP_PORT=$((PORT_BASE + 143))
POSTANE_SRC="${POSTANE:-$REPO/build/postane}"

# ---------------------------------------------------------------- install, preflight
[[ $INSTALL -eq 1 ]] && install_peers
need_peers
check_peer_ports
check_postane_ports "${POSTANE_PORTS[@]}"
build_postane "$POSTANE_SRC"
max_idle=0
IFS=, read -ra _ks <<<"$IDLE_K"
for k in "${_ks[@]}"; do [[ $k -gt $max_idle ]] && max_idle=$k; done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[[ "$(ulimit -n)" -ge $((max_idle + 200)) ]] || die "ulimit -n is $(ulimit -n) (hard limit); $max_idle idle connections need more"

DOVECOT_LOG_TO_RESULTS=1
bench_start_run

# postane's memory (its process: all threads) at each stage -> memory.jsonl
mem_stage() {
    python3 - "$1" "${POSTANE_PID:-0}" >>"$RESULTS/memory.jsonl" <<'EOF' || true
import json, os, sys
sys.path.insert(0, os.environ["SHARED_BENCH"])
import procmem
stage, pid = sys.argv[1], int(sys.argv[2])
r = {"stage": stage, "alive": False}
m = procmem.proc_mem(pid) if pid else None
if m:
    r.update(m); r["alive"] = True
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                r["threads"] = int(line.split()[1])
    r["cpu_s"] = procmem.tree_cpu_seconds(pid)
print(json.dumps(r))
EOF
}

# ---------------------------------------------------------------- postane
POSTANE="$RUN_DIR/postane"
cp "$POSTANE_SRC" "$POSTANE"      # private copy: build/postane is rebuilt by others
PD="$RUN_DIR/postane-dir"
CONF="$PD/postane.conf"
log "postane: $POSTANE_SRC ($(sha256sum "$POSTANE" | cut -c1-12)), init $PD (IMAP $IMAP_PORT, SMTP $SMTP_PORT)"
postane_init "$PD"
# LOGIN without TLS on loopback (the Dovecot peer allows plaintext too).
printf '\n[auth]\nplaintext_loopback = yes\n' >>"$CONF"
ACCOUNTS=()
for i in $(seq 1 "$USERS"); do ACCOUNTS+=("imap$i@bench.test"); done
[[ ",$IDLE_MAILBOXES," == *,empty,* ]] && for i in $(seq 1 100); do ACCOUNTS+=("user$i@bench.test"); done
log "postane: adding ${#ACCOUNTS[@]} accounts (password pass)"
postane_add_users "$CONF" "${ACCOUNTS[@]}"
postane_serve "$CONF" "$IMAP_PORT" "$SMTP_PORT" || die "postane serve is not listening on 127.0.0.1:$IMAP_PORT after 10 s"
log "postane: serving, pid $POSTANE_PID, log $RUN_DIR/postane.log"
mem_stage "started"

# ---------------------------------------------------------------- SEARCH probe
# On the still empty INBOX (a SEARCH on the full one could fill caches and
# spoil the cold FETCH below).
LOAD_EXTRA=""
SEARCH_NOTE=""
if [[ "$SEARCH" != off ]]; then
    probe="$(timeout 60 python3 - "$IMAP_PORT" <<'EOF' 2>&1
import asyncio, os, sys
sys.path.insert(0, os.environ["SHARED_BENCH"])
import imap_load
async def main():
    c = imap_load.IMAP(20)
    await c.connect("127.0.0.1", int(sys.argv[1]))
    await c.command(b'LOGIN "imap1@bench.test" "pass"')
    await c.command(b"EXAMINE INBOX")
    try:
        await c.command(b'SEARCH SUBJECT "1"')
        print("OK")
    except imap_load.IMAPError as e:
        print("NO " + str(e))
    await c.command(b"LOGOUT")
    c.close()
asyncio.run(main())
EOF
)" || true
    log "SEARCH probe on postane: $probe"
    if [[ "$probe" != OK ]]; then
        if [[ "$SEARCH" == auto ]]; then
            LOAD_EXTRA="--no-search"
            SEARCH_NOTE="postane's SEARCH fails ($probe): the load runs WITHOUT SEARCH on both servers (imap_load.py --no-search)"
        else
            SEARCH_NOTE="postane's SEARCH fails ($probe): with --search on, each postane session stops at its SEARCH (counted as an error; STORE, APPEND and LOGOUT never run)"
        fi
        log "$SEARCH_NOTE"
    fi
else
    LOAD_EXTRA="--no-search"
    SEARCH_NOTE="--search off: the load runs without SEARCH on both servers"
fi

# ---------------------------------------------------------------- peers
peers_start "$DOVECOT_CONF_FILE"
peers_need_port dovecot "$DV_IMAP_PORT"
log_file "$RUN_DIR/peers-start.log" "  "
DV_PIDFILE="$PEER_ROOT/dovecot-run/master.pid"

# ---------------------------------------------------------------- populate
# postane: over SMTP (its fastest way in), MESSAGES to each of imap1..imapUSERS
# (smtp_load.py sends round robin); then the very same files are copied into
# the Dovecot peer's Maildirs, so both servers hold identical messages.
TOTAL=$((USERS * MESSAGES))
POP_MAX=$((TOTAL / 200 + 60))
log "populating postane over SMTP: $TOTAL messages of 4 KiB, $MESSAGES to each of imap1..imap$USERS (at most ${POP_MAX}s)"
t0=$SECONDS
run_bg python3 "$SHARED_BENCH/smtp_load.py" --host 127.0.0.1 --port "$SMTP_PORT" -n "$TOTAL" -c 16 --reuse 0 \
    --user-fmt 'imap{}' --users "$USERS" --size 4096 --max-seconds "$POP_MAX" --timeout 60 \
    --maildir-base "$PD/data/mail" --delivery-timeout 300 --label populate --quiet --json "$RESULTS/populate.jsonl" \
    >"$RUN_DIR/populate.out" 2>&1 || { tail -n 20 "$RUN_DIR/populate.out" >&2; die "smtp_load.py (populate) failed"; }
check_postane "populating"
read -r acc dlv rate < <(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readlines()[-1]); print(r.get("accepted",0), r.get("delivered",0), r.get("msgs_per_s",0))' "$RESULTS/populate.jsonl")
log "populate: accepted $acc/$TOTAL, delivered $dlv, $rate msgs/s, $((SECONDS - t0)) s"
[[ "$acc" -eq "$TOTAL" && "$dlv" -eq "$TOTAL" ]] || die "postane did not accept/deliver all $TOTAL messages (accepted $acc, delivered $dlv)"
mem_stage "populated"

log "copying the same message files into Dovecot's Maildirs"
for i in $(seq 1 "$USERS"); do
    src="$PD/data/mail/bench.test/imap$i"
    dst="$PEER_ROOT/vmail/bench.test/imap$i/Maildir"
    mkdir -p "$dst"/{new,cur,tmp}
    find "$src/new" "$src/cur" -maxdepth 1 -type f -print0 | xargs -0 -r cp -t "$dst/new"
    chown -R 5000:5000 "$PEER_ROOT/vmail/bench.test/imap$i"
    n_src=$(find "$src/new" "$src/cur" -maxdepth 1 -type f | wc -l)
    n_dst=$(find "$dst/new" -maxdepth 1 -type f | wc -l)
    [[ "$n_src" -eq "$MESSAGES" && "$n_dst" -eq "$MESSAGES" ]] ||
        die "imap$i: postane has $n_src files, Dovecot $n_dst; expected $MESSAGES each"
done
log "both servers: $MESSAGES messages in each of imap1..imap$USERS"

# ---------------------------------------------------------------- cold / warm FETCH
# Before anything else reads these mailboxes (compare.py's warm-up would).
cache_rows() {
    python3 - "$PD/data/postane.db" <<'EOF' 2>/dev/null || echo "?"
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=10)
print(c.execute("SELECT count(*) FROM cache").fetchone()[0])
EOF
}
log "postane structure cache rows before the first FETCH: $(cache_rows)"
for i in $(seq 1 "$FETCH_USERS"); do
    for tgt in "postane:$IMAP_PORT" "dovecot:$DV_IMAP_PORT"; do
        run_bg timeout 600 python3 "$HERE/fetch_time.py" --port "${tgt#*:}" --user "imap$i@bench.test" \
            --repeat 4 --label "${tgt%%:*}" --json "$RESULTS/fetch.jsonl" >/dev/null 2>"$RUN_DIR/fetch.err" ||
            log "warning: fetch_time.py ${tgt%%:*} imap$i failed: $(tail -n 1 "$RESULTS/fetch.jsonl" 2>/dev/null) $(tail -n 2 "$RUN_DIR/fetch.err")"
        python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readlines()[-1]); print("[bench/imap] FETCH 1:* (ENVELOPE) %s %s: SELECT %s ms, cold %s ms, then %s ms (%s messages)%s" % (r.get("label"), r.get("user"), r.get("select_ms"), r.get("cold_ms"), ", ".join(str(x["ms"]) for x in r.get("runs", [])[1:]), r.get("exists"), "  ERROR " + r["error"] if "error" in r else ""))' "$RESULTS/fetch.jsonl" >&2 || true
        check_postane "during the cold/warm FETCH"
    done
done
log "postane structure cache rows after: $(cache_rows)"
mem_stage "after cold/warm FETCH"

# ---------------------------------------------------------------- measure
DV_T="name=dovecot,imap=127.0.0.1:$DV_IMAP_PORT,pidfile=$DV_PIDFILE,imap_users=$USERS"
PT_T="name=postane,imap=127.0.0.1:$IMAP_PORT,pid=$POSTANE_PID,imap_users=$USERS"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "postane: $(postane_version)"
    echo "peers: $(dpkg-query -W -f='${Package} ${Version}; ' dovecot-imapd postfix 2>/dev/null) dovecot config: $DOVECOT_CONF_FILE"
    echo "machine: $(nproc) cores, $(uname -r), $(free -m | awk '/Mem:/{print $2" MiB RAM"}'), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "options: runs=$RUNS clients=$CLIENTS messages=$MESSAGES users=$USERS duration=$DURATION idle_k=$IDLE_K idle_mailboxes=$IDLE_MAILBOXES search=$SEARCH persistent=$PERSISTENT extra=${EXTRA[*]:-}"
    echo "search: ${SEARCH_NOTE:-postane answers SEARCH; the shared load as is}"
    echo "imap_load.py extra arguments: ${LOAD_EXTRA:-none}"
} >"$RESULTS/meta.txt"
log_file "$RESULTS/meta.txt"

COMPARE=(python3 "$SHARED_BENCH/compare.py")
[[ -n "$LOAD_EXTRA" ]] && COMPARE=(env IMAP_LOAD_EXTRA="$LOAD_EXTRA" python3 "$HERE/compare_extra.py")
JSONLS=()
TABLES=()

# 1. IMAP load: every run is bounded by compare.py (duration + 120 s).
log "IMAP load: clients=$CLIENTS, ${DURATION}s per run, runs=$RUNS; results in $RESULTS"
run_bg "${COMPARE[@]}" --scenarios imap --runs "$RUNS" --imap-clients "$CLIENTS" --imap-duration "$DURATION" \
    --pause 2 --out "$RESULTS/compare-load.jsonl" --md "$RESULTS/table-load.md" \
    --target "$DV_T" --target "$PT_T" "${EXTRA[@]}" || die "compare.py (IMAP load) failed"
JSONLS+=("$RESULTS/compare-load.jsonl"); TABLES+=("$RESULTS/table-load.md")
check_postane "after the IMAP load"
mem_stage "after IMAP load"

# 1b. the same load, logged in once per client (no LOGIN/LOGOUT in the loop)
if [[ $PERSISTENT -eq 1 ]]; then
    log "IMAP load, persistent sessions (imap_load.py --persistent): clients=$CLIENTS, ${DURATION}s per run, runs=$RUNS"
    run_bg env IMAP_LOAD_EXTRA="$LOAD_EXTRA --persistent" python3 "$HERE/compare_extra.py" --scenarios imap --runs "$RUNS" \
        --imap-clients "$CLIENTS" --imap-duration "$DURATION" --no-warmup --pause 2 \
        --out "$RESULTS/compare-persistent.jsonl" --md "$RESULTS/table-persistent.md" \
        --target "$DV_T" --target "$PT_T" "${EXTRA[@]}" || die "compare.py (IMAP load, persistent) failed"
    sed -i 's/| imap load clients=\([0-9]*\) |/| imap load clients=\1 persistent |/' "$RESULTS/table-persistent.md"
    sed -i 's/"scenario": "imap load clients=\([0-9]*\)"/"scenario": "imap load clients=\1 persistent"/' "$RESULTS/compare-persistent.jsonl"
    JSONLS+=("$RESULTS/compare-persistent.jsonl"); TABLES+=("$RESULTS/table-persistent.md")
    check_postane "after the persistent IMAP load"
    mem_stage "after persistent IMAP load"
fi

# 2. idle connections: bounded by compare.py (idle-max-seconds + hold + 120 s).
# postane does not give the memory of closed connections back to the system
# (glibc keeps it in its heaps), so a second idle run in the same process would
# reuse it and show ~0 KiB per connection. Each idle run therefore gets a fresh
# postane process (same data directory), and both servers first see a few
# logins (16 × LOGIN + SELECT + LOGOUT) so that one-time allocations (argon2id
# buffers of the auth workers, SQLite caches) are not counted per connection.
# compare.py runs one run at a time here; summary.py makes the median table.
warm_logins() {  # port user-fmt users
    timeout 300 python3 - "$@" <<'PYEOF' >>"$RUN_DIR/warm-logins.log" 2>&1 || log "warning: warm-up logins on port $1 failed (see warm-logins.log)"
import asyncio, os, sys
sys.path.insert(0, os.environ["SHARED_BENCH"])
import imap_load
port, fmt, users = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
async def one(i):
    c = imap_load.IMAP(60)
    await c.connect("127.0.0.1", port)
    await c.command(b"LOGIN " + imap_load.qstr(fmt.format(1 + i % users)) + b' "pass"')
    await c.command(b"SELECT INBOX")
    await c.command(b"LOGOUT")
    c.close()
async def main():
    await asyncio.gather(*(one(i) for i in range(16)))
asyncio.run(main())
print("warm-up logins on port %d done" % port)
PYEOF
}
restart_postane() {
    local old=$POSTANE_PID st=0
    kill -TERM "$old" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$old" 2>/dev/null; then
        log "warning: postane (pid $old) did not stop within 30 s of SIGTERM; SIGKILL"
        kill -KILL "$old" 2>/dev/null || true
    fi
    wait "$old" 2>/dev/null || st=$?
    [[ $st -eq 0 ]] || log "warning: postane (pid $old) exited with status $st after SIGTERM"
    echo "restart: pid $old exited with status $st" >>"$RESULTS/restarts.txt"
    POSTANE_PID=""
    for _ in $(seq 1 100); do port_open "$IMAP_PORT" || break; sleep 0.1; done
    postane_serve "$CONF" "$IMAP_PORT" || die "postane did not come back after a restart"
    PT_T="name=postane,imap=127.0.0.1:$IMAP_PORT,pid=$POSTANE_PID,imap_users=$USERS"
}
IFS=, read -ra IDLE_SETS <<<"$IDLE_MAILBOXES"
for set in "${IDLE_SETS[@]}"; do
    [[ "$set" == none ]] && continue
    if [[ "$set" == full ]]; then
        ifmt="imap{}@bench.test" iusers=$USERS
    else
        ifmt="user{}@bench.test" iusers=100
    fi
    log "idle: k=$IDLE_K on the $set INBOXes ($ifmt, $iusers accounts), runs=$RUNS, a fresh postane process each run"
    for run in $(seq 1 "$RUNS"); do
        restart_postane
        mem_stage "idle ($set) run $run: fresh process"
        warm_logins "$DV_IMAP_PORT" "$ifmt" "$iusers"
        warm_logins "$IMAP_PORT" "$ifmt" "$iusers"
        mem_stage "idle ($set) run $run: after 16 warm-up logins"
        rm -f "$RUN_DIR/idle-one.jsonl"
        run_bg "${COMPARE[@]}" --scenarios idle --runs 1 --idle-k "$IDLE_K" --idle-hold 8 --idle-max-seconds 240 \
            --no-warmup --pause 3 --out "$RUN_DIR/idle-one.jsonl" --md "$RUN_DIR/idle-one.md" \
            --target "$DV_T,idle_user_fmt=$ifmt,idle_users=$iusers" \
            --target "$PT_T,idle_user_fmt=$ifmt,idle_users=$iusers" "${EXTRA[@]}" || die "compare.py (idle, $set) failed"
        # this run's number, and which INBOXes, into the scenario records
        python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l); r["run"] = int(sys.argv[2]); r["scenario"] += " (%s INBOX)" % sys.argv[3]; print(json.dumps(r))' \
            "$RUN_DIR/idle-one.jsonl" "$run" "$set" >>"$RESULTS/compare-idle-$set.jsonl"
        check_postane "after the idle test ($set, run $run)"
        mem_stage "idle ($set) run $run: after closing"
    done
    python3 "$HERE/summary.py" --table-only --baseline dovecot "$RESULTS/compare-idle-$set.jsonl" >"$RESULTS/table-idle-$set.md"
    JSONLS+=("$RESULTS/compare-idle-$set.jsonl"); TABLES+=("$RESULTS/table-idle-$set.md")
done

# ---------------------------------------------------------------- report
{
    echo "## IMAP: postane beside Dovecot"
    echo
    sed 's/^/    /' "$RESULTS/meta.txt"
    echo
    first=1
    for t in "${TABLES[@]}"; do
        if [[ $first -eq 1 ]]; then grep '^|' "$t"; first=0; else grep '^|' "$t" | tail -n +3; fi
    done
    echo
    echo "Ratios: postane/dovecot, medians of the same interleaved runs. ops/s and sessions/s higher is"
    echo "better (ratio > 1 = postane faster); latency, CPU ms per op and memory per connection lower is"
    echo "better (ratio < 1 = postane better)."
    echo
    python3 "$HERE/summary.py" --baseline dovecot --fetch "$RESULTS/fetch.jsonl" --memory "$RESULTS/memory.jsonl" "${JSONLS[@]}"
    echo "### postane log"
    echo
    postane_log_summary
    echo
    echo '```'
    postane_log_top 15
    echo '```'
} >"$RESULTS/table.md"
echo
cat "$RESULTS/table.md"
echo
echo "Results: $RESULTS (table.md, compare-*.jsonl, fetch.jsonl, memory.jsonl, meta.txt, postane.log)"
