/**
 * `tandem console`: the terminal menu for root on the node (over SSH, in 80×24, arrow and number
 * keys), as a pure state machine: step(state, event) → (state, screen, requests). Events are keys
 * and the results of the requests; requests are what the shell (console.ts) carries out through
 * the node's operations — the same calls the CLI makes — or, for the firmware rescue path when no
 * daemon runs, through the same firmware service on the node's slot store. Nothing here does I/O.
 */
import type { ActionReply } from '../adapters/control/protocol.js';
import type { ConfigChangeReply, ConfigView } from '../app/config-edit.js';
import type { ActivateReply, FirmwareList, Versions } from '../app/firmware/schemas.js';
import type { NodeStatus } from '../core/ha/status.js';
import { formatList, formatStatus, formatTest, formatVersions } from './format.js';

export const WIDTH = 80;
export const HEIGHT = 24;

export type Key =
  | { readonly kind: 'up' | 'down' | 'enter' | 'escape' | 'backspace' | 'interrupt' }
  | { readonly kind: 'char'; readonly ch: string };

/** What the shell is asked to do; each request ends with its event. */
export type Request =
  | { readonly kind: 'load-status' }
  | { readonly kind: 'load-firmware' }
  | { readonly kind: 'load-versions' }
  | { readonly kind: 'load-addresses' }
  /** After reboot: the previous firmware (override and reinstall allowed: the operator confirmed going back). */
  | { readonly kind: 'activate-previous' }
  | { readonly kind: 'power'; readonly action: 'reboot' | 'shutdown' }
  | { readonly kind: 'change-address'; readonly interface: string; readonly address: string }
  | { readonly kind: 'support-bundle' }
  | { readonly kind: 'shell' }
  | { readonly kind: 'quit' };

/** A request's result; `notRunning`: nothing listens on the control socket. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** The firmware list, and whether it was read from disk because no daemon runs. */
export interface Slots { readonly list: FirmwareList; readonly offline: boolean }

export type Event =
  | { readonly kind: 'key'; readonly key: Key }
  | { readonly kind: 'status'; readonly result: Outcome<NodeStatus> }
  | { readonly kind: 'firmware'; readonly result: Outcome<Slots> }
  | { readonly kind: 'versions'; readonly result: Outcome<Versions> }
  | { readonly kind: 'addresses'; readonly result: Outcome<ConfigView> }
  | { readonly kind: 'activated'; readonly result: Outcome<ActivateReply & { readonly offline: boolean }> }
  | { readonly kind: 'powered'; readonly action: 'reboot' | 'shutdown'; readonly result: Outcome<ActionReply> }
  | { readonly kind: 'address-changed'; readonly result: Outcome<ConfigChangeReply> }
  | { readonly kind: 'bundle'; readonly result: Outcome<{ readonly file: string; readonly bytes: number }> }
  | { readonly kind: 'shell-done'; readonly how: string };

export type ScreenName = 'main' | 'status' | 'firmware' | 'versions' | 'addresses' | 'edit-address' | 'confirm' | 'result' | 'shell';

export interface State {
  readonly node: string;
  readonly screen: ScreenName;
  /** The main menu's highlighted line. */
  readonly cursor: number;
  /** What is being waited for (shown in the footer); keys wait meanwhile. */
  readonly busy: string | null;
  /** A line above the footer: the last short answer (a refusal to act, a shell's exit). */
  readonly notice: string | null;
  readonly status: Outcome<NodeStatus> | null;
  readonly firmware: Outcome<Slots> | null;
  readonly versions: Outcome<Versions> | null;
  readonly addresses: Outcome<ConfigView> | null;
  readonly edit: { readonly interface: string; readonly current: string; readonly text: string } | null;
  readonly confirm: { readonly lines: readonly string[]; readonly request: Request; readonly back: ScreenName } | null;
  readonly result: { readonly title: string; readonly lines: readonly string[]; readonly back: ScreenName } | null;
}

export interface Step {
  readonly state: State;
  /** The whole screen: at most HEIGHT lines, each at most WIDTH - 1 characters. */
  readonly screen: readonly string[];
  readonly requests: readonly Request[];
}

interface MenuItem { readonly key: '1' | '2' | '3' | '4' | '5' | '6' | '7' | '0'; readonly label: string }

