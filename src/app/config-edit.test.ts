/** The configuration edits the HA page and the console menu make, judged by the loader itself. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../config/parse.js';
import { CONFIG_FILE, EXAMPLE } from '../config/fixtures.test-support.js';
import { applyChange, ConfigChange } from './config-edit.js';

const change = (c: unknown): ConfigChange => ConfigChange.parse(c);

describe('configuration edits: this node\'s addresses', () => {
  it('a valid heartbeat-path address is set in the document (comments kept), loads, and the other node is untouched', () => {
    const r = applyChange(EXAMPLE, CONFIG_FILE, 'a', change({ addresses: [{ interface: 'ext0', address: '192.0.2.20/24' }] }));
    assert.deepEqual(r.errors, []);
    const loaded = parseConfig(r.text, CONFIG_FILE);
    assert.ok(loaded.ok);
    assert.equal(loaded.config.nodes.a?.interfaces.ext0?.address, '192.0.2.20');
    assert.equal(loaded.config.nodes.b?.interfaces.ext0?.address, '192.0.2.12');
    assert.match(r.text, /# relative to this file/);
  });

  // The loader names the field it judges: the changed one, or the peer's that no longer fits it.
  const refused: [string, string, RegExp][] = [
    ['not an address', '999.1.1.1/30', /nodes\.a\.interfaces\.ha0\.address/],
    ['the other node\'s address', '203.0.113.2/30', /nodes\.[ab]\.interfaces\.ha0\.address/],
    ['another subnet than the peer', '198.51.100.200/24', /nodes\.[ab]\.interfaces\.ha0\.address/],
  ];
  for (const [what, address, field] of refused) {
    it(`refused with the loader's message: ${what}`, () => {
      const r = applyChange(EXAMPLE, CONFIG_FILE, 'a', change({ addresses: [{ interface: 'ha0', address }] }));
      assert.ok(r.errors.length > 0, 'refused');
      assert.ok(r.errors.some((e) => field.test(e.field)), JSON.stringify(r.errors));
    });
  }

  it('an interface the node does not have is refused, not added', () => {
    const r = applyChange(EXAMPLE, CONFIG_FILE, 'a', change({ addresses: [{ interface: 'eth9', address: '192.0.2.50/24' }] }));
    assert.deepEqual(r.errors, [{ field: 'nodes.a.interfaces.eth9', reason: 'node a has no interface eth9' }]);
    assert.equal(r.text, EXAMPLE);
  });
});
