/**
 * The console menu (`tandem console`) driven in tmux (80×24) against a real node of the lab, as
 * root on the node would use it over SSH: keys sent with `send-keys`, the screen read with
 * `capture-pane`. The node first commits a firmware of its own (1.1.0 after the factory one), so
 * that the factory firmware is its previous one. Then: the status shows the role, the firmware
 * list the slots, activating the previous slot (confirmed) changes the next-boot slot, a bad HA
 * address is refused with the loader's message and nothing changes, a support bundle is written
 * where the menu says, a shell opens and returns to the menu, and quitting exits. Then the rescue
 * path: with the node's daemon stopped, the menu says so, reads the slots from disk, activates
 * the previous firmware, and the node boots it when started. The tmux servers (sockets of their
 * own) and the lab are removed whatever happens.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FirmwareList } from '../app/firmware/schemas.js';
import { build, keygen, type Keys } from '../lab/firmware.js';
import { REPO_ROOT, type Lab, type NodeName } from '../lab/lab.js';
import { cannotRun, sha256File, sleep, status, steady, tandem, waitFor, withLab } from './support.js';

const tmuxMissing = (): string | null => {
  try { execFileSync('tmux', ['-V'], { stdio: 'pipe' }); return null; } catch { return 'tmux is not installed'; }
};
const skip = cannotRun() ?? tmuxMissing() ?? false;

/** One tmux server of this test's own (its socket in the test's directory), never the user's or another test's. */
class Tmux {
  constructor(private readonly socket: string, private readonly session: string) {}
  private tmux(args: readonly string[]): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }
  start(command: string, cwd: string): void {
    this.tmux(['-f', '/dev/null', 'new-session', '-d', '-s', this.session, '-x', '80', '-y', '24', '-c', cwd, command]);
  }
  keys(...keys: string[]): void { this.tmux(['send-keys', '-t', this.session, ...keys]); }
  /** Typed as text (no key names). */
  type(text: string): void { this.tmux(['send-keys', '-t', this.session, '-l', text]); }
  screen(): string { return this.tmux(['capture-pane', '-p', '-t', this.session]); }
  kill(): void {
    try { this.tmux(['kill-server']); } catch { /* already gone */ }
    rmSync(this.socket, { force: true });
  }

  /** Waits until the screen matches every pattern; the screen then. */
  async until(what: string, patterns: readonly RegExp[], timeoutMs = 15_000): Promise<string> {
    let last = '';
    try {
      return await waitFor(what, timeoutMs, () => {
        last = this.screen();
        return Promise.resolve(patterns.every((p) => p.test(last)) ? last : undefined);
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- the screen ---\n${last}`);
    }
  }
}

/** The footer of a screen that has its data (while a request runs, it says "Please wait" and keys wait). */
const READY = /r\) refresh {3}Esc\) back$/m;

const firmwareList = async (lab: Lab, node: NodeName): Promise<FirmwareList> => {
  const r = await tandem(lab, node, ['firmware', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as FirmwareList;
};

describe('console menu: tandem console in tmux on a real node (issue 10)', { skip }, () => {
  let dir = '';
  let keys: Keys;
  let bundle = '';
  before(() => {
    if (skip !== false) return;
    dir = mkdtempSync(join(tmpdir(), 'tandem-console-menu-'));
    keys = keygen(join(dir, 'keys'));
    bundle = build({ keys, version: '1.1.0', type: 'feature', out: join(dir, 'tandem-1.1.0.tfw') });
  });
  after(() => { if (dir !== '') rmSync(dir, { recursive: true, force: true }); });

  it('status, firmware (activate the previous slot), HA address refused, support bundle, shell, quit; the previous slot without a daemon', async () => {
    await withLab('default', async (lab) => {
      const { secondary: node } = await steady(lab);
      // The node commits 1.1.0 (its trial gate: healthy, HA, in sync): the factory firmware is then its previous one.
      const up = await tandem(lab, node, ['firmware', 'upload', bundle, '--json'], 60_000);
      assert.equal(up.code, 0, up.stderr);
      const slot = (JSON.parse(up.stdout) as { slot: number }).slot;
      const act = await tandem(lab, node, ['firmware', 'activate', String(slot)], 120_000);
      assert.equal(act.code, 0, `${act.stdout}${act.stderr}`);
      await lab.restart(node);
      await waitFor(`${node} committing slot ${String(slot)}`, 120_000, async () => {
        const l = await firmwareList(lab, node);
        const s = l.slots.find((x) => x.slot === slot);
        return s?.current === true && s.state === 'committed' ? true : undefined;
      });
      // The configuration is changed on the primary (the secondary follows it): this node takes over.
      const to = await tandem(lab, node, ['takeover']);
      assert.equal(to.code, 0, `${to.stdout}${to.stderr}`);
      await waitFor(`${node} primary`, 30_000, async () => ((await status(lab, node)).this_node.role === 'primary' ? true : undefined));
      await steady(lab);

      const config = join(lab.dir, 'cluster.yaml');
      const configBefore = sha256File(config);
      const tmux = new Tmux(join(dir, 'tmux-menu'), 'console');
      const cli = join(REPO_ROOT, 'dist', 'cli', 'tandem.js');
      try {
        tmux.start(`env SHELL=/bin/bash ip netns exec ${lab.resolveNs(node)} ${process.execPath} ${cli} console --config ${config} --node ${node}; echo CONSOLE-EXITED-$?; sleep 600`, dir);
        await tmux.until('the main menu', [new RegExp(`Tandem console - node ${node}`), /> 1\) Status/, /0\) Quit/]);

        // Status: the same lines as tandem status.
        tmux.keys('1');
        await tmux.until('the status', [new RegExp(`This node   ${node}: primary`), /Cluster lab: HA/, READY]);
        tmux.keys('r');
        // The old screen has the same footer until the key is read: give it that moment.
        await sleep(1000);
        await tmux.until('the status again', [new RegExp(`This node   ${node}: primary`), READY]);
        tmux.keys('Escape');
        await tmux.until('the main menu', [/> 1\) Status/]);

        // Firmware: the slots, then the previous one (the factory firmware) for the next boot, confirmed.
        tmux.keys('Down', 'Enter');
        const fw = await tmux.until('the firmware list', [READY, /SLOT\s+STATE\s+VERSION/, new RegExp(`^${String(slot)}\\s+committed\\s+1\\.1\\.0\\s+feature`, 'm'), /^0\s+committed\s+\S+\s+factory.*yes\s*$/m]);
        assert.match(fw, /1\) Activate the previous slot \(takes effect at reboot\)/);
        tmux.keys('1');
        await tmux.until('the confirmation', [/Activate the previous firmware: slot 0/, /It takes effect at the next reboot/, /y\) confirm/]);
        assert.equal((await firmwareList(lab, node)).slots.find((s) => s.after_reboot)?.slot, slot, 'nothing changed before y');
        tmux.keys('y');
        await tmux.until('the activation', [/Previous firmware selected/, /slot 0 \(the factory firmware\) boots after the next reboot/], 120_000);
        assert.equal((await firmwareList(lab, node)).slots.find((s) => s.after_reboot)?.slot, 0, 'the next boot is the previous slot');
        tmux.keys('Enter');
        await tmux.until('the list again', [/SLOT\s+STATE/, READY]);
        tmux.keys('2');
        await tmux.until('the version details', [new RegExp(`This node  ${node}: Tandem 1\\.1\\.0 \\(feature`), READY], 60_000);
        tmux.keys('Escape');
        await tmux.until('the list', [/SLOT\s+STATE/, READY]);
        tmux.keys('Escape');
        await tmux.until('the main menu', [/> 2\) Firmware management/]);

        // HA address: shown; a bad one refused with the loader's message, nothing changed.
        tmux.keys('3');
        await tmux.until('the HA addresses', [/1\) ha0\s+203\.0\.113\.\d+\/\d+\s+HA link/, READY]);
        tmux.keys('1');
        await tmux.until('the editor', [/Interface ha0, now 203\.0\.113\./, /New address/]);
        tmux.type('999.1.1.1/30');
        tmux.keys('Enter');
        const refused = await tmux.until('the refusal', [/HA address refused: nothing changed/, new RegExp(`nodes\\.${node}\\.interfaces\\.ha0\\.address: `), /the configuration was not changed/]);
        assert.match(refused, /999\.1\.1\.1/);
        assert.equal(sha256File(config), configBefore, 'the configuration file is unchanged');
        tmux.keys('Enter');
        await tmux.until('the HA addresses', [/1\) ha0/, READY]);
        tmux.keys('Escape');

        // Support bundle: written, its path on the screen.
        tmux.keys('4');
        const written = await tmux.until('the support bundle', [/^Support bundle written to:$/m, /^\/\S+\.tar\.gz$/m, /^\d+ bytes; every secret removed/m], 60_000);
        const file = /^(\/\S+\.tar\.gz)$/m.exec(written)?.[1] ?? '';
        const bytes = Number(/^(\d+) bytes;/m.exec(written)?.[1]);
        assert.ok(existsSync(file), `${file} exists`);
        assert.equal(statSync(file).size, bytes, 'the file holds what the node sent');
        assert.ok(bytes > 0);
        // A real gzip'd tar with the bundle's README.
        assert.match(execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }), /README\.txt/);
        assert.ok(file.startsWith(dir), 'written in the directory the console runs in');
        tmux.keys('Enter');
        await tmux.until('the main menu', [/> 4\) Support bundle/]);

        // Shell: root's shell on the terminal; exit comes back to the menu.
        tmux.keys('7');
        await tmux.until('the shell', [/type exit to come back/]);
        await sleep(500);
        // Ctrl-C in the shell reaches the shell, not the menu waiting behind it.
        tmux.keys('C-c');
        tmux.type('echo SHELL-$((6*7))');
        tmux.keys('Enter');
        await tmux.until('the shell\'s answer', [/^SHELL-42$/m]);
        tmux.type('exit');
        tmux.keys('Enter');
        await tmux.until('the menu after the shell', [/shell ended \(exit code 0\); back in the menu/, /7\) Shell/]);

        // Quit.
        tmux.keys('0');
        await tmux.until('the console exited', [/CONSOLE-EXITED-0/]);
      } finally {
        tmux.kill();
      }
      assert.equal(readFileSync(config, 'utf8').includes('999.1.1.1'), false);

      // The rescue path: the daemon is down (the web console with it). 1.1.0 is chosen again for
      // the next boot, the node stopped; the menu still activates the previous firmware, and the
      // node boots it when it starts.
      const again = await tandem(lab, node, ['firmware', 'activate', String(slot)], 120_000);
      assert.equal(again.code, 0, `${again.stdout}${again.stderr}`);
      await lab.stop(node);
      const rescue = new Tmux(join(dir, 'tmux-rescue'), 'console');
      try {
        rescue.start(`ip netns exec ${lab.resolveNs(node)} ${process.execPath} ${cli} console --config ${config} --node ${node}; echo CONSOLE-EXITED-$?; sleep 600`, dir);
        await rescue.until('the main menu', [/> 1\) Status/]);
        rescue.keys('1');
        await rescue.until('the status, unreachable', [/The node daemon is not reachable: the node daemon is not running/, READY]);
        rescue.keys('Escape');
        await rescue.until('the main menu', [/> 1\) Status/]);
        rescue.keys('2');
        await rescue.until('the slots from disk', [/The node daemon is not running: the slots are read from disk/, /^0\s+committed\s+\S+\s+factory.*yes\s*$/m, READY]);
        rescue.keys('1');
        await rescue.until('the confirmation', [/Activate the previous firmware: slot 0/]);
        rescue.keys('y');
        await rescue.until('the activation without a daemon', [/Previous firmware selected/, /done on the slot store directly/, /slot 0 \(the factory firmware\) boots after the next reboot/], 60_000);
        rescue.keys('Enter');
        await rescue.until('the list', [/SLOT\s+STATE/, READY]);
        rescue.keys('Escape');
        await rescue.until('the main menu', [/> 2\) Firmware management/]);
        rescue.keys('q');
        await rescue.until('the console exited', [/CONSOLE-EXITED-0/]);
      } finally {
        rescue.kill();
      }
      await lab.start(node);
      await waitFor(`${node} booting the previous firmware (slot 0)`, 120_000, async () => {
        const l = await firmwareList(lab, node);
        return l.slots.find((x) => x.current)?.slot === 0 ? true : undefined;
      });
    }, { firmware: { trustedKeys: [keys.pub], trialTimeoutS: 60 } });
  });
});
