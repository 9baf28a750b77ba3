#!/usr/bin/env bash
# Soak: N consecutive kill -9 failovers per profile under continuous load, counting lost and duplicated messages.
# A failover client (embedded below, plain node:net, no packages) rotates over every node's STOMP port like a client
# with an address list: the producer sends persistent messages one at a time with a receipt each (resending after
# a stall, error or close; every attempt has its own send-id), the consumer uses ack:client-individual and fails over
# on close or 3 s of heart-beat silence. After the last failover it stops producing, drains, and reports:
#   lost            receipted send-ids never consumed                    (must be 0)
#   dupUnflagged    repeated deliveries of a send-id without redelivered:true (must be 0)
#   dupFlagged      repeated deliveries flagged redelivered:true          (allowed: at-least-once after a crash)
#   resent          producer attempts without a receipt (resent as a new send-id; not broker duplicates)
#   tests/bench/soak.sh [PROFILE...]        (default: shared-file sql-sqlite sql-postgres replicated replicated-raft)
# Env: FAILOVERS (10), INTERVAL (4 s of load between takeover and the next kill), CONFIGURATION (Debug).
# The killed master restarts as a standby after each takeover. Every process is stopped by PID (EXIT trap).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=failover-bench.sh
source "$HERE/failover-bench.sh"
FAILOVERS=${FAILOVERS:-10}; INTERVAL=${INTERVAL:-4}
PROFILES=("$@"); [ ${#PROFILES[@]} -gt 0 ] || PROFILES=(shared-file.conf sql-sqlite.conf sql-postgres.conf replicated.conf replicated-raft.conf)
[ -f "$NODE_DLL" ] || { echo "build the node first: $NODE_DLL" >&2; exit 2; }
CLIENT="$WORK/soak-client.mjs"
cat > "$CLIENT" <<'JS'
// usage: node soak-client.mjs PORT,PORT,... QUEUE   (SIGTERM: stop producing, drain, print RESULT {json})
import net from 'node:net';
const ports = process.argv[2].split(',').map(Number), dest = `/queue/${process.argv[3]}`;
const esc = s => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/:/g, '\\c').replace(/\r/g, '\\r');
const unesc = s => s.replace(/\\(.)/g, (_, c) => ({ n: '\n', c: ':', r: '\r', '\\': '\\' })[c] ?? c);
const frame = (cmd, h, body = '') => cmd + '\n' + Object.entries(h).map(([k, v]) => `${esc(k)}:${esc(String(v))}`).join('\n') + '\n\n' + body + '\0';
const sleep = ms => new Promise(r => setTimeout(r, ms));
let stopping = false; process.on('SIGTERM', () => { stopping = true; });

class Conn { // one STOMP session; frames are queued, heart-beats refresh lastSign
  constructor(sock) { this.sock = sock; this.buf = ''; this.frames = []; this.waiters = []; this.closed = false; this.lastSign = Date.now();
    sock.setEncoding('utf8');
    sock.on('data', d => { this.lastSign = Date.now(); this.buf += d; this.parse(); });
    sock.on('close', () => { this.closed = true; this.wake(); }); sock.on('error', () => {}); }
  parse() { for (;;) { this.buf = this.buf.replace(/^[\r\n]+/, ''); const z = this.buf.indexOf('\0'); if (z < 0) return;
      const raw = this.buf.slice(0, z); this.buf = this.buf.slice(z + 1); const sep = raw.indexOf('\n\n');
      const lines = raw.slice(0, sep < 0 ? raw.length : sep).split('\n'); const h = {};
      for (const l of lines.slice(1)) { const i = l.indexOf(':'); const k = unesc(l.slice(0, i)); if (!(k in h)) h[k] = unesc(l.slice(i + 1)); }
      this.frames.push({ cmd: lines[0], h }); this.wake(); } }
  wake() { const w = this.waiters; this.waiters = []; w.forEach(f => f()); }
  send(s) { if (!this.closed) this.sock.write(s); }
  async next(ms) { const end = Date.now() + ms;
    while (!this.frames.length && !this.closed && Date.now() < end) await new Promise(r => { this.waiters.push(r); setTimeout(r, Math.min(100, end - Date.now())); });
    return this.frames.shift() ?? null; }
  close() { this.closed = true; this.sock.destroy(); }
}
async function connectAny(start) { // rotate over the ports until one answers CONNECTED
  for (let a = start; ; a++) {
    const port = ports[a % ports.length];
    const sock = net.connect(port, '127.0.0.1'); const c = new Conn(sock);
    const ok = await new Promise(r => { sock.once('connect', () => r(true)); sock.once('error', () => r(false)); setTimeout(() => r(false), 3000); });
    if (ok) { c.send(frame('CONNECT', { 'accept-version': '1.2', host: 'localhost', 'heart-beat': '0,500' }));
      const f = await c.next(3000); if (f && f.cmd === 'CONNECTED') return { c, port, a }; }
    c.close(); if (a % ports.length === ports.length - 1) await sleep(50);
  }
}
const receipted = new Set(), deliveries = new Map(); let resent = 0, dupFlagged = 0, dupUnflagged = 0, consumed = 0, reconnects = 0;
async function producer() {
  let conn = null, seq = 0, attempt = 0, idx = 0;
  while (!stopping) {
    if (!conn) { const r = await connectAny(idx); conn = r.c; idx = r.a; }
    const id = `${seq}.${attempt++}`;
    conn.send(frame('SEND', { destination: dest, persistent: 'true', 'send-id': id, receipt: id }, `message ${seq}`));
    const f = await conn.next(5000);
    if (f && f.cmd === 'RECEIPT' && f.h['receipt-id'] === id) { receipted.add(id); seq++; continue; }
    resent++; conn.close(); conn = null; idx++;
  }
  if (conn) conn.close();
}
let lastDelivery = Date.now();
async function consumer(done) {
  let idx = 0;
  while (!done()) {
    const { c, a } = await connectAny(idx); idx = a;
    c.send(frame('SUBSCRIBE', { id: 's', destination: dest, ack: 'client-individual', 'activemq.prefetchSize': '50' }));
    while (!done() && !c.closed && Date.now() - c.lastSign < 3000) {
      const f = await c.next(500); if (!f) continue; if (f.cmd === 'ERROR') break; if (f.cmd !== 'MESSAGE') continue;
      consumed++; lastDelivery = Date.now(); const id = f.h['send-id'];
      if (deliveries.has(id)) { if (f.h.redelivered === 'true') dupFlagged++; else dupUnflagged++; }
      deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
      c.send(frame('ACK', { id: f.h.ack ?? f.h['message-id'] }));
    }
    c.close(); reconnects++; idx++;
  }
}
const drained = () => stopping && [...receipted].every(id => deliveries.has(id)) && Date.now() - lastDelivery > 3000;
let deadline = 0;
const cons = consumer(() => drained() || (deadline && Date.now() > deadline));
await producer(); deadline = Date.now() + 120000; await cons;
const lost = [...receipted].filter(id => !deliveries.has(id));
console.log('RESULT ' + JSON.stringify({ receipted: receipted.size, consumed, unique: deliveries.size, lost: lost.length,
  lostSample: lost.slice(0, 10), dupFlagged, dupUnflagged, resent, consumerReconnects: reconnects }));
process.exit(0);
JS

SOAK_RESULTS="$OUT_DIR/soak.jsonl"
for p in "${PROFILES[@]}"; do
  [ -f "$ROOT/hocon/$p" ] || { log "no profile hocon/$p: skipped"; continue; }
  cluster_create "$p" "$(size_for "$p")"; cluster_start
  ports=$(IFS=,; echo "${STOMP[*]}")
  node "$CLIENT" "$ports" "soak" > "$WORK/client.out" 2>&1 & CLIENT_PID=$!; PIDS_EXTRA+=("$CLIENT_PID")
  done_failovers=0; times=()
  for k in $(seq 1 "$FAILOVERS"); do
    m=$(wait_master 60) || { log "$p: no master before kill $k"; break; }
    sleep "$INTERVAL"
    t0=$(now_ms); node_kill "$m"
    n=$(wait_master 60) || { log "$p: no successor after kill $k"; break; }
    t=$(( $(now_ms) - t0 )); times+=("$t"); done_failovers=$k
    log "$p failover $k: node$m -> node$n, port open after ${t} ms"
    from=$(( $(wc -l < "$CLUSTER_DIR/node$m.log") + 1 ))
    node_start "$m"; wait_output "$m" "Welcome from" 120 "$from" || break
  done
  kill -TERM "$CLIENT_PID"; wait "$CLIENT_PID" || true
  r=$(sed -n 's/^RESULT //p' "$WORK/client.out")
  [ -n "$r" ] || { log "$p: soak client printed no result"; cat "$WORK/client.out" >&2; r='{}'; }
  line=$(node -e 'const o=JSON.parse(process.argv[1]); Object.assign(o,{profile:process.argv[2],failovers:+process.argv[3],portOpenMsMedian:+process.argv[4]}); console.log(JSON.stringify(o))' \
    "$r" "$p" "$done_failovers" "$(median "${times[@]:-0}")")
  echo "$line" >> "$SOAK_RESULTS"; log "$p: $line"
  cluster_stop
done
cat "$SOAK_RESULTS"
