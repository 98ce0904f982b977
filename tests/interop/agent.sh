#!/usr/bin/env bash
# Interop of the command-line user agent with SIPp (issue: the user agent):
#  1. `strowger answer` takes SIPp's built-in `uac` calls over UDP and TCP: 0 failed;
#  2. `strowger call` completes calls to SIPp's built-in `uas`, over UDP and TCP;
#  3. SIPp's `uac_pcap` (G.711 A-law from a pcap, then DTMF 1 as RFC 2833 events) is
#     answered and recorded by `strowger answer --record`: a non-silent recording of
#     the pcap's length, and the digit heard.
# Loopback only; every run is bounded; every process is stopped by PID.
source "$(dirname "$0")/lib.sh"
need_sipp
[ -x "$STROWGER" ] || { echo "build strowger first (cargo build)"; exit 2; }

start_answer() { # NAME ARGS...
  local name=$1
  shift
  "$STROWGER" answer "$@" >"$WORK/$name.answer.out" 2>"$WORK/$name.answer.err" &
  PIDS+=($!)
  ANSWER_PID=$!
  wait_line "$WORK/$name.answer.out" "listening on" 10
  ANSWER_PORT=$(head -n 1 "$WORK/$name.answer.out" | sed 's/.*://')
}

stop_answer() {
  kill -TERM "$ANSWER_PID" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$ANSWER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$ANSWER_PID" 2>/dev/null || true
  wait "$ANSWER_PID" 2>/dev/null || true
}

# 1. SIPp uac -> strowger answer.
for tr in udp tcp; do
  t=u1
  [ "$tr" = tcp ] && t=t1
  start_answer "uac-$tr" --listen "$tr:127.0.0.1:0"
  sipp_run "answer-uac-$tr" 90 127.0.0.1:"$ANSWER_PORT" -i 127.0.0.1 -p "$(free_port)" -t "$t" \
    -sn uac -m 20 -r 5 -l 10 -timeout 60s
  stop_answer
  calls=$(grep -c "^call .*ended by the caller" "$WORK/uac-$tr.answer.out" || true)
  if [ "$calls" = 20 ]; then
    pass "answer-uac-$tr: strowger answer printed 20 completed calls"
  else
    fail "answer-uac-$tr: strowger answer printed $calls completed calls, not 20"
    tail -n 5 "$WORK/uac-$tr.answer.out" "$WORK/uac-$tr.answer.err"
  fi
done

# 2. strowger call -> SIPp uas.
for tr in udp tcp; do
  t=u1
  param=""
  [ "$tr" = tcp ] && { t=t1; param=";transport=tcp"; }
  port=$(free_port)
  timeout -k 5 60 sipp -nostdin -sn uas -i 127.0.0.1 -p "$port" -t "$t" -m 3 \
    -trace_stat -stf "$WORK/uas-$tr.csv" -trace_err -error_file "$WORK/uas-$tr.err" \
    >"$WORK/uas-$tr.out" 2>&1 &
  PIDS+=($!)
  uas_pid=$!
  sleep 0.5
  ok=0
  for i in 1 2 3; do
    if timeout -k 2 20 "$STROWGER" call "sip:service@127.0.0.1:$port$param" --duration 1 \
      --listen "$tr:127.0.0.1:0" >"$WORK/call-$tr-$i.out" 2>"$WORK/call-$tr-$i.err"; then
      ok=$((ok + 1))
    else
      cat "$WORK/call-$tr-$i.out" "$WORK/call-$tr-$i.err"
    fi
  done
  rc=0
  for _ in $(seq 100); do kill -0 "$uas_pid" 2>/dev/null || break; sleep 0.1; done
  wait "$uas_pid" 2>/dev/null || rc=$?
  if [ "$ok" = 3 ] && [ "$rc" = 0 ]; then
    pass "call-uas-$tr: 3 calls completed by strowger call, sipp uas exit 0"
  else
    fail "call-uas-$tr: $ok of 3 calls completed, sipp uas exit $rc"
    tail -n 20 "$WORK/uas-$tr.err" "$WORK/uas-$tr.out" 2>/dev/null || true
  fi
done

# 3. SIPp uac_pcap -> strowger answer --record. The scenario plays pcap/g711a.pcap
#    (relative to the working directory), then pcap/dtmf_2833_1.pcap.
PCAPS=""
for d in /usr/share/sip-tester /usr/share/sip-tester/pcap /usr/share/doc/sip-tester/pcap; do
  [ -f "$d/g711a.pcap" ] && { PCAPS=$d; break; }
done
if [ -z "$PCAPS" ]; then
  fail "uac-pcap: g711a.pcap not found (dpkg -L sip-tester)"
else
  mkdir -p "$WORK/pcaprun/pcap"
  ln -sf "$PCAPS"/*.pcap "$WORK/pcaprun/pcap/"
  start_answer pcap --listen udp:127.0.0.1:0 --record "$WORK/pcap.wav" --max-calls 1
  (cd "$WORK/pcaprun" && sipp_run answer-uac-pcap 60 127.0.0.1:"$ANSWER_PORT" -i 127.0.0.1 \
    -p "$(free_port)" -mp "$(free_port)" -sn uac_pcap -m 1 -timeout 40s)
  for _ in $(seq 50); do kill -0 "$ANSWER_PID" 2>/dev/null || break; sleep 0.1; done
  stop_answer
  line=$(grep "^call 1" "$WORK/pcap.answer.out" || true)
  verdict=$(python3 - "$WORK/pcap.wav" <<'PY'
import sys, wave, struct, math
try:
    w = wave.open(sys.argv[1])
except Exception as e:
    print(f"FAIL no recording ({e})"); sys.exit()
n = w.getnframes(); rate = w.getframerate()
s = struct.unpack(f"<{n}h", w.readframes(n))
rms = math.sqrt(sum(x * x for x in s) / max(n, 1))
secs = n / rate
# g711a.pcap: 236 packets of 30 ms (7.08 s), plus the digit's packets (as silence).
ok = 7.0 <= secs <= 7.5 and rms > 300
print(f"{'PASS' if ok else 'FAIL'} {secs:.2f} s at {rate} Hz, RMS {rms:.0f}")
PY
)
  case "$verdict" in
    PASS*) pass "uac-pcap recording: ${verdict#PASS }; $line" ;;
    *) fail "uac-pcap recording: ${verdict#FAIL }; $line" ;;
  esac
  case "$line" in
    *"dtmf 1"*) pass "uac-pcap: the RFC 2833 digit 1 was heard" ;;
    *) fail "uac-pcap: digit 1 not heard ($line)" ;;
  esac
fi

echo
if [ "$FAILED" = 0 ]; then echo "agent interop: all passed"; else echo "agent interop: FAILURES"; fi
exit $FAILED
