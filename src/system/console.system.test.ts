/**
 * The web console in a real browser (issue 9): Debian's Chromium, driven by playwright-core,
 * runs inside the lab's client namespace (an operator's workstation on the ext segment) against
 * two real nodes. It signs in, changes a next hop on the High Availability page (first a value
 * the configuration loader refuses: its message appears next to the field; then a good one:
 * applied live), sees the takeover after a link cut on the secondary's own page (the delay from
 * the node's role change to the page is measured and logged, with a generous bound only),
 * resolves a split brain with the wizard, and sees the firmware slots. Every page is saved as a
 * screenshot in docs/console/ (linked from docs/console.md).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { REPO_ROOT } from '../lab/lab.js';
import { addAdmin, badge, consoleSkip, launch, open, shot, signIn, url, USER } from './console-support.js';
import { blockHeartbeats, status, steady, unblock, waitFor, withLab } from './support.js';

/** The bound the takeover must show within on the page (the measured delay is logged: it is the figure). */
const TAKEOVER_BOUND_MS = 10_000;

const skip = consoleSkip();

const dir = mkdtempSync(join(tmpdir(), 'tandem-console-test-'));
after(() => { rmSync(dir, { recursive: true, force: true }); });

describe('the web console in Chromium against two real nodes (issue 9)', { skip, timeout: 600_000 }, () => {
  it('sign in; next hop changed and applied live; takeover on the page; split brain resolved with the wizard; firmware slots', async () => {
    await withLab('default', async (lab) => {
      let browser: Browser | null = null;
      try {
        const { primary, secondary } = await steady(lab);
        await addAdmin(lab, primary, secondary, dir);

        browser = await launch(lab, dir);
        const context: BrowserContext = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
        const p = await context.newPage();

        // ---- Sign in on the primary: a wrong password is refused, then the console opens.
        await p.goto(url(primary));
        await p.getByLabel('User name').fill(USER);
        await p.getByLabel('Password').fill('not the password');
        await p.getByRole('button', { name: 'Sign in' }).click();
        await p.getByTestId('signin-error').waitFor();
        assert.match(await p.getByTestId('signin-error').innerText(), /wrong user name or password/);
        await shot(p, 'sign-in');
        await signIn(p, primary);
        await p.getByTestId('connection').filter({ hasText: 'live' }).waitFor();
        assert.equal(await badge(p, 'header-role'), 'primary');
        await p.locator('[data-badge=this-role]').waitFor();
        await shot(p, 'system-monitor');

        // ---- Next hop monitoring: the loader's refusal inline, then a change applied live.
        await open(p, 'High Availability');
        const nh = p.locator('#nh-ext0-this');
        await nh.fill('198.51.100.50');
        await p.getByTestId('save-next-hops').click();
        const err = p.getByTestId('nh-ext0-this-err');
        await err.waitFor();
        const refusal = await err.innerText();
        console.log(`loader's refusal shown next to the field: ${refusal}`);
        assert.ok(refusal.length > 0);
        assert.equal(await nh.getAttribute('aria-invalid'), 'true');
        await shot(p, 'high-availability-refused');
        const before = await status(lab, primary);
        await nh.fill('192.0.2.100');
        await p.locator('#nh-ext0-other').fill('192.0.2.100');
        await p.getByTestId('save-next-hops').click();
        await p.getByTestId('next-hops-said').filter({ hasText: 'applied live' }).waitFor({ timeout: 10_000 });
        assert.equal(await err.count(), 0, 'the refusal is gone');
        await waitFor('the new next hop monitored on both nodes', 10_000, async () => {
          const [a, b] = [await status(lab, 'a'), await status(lab, 'b')];
          const ok = (x: typeof a): boolean => x.next_hops.find((h) => h.interface === 'ext0')?.this_node.targets.some((t) => t.address === '192.0.2.100' && t.state === 'up') === true;
          return ok(a) && ok(b) ? true : undefined;
        });
        const now = await status(lab, primary);
        assert.equal(now.this_node.role, 'primary', 'no role change');
        assert.equal(now.this_node.term, before.this_node.term, 'no new term: applied live, no reboot');
        await p.locator('[data-badge=reach-ext0-this]').filter({ hasText: 'reachable' }).waitFor();
        await shot(p, 'high-availability');
        await open(p, 'System Monitor');
        await p.getByTestId('monitor-next-hops').filter({ hasText: '192.0.2.100' }).waitFor({ timeout: 10_000 });
        await p.getByTestId('issues').or(p.getByTestId('issues-none')).waitFor();
        await p.getByTestId('alerts').or(p.getByTestId('alerts-none')).waitFor();

        // ---- The other pages.
        await open(p, 'Firmwares');
        await p.getByTestId('slots').locator('tbody tr').first().waitFor();
        const slots = await p.getByTestId('slots').innerText();
        assert.match(slots, /current/);
        await shot(p, 'firmwares');
        await open(p, 'Version details');
        await p.getByTestId('versions').locator('tbody tr').nth(1).waitFor();
        await shot(p, 'version-details');
        await open(p, 'System control');
        await shot(p, 'system-control');
        await open(p, 'License');
        await p.getByTestId('license-none').waitFor();
        await shot(p, 'license');
        await open(p, 'Export / Import configuration');
        await p.getByRole('button', { name: 'Export', exact: true }).click();
        assert.match(await p.getByTestId('export-done').innerText(), /-\d{8}T\d{4}\.config \(plain, \d+ bytes/);
        await shot(p, 'config');
        await open(p, 'Core files');
        await p.getByTestId('cores-none').waitFor();
        await shot(p, 'core-files');
        await open(p, 'System Monitor');
        await p.getByRole('button', { name: /^Other node/ }).click();
        await p.locator('[data-badge=this-role]').filter({ hasText: 'secondary' }).waitFor({ timeout: 10_000 });
        await shot(p, 'system-monitor-other-node');
        await p.getByRole('button', { name: 'This node' }).click();
        await p.setViewportSize({ width: 420, height: 800 });
        await shot(p, 'system-monitor-narrow');
        await p.setViewportSize({ width: 1280, height: 800 });

        // ---- A link cut: the takeover on the secondary's own page.
        const s = await context.newPage();
        await signIn(s, secondary);
        await s.getByTestId('connection').filter({ hasText: 'live' }).waitFor();
        assert.equal(await badge(s, 'this-role'), 'secondary');
        // In the page (a string: this file is compiled without the DOM's types): the first moment
        // the page shows this node as primary.
        await s.evaluate(`new MutationObserver(() => {
          if (window.primaryAt === undefined && document.querySelector('[data-badge=this-role]')?.textContent === 'primary') window.primaryAt = Date.now();
        }).observe(document.body, { subtree: true, childList: true, characterData: true })`);
        const cutAt = Date.now();
        await lab.cut(primary, 'ext0');
        const promotedAt = await waitFor('the secondary to take over', TAKEOVER_BOUND_MS, async () => {
          const st = await status(lab, secondary);
          return st.this_node.role === 'primary' ? Date.now() : undefined;
        });
        await s.waitForFunction('window.primaryAt !== undefined', undefined, { timeout: TAKEOVER_BOUND_MS });
        const shownAt = await s.evaluate<number>('window.primaryAt');
        // The node's change is seen by polling its control socket (≤ ~20 ms late), so the delay
        // below is an upper bound of the event's way from the node to the page.
        console.log(`takeover: link cut → node primary ${String(promotedAt - cutAt)} ms; node primary → shown on the page ${String(shownAt - promotedAt)} ms`);
        assert.ok(shownAt - cutAt < TAKEOVER_BOUND_MS + 5000);
        await shot(s, 'system-monitor-after-takeover');
        await lab.heal(primary, 'ext0');
        await p.close();
        const now2 = await steady(lab);

        // ---- Split brain: every heartbeat cut, both serve; healed, the wizard resolves it.
        await blockHeartbeats(lab, now2.primary);
        await waitFor('both nodes to serve', 15_000, async () => ((await lab.vipOwner()) === 'both' ? true : undefined));
        await unblock(lab, now2.primary);
        const survivor = await waitFor('one primary again', 15_000, async () => {
          const owner = await lab.vipOwner();
          return owner === 'a' || owner === 'b' ? owner : undefined;
        });
        for (const n of ['a', 'b'] as const) {
          await waitFor(`${n} to report SplitBrain`, 10_000, async () => ((await status(lab, n)).cluster.status === 'SplitBrain' ? true : undefined));
        }
        await open(s, 'High Availability');
        const wizard = s.getByTestId('split-brain-wizard');
        await wizard.waitFor({ timeout: 10_000 });
        await shot(s, 'split-brain-wizard');
        const keep = survivor === secondary ? 'this' : 'other';
        await wizard.locator(`input[name=keep][value=${keep}]`).check();
        await wizard.getByTestId('sb-next-1').click();
        await wizard.getByTestId('set-aside').waitFor({ timeout: 10_000 });
        assert.match(await wizard.getByTestId('set-aside').innerText(), /diverged-gen-/);
        await shot(s, 'split-brain-set-aside');
        await wizard.getByTestId('sb-next-2').click();
        await wizard.getByTestId('resolve-split-brain').click();
        await wizard.getByTestId('split-brain-result').waitFor();
        await wizard.getByTestId('split-brain-resolved').waitFor({ timeout: 30_000 });
        await shot(s, 'split-brain-resolved');
        await waitFor('HA again on both nodes', 20_000, async () =>
          ((await status(lab, 'a')).cluster.status === 'HA' && (await status(lab, 'b')).cluster.status === 'HA' ? true : undefined));
        assert.equal(await lab.vipOwner(), survivor, 'the kept side serves');
      } catch (err) {
        // What the pages showed when it failed (in .tandem-lab/, not committed).
        for (const [i, page] of (browser?.contexts()[0]?.pages() ?? []).entries()) {
          await page.screenshot({ path: join(REPO_ROOT, '.tandem-lab', `console-failure-${String(i)}.png`), fullPage: true }).catch(() => undefined);
        }
        throw err;
      } finally {
        await browser?.close();
      }
    });
  });
});
