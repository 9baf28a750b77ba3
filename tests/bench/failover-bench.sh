#!/usr/bin/env bash
# Failover benchmark for the master/slave profiles: time from kill -9 of the master to the first message consumed
# from the new master, measured like the ActiveMQ anchor (shared/anchors/activemq/bench.sh, failover section): FO_N
# persistent messages produced to the master (receipt on the last), kill -9, then stomp-load.mjs consumes from the
# successor with --wait-port-ms; kill -> first message is its tFirst minus the kill time.
#   tests/bench/failover-bench.sh [failover|cpu|all] [PROFILE...]     (default: failover for every profile)
#     failover  KILLS kills per profile (the killed node restarts as standby between kills); median per profile
#     cpu       CPU_SECONDS with two busy loops on a 2-node cluster: counts master changes (expected 0)
# Env: KEEP_LOGS (a directory: node, PostgreSQL and ZooKeeper logs are copied there at exit), KILLS (5), FO_N (1000), SETTLE (10: seconds a cluster runs before each kill), SIZE (1024), CPU_SECONDS (300), CONFIGURATION (Debug), ANCHORS (../shared/anchors
#      beside the repository). Raw lines go to $OUT_DIR (default a temp dir) and are printed at the end.
# Every process it starts (nodes, PostgreSQL, ZooKeeper, busy loops, clients) is stopped by PID (EXIT trap).
# Sourced (by soak.sh) it only defines the cluster functions.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
CONFIGURATION=${CONFIGURATION:-Debug}
ANCHORS=${ANCHORS:-$(cd "$ROOT/.." && pwd)/shared/anchors}
LOAD="$ANCHORS/activemq/stomp-load.mjs"
NODE_DLL="$ROOT/src/ActorBroker.Node/bin/$CONFIGURATION/net10.0/ActorBroker.Node.dll"
WORK=$(mktemp -d); OUT_DIR=${OUT_DIR:-$WORK/results}; mkdir -p "$OUT_DIR"
declare -A NODE_PID=() STOMP=() REMOTING=() RAFT=()
PIDS_EXTRA=(); PG_PID=""; PG_DIR=""; ZK_PID=""; NODES=0; PROFILE=""; SHARED_ENV=()

