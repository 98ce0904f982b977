#!/usr/bin/env bash
# Load benchmark: Strowger (`strowger serve`) side by side with Kamailio, driven by SIPp.
# Everything runs on loopback (127.0.0.1). See bench/README.md for the method.
#
#   bash bench/load.sh            # full run, about 15 minutes
#   QUICK=1 bash bench/load.sh    # short steps, fewer users: a few minutes, for development
#
# Environment (defaults in brackets; QUICK=1 changes the ones marked *):
#   SERVERS       servers to measure, in this order ["kamailio strowger"]; each gets the
#                 budget left divided by the servers left, so the last one measured also
#                 gets the time the others did not use (the table's columns keep their order)
#   WORKERS       worker processes/threads of each server [number of cores]
#   PROBE_S*      seconds of each step of a ladder [5; QUICK 3]
#   HELD_S*       seconds the best rate of a ladder is then held to be reported [20; QUICK 6]
#   CALL_RATES*   call rates tried, calls/s ["2000 3000 4000 5000 6000 7500 9000 10500 12000"]
#   REG_RATES*    REGISTER rates tried without auth, registrations/s
#                 ["15000 20000 25000 30000 37500 45000 52500 60000 67500 75000"]
#   AUTH_RATES*   REGISTER rates tried with digest auth, registrations/s
#                 ["10000 15000 20000 25000 30000 37500 45000 52500"]
#   REG_CPU_RATE  REGISTER step whose server CPU per 1000 REGISTERs is reported [15000]
#   HOLD_MS       call hold time between ACK and BYE [1000]
#   CPU_RATE      fixed call rate of the CPU measurement, calls/s [500]
#   MEM_USERS*    registrations held for the memory measurement [100000; QUICK 20000]
#   MEM_RATE      rate at which those registrations are sent, per second [2000]
#   MAX_RETRANS_PCT  retransmissions allowed, % of calls in the step [1]
#   SIPP_NICE     nice value of the SIPp processes [0]; -10 lets the generator run before
#                 the server when both want the CPU (see bench/README.md: it helps some
#                 steps and hurts others, differently for each server)
#   BUDGET_S*     seconds of measuring, shared by the servers [840; QUICK 300]
#   REG_CLIENTS   SIPp processes sharing a REGISTER step's rate and users [2]: one SIPp
#                 client is a single thread, and at 37 500 digest REGISTER/s it fell behind
#                 itself (responses waiting in its own socket, counted as retransmissions)
#   PORT_BASE     first of the loopback ports used [15060]
#   KEEP_WORK=1   keep the work directory (logs, SIPp statistics) after the run
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
cd "$REPO"

# ---------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------
QUICK="${QUICK:-0}"
NCPU="$(nproc)"
SERVERS="${SERVERS:-kamailio strowger}"
WORKERS="${WORKERS:-$NCPU}"
HOLD_MS="${HOLD_MS:-1000}"
CPU_RATE="${CPU_RATE:-500}"
REG_CPU_RATE="${REG_CPU_RATE:-15000}"
MEM_RATE="${MEM_RATE:-2000}"
MAX_RETRANS_PCT="${MAX_RETRANS_PCT:-1}"
SIPP_NICE="${SIPP_NICE:-0}"
REG_CLIENTS="${REG_CLIENTS:-2}"
PORT_BASE="${PORT_BASE:-15060}"
START_TIMEOUT_S="${START_TIMEOUT_S:-120}"
if [[ "$QUICK" == 1 ]]; then
  PROBE_S="${PROBE_S:-3}"
  HELD_S="${HELD_S:-6}"
  CALL_RATES="${CALL_RATES:-800 1600 2400 3200 4000 5000}"
  REG_RATES="${REG_RATES:-5000 10000 15000 20000}"
  AUTH_RATES="${AUTH_RATES:-5000 10000 15000}"
  MEM_USERS="${MEM_USERS:-20000}"
  BUDGET_S="${BUDGET_S:-300}"
else
  # A rate is reported once held for HELD_S (20 s): each ladder climbs in short steps
  # (PROBE_S) until one fails, then holds its best rate for HELD_S, and the one below if
  # that fails. 20 s on every step did not fit the time (the budget cut both servers'
  # ladders short, ">= 1600" calls/s for each, which compared nothing).
  PROBE_S="${PROBE_S:-5}"
  HELD_S="${HELD_S:-20}"
  # Ladders reach past what each server held on the fastest machine state seen (Kamailio:
  # 5000 calls/s, 37 500 and 25 000 REGISTER/s; Strowger held the top of shorter ladders).
  # Separate ladders, so that each reaches its top within its time. The plain REGISTER
  # ladder starts at REG_CPU_RATE (the CPU step), with steps of 5000 up to 30 000 where
  # Kamailio's results lie (a ladder without 20 000 and 25 000 left Kamailio at 15 000
  # when 30 000 failed: run T).
  CALL_RATES="${CALL_RATES:-2000 3000 4000 5000 6000 7500 9000 10500 12000}"
  REG_RATES="${REG_RATES:-15000 20000 25000 30000 37500 45000 52500 60000 67500 75000}"
  AUTH_RATES="${AUTH_RATES:-10000 15000 20000 25000 30000 37500 45000 52500}"
  MEM_USERS="${MEM_USERS:-100000}"
  BUDGET_S="${BUDGET_S:-840}"
fi

SIP_PORT=$PORT_BASE             # server under test, UDP and TCP
UAS_PORT=$((PORT_BASE + 10))    # SIPp UAS
UASREG_PORT=$((PORT_BASE + 11)) # one-shot REGISTER of the UAS
UAC_PORT=$((PORT_BASE + 20))    # SIPp UAC
REG_PORT=$((PORT_BASE + 30))    # SIPp REGISTER clients: REG_PORT .. REG_PORT + REG_CLIENTS - 1
HOST=127.0.0.1
SCEN="$REPO/bench/scenarios"
USERS_CSV="$SCEN/users.csv"
RESULTS="$REPO/bench/results/latest.md"
STROWGER_BIN="${STROWGER_BIN:-$REPO/target/release/strowger}"
CLK_TCK="$(getconf CLK_TCK)"

