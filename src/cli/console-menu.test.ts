/**
 * The console menu's state machine, table-driven: from a state, a sequence of events (keys and
 * the results of requests) → the screen it shows and the requests it makes. Plus the screen's
 * fit (80×24) and the key decoding of a raw terminal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigView } from '../app/config-edit.js';
import type { FirmwareList, SlotRow } from '../app/firmware/schemas.js';
import type { NodeStatus } from '../core/ha/status.js';
import { decodeKeys, HEIGHT, initialState, start, step, WIDTH, wrap, type Event, type Key, type Request, type State, type Step } from './console-menu.js';

const k = (ch: string): Event => ({ kind: 'key', key: ch.length === 1 ? { kind: 'char', ch } : { kind: ch as Exclude<Key['kind'], 'char'> } });

const STATUS: NodeStatus = {
  cluster: { name: 'lab', status: 'HA', redundant_heartbeat: 'ok', timing: 'default' },
  this_node: { name: 'a', role: 'primary', serving: true, reason: 'elected' },
  other_node: { name: 'b', role: 'secondary', reachable: true },
  heartbeat_paths: [{ path: 'ha0', ha_link: true, up: true }],
  next_hops: [],
  sync: { state: 'UpToDate', generation: 'g1' },
  takeover_veto: null,
} as unknown as NodeStatus;

const row = (slot: number, extra: Partial<SlotRow> = {}): SlotRow => ({
  slot, state: slot === 0 ? 'committed' : 'empty', version: slot === 0 ? '0.9.0' : null, type: slot === 0 ? 'factory' : null,
  published: null, current: false, after_reboot: false, previous: false, installed_at: null, origin: null, key_id: null, bundle_sha256: null, failure: null, ...extra,
});
const LIST: FirmwareList = {
  node: 'a', events: [],
  slots: [row(0, { previous: true }), row(1, { state: 'committed', version: '1.1.0', type: 'feature', current: true, after_reboot: true }), row(2)],
};
const NO_PREVIOUS: FirmwareList = { ...LIST, slots: LIST.slots.map((s) => ({ ...s, previous: false })) };

const VIEW: ConfigView = {
  node: 'a', other_node: 'b', heartbeat: ['ext0'], resync_rate_mbit: 10,
  interfaces: [
    { interface: 'ext0', ha_link: false, this_node: { address: '192.0.2.11/24', next_hops: [] }, other_node: { address: '192.0.2.12/24', next_hops: [] } },
    { interface: 'ha0', ha_link: true, this_node: { address: '203.0.113.1/30', next_hops: [] }, other_node: { address: '203.0.113.2/30', next_hops: [] } },
    { interface: 'int0', ha_link: false, this_node: { address: '198.51.100.11/24', next_hops: [] }, other_node: null },
  ],
};

const down = (error = 'the node daemon is not running (no control socket at /s/control.sock)') => ({ ok: false as const, error });

interface Row {
  readonly name: string;
  readonly events: readonly Event[];
  /** The requests of the last step. */
  readonly requests: readonly Request[];
  /** Text the last screen shows (each a substring of some line), and text it must not. */
  readonly shows: readonly (string | RegExp)[];
  readonly hides?: readonly string[];
  readonly screen?: State['screen'];
}

