/**
 * The System monitor's own parts: the issues it adds to the status's (full disks, failed hooks,
 * undelivered alerts, other services' warnings), the machine readings from the real /proc, and
 * the hook runner's end report with real programs.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cpuBusyPercent, cpuTimes, disks, memory } from '../../adapters/host/host-stats.js';
import { runHook } from '../../adapters/hooks/run-hook.js';
import type { StatusView } from '../node-app.js';
import { issuesOf, type HostFacts } from './issues.js';

const dir = mkdtempSync(join(tmpdir(), 'tandem-monitor-'));
after(() => { rmSync(dir, { recursive: true, force: true }); });

/** A healthy two-node status: no issue of its own. */
const healthy = {
  cluster: { name: 'c', status: 'HA', uuid: 'u', redundant_heartbeat: 'ok', timing: 'default' },
  other_node: { name: 'b', role: 'secondary', reachable: true, last_heard_ms_ago: 10, firmware: null },
  sync: { state: 'UpToDate', refusing: null, lag_ms: 3 },
  takeover_veto: null, flap_limiter: { switches_in_window: 0, held_until_ms: null }, next_hops: [],
  firmware: { trial: null },
} as unknown as StatusView;

const none: HostFacts = { disks: [], hooks: [], alertDelivery: [], warnings: [] };
const disk = (mount: string, fs: string, used: number, available: number) => ({ mount, fs, size: used + available, used, available, used_percent: Math.round((1000 * used) / (used + available)) / 10 });

describe('System monitor issues', () => {
  const cases: readonly [string, Partial<HostFacts>, readonly RegExp[]][] = [
    ['nothing wrong', {}, []],
    ['a filesystem under 10 % free', { disks: [disk('/var', 'ext4', 95, 5), disk('/', 'ext4', 50, 50)] }, [/filesystem \/var is 95 % full/]],
    ['a full tmpfs is no issue (memory, gone at reboot)', { disks: [disk('/run', 'tmpfs', 99, 1)] }, []],
    ['a failed hook', { hooks: [{ hook: 'on_primary', script: '/x', state: 'failed', since: 't', detail: 'exit 3 after 5 ms' }] }, [/hook on_primary \(\/x\) failed: exit 3/]],
    ['a running or finished hook is fine', { hooks: [{ hook: 'on_primary', script: '/x', state: 'running', since: 't', detail: '' }, { hook: 'on_secondary', script: '/y', state: 'ok', since: 't', detail: '' }] }, []],
    ['alerts waiting after failures', { alertDelivery: [{ webhook: 'http://h/', waiting: 3, lastError: 'ECONNREFUSED' }] }, [/alert webhook http:\/\/h\/: 3 alert\(s\) waiting \(ECONNREFUSED\)/]],
    ['alerts waiting for their first attempt are no issue yet', { alertDelivery: [{ webhook: 'http://h/', waiting: 1, lastError: null }] }, []],
    ['another service warns', { warnings: ['license expires in 10 days'] }, [/^license expires in 10 days$/]],
  ];
  for (const [name, facts, expected] of cases) {
    it(name, () => {
      const issues = issuesOf(healthy, { ...none, ...facts });
      assert.equal(issues.length, expected.length, issues.join('; '));
      expected.forEach((re, i) => { assert.match(issues[i] ?? '', re); });
    });
  }
  it('without host facts only the status counts (the firmware checklist of an older caller)', () => {
    assert.deepEqual(issuesOf(healthy), []);
    assert.deepEqual(issuesOf({ ...healthy, takeover_veto: 'data Outdated' }), ['takeover veto: data Outdated']);
  });
  it('a replication lag of seconds is an issue, ms are not', () => {
    assert.deepEqual(issuesOf({ ...healthy, sync: { ...healthy.sync, lag_ms: 4999 } }), []);
    assert.deepEqual(issuesOf({ ...healthy, sync: { ...healthy.sync, lag_ms: 12_340 } }), ['replication lag 12.3 s: the replica has not confirmed the oldest change']);
  });
});

describe('machine readings', () => {
  it('reads this machine: the root filesystem, memory, CPU between two readings', async () => {
    const d = disks();
    assert.ok(d.some((x) => x.mount === '/'), JSON.stringify(d));
    for (const x of d) assert.ok(x.size > 0 && x.used_percent >= 0 && x.used_percent <= 100, JSON.stringify(x));
    const m = memory();
    assert.ok(m.total > 0 && m.available > 0 && m.available <= m.total);
    const from = cpuTimes();
    const until = Date.now() + 50;
    while (Date.now() < until) { /* busy */ }
    await new Promise((r) => setTimeout(r, 20));
    const busy = cpuBusyPercent(from, cpuTimes());
    assert.ok(busy === null || (busy >= 0 && busy <= 100), String(busy));
    assert.equal(cpuBusyPercent(from, from), null);
  });
});

describe('hook runs', () => {
  const run = (script: string): Promise<[boolean, string]> => new Promise((resolve) => {
    runHook(script, ['primary', 'a'], 2000, () => { /* the log is the runner's own test */ }, (ok, detail) => { resolve([ok, detail]); });
  });
  const script = (name: string, body: string): string => {
    const f = join(dir, name);
    writeFileSync(f, `#!/bin/sh\n${body}\n`);
    chmodSync(f, 0o755);
    return f;
  };
  it('reports a success, a failure with its exit code, and a program that cannot start, once each', async () => {
    const [ok, detail] = await run(script('ok.sh', 'exit 0'));
    assert.equal(ok, true);
    assert.match(detail, /^done in \d+ ms$/);
    const [ok2, detail2] = await run(script('fail.sh', 'exit 3'));
    assert.equal(ok2, false);
    assert.match(detail2, /^exit 3 after \d+ ms$/);
    let calls = 0;
    await new Promise<void>((resolve) => {
      runHook(join(dir, 'missing.sh'), [], 2000, () => { /* logged */ }, (ok3, detail3) => {
        calls += 1;
        assert.equal(ok3, false);
        assert.match(detail3, /could not run: .*ENOENT/);
        setTimeout(resolve, 200);
      });
    });
    assert.equal(calls, 1);
  });
});
