#!/usr/bin/env bash
# STOMP benchmark: ActorBroker (standalone node) and, when installed, ActiveMQ 5.17 side by side in ONE run,
# with the same load generator (shared/anchors/activemq/stomp-load.mjs: @stomp/stompjs over TCP).
#   tests/bench/stomp-bench.sh [--profile FILE] [--no-activemq]      (build.ps1 bench runs it after a Release build)
# Env: N (20000), SIZE (1024), RUNS (3), ANCHORS (../shared/anchors beside the repository), CONFIGURATION (Release),
#      AB_SET (extra --set for the node, e.g. "actorbroker.persistence...=...").
# Prints one line per measurement with the median of RUNS for each broker and the ratio ActorBroker/ActiveMQ.
# Every process it starts is stopped by PID (EXIT trap).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
N=${N:-20000}; SIZE=${SIZE:-1024}; RUNS=${RUNS:-3}; CONFIGURATION=${CONFIGURATION:-Release}
ANCHORS=${ANCHORS:-$(cd "$ROOT/.." && pwd)/shared/anchors}
PROFILE="$ROOT/hocon/standalone.conf"; WITH_AMQ=1; EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE=$2; shift 2 ;;
    --no-activemq) WITH_AMQ=0; shift ;;
    --set) EXTRA+=(--set "$2"); shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
LOAD="$ANCHORS/activemq/stomp-load.mjs"
[ -f "$LOAD" ] || { echo "load generator not found: $LOAD (set ANCHORS)" >&2; exit 2; }
# stomp-load.mjs loads @stomp/stompjs from $ANCHOR_CLIENTS/node_modules: reuse the interop clients.
[ -d "$ROOT/tests/interop/node_modules/@stomp/stompjs" ] || npm ci --prefix "$ROOT/tests/interop" --no-audit --no-fund >/dev/null
export ANCHOR_CLIENTS="$ROOT/tests/interop"
if [ "$WITH_AMQ" = 1 ] && ! dpkg -s activemq >/dev/null 2>&1; then echo "activemq not installed: ActorBroker only" >&2; WITH_AMQ=0; fi

WORK=$(mktemp -d); AB_PID=""; AMQ_STARTED=0
export AMQ_RUN_DIR="$WORK/amq"
cleanup() {
  [ -n "$AB_PID" ] && kill -KILL "$AB_PID" 2>/dev/null || true
  [ "$AMQ_STARTED" = 1 ] && "$ANCHORS/activemq/run-broker.sh" single stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[$(date +%T)] $*" >&2; }
rate() { node "$LOAD" 127.0.0.1 "$1" "$2" "$N" "$SIZE" "$3" --quiet | sed -n 's/^RESULT //p' | node -e 'const o=JSON.parse(require("fs").readFileSync(0,"utf8")); if(o.count!==undefined && o.mode==="consume" && o.count<'"$N"') {console.error("short consume", o.count); process.exit(3)} console.log(o.rate)'; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

start_ab() {
  local port=$1 data="$WORK/ab-data"; rm -rf "$data"; mkdir -p "$data"
  ACTORBROKER_DATA_DIR="$data" ACTORBROKER_STOMP_PORT=$port ACTORBROKER_HOST=127.0.0.1 \
    dotnet "$ROOT/src/ActorBroker.Node/bin/$CONFIGURATION/net10.0/ActorBroker.Node.dll" --config "$PROFILE" "${EXTRA[@]}" \
    > "$WORK/ab.log" 2>&1 &
  AB_PID=$!
  for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.1; done
  echo "ActorBroker did not open port $port" >&2; cat "$WORK/ab.log" >&2; exit 1
}
stop_ab() { kill -TERM "$AB_PID"; wait "$AB_PID" 2>/dev/null || true; AB_PID=""; }

declare -A R
measure() { # broker port run
  local b=$1 p=$2 i=$3
  R[$b-sync-$i]=$(rate "$p" "bs$i" produce-sync)
  R[$b-async-$i]=$(rate "$p" "ba$i" produce-async)
  R[$b-consume-$i]=$(rate "$p" "ba$i" consume)
  log "$b run $i: sync ${R[$b-sync-$i]}  async ${R[$b-async-$i]}  consume ${R[$b-consume-$i]} msg/s"
}

log "disk: $(dd if=/dev/zero of="$WORK/dsync" bs=1k count=500 oflag=dsync 2>&1 | tail -1)"
for i in $(seq 1 "$RUNS"); do
  port=$(free_port); start_ab "$port"; measure actorbroker "$port" "$i"; stop_ab
  if [ "$WITH_AMQ" = 1 ]; then
    SKIP_INSTALL=1 "$ANCHORS/activemq/setup.sh" >/dev/null
    "$ANCHORS/activemq/run-broker.sh" single >/dev/null; AMQ_STARTED=1
    measure activemq 61613 "$i"
    "$ANCHORS/activemq/run-broker.sh" single stop >/dev/null; AMQ_STARTED=0
  fi
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {m=int((NR+1)/2); if (NR%2) print a[m]; else print (a[m]+a[m+1])/2}'; }
echo
printf '%-44s %14s %14s %8s\n' "measurement (N=$N, ${SIZE} B, median of $RUNS)" "ActorBroker" "ActiveMQ" "ratio"
for m in sync async consume; do
  ab=$(median $(for i in $(seq 1 "$RUNS"); do echo "${R[actorbroker-$m-$i]}"; done))
  if [ "$WITH_AMQ" = 1 ]; then
    amq=$(median $(for i in $(seq 1 "$RUNS"); do echo "${R[activemq-$m-$i]}"; done))
    ratio=$(awk -v a="$ab" -v b="$amq" 'BEGIN { printf "%.2f", a / b }')
  else amq="-"; ratio="-"; fi
  case $m in sync) label="produce, receipt on every message (msg/s)";; async) label="produce, receipt on the last (msg/s)";; consume) label="consume, client-individual acks (msg/s)";; esac
  printf '%-44s %14s %14s %8s\n' "$label" "$ab" "$amq" "$ratio"
done