T0=$SECONDS
log() { printf '[%4ds] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------------------
# Processes we start: every PID goes into STARTED; the EXIT trap stops them by PID.
# ---------------------------------------------------------------------------------------
STARTED=()
WORK=""

descendants() { # PID -> the PID and all its descendants, one per line
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      keep[root] = 1; changed = 1
      while (changed) { changed = 0
        for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } } }
      for (p in keep) print p
    }'
}

alive() { kill -0 "$1" 2>/dev/null; }

start_time() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }

forget() { # PID: no longer ours to stop (exited and reaped)
  local i
  for i in "${!STARTED[@]}"; do [[ "${STARTED[$i]}" == "$1" ]] && unset 'STARTED[i]'; done
  return 0
}

stop_pid() { # stop one process we started, then the children it leaves behind
  local pid="$1" kids=() k i
  forget "$pid"
  alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
  # remember descendants with their start time, so a recycled PID is never hit
  for k in $(descendants "$pid" | grep -vx "$pid" || true); do kids+=("$k:$(start_time "$k")"); done
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for k in "${kids[@]}"; do
    [[ "$(start_time "${k%%:*}")" == "${k#*:}" ]] && kill -KILL "${k%%:*}" 2>/dev/null || true
  done
  return 0
}

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${STARTED[@]}"; do stop_pid "$pid"; done
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    if [[ "${KEEP_WORK:-0}" == 1 || $rc -ne 0 ]]; then
      log "work directory kept: $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------
# Install what is missing (Debian packages)
# ---------------------------------------------------------------------------------------
stop_packaged_kamailio() {
  # The package's service, if its post-install started it, listens on 5060 with
  # /etc/kamailio/kamailio.cfg. We only ever use our own instance on $SIP_PORT.
  local f pid
  for f in /run/kamailio/kamailio.pid /var/run/kamailio/kamailio.pid; do
    [[ -r "$f" ]] || continue
    pid="$(tr -dc '0-9' < "$f")"
    [[ -n "$pid" ]] && alive "$pid" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == kamailio ]] || continue
    if [[ "${1:-}" == installed ]]; then
      log "stopping the packaged kamailio service started by its installation (pid $pid from $f)"
      if [[ -d /run/systemd/system ]]; then systemctl stop kamailio || kill -TERM "$pid"; else kill -TERM "$pid"; fi
    else
      log "note: a packaged kamailio (pid $pid, $f) is running; it is not ours and is left alone (we use port $SIP_PORT)"
    fi
    return 0
  done
}