const rows: Row[] = [
  { name: 'the main menu', events: [], requests: [], screen: 'main', shows: ['Tandem console - node a', '> 1) Status', '2) Firmware management', '3) HA address', '4) Support bundle', '5) Reboot this node', '6) Shut down this node', '7) Shell', '0) Quit'] },
  { name: 'arrow down moves the highlight, and wraps', events: [k('down'), k('down')], requests: [], shows: ['> 3) HA address'] },
  { name: 'arrow up from the top wraps to Quit', events: [k('up')], requests: [], shows: ['> 0) Quit'] },
  { name: 'Enter chooses the highlighted line', events: [k('down'), k('enter')], requests: [{ kind: 'load-firmware' }], screen: 'firmware', shows: ['Please wait: reading the firmware slots'] },
  { name: 'a number chooses directly', events: [k('1')], requests: [{ kind: 'load-status' }], screen: 'status', shows: ['Please wait'] },
  { name: 'status shows the node\'s status', events: [k('1'), { kind: 'status', result: { ok: true, value: STATUS } }], requests: [], shows: ['Cluster lab: HA', 'This node   a: primary (serving)', 'r) refresh'] },
  { name: 'status refreshes', events: [k('1'), { kind: 'status', result: { ok: true, value: STATUS } }, k('r')], requests: [{ kind: 'load-status' }], shows: ['Please wait'] },
  { name: 'status says when the daemon is not reachable', events: [k('1'), { kind: 'status', result: down() }], requests: [], shows: ['The node daemon is not reachable: the node daemon is not running'] },
  { name: 'keys wait while a request runs', events: [k('1'), k('0')], requests: [], screen: 'status', shows: ['Please wait'] },
  { name: 'Esc goes back to the main menu', events: [k('1'), { kind: 'status', result: { ok: true, value: STATUS } }, k('escape')], requests: [], screen: 'main', shows: ['> 1) Status'] },
  { name: 'the firmware list', events: [k('2'), { kind: 'firmware', result: { ok: true, value: { list: LIST, offline: false } } }], requests: [], shows: ['SLOT', 'AFTER REBOOT', /^1\s+committed\s+1\.1\.0/, '1) Activate the previous slot (takes effect at reboot)', '2) Version details'], hides: ['not running'] },
  { name: 'the firmware list read from disk when no daemon runs', events: [k('2'), { kind: 'firmware', result: { ok: true, value: { list: LIST, offline: true } } }], requests: [], shows: ['The node daemon is not running: the slots are read from disk', 'SLOT'] },
  { name: 'activate previous asks first, naming the slot and that it takes effect at reboot', events: [k('2'), { kind: 'firmware', result: { ok: true, value: { list: LIST, offline: false } } }, k('1')], requests: [], screen: 'confirm', shows: ['Activate the previous firmware: slot 0, Tandem 0.9.0 (factory)?', 'It takes effect at the next reboot', 'y) confirm'] },
  { name: 'n cancels: back to the list, nothing asked but the list', events: [k('2'), { kind: 'firmware', result: { ok: true, value: { list: LIST, offline: false } } }, k('1'), k('n')], requests: [{ kind: 'load-firmware' }], screen: 'firmware', shows: [] },
  { name: 'y activates', events: [k('2'), { kind: 'firmware', result: { ok: true, value: { list: LIST, offline: false } } }, k('1'), k('y')], requests: [{ kind: 'activate-previous' }], screen: 'firmware', shows: ['Please wait: selecting the previous firmware'] },
  {
    name: 'the activation\'s answer, then any key back to a fresh list',
    events: [k('2'), { kind: 'firmware', result: { ok: true, value: { list: LIST, offline: false } } }, k('1'), k('y'),
      { kind: 'activated', result: { ok: true, value: { ok: true, report: null, activation: 'x', offline: false, messages: ['slot 0 (the factory firmware) boots after the next reboot'] } } }],
    requests: [], screen: 'result', shows: ['Previous firmware selected', 'slot 0 (the factory firmware) boots after the next reboot', 'It takes effect at the next reboot'],
  },
  { name: 'a refused activation shows why', events: [k('2'), { kind: 'firmware', result: { ok: true, value: { list: LIST, offline: false } } }, k('1'), k('y'), { kind: 'activated', result: { ok: true, value: { ok: false, report: null, activation: null, offline: true, messages: ['slot 0 not selected: its Test failed'] } } }], requests: [], shows: ['Previous firmware NOT selected', 'done on the slot store directly', 'its Test failed'] },
  { name: 'no previous firmware: said, nothing asked', events: [k('2'), { kind: 'firmware', result: { ok: true, value: { list: NO_PREVIOUS, offline: false } } }, k('1')], requests: [], screen: 'firmware', shows: ['no previous firmware'] },
  { name: 'version details', events: [k('2'), { kind: 'firmware', result: { ok: true, value: { list: LIST, offline: false } } }, k('2')], requests: [{ kind: 'load-versions' }], screen: 'versions', shows: ['Please wait'] },
  { name: 'version details without a daemon', events: [k('2'), { kind: 'firmware', result: { ok: true, value: { list: LIST, offline: true } } }, k('2'), { kind: 'versions', result: down() }], requests: [], shows: ['The node daemon is not reachable'] },
  { name: 'HA address: the HA link first, then the heartbeat paths', events: [k('3'), { kind: 'addresses', result: { ok: true, value: VIEW } }], requests: [], shows: [/^1\) ha0\s+203\.0\.113\.1\/30\s+HA link/, /^2\) ext0\s+192\.0\.2\.11\/24\s+heartbeat/], hides: ['int0'] },
  { name: 'HA address: choosing one opens its editor', events: [k('3'), { kind: 'addresses', result: { ok: true, value: VIEW } }, k('1')], requests: [], screen: 'edit-address', shows: ['Interface ha0, now 203.0.113.1/30.', '> _'] },
  { name: 'HA address: typing, erasing and Enter ask for the change', events: [k('3'), { kind: 'addresses', result: { ok: true, value: VIEW } }, k('1'), ...'203.0.113.99'.split('').map(k), k('backspace'), k('/'), k('3'), k('0'), k('enter')], requests: [{ kind: 'change-address', interface: 'ha0', address: '203.0.113.9/30' }], shows: ['Please wait: checking and saving the address'] },
  {
    name: 'HA address refused: the loader\'s message, nothing changed',
    events: [k('3'), { kind: 'addresses', result: { ok: true, value: VIEW } }, k('1'), k('x'), k('enter'),
      { kind: 'address-changed', result: { ok: true, value: { ok: false, errors: [{ field: 'nodes.a.interfaces.ha0.address', reason: 'x is not an IPv4 address' }], messages: ['the configuration was not changed'] } } }],
    requests: [], screen: 'result', shows: ['HA address refused: nothing changed', 'nodes.a.interfaces.ha0.address: x is not an IPv4 address', 'the configuration was not changed'],
  },
  { name: 'HA address: Esc cancels the edit', events: [k('3'), { kind: 'addresses', result: { ok: true, value: VIEW } }, k('1'), k('x'), k('escape')], requests: [{ kind: 'load-addresses' }], screen: 'addresses', shows: [] },
  { name: 'HA address: an empty address is not sent', events: [k('3'), { kind: 'addresses', result: { ok: true, value: VIEW } }, k('1'), k('enter')], requests: [], screen: 'edit-address', shows: ['type the new address'] },
  { name: 'HA address without a daemon', events: [k('3'), { kind: 'addresses', result: down() }], requests: [], shows: ['The node daemon is not reachable'] },
  { name: 'support bundle', events: [k('4')], requests: [{ kind: 'support-bundle' }], screen: 'main', shows: ['Please wait: writing the support bundle'] },
  { name: 'support bundle written: its path', events: [k('4'), { kind: 'bundle', result: { ok: true, value: { file: '/root/tandem-support-a.tar.gz', bytes: 1234 } } }], requests: [], shows: [/^Support bundle written to:$/, /^\/root\/tandem-support-a\.tar\.gz$/, '1234 bytes'] },
  { name: 'support bundle without a daemon', events: [k('4'), { kind: 'bundle', result: down() }], requests: [], shows: ['No support bundle', 'The node daemon is not reachable'] },
  { name: 'reboot asks first', events: [k('5')], requests: [], screen: 'confirm', shows: ['Reboot node a now?', 'hands its service over'] },
  { name: 'reboot confirmed', events: [k('5'), k('y')], requests: [{ kind: 'power', action: 'reboot' }], screen: 'main', shows: ['Please wait: asking the node to reboot'] },
  { name: 'reboot cancelled', events: [k('5'), k('escape')], requests: [], screen: 'main', shows: ['> 5) Reboot this node'] },
  { name: 'shutdown confirmed, refused without a daemon', events: [k('6'), k('y'), { kind: 'powered', action: 'shutdown', result: down() }], requests: [], shows: ['Shutdown refused', 'The node daemon is not reachable'] },
  { name: 'shell', events: [k('7')], requests: [{ kind: 'shell' }], screen: 'shell', shows: ['type exit'] },
  { name: 'back from the shell', events: [k('7'), { kind: 'shell-done', how: 'exit code 0' }], requests: [], screen: 'main', shows: ['shell ended (exit code 0); back in the menu'] },
  { name: 'quit by 0', events: [k('0')], requests: [{ kind: 'quit' }], shows: [] },
  { name: 'quit by q', events: [k('q')], requests: [{ kind: 'quit' }], shows: [] },
  { name: 'Ctrl-C quits, even while waiting', events: [k('1'), k('interrupt')], requests: [{ kind: 'quit' }], shows: [] },
];

