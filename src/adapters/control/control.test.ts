import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { controlRequest, sendAction } from './client.js';
import type { ControlAction } from './protocol.js';
import { startControlServer } from './server.js';

describe('control socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-control-'));
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('serves the status and actions, refuses a malformed action with the field and changes nothing', async () => {
    const socket = join(dir, 'control.sock');
    const seen: ControlAction[] = [];
    const server = await startControlServer(socket, {
      status: () => ({ role: 'primary' }),
      action: (a) => { seen.push(a); return { ok: true, messages: [`did ${a.type}`] }; },
    });
    try {
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      assert.deepEqual((await controlRequest(socket, 'GET', '/status')).body, { role: 'primary' });
      assert.deepEqual(await sendAction(socket, { type: 'takeover', force: true }), { ok: true, messages: ['did takeover'] });
      const bad = await controlRequest(socket, 'POST', '/action', { type: 'reboot', target: 'everyone' });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.body), /target/);
      const unknown = await controlRequest(socket, 'POST', '/action', { type: 'format-disk' });
      assert.equal(unknown.status, 400);
      assert.deepEqual(seen, [{ type: 'takeover', force: true }]);
    } finally {
      server.close();
    }
  });

  it('says plainly when the daemon is not running', async () => {
    await assert.rejects(controlRequest(join(dir, 'none.sock'), 'GET', '/status'), /daemon is not running/);
  });
});
