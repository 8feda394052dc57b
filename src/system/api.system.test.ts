/**
 * The HTTPS API of real nodes in the lab (issue 9): every read the CLI makes in remote mode
 * (`tandem --url https://NODE:8443 --token … COMMAND --json`, run from the client's namespace,
 * the certificate pinned on first use) answers, and every reply validates against the OpenAPI
 * document the node serves — so the document describes what the daemon really sends. Also:
 * a change made remotely lands (and is in the audit log with who and from where), a viewer's
 * token is refused a change, and the users made on the primary reach the secondary.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import type { Lab, NodeName } from '../lab/lab.js';
import { cannotRun, EXT_ADDRESS, remoteTandem, steady, tandem, waitFor, withLab } from './support.js';

const skip = cannotRun() ?? false;
const dir = mkdtempSync(join(tmpdir(), 'tandem-api-system-'));
after(() => { rmSync(dir, { recursive: true, force: true }); });
// The remote CLI pins the nodes' certificates here, not in the home directory of whoever runs the tests.
process.env.TANDEM_KNOWN_NODES = join(dir, 'known-nodes.json');

interface OpenApi { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> }


/** A GET with the token, from the client namespace (curl: the certificate is the pinned one's business, not this test's). */
async function get(lab: Lab, node: NodeName, token: string, path: string): Promise<unknown> {
  const r = await lab.exec('client', ['curl', '-sk', '-H', `authorization: Bearer ${token}`, `https://${EXT_ADDRESS[node]}:8443${path}`]);
  return JSON.parse(r.stdout) as unknown;
}

describe('the HTTPS API of two real nodes (issue 9)', { skip }, () => {
  it('every remote read validates against the served OpenAPI document; changes land, are audited, and need an admin', async () => {
    await withLab('default', async (lab) => {
      const { primary, secondary } = await steady(lab);
      const pw = join(dir, 'pw');
      writeFileSync(pw, 'a long enough password\n');
      assert.equal((await tandem(lab, primary, ['user', 'add', 'alice', '--role', 'admin', '--password-file', pw])).code, 0);
      assert.equal((await tandem(lab, primary, ['user', 'add', 'victor', '--role', 'viewer', '--password-file', pw])).code, 0);
      const token = (await tandem(lab, primary, ['user', 'token', 'alice', '--label', 'system test'])).stdout.trim();
      const viewerToken = (await tandem(lab, primary, ['user', 'token', 'victor'])).stdout.trim();
      assert.match(token, /^tdm_[0-9a-f]{12}_/);

      const doc = await get(lab, primary, token, '/api/openapi.json') as OpenApi;
      const ajv = new Ajv2020.default({ strict: false, allErrors: true });
      const schemaOf = (path: string): object => {
        const s = doc.paths[path]?.get?.responses['200']?.content?.['application/json']?.schema;
        assert.ok(s !== undefined, `no 200 schema for GET ${path}`);
        return s;
      };
      const reads: readonly [readonly string[], string][] = [
        [['status'], '/api/status'],
        [['status', '--other'], '/api/peer/status'],
        [['firmware', 'list'], '/api/firmware'],
        [['firmware', 'list', '--other'], '/api/peer/firmware'],
        [['firmware', 'checklist'], '/api/firmware/checklist'],
        [['version'], '/api/version'],
        [['settings', 'show'], '/api/settings'],
        [['user', 'list'], '/api/users'],
        [['user', 'tokens'], '/api/tokens'],
        [['audit'], '/api/audit'],
        [['monitor'], '/api/monitor'],
        [['alerts'], '/api/alerts'],
      ];
      for (const node of [primary, secondary]) {
        // The users made on the primary reach the secondary through data sync.
        await waitFor(`the token works on ${node}`, 20_000, async () => ((await remoteTandem(lab, node, token, ['status', '--json'])).code === 0 ? true : undefined));
        for (const [args, path] of reads) {
          const r = await remoteTandem(lab, node, token, [...args, '--json']);
          assert.equal(r.code, 0, `${args.join(' ')} on ${node}: ${r.stderr}`);
          const validate = ajv.compile(schemaOf(path));
          const body = JSON.parse(r.stdout) as unknown;
          assert.ok(validate(body), `${args.join(' ')} on ${node} does not match the OpenAPI document: ${ajv.errorsText(validate.errors)}`);
        }
      }

      // A change through the API lands, and the audit log says who and from where.
      const set = await remoteTandem(lab, primary, token, ['settings', 'set', '--resync-rate', '25', '--json']);
      assert.equal(set.code, 0, set.stderr);
      const shown = JSON.parse((await tandem(lab, primary, ['settings', 'show', '--json'])).stdout) as { resync_rate_mbit: number };
      assert.equal(shown.resync_rate_mbit, 25);
      const audit = JSON.parse((await tandem(lab, primary, ['audit', '--json'])).stdout) as { entries: { user: string; from: string; op: string; ok: boolean }[] };
      assert.ok(audit.entries.some((e) => e.op === 'settingsChange' && e.ok && e.user.startsWith('alice') && e.from === '192.0.2.100'), JSON.stringify(audit.entries.slice(-5)));

      // A viewer reads everything and changes nothing.
      assert.equal((await remoteTandem(lab, primary, viewerToken, ['firmware', 'list', '--json'])).code, 0);
      const refused = await remoteTandem(lab, primary, viewerToken, ['settings', 'set', '--resync-rate', '30']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /victor .* is a viewer/);
      const after = JSON.parse((await tandem(lab, primary, ['settings', 'show', '--json'])).stdout) as { resync_rate_mbit: number };
      assert.equal(after.resync_rate_mbit, 25, 'nothing changed');
    });
  });
});
