/**
 * Configuration export / import on real nodes (issue 10): an encrypted export taken on the
 * primary brings a changed cluster back (settings and users, on both nodes); and an import that
 * moves the management address away from the operator — applied from the operator's workstation
 * through the HTTPS API — is not confirmed, so the node puts the previous configuration back by
 * itself and the API answers on its old address again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { pack, unpack } from '../adapters/backup/archive.js';
import { cannotRun, remoteTandem, steady, tandem, waitFor, withLab } from './support.js';

const skip = cannotRun() ?? false;
const dir = mkdtempSync(join(tmpdir(), 'tandem-backup-system-'));
after(() => { rmSync(dir, { recursive: true, force: true }); });
process.env.TANDEM_KNOWN_NODES = join(dir, 'known-nodes.json');


interface Settings { resync_rate_mbit: number }
interface Users { users: { name: string }[] }
interface Imported { ok: boolean; applied: boolean; diff: string[]; messages: string[]; confirm_by: string | null }
type Out = { stdout: string };
const settingsOf = (r: Out): Settings => JSON.parse(r.stdout) as Settings;
const usersOf = (r: Out): Users => JSON.parse(r.stdout) as Users;
const importOf = (r: Out): Imported => JSON.parse(r.stdout) as Imported;
const pathOf = (r: Out): string => (JSON.parse(r.stdout) as { path: string }).path;

describe('configuration export and import on two real nodes (issue 10)', { skip }, () => {
  it('an encrypted export restores a changed cluster on both nodes; an import that cuts the management address rolls back by itself', async () => {
    await withLab('default', async (lab) => {
      const { primary, secondary } = await steady(lab);
      const pw = join(dir, 'pw');
      writeFileSync(pw, 'the export password of the system test\n');
      assert.equal((await tandem(lab, primary, ['user', 'add', 'alice', '--role', 'admin', '--password-file', pw])).code, 0);
      const token = (await tandem(lab, primary, ['user', 'token', 'alice'])).stdout.trim();
      const rate = settingsOf(await tandem(lab, primary, ['settings', 'show', '--json'])).resync_rate_mbit;

      // Export (encrypted: with the cluster key) and a plain one, on the primary.
      const out = join(dir, 'exports');
      rmSync(out, { recursive: true, force: true });
      await lab.exec(primary, ['mkdir', '-p', out]);
      const enc = await tandem(lab, primary, ['config', 'export', '--password-file', pw, '--out', out, '--json']);
      assert.equal(enc.code, 0, enc.stderr);
      const plain = await tandem(lab, primary, ['config', 'export', '--out', out, '--json']);
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stderr, /not encrypted/);
      const encPath = pathOf(enc);
      const plainPath = pathOf(plain);
      assert.match(encPath, /-\d{8}T\d{4}-encrypted\.config$/);
      assert.deepEqual(readdirSync(out).length, 2);

      // The cluster changes after the export: a setting, and a user added.
      assert.equal((await tandem(lab, primary, ['settings', 'set', '--resync-rate', String(rate + 7)])).code, 0);
      assert.equal((await tandem(lab, primary, ['user', 'add', 'bob', '--role', 'viewer', '--password-file', pw])).code, 0);
      await waitFor('bob on the secondary', 20_000, async () => (usersOf(await tandem(lab, secondary, ['user', 'list', '--json'])).users.some((u) => u.name === 'bob') ? true : undefined));

      // A wrong password: refused, nothing changed.
      const wrong = join(dir, 'wrong');
      writeFileSync(wrong, 'not the password at all\n');
      const refused = await tandem(lab, primary, ['config', 'import', encPath, '--password-file', wrong]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /password/);
      assert.equal(settingsOf(await tandem(lab, primary, ['settings', 'show', '--json'])).resync_rate_mbit, rate + 7);

      // The import brings the exported cluster back; the difference names what changed.
      const imp = await tandem(lab, primary, ['config', 'import', encPath, '--password-file', pw, '--confirm-timeout', '600', '--json']);
      assert.equal(imp.code, 0, imp.stderr);
      const r = importOf(imp);
      assert.ok(r.applied, JSON.stringify(r));
      assert.ok(r.diff.some((l) => /resync_rate_mbit/.test(l)), r.diff.join('\n'));
      assert.ok(r.diff.includes('user bob: removed'), r.diff.join('\n'));
      assert.equal(settingsOf(await tandem(lab, primary, ['settings', 'show', '--json'])).resync_rate_mbit, rate);
      // …and reaches the secondary like any configuration change.
      await waitFor('the imported users on the secondary', 20_000, async () => {
        const users = usersOf(await tandem(lab, secondary, ['user', 'list', '--json'])).users.map((u) => u.name);
        return !users.includes('bob') && users.includes('alice') ? true : undefined;
      });
      await waitFor('the imported settings on the secondary', 20_000, async () => (settingsOf(await tandem(lab, secondary, ['settings', 'show', '--json'])).resync_rate_mbit === rate ? true : undefined));
      assert.equal((await tandem(lab, primary, ['config', 'confirm'])).code, 0);
      assert.equal((await tandem(lab, primary, ['config', 'confirm'])).code, 1, 'nothing waits for confirmation any more');

      // An export whose management address is one the operator cannot reach (loopback only).
      const archive = unpack(readFileSync(plainPath));
      const doc = parseDocument(archive.config);
      doc.setIn(['api', 'listen'], '127.0.0.1:8443');
      const cut = join(dir, 'cut-management.config');
      writeFileSync(cut, pack({ ...archive, config: doc.toString() }));
      assert.equal((await remoteTandem(lab, primary, token, ['status', '--json'], 60_000)).code, 0);
      // Imported by the operator through the API: the reply still arrives, then the API moves.
      const moved = await remoteTandem(lab, primary, token, ['config', 'import', cut, '--confirm-timeout', '8', '--json'], 60_000);
      assert.equal(moved.code, 0, moved.stderr);
      const m = importOf(moved);
      assert.ok(m.messages.some((l) => /HTTPS API restarts on 127\.0\.0\.1:8443/.test(l)), m.messages.join('\n'));
      const unreachable = await remoteTandem(lab, primary, token, ['status', '--json'], 60_000);
      assert.notEqual(unreachable.code, 0, 'the management address is gone: the operator is locked out');
      // Nobody can confirm: the node restores the previous configuration by itself.
      await waitFor('the API back on the management address', 30_000, async () => ((await remoteTandem(lab, primary, token, ['status', '--json'], 60_000)).code === 0 ? true : undefined));
      const config = readFileSync(lab.configPath, 'utf8');
      assert.doesNotMatch(config, /127\.0\.0\.1:8443/);
      assert.equal((await tandem(lab, primary, ['config', 'confirm'])).code, 1, 'the rollback left nothing to confirm');
      assert.deepEqual(await steady(lab), { primary, secondary }, 'the service never moved');
    });
  });
});
