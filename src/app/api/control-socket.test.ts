import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { controlRequest, sendAction } from '../../adapters/control/client.js';
import type { ControlAction } from '../../adapters/control/protocol.js';
import type { NodeApp, StatusView } from '../node-app.js';
import { startControlSocket } from './control-socket.js';
import { OPERATIONS } from './operations.js';

/** A POST /action with a raw body, for what the client would never send. */
function postRaw(socketPath: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'POST', path: '/action', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString('utf8'); });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text }); });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('control socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-control-'));
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('serves the status and actions, refuses a malformed action with the field and changes nothing', async () => {
    const socket = join(dir, 'control.sock');
    const seen: ControlAction[] = [];
    // Only the two operations this test calls are wired.
    const app = {
      status: () => ({ role: 'primary' }) as unknown as StatusView,
      act: (a: ControlAction) => { seen.push(a); return Promise.resolve({ ok: true, messages: [`did ${a.type}`] }); },
    } as unknown as NodeApp;
    const server = await startControlSocket(socket, app, OPERATIONS);
    try {
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      assert.deepEqual((await controlRequest(socket, 'GET', '/status')).body, { role: 'primary' });
      assert.deepEqual(await sendAction(socket, { type: 'takeover', force: true }), { ok: true, messages: ['did takeover'] });
      const bad = await controlRequest(socket, 'POST', '/action', { type: 'reboot', target: 'everyone' });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.body), /target/);
      const unknown = await controlRequest(socket, 'POST', '/action', { type: 'format-disk' });
      assert.equal(unknown.status, 400);
      const notJson = await postRaw(socket, '{"type":');
      assert.equal(notJson.status, 400);
      assert.match(notJson.body, /not valid JSON/);
      assert.deepEqual(seen, [{ type: 'takeover', force: true }]);
    } finally {
      await server.close();
    }
  });

  it('says plainly when the daemon is not running', async () => {
    await assert.rejects(controlRequest(join(dir, 'none.sock'), 'GET', '/status'), /daemon is not running/);
  });
});
