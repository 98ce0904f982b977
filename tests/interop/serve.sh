#!/usr/bin/env bash
# Interop of `strowger serve` with SIPp (issue: strowger serve):
#  1. SIPp uac -> strowger serve -> SIPp uas registered as a user, over UDP and TCP,
#     0 failed calls;
#  2. a SIPp REGISTER scenario with digest authentication over 1000 users, 0 failures.
source "$(dirname "$0")/lib.sh"
need_sipp
[ -x "$STROWGER" ] || { echo "build strowger first (cargo build)"; exit 2; }
SC=$ROOT/bench/scenarios

start_serve() { # NAME ARGS...
  local name=$1
  shift
  "$STROWGER" serve --db "$WORK/$name.db" --workers 2 --log warn "$@" >"$WORK/$name.serve.out" 2>"$WORK/$name.serve.err" &
  PIDS+=($!)
  SERVE_PID=$!
  wait_line "$WORK/$name.serve.out" "listening on" 10
}

stop_serve() {
  kill -TERM "$SERVE_PID" 2>/dev/null || true
  wait "$SERVE_PID" 2>/dev/null || true
}

for tr in udp tcp; do
  port=$(free_port)
  uas_port=$(free_port)
  start_serve "calls-$tr" --listen "udp:127.0.0.1:$port" --listen "tcp:127.0.0.1:$port" --domain 127.0.0.1
  t=u1
  [ "$tr" = tcp ] && t=t1
  # The UAS: SIPp's built-in scenario, registered as "uas".
  timeout -k 5 120 sipp -nostdin -sn uas -i 127.0.0.1 -p "$uas_port" -t "$t" \
    -trace_err -error_file "$WORK/uas-$tr.err" >"$WORK/uas-$tr.out" 2>&1 &
  PIDS+=($!)
  uas_pid=$!
  sleep 0.5
  sipp_run "register-uas-$tr" 20 127.0.0.1:"$port" -i 127.0.0.1 -t "$t" -sf "$SC/register_uas.xml" \
    -key uas_contact "127.0.0.1:$uas_port" -m 1
  # The UAC: SIPp's built-in scenario calling sip:uas@server.
  sipp_run "uac-$tr" 120 127.0.0.1:"$port" -i 127.0.0.1 -t "$t" -sn uac -s uas -m 200 -r 20 -l 50 \
    -d 500 -timeout 100s
  kill "$uas_pid" 2>/dev/null || true
  stop_serve
done

# REGISTER with digest auth, 1000 users.
port=$(free_port)
{
  echo SEQUENTIAL
  for i in $(seq 0 999); do echo "user$i;pw$i"; done
} >"$WORK/users.csv"
start_serve register-auth --listen "udp:127.0.0.1:$port" --domain 127.0.0.1 --users-file "$WORK/users.csv"
sipp_run register-auth-1000 120 127.0.0.1:"$port" -i 127.0.0.1 -sf "$SC/register_auth.xml" \
  -inf "$WORK/users.csv" -key expires 3600 -m 1000 -r 100 -l 200 -timeout 100s
stop_serve

exit $FAILED
