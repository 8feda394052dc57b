/**
 * `tandem console`: the thin terminal shell around the menu's state machine (console-menu.ts):
 * raw mode on stdin, a full redraw per step, and each request carried out with the same
 * operation calls the CLI makes (the node's control socket). When no daemon runs, the firmware
 * slots are read and the previous firmware activated through the daemon's own firmware service on
 * the node's slot store (app/firmware/offline.ts): the rescue path when the web console is down.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { call, NodeNotRunning, type CallOptions } from '../adapters/control/client.js';
import type { ActionReply } from '../adapters/control/protocol.js';
import type { ConfigChangeReply, ConfigView } from '../app/config-edit.js';
import type { ActivateReply, FirmwareList, Versions } from '../app/firmware/schemas.js';
import type { NodeStatus } from '../core/ha/status.js';
import { decodeKeys, render, start, step, type Event, type Outcome, type Request, type State, type Step } from './console-menu.js';
import { fail, refusalOf, socketOf, withTarget, type Target } from './common.js';
import { bundleName, download } from './support.js';
import { TEST_TIMEOUT_MS } from './firmware.js';

/** The flags a confirmed "activate the previous firmware" carries: the operator chose to go back. */
const GO_BACK = { override: true, reinstall: true };

export function registerConsoleCommand(program: Command): void {
  withTarget(program.command('console'))
    .description('the terminal menu for root on the node (over SSH, 80x24): status, firmware (activate the previous slot even without the daemon), reboot / shutdown, HA address, support bundle, shell')
    .action(async (t: Target) => { await runConsole(t); });
}

class Failed extends Error {}

/** One operation call: the reply body, or Failed with the node's messages. */
async function op<T>(socketPath: string, method: 'GET' | 'POST' | 'PUT', path: string, opts: CallOptions = {}): Promise<T> {
  const r = await call({ socketPath }, method, path, opts);
  const refused = refusalOf(r, '; ');
  if (refused !== null) throw new Failed(refused);
  return r.body as T;
}

const outcome = async <T>(f: () => Promise<T>): Promise<Outcome<T>> => {
  try { return { ok: true, value: await f() }; } catch (err) { return { ok: false, error: messageOf(err) }; }
};

function messageOf(err: unknown): string {
  const e = err as { messages?: unknown; message?: unknown };
  if (Array.isArray(e.messages)) return e.messages.join('; ');
  return typeof e.message === 'string' ? e.message : String(err);
}

/** The daemon's answer; when nothing listens on the control socket, the same service offline. */
async function orOffline<T>(online: () => Promise<T>, offline: () => Promise<T>): Promise<{ value: T; offline: boolean }> {
  try {
    return { value: await online(), offline: false };
  } catch (err) {
    if (!(err instanceof NodeNotRunning)) throw err;
    return { value: await offline(), offline: true };
  }
}

async function runConsole(t: Target): Promise<void> {
  const stdin = process.stdin;
  if (!stdin.isTTY) fail('tandem console needs a terminal (run it in an SSH session or on the console)');
  const socketPath = socketOf(t);
  const offlineService = async () => (await import('../app/firmware/offline.js')).offlineFirmwareService(t.config, t.node);
  const out = process.stdout;

  let state: State;
  const draw = (s: Step): void => {
    state = s.state;
    out.write(`\x1b[H\x1b[2J${s.screen.join('\r\n')}`);
  };
  const raw = (on: boolean): void => { stdin.setRawMode(on); };

  /** Carries out one request; its event comes back through `feed`. */
  async function perform(r: Request): Promise<Event | null> {
    switch (r.kind) {
      case 'load-status': return { kind: 'status', result: await outcome(() => op<NodeStatus>(socketPath, 'GET', '/status')) };
      case 'load-firmware': return {
        kind: 'firmware',
        result: await outcome(async () => {
          const got = await orOffline(() => op<FirmwareList>(socketPath, 'GET', '/firmware'), async () => (await offlineService()).list());
          return { list: got.value, offline: got.offline };
        }),
      };
      case 'load-versions': return { kind: 'versions', result: await outcome(() => op<Versions>(socketPath, 'GET', '/version', { timeoutMs: 60_000 })) };
      case 'load-addresses': return { kind: 'addresses', result: await outcome(() => op<ConfigView>(socketPath, 'GET', '/settings')) };
      case 'activate-previous': return {
        kind: 'activated',
        result: await outcome(async () => {
          const got = await orOffline(
            () => op<ActivateReply>(socketPath, 'POST', '/firmware/previous/activate', { body: GO_BACK, timeoutMs: TEST_TIMEOUT_MS }),
            async () => (await offlineService()).activatePrevious(GO_BACK),
          );
          return { ...got.value, offline: got.offline };
        }),
      };
      case 'power': return {
        kind: 'powered', action: r.action,
        result: await outcome(() => op<ActionReply>(socketPath, 'POST', '/action', { body: { type: r.action, target: 'this' } })),
      };
      case 'change-address': return {
        kind: 'address-changed',
        result: await outcome(() => op<ConfigChangeReply>(socketPath, 'PUT', '/settings', { body: { addresses: [{ interface: r.interface, address: r.address }], dry_run: false } })),
      };
      case 'support-bundle': return {
        kind: 'bundle',
        result: await outcome(async () => {
          const d = await download(t, '/support/bundle', null, bundleName(t.node));
          return { file: resolve(d.file), bytes: d.bytes };
        }),
      };
      case 'shell': return { kind: 'shell-done', how: shell() };
      case 'quit': quit(); return null;
    }
  }

  /** Root's login shell on this terminal; the menu waits (and reads no key) until it exits. */
  function shell(): string {
    raw(false);
    stdin.pause();
    out.write('\x1b[H\x1b[2JThe menu waits: type exit to come back to it.\r\n');
    const sh = process.env.SHELL !== undefined && process.env.SHELL !== '' ? process.env.SHELL : '/bin/bash';
    const r = spawnSync(sh, ['-l'], { stdio: 'inherit' });
    raw(true);
    stdin.resume();
    if (r.error !== undefined) return `${sh} could not start: ${r.error.message}`;
    return r.signal !== null ? `killed by ${r.signal}` : `exit code ${String(r.status)}`;
  }

  function quit(): never {
    raw(false);
    out.write('\x1b[H\x1b[2J');
    process.exit(0);
  }

  // Requests run one after another, in the order the steps asked for them.
  let chain: Promise<void> = Promise.resolve();
  const feed = (s: Step): void => {
    draw(s);
    for (const r of s.requests) {
      // Quitting does not wait for an answer still outstanding.
      if (r.kind === 'quit') quit();
      chain = chain.then(async () => {
        const e = await perform(r);
        if (e !== null) feed(step(state, e));
      });
    }
  };

  // Ctrl-C in the shell signals the whole foreground group: the menu waiting behind it stays.
  // (In raw mode Ctrl-C is a key, not a signal.)
  process.on('SIGINT', () => undefined);
  process.on('SIGQUIT', () => undefined);
  // The terminal is left as found, however the process ends.
  process.on('exit', () => { if (stdin.isTTY) stdin.setRawMode(false); });
  raw(true);
  stdin.setEncoding('utf8');
  stdin.on('data', (data: string) => {
    for (const key of decodeKeys(data)) feed(step(state, { kind: 'key', key }));
  });
  stdin.resume();
  out.on('resize', () => { draw({ state, screen: render(state), requests: [] }); });
  feed(start(t.node));
  await new Promise<never>(() => { /* until quit */ });
}
