/**
 * Alert webhooks against a real HTTP receiver on loopback: the body is signed (the receiver checks
 * the HMAC with the shared secret), a refusal is retried with backoff and the order kept, and an
 * alert raised while the receiver is down survives a restart of the service and arrives later.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AlertService, type Alert } from './alerts.js';

const dir = mkdtempSync(join(tmpdir(), 'tandem-alerts-'));
after(() => { rmSync(dir, { recursive: true, force: true }); });
const secretFile = join(dir, 'hook.secret');
writeFileSync(secretFile, 'the shared webhook secret', { mode: 0o600 });

interface Receiver { server: Server; url: string; got: Alert[]; refuseNext: number }

async function receiver(): Promise<Receiver> {
  const r: Receiver = { server: createServer(), url: '', got: [], refuseNext: 0 };
  r.server.on('request', (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString('utf8'); });
    req.on('end', () => {
      const want = `sha256=${createHmac('sha256', 'the shared webhook secret').update(body).digest('hex')}`;
      if (req.headers['x-tandem-signature'] !== want) { res.writeHead(401).end(); return; }
      if (r.refuseNext > 0) { r.refuseNext--; res.writeHead(503).end(); return; }
      r.got.push(JSON.parse(body) as Alert);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => { r.server.listen(0, '127.0.0.1', resolve); });
  const addr = r.server.address();
  r.url = `http://127.0.0.1:${String(typeof addr === 'object' && addr !== null ? addr.port : 0)}/hook`;
  return r;
}

const until = async (cond: () => boolean, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('alert webhooks', () => {
  it('signed, retried with backoff after a refusal, in order', async () => {
    const r = await receiver();
    const logs: string[] = [];
    const s = new AlertService({ stateDir: join(dir, 'a'), cluster: 'lab', node: 'a', config: () => ({ webhooks: [{ url: r.url, secretFile }] }), log: (_l, m) => { logs.push(m); } });
    try {
      r.refuseNext = 1;
      s.raise('ha', 'role-change', 'info', 'role secondary → primary');
      s.raise('ha', 'split-brain', 'error', 'split brain detected');
      // The receiver has the alert before the service has read its answer and updated the queue.
      await until(() => r.got.length === 2 && s.pending()[0]?.waiting === 0, 10_000);
      assert.deepEqual(r.got.map((a) => a.event), ['role-change', 'split-brain'], 'in the order raised, despite the retry');
      assert.equal(r.got[0]?.node, 'a');
      assert.ok(logs.some((l) => /HTTP 503; retrying with backoff/.test(l)), logs.join('\n'));
      assert.deepEqual(s.recent(10).map((a) => a.event), ['role-change', 'split-brain']);
      assert.equal(s.pending()[0]?.waiting, 0);
    } finally {
      s.close();
      r.server.close();
    }
  });

  it('an alert raised while the receiver is down survives a restart and arrives', async () => {
    const r = await receiver();
    const url = r.url;
    await new Promise<void>((resolve) => { r.server.close(() => { resolve(); }); });
    const config = () => ({ webhooks: [{ url, secretFile }] });
    const first = new AlertService({ stateDir: join(dir, 'b'), cluster: 'lab', node: 'b', config, log: () => undefined });
    first.raise('firmware', 'firmware-fallback', 'error', 'firmware slot 2 failed its trial');
    await until(() => (first.pending()[0]?.attempts ?? 0) >= 1, 5000);
    first.close();
    // The receiver comes back on the same port; the node restarts.
    const port = Number(new URL(url).port);
    await new Promise<void>((resolve) => { r.server.listen(port, '127.0.0.1', resolve); });
    const second = new AlertService({ stateDir: join(dir, 'b'), cluster: 'lab', node: 'b', config, log: () => undefined });
    try {
      await until(() => r.got.length === 1 && second.pending()[0]?.waiting === 0, 10_000);
      assert.equal(r.got[0]?.event, 'firmware-fallback');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(r.got.length, 1, 'once');
    } finally {
      second.close();
      r.server.close();
    }
  });
});