function run(events: readonly Event[]): Step {
  let s = start('a');
  for (const e of events) s = step(s.state, e);
  return s;
}

describe('console menu: (screen state, event) → (state, screen, requests)', () => {
  for (const r of rows) {
    it(r.name, () => {
      const s = run(r.events);
      assert.deepEqual(s.requests, r.requests);
      if (r.screen !== undefined) assert.equal(s.state.screen, r.screen);
      const text = s.screen.join('\n');
      for (const want of r.shows) {
        const found = typeof want === 'string' ? text.includes(want) : s.screen.some((l) => want.test(l));
        assert.ok(found, `screen lacks ${String(want)}:\n${text}`);
      }
      for (const no of r.hides ?? []) assert.ok(!text.includes(no), `screen shows ${no}:\n${text}`);
      assert.ok(s.screen.length <= HEIGHT, `${String(s.screen.length)} lines`);
      for (const l of s.screen) assert.ok(l.length < WIDTH, `line too long: ${l}`);
    });
  }

  it('a long answer is wrapped and cut to fit 80×24', () => {
    const lines = Array.from({ length: 40 }, (_, i) => `line ${String(i)} ${'word '.repeat(30)}`);
    const s = step({ ...initialState('a'), screen: 'status', busy: 'x' }, { kind: 'powered', action: 'reboot', result: { ok: true, value: { ok: true, messages: lines } } });
    assert.equal(s.screen.length, HEIGHT);
    for (const l of s.screen) assert.ok(l.length < WIDTH);
    assert.match(s.screen.join('\n'), /more lines\)/);
  });

  it('wrap breaks at spaces', () => {
    assert.deepEqual(wrap('aaa bbb ccc', 7), ['aaa bbb', '    ccc']);
  });
});

describe('console menu: keys from a raw terminal', () => {
  const cases: [string, Key[]][] = [
    ['\x1b[A\x1b[B', [{ kind: 'up' }, { kind: 'down' }]],
    ['\x1bOA', [{ kind: 'up' }]],
    ['\r', [{ kind: 'enter' }]],
    ['\x7f', [{ kind: 'backspace' }]],
    ['\x1b', [{ kind: 'escape' }]],
    ['\x03', [{ kind: 'interrupt' }]],
    ['12', [{ kind: 'char', ch: '1' }, { kind: 'char', ch: '2' }]],
    ['\x1b[C\x1b[15~x', [{ kind: 'char', ch: 'x' }]],
  ];
  for (const [bytes, keys] of cases) it(JSON.stringify(bytes), () => { assert.deepEqual(decodeKeys(bytes), keys); });
});