export const MAIN_MENU: readonly MenuItem[] = [
  { key: '1', label: 'Status' },
  { key: '2', label: 'Firmware management' },
  { key: '3', label: 'HA address' },
  { key: '4', label: 'Support bundle' },
  { key: '5', label: 'Reboot this node' },
  { key: '6', label: 'Shut down this node' },
  { key: '7', label: 'Shell' },
  { key: '0', label: 'Quit' },
];

export function initialState(node: string): State {
  return {
    node, screen: 'main', cursor: 0, busy: null, notice: null,
    status: null, firmware: null, versions: null, addresses: null, edit: null, confirm: null, result: null,
  };
}

/** The first screen. */
export function start(node: string): Step {
  return done(initialState(node), []);
}

export function step(state: State, event: Event): Step {
  switch (event.kind) {
    case 'key': return onKey(state, event.key);
    case 'status': return done({ ...state, busy: null, status: event.result }, []);
    case 'firmware': return done({ ...state, busy: null, firmware: event.result }, []);
    case 'versions': return done({ ...state, busy: null, versions: event.result }, []);
    case 'addresses': return done({ ...state, busy: null, addresses: event.result }, []);
    case 'activated': return showResult(state, 'firmware', event.result.ok && event.result.value.ok ? 'Previous firmware selected' : 'Previous firmware NOT selected', activatedLines(event.result));
    case 'powered': {
      const what = event.action === 'reboot' ? 'Reboot' : 'Shutdown';
      const r = event.result;
      return showResult(state, 'main', r.ok && r.value.ok ? `${what} requested` : `${what} refused`, r.ok ? [...r.value.messages] : notReachable(r.error));
    }
    case 'address-changed': {
      const r = event.result;
      if (!r.ok) return showResult(state, 'addresses', 'HA address not changed', notReachable(r.error));
      const lines = [...r.value.errors.map((e) => `${e.field}: ${e.reason}`), ...r.value.messages];
      return showResult(state, 'addresses', r.value.ok ? 'HA address changed' : 'HA address refused: nothing changed', lines);
    }
    case 'bundle': {
      const r = event.result;
      return showResult(state, 'main', r.ok ? 'Support bundle written' : 'No support bundle',
        // The path on a line of its own: copied from the screen whole.
        r.ok ? ['Support bundle written to:', r.value.file, `${String(r.value.bytes)} bytes; every secret removed (see README.txt inside)`] : notReachable(r.error));
    }
    case 'shell-done': return done({ ...state, busy: null, screen: 'main', notice: `shell ended (${event.how}); back in the menu` }, []);
  }
}

function done(state: State, requests: readonly Request[]): Step {
  return { state, screen: render(state), requests };
}

/** What a screen shows is asked for each time it is entered (a fresh list after an action). */
const LOADS: Partial<Record<ScreenName, readonly [Request, string]>> = {
  status: [{ kind: 'load-status' }, 'reading the status'],
  firmware: [{ kind: 'load-firmware' }, 'reading the firmware slots'],
  versions: [{ kind: 'load-versions' }, 'reading the version details'],
  addresses: [{ kind: 'load-addresses' }, 'reading the configuration'],
};

/** Goes to a screen and asks for what it shows. */
function enter(state: State, screen: ScreenName): Step {
  const s: State = { ...state, screen, notice: null };
  const load = LOADS[screen];
  return load === undefined ? done(s, []) : done({ ...s, busy: load[1] }, [load[0]]);
}

function ask(state: State, request: Request, busy: string): Step {
  return done({ ...state, busy, notice: null }, [request]);
}

function confirm(state: State, lines: readonly string[], request: Request): Step {
  return done({ ...state, screen: 'confirm', notice: null, confirm: { lines, request, back: state.screen } }, []);
}

function showResult(state: State, back: ScreenName, title: string, lines: readonly string[]): Step {
  return done({ ...state, busy: null, screen: 'result', result: { title, lines, back } }, []);
}

const isBack = (k: Key): boolean => k.kind === 'escape' || (k.kind === 'char' && (k.ch === 'b' || k.ch === '0'));
const charOf = (k: Key): string | null => (k.kind === 'char' ? k.ch : null);

