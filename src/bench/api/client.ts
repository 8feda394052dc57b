/**
 * The load side of bench:api, run inside the lab's client namespace (192.0.2.100): HTTPS with a
 * keep-alive agent to a node's API, the token in every request.
 *
 *   node dist/bench/api/client.js latency URL TOKEN N          → {"ms":[…]} (N sequential GET /api/status)
 *   node dist/bench/api/client.js throughput URL TOKEN C SECS  → {"requests":R,"seconds":S,"errors":E}
 *   node dist/bench/api/client.js events URL TOKEN             → one line per status event: {"at":ms,"role":…}
 */
import { Agent, request } from 'node:https';

const [mode, url, token, a, b] = process.argv.slice(2);
if (mode === undefined || url === undefined || token === undefined) throw new Error('usage: MODE URL TOKEN …');
const base = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: false });

function get(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, path, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => { resolve(res.statusCode ?? 0); });
    });
    req.on('error', reject);
    req.end();
  });
}

if (mode === 'latency') {
  const n = Number(a ?? 500);
  const ms: number[] = [];
  for (let i = 0; i < 20; i++) await get('/api/status');
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    if (await get('/api/status') !== 200) throw new Error('status refused');
    ms.push(performance.now() - t);
  }
  process.stdout.write(`${JSON.stringify({ ms })}\n`);
} else if (mode === 'throughput') {
  const concurrency = Number(a ?? 16);
  const seconds = Number(b ?? 10);
  const end = performance.now() + seconds * 1000;
  let requests = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      try { if (await get('/api/status') === 200) requests++; else errors++; } catch { errors++; }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  process.stdout.write(`${JSON.stringify({ requests, errors, seconds: (performance.now() - started) / 1000 })}\n`);
  agent.destroy();
} else if (mode === 'events') {
  const req = request({ host: base.hostname, port: base.port, path: '/api/events', agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
    res.setEncoding('utf8');
    let buf = '';
    res.on('data', (chunk: string) => {
      const at = performance.timeOrigin + performance.now();
      buf += chunk;
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (\w+)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== 'status' || data === undefined) continue;
        const s = JSON.parse(data) as { this_node?: { role?: string } };
        process.stdout.write(`${JSON.stringify({ at, role: s.this_node?.role ?? null })}\n`);
      }
    });
  });
  req.end();
} else {
  throw new Error(`unknown mode ${mode}`);
}
