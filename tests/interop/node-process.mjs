// Starts a real ActorBroker node process (standalone profile, temp data dir, free loopback ports)
// and stops it by PID. Used by the interop tests; the node dll path comes from ACTORBROKER_NODE_DLL
// (build.ps1 sets it) or the Release build output.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => res(port)); });
  });
}

function portOpen(port) {
  return new Promise(res => {
    const s = createConnection(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); res(true); });
    s.once('error', () => { s.destroy(); res(false); });
  });
}

export async function startNode({ timeoutMs = 60000 } = {}) {
  const dll = process.env.ACTORBROKER_NODE_DLL
    || join(repo, 'src', 'ActorBroker.Node', 'bin', 'Release', 'net10.0', 'ActorBroker.Node.dll');
  const dataDir = mkdtempSync(join(tmpdir(), 'actorbroker-interop-'));
  const port = await freePort();
  const output = [];
  const child = spawn('dotnet', [dll, '--config', join(repo, 'hocon', 'standalone.conf')], {
    env: { ...process.env, ACTORBROKER_DATA_DIR: dataDir, ACTORBROKER_STOMP_PORT: String(port), ACTORBROKER_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', d => output.push(d.toString()));
  child.stderr.on('data', d => output.push(d.toString()));
  const deadline = Date.now() + timeoutMs;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null) throw new Error(`node exited with ${child.exitCode}:\n${output.join('')}`);
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`STOMP port ${port} not open after ${timeoutMs} ms:\n${output.join('')}`); }
    await new Promise(r => setTimeout(r, 50));
  }
  return {
    port,
    pid: child.pid,
    output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise(r => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        const timer = setTimeout(() => { if (child.exitCode === null) process.kill(child.pid, 'SIGKILL'); }, 20000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