function onKey(state: State, key: Key): Step {
  if (key.kind === 'interrupt') return done(state, [{ kind: 'quit' }]);
  // One request at a time: keys typed meanwhile are dropped, not queued behind a slow answer.
  if (state.busy !== null) return done(state, []);
  switch (state.screen) {
    case 'main': return onMain(state, key);
    case 'status':
      if (isBack(key)) return enter(state, 'main');
      if (charOf(key) === 'r') return enter(state, 'status');
      return done(state, []);
    case 'firmware': return onFirmware(state, key);
    case 'versions':
      if (isBack(key)) return enter(state, 'firmware');
      if (charOf(key) === 'r') return enter(state, 'versions');
      return done(state, []);
    case 'addresses': return onAddresses(state, key);
    case 'edit-address': return onEdit(state, key);
    case 'confirm': {
      const c = state.confirm;
      if (c === null) return enter(state, 'main');
      if (charOf(key) === 'y') return ask({ ...state, screen: c.back, confirm: null }, c.request, busyOf(c.request));
      if (charOf(key) === 'n' || key.kind === 'escape') return enter({ ...state, confirm: null }, c.back === 'firmware' ? 'firmware' : 'main');
      return done(state, []);
    }
    case 'result': {
      const back = state.result?.back ?? 'main';
      return enter({ ...state, result: null }, back);
    }
    case 'shell': return done(state, []);
  }
}

function busyOf(r: Request): string {
  if (r.kind === 'activate-previous') return 'selecting the previous firmware (its Test runs first)';
  if (r.kind === 'power') return `asking the node to ${r.action === 'reboot' ? 'reboot' : 'shut down'}`;
  return 'working';
}

function onMain(state: State, key: Key): Step {
  const n = MAIN_MENU.length;
  if (key.kind === 'up') return done({ ...state, cursor: (state.cursor + n - 1) % n }, []);
  if (key.kind === 'down') return done({ ...state, cursor: (state.cursor + 1) % n }, []);
  let index = -1;
  if (key.kind === 'enter') index = state.cursor;
  const ch = charOf(key);
  if (ch !== null) index = ch === 'q' ? MAIN_MENU.findIndex((m) => m.key === '0') : MAIN_MENU.findIndex((m) => m.key === ch);
  const item = MAIN_MENU[index];
  if (item === undefined) return done(state, []);
  const s = { ...state, cursor: index };
  switch (item.key) {
    case '1': return enter(s, 'status');
    case '2': return enter(s, 'firmware');
    case '3': return enter(s, 'addresses');
    case '4': return ask(s, { kind: 'support-bundle' }, 'writing the support bundle');
    case '5': return confirm(s, [
      `Reboot node ${state.node} now?`,
      'A primary hands its service over to the other node first.',
    ], { kind: 'power', action: 'reboot' });
    case '6': return confirm(s, [
      `Shut down node ${state.node} now?`,
      'A primary hands its service over to the other node first; the node stays off until it is powered on.',
    ], { kind: 'power', action: 'shutdown' });
    case '7': return done({ ...s, screen: 'shell', busy: 'shell', notice: null }, [{ kind: 'shell' }]);
    case '0': return done(s, [{ kind: 'quit' }]);
  }
}

function onFirmware(state: State, key: Key): Step {
  if (isBack(key)) return enter(state, 'main');
  const ch = charOf(key);
  if (ch === 'r') return enter(state, 'firmware');
  if (ch === '2') return enter(state, 'versions');
  if (ch !== '1') return done(state, []);
  const fw = state.firmware;
  if (fw === null || !fw.ok) return done({ ...state, notice: 'the slots could not be read: nothing to activate' }, []);
  const prev = fw.value.list.slots.find((s) => s.previous === true);
  if (prev === undefined) return done({ ...state, notice: 'no previous firmware: this node has committed only the firmware it runs' }, []);
  if (prev.after_reboot) return done({ ...state, notice: `slot ${String(prev.slot)} (the previous firmware) already boots after the next reboot` }, []);
  return confirm(state, [
    `Activate the previous firmware: slot ${String(prev.slot)}, Tandem ${prev.version ?? '?'} (${prev.type ?? '?'})?`,
    'It takes effect at the next reboot of this node: it then boots on trial and, if it',
    'is not healthy in time, the node falls back to the firmware it runs now by itself.',
    'Its Test runs first. Going back to an older release is a downgrade: it is',
    'recorded for good, and the node is then unsupported.',
  ], { kind: 'activate-previous' });
}