install_deps() {
  local need=()
  command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
  command -v kamailio >/dev/null 2>&1 || need+=(kamailio)
  if ((${#need[@]})); then
    [[ $(id -u) == 0 ]] || die "missing ${need[*]}: run as root or install them (apt-get install ${need[*]})"
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    stop_packaged_kamailio installed
  else
    stop_packaged_kamailio
  fi
  command -v kamcmd >/dev/null 2>&1 || log "note: kamcmd missing, registrations will not be cross-checked in Kamailio"
}

# ---------------------------------------------------------------------------------------
# Measuring a set of processes
# ---------------------------------------------------------------------------------------
cpu_ticks() { # sum of utime+stime over PIDs
  local p sum=0 rest
  for p in "$@"; do
    rest="$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null)" || continue
    # after "pid (comm) ": state=1 ... utime=12 stime=13
    sum=$((sum + $(awk '{print $12 + $13}' <<<"$rest")))
  done
  echo "$sum"
}
mem_kib() { # FIELD(Pss|VmRSS) PID... -> sum in KiB
  local field="$1" p sum=0 v
  shift
  for p in "$@"; do
    if [[ "$field" == Pss ]]; then
      v="$(awk '/^Pss:/ {print $2; exit}' "/proc/$p/smaps_rollup" 2>/dev/null || true)"
    else
      v="$(awk '/^VmRSS:/ {print $2; exit}' "/proc/$p/status" 2>/dev/null || true)"
    fi
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

udp_drops() { # PORT -> datagrams dropped (receive buffer full) on UDP sockets bound to PORT
  awk -v port="$(printf '%04X' "$1")" '
    FNR > 1 { split($2, a, ":"); if (a[2] == port) d += $NF }
    END { print d + 0 }' /proc/net/udp /proc/net/udp6 2>/dev/null
}
children_cpu_s() { # stdin: output of `times` run in the main shell -> children's CPU seconds
  awk 'NR == 2 {
    for (i = 1; i <= 2; i++) { split($i, t, "m"); sub("s", "", t[2]); s += t[1] * 60 + t[2] }
    print s }'
}
machine_cpu() { # -> "idle total" jiffies of the whole machine, from /proc/stat
  awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat
}
pct() { # SECONDS WALL -> % of one core
  awk -v c="$1" -v w="$2" 'BEGIN { if (w <= 0) print "?"; else printf "%.0f", c / w * 100 }'
}

# ---------------------------------------------------------------------------------------
# Servers. Each has: NAME_available, NAME_version, NAME_start MODE (MODE: plain | auth),
# and is stopped with server_stop. server_start sets SERVER_PID (the main process).
# ---------------------------------------------------------------------------------------
SERVER_PID=""
SERVER_RUN=0

wait_listening() { # PID PORT: wait until PID is alive and the UDP port is bound
  local pid="$1" port="$2" i
  for i in $(seq 1 $((START_TIMEOUT_S * 10))); do
    alive "$pid" || return 1
    if ss -Hlun "sport = :$port" 2>/dev/null | grep -q .; then sleep 0.3; return 0; fi
    sleep 0.1
  done
  return 1
}

# The credentials of the digest phase: the first N users of users.csv (the ones the step
# uses), written for Strowger before it starts. (Kamailio computes a user's password from
# its name instead: see kamailio.cfg.)
write_step_users() { # N
  awk -v n="$1" 'NR == 1 || NR <= n + 1' "$USERS_CSV" >"$WORK/users-step.csv"
}

START_S=0
server_start() { # NAME MODE [USERS]
  local name="$1" mode="$2" t0=$SECONDS
  [[ "$mode" == auth ]] && write_step_users "${3:?users}"
  SERVER_RUN=$((SERVER_RUN + 1))
  "${name}_start" "$mode" >"$WORK/$name-$SERVER_RUN.log" 2>&1 &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  if ! wait_listening "$SERVER_PID" "$SIP_PORT"; then
    tail -n 20 "$WORK/$name-$SERVER_RUN.log" >&2 || true
    die "$name did not start listening on udp:$HOST:$SIP_PORT within ${START_TIMEOUT_S}s (log: $WORK/$name-$SERVER_RUN.log)"
  fi
  START_S=$((SECONDS - t0))
}

server_stop() {
  [[ -n "$SERVER_PID" ]] && stop_pid "$SERVER_PID"
  SERVER_PID=""
}

server_pids() { descendants "$SERVER_PID"; }

# --- Kamailio --------------------------------------------------------------------------
KAMAILIO_CFG="$REPO/bench/kamailio/kamailio.cfg"
KAMAILIO_SHM_MB="${KAMAILIO_SHM_MB:-1024}"
KAMAILIO_PKG_MB="${KAMAILIO_PKG_MB:-64}"

kamailio_available() { command -v kamailio >/dev/null 2>&1; }
kamailio_version() { kamailio -v 2>/dev/null | awk 'NR==1 {print $2, $3}'; }

kamailio_start() { # MODE; runs in the foreground of the caller's background job (exec)
  local mode="$1" extra=()
  mkdir -p "$WORK/kamailio-run"
  [[ "$mode" == auth ]] && extra=(-A WITH_AUTH)
  exec kamailio -f "$KAMAILIO_CFG" -DD -E \
    -m "$KAMAILIO_SHM_MB" -M "$KAMAILIO_PKG_MB" \
    -l "udp:$HOST:$SIP_PORT" -l "tcp:$HOST:$SIP_PORT" \
    -A "BENCH_CHILDREN=$WORKERS" -A "BENCH_CTL=\"unix:$WORK/kamailio.ctl\"" \
    -P "$WORK/kamailio-run/kamailio.pid" -Y "$WORK/kamailio-run" "${extra[@]}"
}

kamailio_contacts() { # number of contacts in the location table, or "?"
  command -v kamcmd >/dev/null 2>&1 || { echo "?"; return; }
  kamcmd -s "unix:$WORK/kamailio.ctl" stats.get_statistics location_contacts 2>/dev/null |
    awk -F'= ' '/location_contacts/ {print $2; found=1} END {if (!found) print "?"}'
}

# --- Strowger --------------------------------------------------------------------------
# `strowger serve` with the same job as kamailio.cfg: registrar + location service (SQLite
# file, durable before the 200) + stateful record-routing proxy, WORKERS threads, warnings
# only (Kamailio runs with debug=0). The UDP receive buffer is 4 MiB like Kamailio's
# maxbuffer (strowger-net's default, Limits::udp_recv_buffer).
strowger_available() {
  [[ -x "$STROWGER_BIN" ]] && "$STROWGER_BIN" serve --help >/dev/null 2>&1
}
strowger_version() {
  local v rev
  v="$("$STROWGER_BIN" --version 2>/dev/null | head -n 1 || echo "?")"
  rev="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || true)"
  if [[ -n "$rev" ]] && [[ -n "$(git -C "$REPO" status --porcelain -- crates 2>/dev/null)" ]]; then rev+="+changes"; fi
  echo "$v${rev:+ (git $rev)}"
}

strowger_auth_supported() { # can we hand it the users of the CSV?
  "$STROWGER_BIN" serve --help 2>&1 | grep -q -- '--users-file'
}

strowger_start() { # MODE (plain|auth|file)
  local mode="$1" args db=":memory:"
  # The location service in memory, as Kamailio's (usrloc db_mode=0): the same work for
  # both. Mode "file" is Strowger's default store instead (SQLite, each REGISTER's 200
  # after its commit), measured for its CPU only: Kamailio has nothing to compare.
  [[ "$mode" == file ]] && db="$WORK/strowger-$SERVER_RUN.db"
  args=(serve --listen "udp:$HOST:$SIP_PORT" --listen "tcp:$HOST:$SIP_PORT"
        --domain "$HOST" --workers "$WORKERS" --db "$db" --log warn)
  # Room for the transactions of the fastest steps: a REGISTER's lives 32 s after its 200
  # (timer J), so 20 s at 60 000/s holds 1.2 million, over the default limit of 1 million
  # (past which Strowger answers 503). Kamailio answers REGISTER statelessly and has no
  # such limit; its calls' transactions live in its 1 GiB of shared memory (-m).
  printf '[limits]\nmax_transactions = 4000000\n' >"$WORK/strowger.toml"
  if [[ "$mode" == auth ]]; then
    # users-step.csv: the SIPp injection file's slice (SEQUENTIAL, then user;password),
    # which --users-file reads as it is. Without users, nothing is challenged.
    # One MD5 challenge, as Kamailio sends (Strowger offers MD5 and SHA-256 by default):
    # the same exchange for both servers and for SIPp.
    printf '[auth]\nalgorithms = ["MD5"]\n' >>"$WORK/strowger.toml"
    args+=(--users-file "$WORK/users-step.csv")
  fi
  args+=(--config "$WORK/strowger.toml")
  exec "$STROWGER_BIN" "${args[@]}"
}

# ---------------------------------------------------------------------------------------
# SIPp
# ---------------------------------------------------------------------------------------
SIPP_RUN=0
SIPP_STAT=""
SIPP_ERR=""

run_sipp() { # LIMIT_S ARGS... : runs sipp to completion (bounded by LIMIT_S), returns its rc
  local limit="$1" pid rc=0
  shift
  SIPP_RUN=$((SIPP_RUN + 1))
  SIPP_STAT="$WORK/sipp-$SIPP_RUN.csv"
  SIPP_ERR="$WORK/sipp-$SIPP_RUN.err"
  timeout -k 5 "$limit" nice -n "$SIPP_NICE" sipp "$HOST:$SIP_PORT" -i "$HOST" -nostdin -buff_size 4194304 \
    -trace_stat -stf "$SIPP_STAT" -fd 1 -trace_err -error_file "$SIPP_ERR" \
    "$@" >"$WORK/sipp-$SIPP_RUN.out" 2>&1 &
  pid=$!
  STARTED+=("$pid")
  wait "$pid" || rc=$?
  forget "$pid"
  return "$rc"
}

# Runs REG_CLIENTS SIPp processes side by side, each with its share of the rate, of the
# count and of the step's users (client i takes users [i*N/K, (i+1)*N/K) of users.csv, so
# every registration of the step is still a distinct user), on ports REG_PORT + i.
# SIPP_STATS lists their statistics files. Returns the first non-zero rc.
SIPP_STATS=()
run_sipp_split() { # LIMIT_S SCENARIO RATE N
  local limit="$1" scen="$2" rate="$3" n="$4" k="$REG_CLIENTS" i per pids=() rc=0 r
  per=$((n / k))
  SIPP_STATS=()
  for ((i = 0; i < k; i++)); do
    SIPP_RUN=$((SIPP_RUN + 1))
    SIPP_STATS+=("$WORK/sipp-$SIPP_RUN.csv")
    SIPP_ERR="$WORK/sipp-$SIPP_RUN.err"
    timeout -k 5 "$limit" nice -n "$SIPP_NICE" sipp "$HOST:$SIP_PORT" -i "$HOST" -nostdin -buff_size 4194304 \
      -trace_stat -stf "$WORK/sipp-$SIPP_RUN.csv" -fd 1 -trace_err -error_file "$SIPP_ERR" \
      -sf "$SCEN/$scen" -p $((REG_PORT + i)) -inf "$WORK/users-client-$i.csv" -key expires 3600 \
      -r $((rate / k)) -m "$per" -l $((rate * 12 / k)) -nd -recv_timeout 10000 \
      >"$WORK/sipp-$SIPP_RUN.out" 2>&1 &
    pids+=("$!")
    STARTED+=("$!")
  done
  for i in "${pids[@]}"; do
    r=0
    wait "$i" || r=$?
    forget "$i"
    ((rc != 0)) || rc=$r
  done
  return "$rc"
}

# The users of each client of run_sipp_split, written before the step is timed.
split_users() { # N
  local per=$(($1 / REG_CLIENTS)) i
  for ((i = 0; i < REG_CLIENTS; i++)); do
    awk -v a=$((i * per)) -v b=$(((i + 1) * per)) \
      'NR == 1 || (NR - 2 >= a && NR - 2 < b) { print } NR - 2 >= b { exit }' \
      "$USERS_CSV" >"$WORK/users-client-$i.csv"
  done
}

# The statistics of several SIPp processes as one: counts summed, the creation time the
# longest. Prints what stat_summary prints.
stat_summary_all() { # N FILES...
  local n="$1" f per
  shift
  per=$((n / $#))
  for f in "$@"; do stat_summary "$f" "$per"; done | awk '
    { c += $1; ok += $2; failed += $3; r += $4
      if ($5 == "inf") inf = 1; else if ($5 + 0 > t) t = $5 + 0 }
    END { printf "%d %d %d %d %s\n", c, ok, failed, r, inf ? "inf" : sprintf("%.2f", t) }'
}

# Datagrams dropped at the SIPp clients' ports: CLIENT_PORT, or the REG_CLIENTS ports from
# REG_PORT when the step is split.
client_drops() { # CLIENT_PORT SPLIT(0|1)
  local d=0 i
  if [[ "$2" == 1 ]]; then
    for ((i = 0; i < REG_CLIENTS; i++)); do d=$((d + $(udp_drops $((REG_PORT + i))))); done
  else
    d="$(udp_drops "$1")"
  fi
  echo $((d + $(udp_drops "$UAS_PORT")))
}

# Reads a SIPp statistics file. Prints: created successful failed retransmissions t_create
# where t_create is the time (s) until the last call was created (1 s resolution).
stat_summary() { # FILE N
  [[ -s "$1" ]] || { echo "0 0 0 0 inf"; return 0; }
  awk -F';' -v n="$2" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    {
      split($col["StartTime"], s, "\t"); split($col["CurrentTime"], c, "\t")
      t = c[3] - s[3]
      created = $col["TotalCallCreated"]
      if (tc == "" && created + 0 >= n + 0) tc = t
      ok = $col["SuccessfulCall(C)"]; failed = $col["FailedCall(C)"]
      retr = $col["Retransmissions(C)"]; last = t
    }
    END {
      tc = (tc == "") ? "inf" : sprintf("%.2f", tc)
      printf "%d %d %d %d %s\n", created, ok, failed, retr, tc
    }' "$1"
}

# ---------------------------------------------------------------------------------------
# Steps. One step = N = rate * S calls/registrations started at `rate` (S = STEP_LEN: PROBE_S
# on a ladder, HELD_S for the rate reported). A step passes with: every call successful,
# 0 failed, retransmissions <= MAX_RETRANS_PCT of N, and the last call created within
# S * 1.05 + 1 s (the rate was really offered).
# ---------------------------------------------------------------------------------------
STEPS_MD=""
STEP_OK=0
STEP_WHY=""
UAS_PID=""

step_record() { # NAME PHASE RATE N SUMMARY DIAG RC
  local name="$1" phase="$2" rate="$3" n="$4" summary="$5" diag="$6" rc="$7"
  local created ok failed retr tc why=""
  read -r created ok failed retr tc <<<"$summary"
  [[ "$failed" -eq 0 ]] || why+="failed=$failed "
  [[ "$ok" -eq "$n" ]] || why+="successful=$ok/$n "
  ((retr * 100 <= MAX_RETRANS_PCT * n)) || why+="retransmissions=$retr "
  if [[ "$tc" == inf ]] || ! awk -v t="$tc" -v s="$STEP_LEN" 'BEGIN {exit !(t <= s * 1.05 + 1)}'; then
    why+="rate-not-reached(created-in=${tc}s) "
  fi
  ((rc == 0 || rc == 1)) || why+="sipp-rc=$rc "
  if [[ -z "$why" ]]; then STEP_OK=1; STEP_WHY="ok"; else STEP_OK=0; STEP_WHY="${why% }"; fi
  STEPS_MD+="| $name | $phase | $rate | $n | $ok | $failed | $retr | ${tc} | $diag | $STEP_WHY |"$'\n'
  log "  $name $phase ${rate}/s: ok=$ok/$n failed=$failed retrans=$retr created-in=${tc}s $diag -> $STEP_WHY"
}

# One step: N = RATE * STEP_LEN calls started by SIPp at RATE, with diagnostics: CPU (% of one
# core) of the server, of the SIPp client and of the SIPp UAS, and UDP datagrams dropped on
# full receive buffers at the server's socket and at SIPp's sockets.
measured_step() { # NAME PHASE RATE N CLIENT_PORT LIMIT_S (SIPP_ARGS... | --split SCENARIO)
  local name="$1" phase="$2" rate="$3" n="$4" cport="$5" limit="$6" rc=0 split=0 summary
  shift 6
  [[ "${1:-}" == --split ]] && split=1
  local pids=() upids=() c0 c1 u0=0 u1=0 g0 g1 d0 d1 e0 e1 t0 wall diag m0 m1
  mapfile -t pids < <(server_pids)
  [[ -n "$UAS_PID" ]] && mapfile -t upids < <(descendants "$UAS_PID")
  c0="$(cpu_ticks "${pids[@]}")"; ((${#upids[@]})) && u0="$(cpu_ticks "${upids[@]}")"
  times >"$WORK/times"; g0="$(children_cpu_s <"$WORK/times")"
  d0="$(udp_drops "$SIP_PORT")"; e0="$(client_drops "$cport" "$split")"
  m0="$(machine_cpu)"; t0="$(date +%s.%N)"
  if ((split)); then run_sipp_split "$limit" "$2" "$rate" "$n" || rc=$?; else run_sipp "$limit" "$@" || rc=$?; fi
  m1="$(machine_cpu)"
  wall="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')"
  c1="$(cpu_ticks "${pids[@]}")"; ((${#upids[@]})) && u1="$(cpu_ticks "${upids[@]}")"
  times >"$WORK/times"; g1="$(children_cpu_s <"$WORK/times")"
  d1="$(udp_drops "$SIP_PORT")"; e1="$(client_drops "$cport" "$split")"
  LAST_TICKS=$((c1 - c0))
  diag="cpu server $(pct "$(awk -v t=$LAST_TICKS -v hz="$CLK_TCK" 'BEGIN {print t / hz}')" "$wall")%"
  diag+=" client $(pct "$(awk -v a="$g0" -v b="$g1" 'BEGIN {print b - a}')" "$wall")%"
  ((${#upids[@]})) && diag+=" uas $(pct "$(awk -v a="$u0" -v b="$u1" -v hz="$CLK_TCK" 'BEGIN {print (b - a) / hz}')" "$wall")%"
  diag+="; machine idle $(awk -v a="$m0" -v b="$m1" 'BEGIN { split(a, x, " "); split(b, y, " ")
    if (y[2] > x[2]) printf "%.0f", (y[1] - x[1]) / (y[2] - x[2]) * 100; else print "?" }')%"
  diag+="; drops server $((d1 - d0)) sipp $((e1 - e0))"
  if ((split)); then summary="$(stat_summary_all "$n" "${SIPP_STATS[@]}")"
  else summary="$(stat_summary "$SIPP_STAT" "$n")"; fi
  step_record "$name" "$phase" "$rate" "$n" "$summary" "$diag" "$rc"
}

# Budget: each phase gets a share of what is left of its server's time.
phase_deadline() { # SERVER_DEADLINE WEIGHT REMAINING_WEIGHTS
  local left=$(($1 - SECONDS))
  echo $((SECONDS + left * $2 / $3))
}

# ---------------------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------------------
declare -A RESULT

start_uas() { # starts the SIPp UAS and registers it as "uas"
  local t
  timeout -k 5 "$((BUDGET_S + 60))" nice -n "$SIPP_NICE" sipp "$HOST:$SIP_PORT" -sf "$SCEN/uas.xml" -i "$HOST" -p "$UAS_PORT" \
    -nostdin -buff_size 4194304 -recv_timeout 30000 -trace_stat -stf "$WORK/uas-$SERVER_RUN.csv" -fd 5 \
    >"$WORK/uas-$SERVER_RUN.out" 2>&1 &
  UAS_PID=$!
  STARTED+=("$UAS_PID")
  for t in $(seq 1 50); do ss -Hlun "sport = :$UAS_PORT" | grep -q . && break; sleep 0.1; done
  run_sipp 15 -sf "$SCEN/register_uas.xml" -p "$UASREG_PORT" -key uas_contact "$HOST:$UAS_PORT" \
    -m 1 -nd -recv_timeout 5000 ||
    die "the UAS could not register as 'uas' (see $SIPP_ERR)"
}

call_step() { # NAME PHASE RATE SECONDS
  local n=$(($3 * $4))
  STEP_LEN="$4"
  measured_step "$1" "$2" "$3" "$n" "$UAC_PORT" $(($4 * 3 + HOLD_MS / 1000 + 30)) \
    -sf "$SCEN/uac.xml" -p "$UAC_PORT" -r "$3" -m "$n" -d "$HOLD_MS" \
    -l $(($3 * (HOLD_MS / 1000 + 12))) -recv_timeout 10000
}

# The reported rate, in HELD: the best PASSED rate (highest first) held for HELD_S by
# HOLD_FN (called as HOLD_FN RATE; sets STEP_OK), then the one below it when that fails.
# "R"; ">= R" when the ladder ended before a step failed; "< R" when no rate held.
# (Not in a subshell: the steps it runs are recorded in globals.)
HELD=""
# The best rate of a ladder held HELD_S: the top rate that passed, else the one below, and
# further down while the server's time allows (held steps fail where 5 s steps passed when
# the machine is full: the server then shares the two cores with two SIPp clients).
PHASE_DEADLINE=0  # set by each phase before held_rate: its own share of the time
held_rate() { # HOLD_FN HIT_FAIL LOWEST_RATE PASSED...
  local fn="$1" hit_fail="$2" lowest="$3" i last
  shift 3
  local passed=("$@")
  HELD="< $lowest"
  for ((i = ${#passed[@]} - 1; i >= 0; i--)); do
    if ((i <= ${#passed[@]} - 3 && SECONDS + HELD_S + 15 > PHASE_DEADLINE)); then
      log "  no time left to hold ${passed[i]}/s"
      break
    fi
    last="${passed[i]}"
    "$fn" "$last"
    if [[ "$STEP_OK" == 1 ]]; then
      if [[ "$hit_fail" == 1 || "$i" -lt $((${#passed[@]} - 1)) ]]; then HELD="$last"; else HELD=">= $last"; fi
      return 0
    fi
    HELD="< $last"
  done
}

phase_calls() { # NAME DEADLINE
  local name="$1" deadline="$2" rate hit_fail=0 need ok passed=()
  log "$name: calls through the proxy (uac -> $name -> uas), ladder steps of ${PROBE_S}s, best held ${HELD_S}s, hold ${HOLD_MS}ms"
  server_start "$name" plain
  start_uas

  # CPU per 1000 calls: fixed rate, server processes only
  log "$name: CPU seconds per 1000 calls at ${CPU_RATE} calls/s"
  call_step "$name" "cpu" "$CPU_RATE" $((PROBE_S * 2))
  read -r _ ok _ _ _ <<<"$(stat_summary "$SIPP_STAT" $((CPU_RATE * PROBE_S * 2)))"
  if ((ok > 0)); then
    RESULT[$name,cpu]="$(awk -v t="$LAST_TICKS" -v hz="$CLK_TCK" -v ok="$ok" 'BEGIN {printf "%.3f", t / hz / ok * 1000}')"
    [[ "$STEP_OK" == 1 ]] || RESULT[$name,cpu]+=" (with failures)"
  fi

  for rate in $CALL_RATES; do
    # this step, and holding the best rate afterwards (on a fresh server)
    need=$((PROBE_S + HOLD_MS / 1000 + 6 + HELD_S + HOLD_MS / 1000 + 12))
    if ((SECONDS + need > deadline)); then log "$name: calls: time budget used up before ${rate}/s"; break; fi
    sleep 2   # let the previous step's transactions finish
    call_step "$name" "calls" "$rate" "$PROBE_S"
    if [[ "$STEP_OK" == 1 ]]; then passed+=("$rate"); else hit_fail=1; break; fi
  done
  PHASE_DEADLINE="$deadline"
  held_rate hold_calls "$hit_fail" "$(first_word "$CALL_RATES")" "${passed[@]}"
  RESULT[$name,calls]="$HELD"
  stop_pid "$UAS_PID"
  UAS_PID=""
  server_stop
}

# Holds RATE for HELD_S on a fresh server and UAS: a failed step leaves calls behind.
hold_calls() { # RATE
  stop_pid "$UAS_PID"
  UAS_PID=""
  server_stop
  server_start "$CUR_SERVER" plain
  start_uas
  call_step "$CUR_SERVER" "calls held" "$1" "$HELD_S"
}

first_word() { echo "${1%% *}"; }

reg_step() { # NAME PHASE RATE SCENARIO SECONDS
  # a whole share of the count for each SIPp client
  local n=$(($3 * $5 / REG_CLIENTS * REG_CLIENTS))
  split_users "$n"
  STEP_LEN="$5"
  measured_step "$1" "$2" "$3" "$n" "$REG_PORT" $(($5 * 3 + 30)) --split "$4"
}

phase_register() { # NAME MODE(plain|auth) DEADLINE
  local name="$1" mode="$2" deadline="$3" scen phase rate hit_fail=0 need rates passed=()
  START_S=0
  if [[ "$mode" == auth ]]; then scen=register_auth.xml; phase=reg-auth; rates="$AUTH_RATES"
  else scen=register.xml; phase=reg; rates="$REG_RATES"; fi
  log "$name: REGISTER/s, unique users, $([[ $mode == auth ]] && echo "digest auth" || echo "no auth"), fresh server per step"
  for rate in $rates; do
    # this step, and holding the best rate afterwards (its start takes longer: more users)
    need=$((PROBE_S + 8 + START_S * 3 / 2 + HELD_S + 8 + START_S * 6))
    if ((SECONDS + need > deadline)); then log "$name: $phase: time budget used up before ${rate}/s"; break; fi
    server_start "$name" "$mode" $((rate * PROBE_S))
    reg_step "$name" "$phase" "$rate" "$scen" "$PROBE_S"
    if [[ "$rate" == "$REG_CPU_RATE" ]]; then
      # the server's own CPU over this step, per 1000 registrations: on two cores shared
      # with SIPp, the efficiency behind the rate (marked when the step did not pass)
      RESULT[$name,cpu_$phase]="$(awk -v t="$LAST_TICKS" -v hz="$CLK_TCK" -v n=$((rate * PROBE_S)) \
        'BEGIN {printf "%.3f", t / hz / n * 1000}')"
      [[ "$STEP_OK" == 1 ]] || RESULT[$name,cpu_$phase]+=" (step failed)"
    fi
    server_stop
    if [[ "$STEP_OK" == 1 ]]; then passed+=("$rate"); else hit_fail=1; break; fi
  done
  CUR_MODE="$mode" CUR_SCEN="$scen" CUR_PHASE="$phase"
  PHASE_DEADLINE="$deadline"
  held_rate hold_register "$hit_fail" "$(first_word "$rates")" "${passed[@]}"
  RESULT[$name,$phase]="$HELD"
}

hold_register() { # RATE
  server_start "$CUR_SERVER" "$CUR_MODE" $(($1 * HELD_S))
  reg_step "$CUR_SERVER" "$CUR_PHASE held" "$1" "$CUR_SCEN" "$HELD_S"
  server_stop
}

phase_memory() { # NAME
  local name="$1" pids base_pss base_rss pss rss rate ok failed summary contacts
  rate="$MEM_RATE"
  log "$name: memory with $MEM_USERS registrations (offered at ${rate}/s, Expires 7200)"
  server_start "$name" plain
  sleep 2
  mapfile -t pids < <(server_pids)
  base_pss="$(mem_kib Pss "${pids[@]}")"; base_rss="$(mem_kib VmRSS "${pids[@]}")"
  run_sipp $((MEM_USERS / rate * 3 + 60)) -sf "$SCEN/register.xml" -p "$REG_PORT" -inf "$USERS_CSV" \
    -key expires 7200 -r "$rate" -m "$MEM_USERS" -l $((rate * 12)) -nd -recv_timeout 10000 || true
  sleep 2
  mapfile -t pids < <(server_pids)
  pss="$(mem_kib Pss "${pids[@]}")"; rss="$(mem_kib VmRSS "${pids[@]}")"
  summary="$(stat_summary "$SIPP_STAT" "$MEM_USERS")"
  read -r _ ok failed _ _ <<<"$summary"
  contacts="?"
  [[ "$name" == kamailio ]] && contacts="$(kamailio_contacts)"
  log "  $name: ${#pids[@]} processes; PSS idle ${base_pss} KiB -> ${pss} KiB; RSS sum ${base_rss} -> ${rss} KiB; registered ok=$ok failed=$failed; server reports contacts=$contacts"
  RESULT[$name,mem_idle]="$(awk -v k="$base_pss" 'BEGIN {printf "%.1f", k / 1024}')"
  RESULT[$name,mem_full]="$(awk -v k="$pss" 'BEGIN {printf "%.1f", k / 1024}')"
  if ((ok > 0)); then
    RESULT[$name,mem_per_reg]="$(awk -v a="$base_pss" -v b="$pss" -v n="$ok" 'BEGIN {printf "%.2f", (b - a) / n}')"
  fi
  ((ok == MEM_USERS)) || RESULT[$name,mem_per_reg]="${RESULT[$name,mem_per_reg]:-n/a} ($ok/$MEM_USERS registered)"
  RESULT[$name,mem_note]="${#pids[@]} processes, RSS sum ${base_rss} -> ${rss} KiB, contacts reported: $contacts"
  server_stop
}

# Strowger's CPU per REGISTER with its default, durable store (an SQLite file): one
# step at REG_CPU_RATE. The rates above use the in-memory store, as Kamailio does.
phase_register_file() {
  log "strowger: CPU per REGISTER with the SQLite file store (--db FILE) at ${REG_CPU_RATE}/s"
  server_start strowger file
  reg_step strowger "reg file" "$REG_CPU_RATE" register.xml "$PROBE_S"
  RESULT[strowger,cpu_reg-file]="$(awk -v t="$LAST_TICKS" -v hz="$CLK_TCK" -v n=$((REG_CPU_RATE * PROBE_S)) \
    'BEGIN {printf "%.3f", t / hz / n * 1000}')"
  [[ "$STEP_OK" == 1 ]] || RESULT[strowger,cpu_reg-file]+=" (step failed)"
  server_stop
}

measure_server() { # NAME DEADLINE
  local name="$1" deadline="$2" mem_cost d
  CUR_SERVER="$name"
  # reserve the memory phase first: registrations at >= 500/s plus start-up
  mem_cost=$((MEM_USERS / MEM_RATE + 25))
  d="$(phase_deadline $((deadline - mem_cost)) 36 100)"
  phase_calls "$name" "$d"
  d="$(phase_deadline $((deadline - mem_cost)) 1 2)"
  phase_register "$name" plain "$d"
  [[ "$name" == strowger ]] && phase_register_file
  if [[ "$name" == strowger ]] && ! strowger_auth_supported; then
    log "strowger: 'serve --help' lists no --users-file: REGISTER with digest auth skipped"
    RESULT[$name,reg-auth]="n/a (no --users-file)"
  else
    phase_register "$name" auth $((deadline - mem_cost))
  fi
  phase_memory "$name"
}

# ---------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------
install_deps
WORK="$(mktemp -d /tmp/strowger-bench.XXXXXX)"

# users: enough unique users for the biggest step and for the memory phase
max_reg=0
for r in $REG_RATES $AUTH_RATES; do ((r > max_reg)) && max_reg=$r; done
NUSERS=$((max_reg * (HELD_S > PROBE_S ? HELD_S : PROBE_S)))
((NUSERS < MEM_USERS)) && NUSERS=$MEM_USERS
if [[ ! -f "$USERS_CSV" ]] || [[ "$(($(wc -l <"$USERS_CSV") - 1))" -lt "$NUSERS" ]]; then
  log "writing $NUSERS users to bench/scenarios/users.csv"
  awk -v n="$NUSERS" 'BEGIN { print "SEQUENTIAL"; for (i = 0; i < n; i++) printf "user%d;pw%d\n", i, i }' >"$USERS_CSV"
fi
for p in "$SIP_PORT" "$UAS_PORT" "$UASREG_PORT" "$UAC_PORT" $(seq "$REG_PORT" $((REG_PORT + REG_CLIENTS - 1))); do
  if ss -Hlun "sport = :$p" | grep -q .; then die "udp port $p is in use; set PORT_BASE"; fi
done

PRESENT=()
for s in $SERVERS; do
  if "${s}_available"; then PRESENT+=("$s")
  else
    case "$s" in
      strowger) log "strowger: not available yet ($STROWGER_BIN missing or 'strowger serve --help' fails): skipped" ;;
      *) log "$s: not installed: skipped" ;;
    esac
  fi
done
((${#PRESENT[@]})) || die "no server to measure"

kamailio -c -f "$KAMAILIO_CFG" -A "BENCH_CHILDREN=$WORKERS" >"$WORK/kamailio-check.log" 2>&1 ||
  { tail -n 20 "$WORK/kamailio-check.log" >&2; die "kamailio -c rejects $KAMAILIO_CFG"; }

log "mode: $([[ $QUICK == 1 ]] && echo QUICK || echo full); ladder steps ${PROBE_S}s, best rate held ${HELD_S}s; workers $WORKERS; budget ${BUDGET_S}s for: ${PRESENT[*]}"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v l="${LOAD_BEFORE%% *}" -v n="$NCPU" 'BEGIN {exit !(l > n / 2)}'; then
  log "warning: load average $LOAD_BEFORE on $NCPU cores: other work is running, numbers will be low and noisy"
fi
BENCH_START=$SECONDS
left_servers=${#PRESENT[@]}
for s in "${PRESENT[@]}"; do
  measure_server "$s" $((SECONDS + (BENCH_START + BUDGET_S - SECONDS) / left_servers))
  left_servers=$((left_servers - 1))
done
ELAPSED=$((SECONDS - BENCH_START))

# ---------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------
val() { # NAME KEY
  local v
  if [[ " ${PRESENT[*]} " == *" $1 "* ]]; then v="${RESULT[$1,$2]:-n/a}"; else v="n/a"; fi
  echo "$v"
}
ratio() { # A B: a ratio, ">= R" when A is a lower bound and B a figure
  awk -v a="$1" -v b="$2" 'BEGIN {
    pre = ""
    if (a ~ /^>= [0-9.]+$/ && b ~ /^[0-9.]+$/) { pre = ">= "; sub(/^>= /, "", a) }
    if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) { print "n/a"; exit }
    printf "%s%.2f", pre, a / b }'
}
row() { # LABEL KEY
  local s k
  s="$(val strowger "$2")"; k="$(val kamailio "$2")"
  echo "| $1 | $s | $k | $(ratio "$s" "$k") |"
}

cpu_model="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
sipp_version="$(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -n 1 || true)"
kam_version="$(kamailio_version || true)"
strowger_line="not available yet"
if [[ " ${PRESENT[*]} " == *" strowger "* ]]; then strowger_line="$(strowger_version)"; fi

{
  echo "# Load benchmark: Strowger vs Kamailio"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: ${cpu_model:-unknown CPU}, $NCPU cores, kernel $(uname -r), load average before: $LOAD_BEFORE"
  echo "- sipp: ${sipp_version:-?}; kamailio: ${kam_version:-?}; strowger: $strowger_line"
  echo "- mode: $([[ $QUICK == 1 ]] && echo "QUICK (development numbers, not for comparison)" || echo full);" \
       "ladder steps ${PROBE_S}s, the rate reported held ${HELD_S}s; call hold ${HOLD_MS} ms; $WORKERS workers per server; all on 127.0.0.1 (UDP); SIPp at nice $SIPP_NICE"
  echo "- run time: ${ELAPSED}s of measuring; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| metric | Strowger | Kamailio | ratio (Strowger/Kamailio) |"
  echo "| --- | --- | --- | --- |"
  row "calls/s held ${HELD_S}s (0 failed, <= ${MAX_RETRANS_PCT}% retransmissions)" calls
  row "REGISTER/s held ${HELD_S}s, unique users, no auth" reg
  row "REGISTER/s held ${HELD_S}s, unique users, digest auth (401 + 200)" reg-auth
  row "memory idle, PSS (MiB)" mem_idle
  row "memory holding $MEM_USERS registrations, PSS (MiB)" mem_full
  row "memory per registration above idle (KiB)" mem_per_reg
  row "CPU seconds per 1000 calls (at ${CPU_RATE} calls/s)" cpu
  row "CPU seconds per 1000 REGISTERs, no auth (at ${REG_CPU_RATE}/s)" cpu_reg
  row "CPU seconds per 1000 REGISTERs, digest (at ${REG_CPU_RATE}/s)" cpu_reg-auth
  row "CPU seconds per 1000 REGISTERs, no auth, Strowger's SQLite file store (at ${REG_CPU_RATE}/s)" cpu_reg-file
  echo
  echo "A rate is the highest step of its ladder (${PROBE_S}s steps) that then also passed held" \
       "for ${HELD_S}s (or, failing that, the next step below that did); \">= X\": the ladder or the time budget ended" \
       "before a step failed; \"< X\": no rate passed held. Memory is PSS summed over all the" \
       "server's processes (Kamailio's children share memory; RSS would count it once per process)."
  echo "Both location services are in memory (Kamailio: usrloc db_mode=0; Strowger: --db :memory:);" \
       "the last row is Strowger's default store, an SQLite file written before each 200 (Kamailio: n/a)."
  echo "The SIPp load generators run on the same $NCPU cores as the server: see bench/README.md."
  for s in "${PRESENT[@]}"; do
    [[ -n "${RESULT[$s,mem_note]:-}" ]] && echo "- $s memory: ${RESULT[$s,mem_note]}"
  done
  echo
  echo "## Steps"
  echo
  echo "| server | phase | rate/s | attempted | successful | failed | retransmissions | created in (s) | CPU (% of one core); machine idle (% of all cores); UDP datagrams dropped | verdict |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  printf '%s' "$STEPS_MD"
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
echo
cat "$RESULTS"
log "done in $((SECONDS - T0))s; results in bench/results/latest.md"