cleanup() {
  for i in "${!NODE_PID[@]}"; do kill -CONT "${NODE_PID[$i]}" 2>/dev/null || true; kill -KILL "${NODE_PID[$i]}" 2>/dev/null || true; done
  for p in "${PIDS_EXTRA[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true; done
  [ -n "$ZK_PID" ] && kill -KILL "$ZK_PID" 2>/dev/null || true
  [ -n "$PG_PID" ] && kill -INT "$PG_PID" 2>/dev/null && sleep 2 || true
  if [ -n "${KEEP_LOGS:-}" ]; then mkdir -p "$KEEP_LOGS" && find "$WORK" -name '*.log' -exec cp --parents {} "$KEEP_LOGS" \; 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[$(date +%T)] $*" >&2; }
now_ms() { date +%s%3N; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
free_pair() { # two consecutive free ports below the ephemeral range (replicated profiles forward writes on Raft port + 1)
  node -e 'const n=require("net");const ok=p=>new Promise(r=>{const s=n.createServer();s.once("error",()=>r(false));s.listen(p,"127.0.0.1",()=>s.close(()=>r(true)))});
    (async()=>{for(;;){const p=20000+Math.floor(Math.random()*12000);if(await ok(p)&&await ok(p+1)){console.log(p);return}}})()'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
as_postgres() { if [ "$(id -u)" = 0 ]; then setpriv --reuid postgres --regid postgres --init-groups -- "$@"; else "$@"; fi; }

start_postgres() {
  PG_DIR="$WORK/pg"; mkdir -p "$PG_DIR"; chmod 755 "$WORK"; [ "$(id -u)" = 0 ] && chown postgres: "$PG_DIR"
  as_postgres initdb -D "$PG_DIR/data" --auth=trust -U postgres -E UTF8 --no-sync >/dev/null
  PG_PORT=$(free_port)
  as_postgres postgres -D "$PG_DIR/data" -p "$PG_PORT" -k "$PG_DIR/data" -c listen_addresses=127.0.0.1 -c max_connections=300 \
    > "$WORK/pg.log" 2>&1 &
  for _ in $(seq 1 300); do [ -f "$PG_DIR/data/postmaster.pid" ] && port_open "$PG_PORT" && break; sleep 0.1; done
  PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
  log "PostgreSQL pid $PG_PID on $PG_PORT"
}
start_zookeeper() {
  local dir="$WORK/zk"; mkdir -p "$dir/data"; ZK_PORT=$(free_port)
  printf 'tickTime=500\ninitLimit=20\nsyncLimit=10\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxClientCnxns=0\n' \
    "$dir/data" "$ZK_PORT" > "$dir/zoo.cfg"
  java -Xmx128m -XX:+UseSerialGC -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
    org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" > "$WORK/zk.log" 2>&1 &
  ZK_PID=$!
  for _ in $(seq 1 600); do port_open "$ZK_PORT" && break; sleep 0.1; done
  log "ZooKeeper pid $ZK_PID on $ZK_PORT"
}

# cluster_create PROFILE N: ports, data dirs and the profile's shared resources (nothing started yet)
cluster_create() {
  PROFILE=$1; NODES=$2; local c="$WORK/$PROFILE-$RANDOM"; CLUSTER_DIR=$c; mkdir -p "$c/shared"
  SHARED_ENV=(ACTORBROKER_SHARED_DIR="$c/shared" ACTORBROKER_HOST=127.0.0.1)
  case $PROFILE in
    sql-postgres*) [ -n "$PG_PID" ] || start_postgres
      local db="b$RANDOM$RANDOM"; as_postgres psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE $db" >/dev/null
      SHARED_ENV+=(ACTORBROKER_SQL_CONNECTION="Host=127.0.0.1;Port=$PG_PORT;Database=$db;Username=postgres") ;;
    replicated.conf) [ -n "$ZK_PID" ] || start_zookeeper; SHARED_ENV+=(ACTORBROKER_ZOOKEEPER="127.0.0.1:$ZK_PORT") ;;
  esac
  local members=()
  for i in $(seq 0 $((NODES - 1))); do
    STOMP[$i]=$(free_port); REMOTING[$i]=$(free_port); RAFT[$i]=$(free_pair); members+=("127.0.0.1:${RAFT[$i]}")
    mkdir -p "$c/node$i"
  done
  SHARED_ENV+=(ACTORBROKER_RAFT_MEMBERS="$(IFS=,; echo "${members[*]}")")
}
# node_start I: seeds from the running nodes (itself when none runs), output appended to $CLUSTER_DIR/nodeI.log
node_start() {
  local i=$1 seeds=() j
  for j in "${!NODE_PID[@]}"; do [ "$j" != "$i" ] && kill -0 "${NODE_PID[$j]}" 2>/dev/null && seeds+=("127.0.0.1:${REMOTING[$j]}"); done
  [ ${#seeds[@]} -gt 0 ] || seeds=("127.0.0.1:${REMOTING[$i]}")
  env "${SHARED_ENV[@]}" ACTORBROKER_DATA_DIR="$CLUSTER_DIR/node$i" ACTORBROKER_STOMP_PORT="${STOMP[$i]}" \
    ACTORBROKER_CLUSTER_PORT="${REMOTING[$i]}" ACTORBROKER_RAFT_PORT="${RAFT[$i]}" ACTORBROKER_SEED_NODES="$(IFS=,; echo "${seeds[*]}")" \
    dotnet "$NODE_DLL" --config "$ROOT/hocon/$PROFILE" >> "$CLUSTER_DIR/node$i.log" 2>&1 &
  NODE_PID[$i]=$!
}
node_kill() { kill -KILL "${NODE_PID[$1]}"; wait "${NODE_PID[$1]}" 2>/dev/null || true; unset "NODE_PID[$1]"; }
wait_output() { # I TEXT SECONDS [from-line]
  local deadline=$(( $(date +%s) + $3 ))
  until awk -v f="${4:-1}" -v t="$2" 'NR >= f && index($0, t) { found = 1; exit } END { exit !found }' "$CLUSTER_DIR/node$1.log"; do
    [ "$(date +%s)" -lt "$deadline" ] || { log "node$1 did not print [$2]"; tail -20 "$CLUSTER_DIR/node$1.log" >&2; return 1; }
    sleep 0.2
  done
}
# master: index of the running node whose STOMP port is open (empty when none)
master() { local i; for i in "${!NODE_PID[@]}"; do port_open "${STOMP[$i]}" && { echo "$i"; return; }; done; true; }
wait_master() { # SECONDS -> index
  local deadline=$(( $(date +%s) + $1 )) m
  while :; do m=$(master); [ -n "$m" ] && { echo "$m"; return; }; [ "$(date +%s)" -lt "$deadline" ] || return 1; sleep 0.05; done
}
# cluster_start: every node at once (a Raft journal elects no leader before a majority runs), until a master is up
# and the others joined
cluster_start() {
  for i in $(seq 0 $((NODES - 1))); do node_start "$i"; done
  wait_master 120 >/dev/null
  for i in $(seq 1 $((NODES - 1))); do wait_output "$i" "Welcome from" 120; done
}
cluster_stop() {
  local i; for i in "${!NODE_PID[@]}"; do kill -CONT "${NODE_PID[$i]}" 2>/dev/null || true; node_kill "$i"; done
}
size_for() { [ -n "${SIZE_NODES:-}" ] && { echo "$SIZE_NODES"; return; }; case $1 in replicated*) echo 3 ;; *) echo 2 ;; esac; }
ensure_clients() {
  [ -f "$LOAD" ] || { echo "load generator not found: $LOAD (set ANCHORS)" >&2; exit 2; }
  [ -d "$ROOT/tests/interop/node_modules/@stomp/stompjs" ] || npm ci --prefix "$ROOT/tests/interop" --no-audit --no-fund >/dev/null
  export ANCHOR_CLIENTS="$ROOT/tests/interop"
  [ -f "$NODE_DLL" ] || { echo "build the node first: $NODE_DLL" >&2; exit 2; }
}
field() { node -e 'const o=JSON.parse(process.argv[1]); console.log(o[process.argv[2]])' "$1" "$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {m=int((NR+1)/2); if (NR%2) print a[m]; else print (a[m]+a[m+1])/2}'; }

[[ "${BASH_SOURCE[0]}" != "$0" ]] && return 0

# ------------------------------------------------------------------------------------------------ failover
KILLS=${KILLS:-5}; FO_N=${FO_N:-1000}; SETTLE=${SETTLE:-10}; SIZE=${SIZE:-1024}; CPU_SECONDS=${CPU_SECONDS:-300}
WHAT=${1:-failover}; [ $# -gt 0 ] && shift
PROFILES=("$@"); [ ${#PROFILES[@]} -gt 0 ] || PROFILES=(shared-file.conf sql-sqlite.conf sql-postgres.conf replicated.conf replicated-raft.conf)
ensure_clients
RESULTS="$OUT_DIR/failover.jsonl"

bench_failover() { # PROFILE
  cluster_create "$1" "$(size_for "$1")"; cluster_start
  for k in $(seq 1 "$KILLS"); do
    local m q="fo$k" r tkill lines next port first cnt
    m=$(wait_master 60)
    # A node's failure detector learns its peers' heartbeat rhythm; right after a (re)start that history holds the
    # start-up jitter and detection is slower. SETTLE seconds first measure a cluster in its steady state.
    sleep "$SETTLE"
    node "$LOAD" 127.0.0.1 "${STOMP[$m]}" "$q" "$FO_N" "$SIZE" produce-async --quiet >/dev/null
    lines=()
    for i in "${!NODE_PID[@]}"; do [ "$i" != "$m" ] && lines+=("$i"); done
    tkill=$(now_ms); node_kill "$m"
    if [ ${#lines[@]} -eq 1 ]; then
      # one candidate: the consumer starts right after the kill and waits for the port itself (the anchor's method)
      next=${lines[0]}
    else
      # several standbys: find the first whose port opens, then connect (adds one poll, ~20 ms, plus client start-up)
      next=""; local deadline=$(( $(date +%s) + 60 ))
      while [ -z "$next" ] && [ "$(date +%s)" -lt "$deadline" ]; do
        for i in "${lines[@]}"; do port_open "${STOMP[$i]}" && { next=$i; break; }; done; [ -n "$next" ] || sleep 0.02
      done
    fi
    [ -n "$next" ] || { log "$1 kill $k: no successor within 60 s"; echo "{\"label\":\"failover\",\"profile\":\"$1\",\"run\":$k,\"failed\":true}" >> "$RESULTS"; break; }
    r=$(node "$LOAD" 127.0.0.1 "${STOMP[$next]}" "$q" "$FO_N" "$SIZE" consume --wait-port-ms 60000 --idle-ms 5000 --quiet | sed -n 's/^RESULT //p')
    [ -n "$r" ] || { log "$1 kill $k: consumer failed"; echo "{\"label\":\"failover\",\"profile\":\"$1\",\"run\":$k,\"failed\":true}" >> "$RESULTS"; break; }
    port=$(( $(field "$r" tPortOpen) - tkill )); first=$(( $(field "$r" tFirst) - tkill )); cnt=$(field "$r" count)
    echo "{\"label\":\"failover\",\"profile\":\"$1\",\"run\":$k,\"portOpenMs\":$port,\"firstMsgMs\":$first,\"received\":$cnt,\"sent\":$FO_N}" >> "$RESULTS"
    log "$1 kill $k: node$m -> node$next, port open ${port} ms, first message ${first} ms, received $cnt/$FO_N"
    local from=$(( $(wc -l < "$CLUSTER_DIR/node$m.log") + 1 ))
    node_start "$m"; wait_output "$m" "Welcome from" 120 "$from"
  done
  cluster_stop
  for f in "$CLUSTER_DIR"/node*.log; do cp "$f" "$OUT_DIR/failover-$1-$(basename "$f")"; done
}

bench_cpu() { # PROFILE: two busy loops for CPU_SECONDS; count changes of master (port-open node) seen every 0.5 s
  cluster_create "$1" "$(size_for "$1")"; cluster_start
  local first m changes=0 last samples=0 none=0
  first=$(wait_master 60); last=$first
  for _ in 1 2; do bash -c 'while :; do :; done' & PIDS_EXTRA+=($!); done
  log "$1: two busy loops (pids ${PIDS_EXTRA[*]}) for $CPU_SECONDS s; master node$first"
  local end=$(( $(date +%s) + CPU_SECONDS ))
  while [ "$(date +%s)" -lt "$end" ]; do
    m=$(master); samples=$((samples + 1))
    if [ -z "$m" ]; then none=$((none + 1)); elif [ "$m" != "$last" ]; then changes=$((changes + 1)); last=$m; fi
    sleep 0.5
  done
  for p in "${PIDS_EXTRA[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; PIDS_EXTRA=()
  # A step-down and re-election by the same node between two samples shows only in the logs: count both role lines.
  local stepdowns elections; stepdowns=$(cat "$CLUSTER_DIR"/node*.log | grep -c "STANDBY:" || true)
  elections=$(cat "$CLUSTER_DIR"/node*.log | grep -c "MASTER:" || true)
  for f in "$CLUSTER_DIR"/node*.log; do cp "$f" "$OUT_DIR/cpu-$1-$(basename "$f")"; done
  echo "{\"label\":\"cpu\",\"profile\":\"$1\",\"seconds\":$CPU_SECONDS,\"samples\":$samples,\"noMasterSamples\":$none,\"masterChanges\":$changes,\"standbyLogLines\":$stepdowns,\"masterLogLines\":$elections}" >> "$RESULTS"
  log "$1: $samples samples, master changes $changes, samples without master $none, MASTER log lines $elections (1 = never re-elected), STANDBY log lines $stepdowns; node logs in $OUT_DIR"
  cluster_stop
}

log "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); results in $RESULTS"
for p in "${PROFILES[@]}"; do
  [ -f "$ROOT/hocon/$p" ] || { log "no profile hocon/$p: skipped"; continue; }
  case $WHAT in
    failover) bench_failover "$p" ;;
    cpu) bench_cpu "$p" ;;
    all) bench_failover "$p"; bench_cpu "$p" ;;
    *) echo "unknown mode $WHAT" >&2; exit 2 ;;
  esac
done

node - "$RESULTS" <<'JS'
const L = require('fs').readFileSync(process.argv[2], 'utf8').trim().split('\n').filter(Boolean).map(JSON.parse);
const med = a => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
for (const p of [...new Set(L.map(o => o.profile))]) {
  const F = L.filter(o => o.label === 'failover' && o.profile === p && !o.failed);
  if (F.length) console.log(`${p.padEnd(22)} kill->1st msg median ${med(F.map(o => o.firstMsgMs))} ms  runs [${F.map(o => o.firstMsgMs)}]  kill->port [${F.map(o => o.portOpenMs)}]  received [${F.map(o => o.received + '/' + o.sent)}]${L.some(o => o.profile === p && o.failed) ? '  (a run FAILED)' : ''}`);
  for (const c of L.filter(o => o.label === 'cpu' && o.profile === p))
    console.log(`${p.padEnd(22)} cpu-saturated ${c.seconds}s: master changes ${c.masterChanges}, samples without master ${c.noMasterSamples}/${c.samples}, MASTER lines ${c.masterLogLines} (1 = never re-elected), STANDBY lines ${c.standbyLogLines}`);
}
JS
cp "$RESULTS" "${KEEP_RESULTS:-/dev/null}" 2>/dev/null || true