/** The HA link first, then the redundant heartbeat interfaces: the addresses the nodes talk on. */
export function haInterfaces(v: ConfigView): ConfigView['interfaces'] {
  const hb = new Set(v.heartbeat);
  return [...v.interfaces.filter((i) => i.ha_link), ...v.interfaces.filter((i) => !i.ha_link && hb.has(i.interface))];
}

function onAddresses(state: State, key: Key): Step {
  if (isBack(key)) return enter(state, 'main');
  const ch = charOf(key);
  if (ch === 'r') return enter(state, 'addresses');
  const a = state.addresses;
  if (ch === null || a === null || !a.ok) return done(state, []);
  const row = haInterfaces(a.value)[Number(ch) - 1];
  if (!/^[1-9]$/.test(ch) || row === undefined) return done(state, []);
  return done({ ...state, screen: 'edit-address', notice: null, edit: { interface: row.interface, current: row.this_node.address, text: '' } }, []);
}

function onEdit(state: State, key: Key): Step {
  const e = state.edit;
  if (e === null) return enter(state, 'addresses');
  if (key.kind === 'escape') return enter({ ...state, edit: null }, 'addresses');
  if (key.kind === 'backspace') return done({ ...state, edit: { ...e, text: e.text.slice(0, -1) } }, []);
  if (key.kind === 'enter') {
    if (e.text.trim() === '') return done({ ...state, notice: 'type the new address (ADDRESS/PREFIX), or Esc to cancel' }, []);
    return ask({ ...state, screen: 'addresses' }, { kind: 'change-address', interface: e.interface, address: e.text.trim() }, 'checking and saving the address');
  }
  if (key.kind === 'char' && /^[\x20-\x7e]$/.test(key.ch) && e.text.length < 64) return done({ ...state, edit: { ...e, text: e.text + key.ch } }, []);
  return done(state, []);
}

const notReachable = (error: string): string[] => [`The node daemon is not reachable: ${error}`];

function activatedLines(r: Outcome<ActivateReply & { readonly offline: boolean }>): string[] {
  if (!r.ok) return notReachable(r.error);
  const v = r.value;
  const lines = [
    ...(v.offline ? ['(the node daemon is not running: done on the slot store directly, as the daemon would)'] : []),
    ...(v.ok || v.report === null ? [] : formatTest(v.report).split('\n')),
    ...v.messages.filter((m) => !m.startsWith('reboot this node')),
  ];
  if (v.ok) lines.push('It takes effect at the next reboot: choose "Reboot this node" in the main menu when ready.');
  return lines;
}

// ── rendering ───────────────────────────────────────────────────────────────────────────────

/** Lines of at most `width` characters, broken at spaces where possible. */
export function wrap(line: string, width: number = WIDTH - 1): string[] {
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(' ', width);
    const at = cut > width / 2 ? cut : width;
    out.push(rest.slice(0, at));
    rest = rest.slice(at).replace(/^ /, '    ');
  }
  out.push(rest);
  return out;
}

