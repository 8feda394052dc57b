/**
 * Alerts and the System monitor on real nodes (issue 10): a webhook receiver in the client's
 * namespace gets the takeover's alert, signed with the webhook's secret; an alert raised while
 * the receiver is down waits in the node's persisted queue across a restart of the node and
 * arrives, once, when the receiver is back. `tandem monitor --json` and the Prometheus metrics
 * (scraped with an API token from the client) show the same node.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { NEXT_HOPS } from '../lab/topology.js';
import { Lab } from '../lab/lab.js';
import { blockAddress, cannotRun, sleep, steady, tandem, waitFor } from './support.js';

const skip = cannotRun() ?? false;
const CLIENT = '192.0.2.100';
const PORT = 9099;
const SECRET = 'webhook secret of the alerts system test';

interface Received { readonly id: string; readonly node: string; readonly event: string; readonly message: string; readonly signed: boolean }

/** The receiver: a Node HTTP server in the client namespace printing each POST as a JSON line. */
const RECEIVER = `
const http = require('node:http');
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    process.stdout.write(JSON.stringify({ signature: req.headers['x-tandem-signature'] ?? '', body }) + '\\n');
    res.end('ok');
  });
}).listen(${String(PORT)}, '${CLIENT}', () => process.stdout.write('listening\\n'));
`;

class Receiver {
  readonly got: Received[] = [];
  private child: ChildProcess | null = null;
  constructor(private readonly lab: Lab) {}

  async start(): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', this.lab.ns('client'), process.execPath, '-e', RECEIVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    let buf = '';
    let listening = false;
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'listening') { listening = true; continue; }
        const { signature, body } = JSON.parse(line) as { signature: string; body: string };
        const alert = JSON.parse(body) as Omit<Received, 'signed'>;
        const expected = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
        this.got.push({ id: alert.id, node: alert.node, event: alert.event, message: alert.message, signed: signature === expected });
      }
    });
    await waitFor('the webhook receiver', 10_000, () => Promise.resolve(listening ? true : undefined));
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === null || child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
    this.child = null;
  }
}

describe('alerts and the System monitor on real nodes (issue 10)', { skip }, () => {
  it('a takeover reaches the webhook signed; an alert queued while it is down survives a restart and arrives once; monitor and metrics answer', async () => {
    const lab = new Lab({ timing: 'default' });
    const receiver = new Receiver(lab);
    try {
      await lab.up({ start: false });
      const secretFile = join(lab.dir, 'webhook.secret');
      writeFileSync(secretFile, SECRET, { mode: 0o600 });
      appendFileSync(join(lab.dir, 'cluster.yaml'), `\nalerts:\n  webhooks:\n    - url: http://${CLIENT}:${String(PORT)}/alerts\n      secret_file: ${secretFile}\n`);
      await receiver.start();
      await lab.start('a');
      await lab.start('b');
      const { primary, secondary } = await steady(lab);

      // The primary loses its next hop on ext: the secondary takes over and says so.
      await blockAddress(lab, primary, NEXT_HOPS.ext);
      const takeover = await waitFor('the takeover alert at the webhook', 20_000, () => Promise.resolve(
        receiver.got.find((a) => a.node === secondary && a.event === 'role-change' && a.message.includes('→ primary'))));
      assert.ok(takeover.signed, 'the alert carries the HMAC of its body under the webhook secret');

      // The System monitor of the new primary lists the old primary's lost next hop nowhere (it is the
      // other node's), its own state in full, and the alert.
      const mon = await tandem(lab, secondary, ['monitor', '--json']);
      assert.equal(mon.code, 0, mon.stderr);
      const m = JSON.parse(mon.stdout) as { status: { this_node: { role: string } }; host: { disks: unknown[]; load: number[] }; alerts: { event: string }[]; issues: string[] };
      assert.equal(m.status.this_node.role, 'primary');
      assert.ok(m.host.disks.length > 0 && m.host.load.length === 3);
      assert.ok(m.alerts.some((a) => a.event === 'role-change'));
      const text = await tandem(lab, secondary, ['monitor']);
      assert.match(text.stdout, /Load {8}[\d.]+ [\d.]+ [\d.]+/);

      // Metrics, scraped as Prometheus would, with a token, from the client.
      const pw = join(lab.dir, 'pw');
      writeFileSync(pw, 'a long enough password\n');
      assert.equal((await tandem(lab, secondary, ['user', 'add', 'prom', '--role', 'viewer', '--password-file', pw])).code, 0);
      const token = (await tandem(lab, secondary, ['user', 'token', 'prom'])).stdout.trim();
      const scrape = await lab.exec('client', ['curl', '-sk', '-H', `authorization: Bearer ${token}`, `https://192.0.2.${secondary === 'a' ? '11' : '12'}:8443/metrics`]);
      assert.match(scrape.stdout, /^tandem_role\{role="primary"\} 1$/m, scrape.stdout.slice(0, 2000));
      assert.match(scrape.stdout, /^tandem_probe_rtt_seconds_count\{interface="ext0",target="192\.0\.2\.1"\} \d+$/m);
      assert.match(scrape.stdout, /^tandem_heartbeats_accepted_total \d+$/m);
      assert.match(scrape.stdout, /^tandem_sync_lag_seconds [\d.e-]+$/m);
      assert.match(scrape.stdout, /^tandem_sync_replication_lag_seconds_count \d+$/m);
      const anonymous = await lab.exec('client', ['curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}', `https://192.0.2.${secondary === 'a' ? '11' : '12'}:8443/metrics`]);
      assert.equal(anonymous.stdout, '401');

      // The receiver goes down; an alert raised now waits, survives a restart of the node, and arrives once.
      await receiver.stop();
      const raised = await tandem(lab, primary, ['alerts', 'test', '--json']);
      assert.equal(raised.code, 0, raised.stderr);
      const id = /test alert ([0-9a-f]+) raised/.exec(raised.stdout)?.[1];
      assert.ok(id !== undefined, raised.stdout);
      await waitFor('a failed delivery attempt', 15_000, async () => {
        const list = JSON.parse((await tandem(lab, primary, ['alerts', '--json'])).stdout) as { delivery: { waiting: number; lastError: string | null }[] };
        return list.delivery[0]?.lastError !== null && (list.delivery[0]?.waiting ?? 0) > 0 ? true : undefined;
      });
      await lab.restart(primary);
      await sleep(2000);
      await receiver.start();
      await waitFor('the queued alert after the restart', 90_000, () => Promise.resolve(receiver.got.some((a) => a.id === id) ? true : undefined));
      await sleep(3000);
      assert.equal(receiver.got.filter((a) => a.id === id).length, 1, 'delivered exactly once');
      assert.ok(receiver.got.filter((a) => a.id === id).every((a) => a.signed));
    } finally {
      await receiver.stop();
      await lab.down();
    }
  });
});