function body(state: State): { title: string; lines: string[]; keys: string } {
  const unreachable = (o: { ok: false; error: string }): string[] => notReachable(o.error);
  switch (state.screen) {
    case 'main':
      return {
        title: 'Main menu',
        lines: MAIN_MENU.map((m, i) => `${i === state.cursor ? '>' : ' '} ${m.key}) ${m.label}`),
        keys: 'Up/Down and Enter, or a number',
      };
    case 'status': {
      const s = state.status;
      return { title: 'Status', lines: s === null ? [] : s.ok ? formatStatus(s.value).split('\n') : unreachable(s), keys: 'r) refresh   Esc) back' };
    }
    case 'firmware': {
      const f = state.firmware;
      const lines = f === null ? [] : f.ok
        ? [...(f.value.offline ? ['The node daemon is not running: the slots are read from disk; the previous', 'firmware can still be activated. Version details need the daemon.', ''] : []),
          ...formatList(f.value.list).split('\n')]
        : unreachable(f);
      return { title: 'Firmware management', lines: [...lines, '', '1) Activate the previous slot (takes effect at reboot)', '2) Version details'], keys: 'r) refresh   Esc) back' };
    }
    case 'versions': {
      const v = state.versions;
      return { title: 'Version details', lines: v === null ? [] : v.ok ? formatVersions(v.value).split('\n') : unreachable(v), keys: 'r) refresh   Esc) back' };
    }
    case 'addresses': {
      const a = state.addresses;
      if (a === null) return { title: 'HA address', lines: [], keys: 'Esc) back' };
      if (!a.ok) return { title: 'HA address', lines: unreachable(a), keys: 'r) retry   Esc) back' };
      const rows = haInterfaces(a.value);
      return {
        title: `HA address of node ${a.value.node}`,
        lines: [
          'This node\'s addresses on the HA link and the redundant heartbeat paths:',
          ...rows.map((r, i) => `${String(i + 1)}) ${r.interface.padEnd(8)} ${r.this_node.address.padEnd(20)} ${r.ha_link ? 'HA link' : 'heartbeat'}${r.other_node === null ? '' : `   (other node ${r.other_node.address})`}`),
          '',
          'Choose a number to change that address. A change is checked by the configuration',
          'loader and takes effect when the nodes restart.',
        ],
        keys: 'a number) change   r) refresh   Esc) back',
      };
    }
    case 'edit-address': {
      const e = state.edit;
      return {
        title: 'Change an HA address',
        lines: e === null ? [] : [`Interface ${e.interface}, now ${e.current}.`, '', 'New address (ADDRESS/PREFIX):', `> ${e.text}_`],
        keys: 'Enter) save   Backspace) erase   Esc) cancel',
      };
    }
    case 'confirm':
      return { title: 'Confirm', lines: [...(state.confirm?.lines ?? []), '', 'y) yes, do it   n) no'], keys: 'y) confirm   n or Esc) cancel' };
    case 'result':
      return { title: state.result?.title ?? '', lines: [...(state.result?.lines ?? [])], keys: 'any key) continue' };
    case 'shell':
      return { title: 'Shell', lines: ['The shell runs; type exit to come back to the menu.'], keys: '' };
  }
}

/** The screen of a state: a title, the body (wrapped, cut to fit), a notice, the keys. */
export function render(state: State): string[] {
  const b = body(state);
  const head = `Tandem console - node ${state.node}`;
  const title = `${head}${' '.repeat(Math.max(1, WIDTH - 1 - head.length - b.title.length))}${b.title}`.slice(0, WIDTH - 1);
  const lines = b.lines.flatMap((l) => wrap(l));
  // Title, rule, body, blank, notice, footer: the body gets what is left of 24 lines.
  const room = HEIGHT - 5;
  const shown = lines.length <= room ? lines : [...lines.slice(0, room - 1), `... (${String(lines.length - room + 1)} more lines)`];
  const footer = state.busy !== null ? `Please wait: ${state.busy}...` : b.keys;
  return [title, '-'.repeat(WIDTH - 1), ...shown, '', ...(state.notice === null ? [''] : wrap(state.notice).slice(0, 1)), footer.slice(0, WIDTH - 1)];
}

const ESC = '\u001b';

/** The length of a CSI or SS3 sequence at the start of `s` (ESC [ params final, ESC O final), or 0. */
function sequenceLength(s: string): number {
  if (!s.startsWith(ESC) || s.length < 3) return 0;
  if (s[1] === 'O') return 3;
  if (s[1] !== '[') return 0;
  let i = 2;
  while (i < s.length && /[0-9;]/.test(s[i] ?? '')) i += 1;
  return i < s.length && /[~A-Za-z]/.test(s[i] ?? '') ? i + 1 : 0;
}

/** Keys in what a terminal in raw mode sends (several may come in one read). */
export function decodeKeys(data: string): Key[] {
  const keys: Key[] = [];
  for (let i = 0; i < data.length;) {
    const n = sequenceLength(data.slice(i));
    if (n > 0) {
      // Up and down move; other sequences (left, right, function keys) are skipped whole.
      const final = data[i + n - 1];
      if (final === 'A') keys.push({ kind: 'up' });
      else if (final === 'B') keys.push({ kind: 'down' });
      i += n;
      continue;
    }
    const c = data[i] ?? '';
    i += 1;
    if (c === ESC) keys.push({ kind: 'escape' });
    else if (c === '\r' || c === '\n') keys.push({ kind: 'enter' });
    else if (c === '\u007f' || c === '\b') keys.push({ kind: 'backspace' });
    else if (c === '\u0003' || c === '\u0004') keys.push({ kind: 'interrupt' });
    else if (c >= ' ') keys.push({ kind: 'char', ch: c });
  }
  return keys;
}
