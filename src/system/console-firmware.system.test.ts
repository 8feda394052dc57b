/**
 * The Firmwares page in a real browser (issue 9) against two real nodes: a signed bundle built
 * by the test with the real commands is uploaded on Basic Settings > System > Firmwares (the
 * progress bar seen moving), its upgrade notes opened, its Test run (a result per check), After
 * reboot chosen, then the cluster upgrade started from the page and followed on it — through
 * this node's own reboot (the page asks to sign in again, then shows the plan going on) — until
 * both nodes run the new firmware and the VIP is served. The forms are driven by the keyboard
 * where an operator would (Tab, Space, Enter, Escape), each stop with a visible focus ring; the
 * page is saved at 1280×800 and at a narrow width. Last, Takeover for the Other node on the High
 * Availability page (its confirm dialog) moves the VIP.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { build, keygen } from '../lab/firmware.js';
import { REPO_ROOT, type Lab, type NodeName } from '../lab/lab.js';
import { addAdmin, consoleSkip, fillSignIn, focusRing, launch, open, shot, signIn, tabTo } from './console-support.js';
import { status, steady, VIP, waitFor, withLab } from './support.js';

const skip = consoleSkip();
const VERSION = '1.1.0';
const NOTES = 'Tandem 1.1.0: the console follows the cluster upgrade.\nRead before you upgrade: nothing to do.\n';

const dir = mkdtempSync(join(tmpdir(), 'tandem-console-fw-test-'));
after(() => { rmSync(dir, { recursive: true, force: true }); });

const versionOf = async (lab: Lab, node: NodeName): Promise<string | undefined> => (await status(lab, node)).this_node.firmware?.version;

/** Signs in again on a page whose node restarted (its sessions gone), once the node answers. */
async function signInAgain(page: Page): Promise<void> {
  await waitFor('the node back, its console asking to sign in', 180_000, async () => {
    if (await page.getByLabel('User name').isVisible().catch(() => false)) {
      try { await fillSignIn(page); return true; } catch { return undefined; }
    }
    // A node that was down when the page asked shows an error, not the form: ask again.
    if (await page.locator('[data-badge=header-role]').count() === 0) await page.reload({ timeout: 5000 }).catch(() => undefined);
    return undefined;
  });
}

describe('the Firmwares page in Chromium: upload, notes, Test, After reboot, the cluster upgrade followed live (issue 9)', { skip, timeout: 900_000 }, () => {
  it('uploads a signed bundle with a progress bar, shows its notes and Test per check, chooses After reboot, upgrades the cluster from the page', async () => {
    const keys = keygen(join(dir, 'keys'));
    const bundle = build({ keys, version: VERSION, type: 'feature', out: join(dir, `tandem-${VERSION}.tfw`), notes: NOTES });
    await withLab('default', async (lab) => {
      let browser: Browser | null = null;
      try {
        const { primary, secondary } = await steady(lab);
        const before = await versionOf(lab, primary);
        await addAdmin(lab, primary, secondary, dir);
        browser = await launch(lab, dir);
        const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
        const p = await context.newPage();
        await signIn(p, primary);
        await open(p, 'Firmwares');
        await p.getByTestId('slots').locator('tbody tr').first().waitFor();

        // ---- Upload: the file chosen, then Tab to Upload and Enter (the keyboard's way); the bar moves.
        await p.locator('#bundle').setInputFiles(bundle);
        await p.locator('#bundle').focus();
        assert.match(await tabTo(p, /^button Upload$/), /Upload/);
        await shot(p, 'firmwares-focus');
        // Every value the bar shows, from the first one (a string: compiled without the DOM's types).
        await p.evaluate(`window.uploadSeen = []; new MutationObserver(() => {
          const bar = document.querySelector('[role=progressbar][aria-label="Upload progress"]');
          const v = bar === null ? null : Number(bar.getAttribute('aria-valuenow'));
          if (v !== null && window.uploadSeen[window.uploadSeen.length - 1] !== v) window.uploadSeen.push(v);
        }).observe(document.body, { subtree: true, childList: true, attributes: true })`);
        await p.keyboard.press('Enter');
        await p.getByTestId('upload-progress').waitFor();
        // Polled with evaluate (the debugger's own evaluation): a string waitForFunction is an eval the console's CSP refuses.
        await waitFor('the upload bar to move', 60_000, async () => ((await p.evaluate<number[]>('window.uploadSeen')).some((v) => v > 0) ? true : undefined));
        await shot(p, 'firmwares-upload-progress');
        const installed = p.getByText(new RegExp(`^Installed ${VERSION.replace(/\./g, '\\.')} \\(feature\\) in slot (\\d+)`));
        await installed.waitFor({ timeout: 120_000 });
        const slot = Number(/in slot (\d+)/.exec(await installed.innerText())?.[1]);
        const seen = await p.evaluate<number[]>('window.uploadSeen');
        console.log(`upload progress bar values seen: ${seen.join(' ')}`);
        assert.equal(seen[seen.length - 1], 100, 'the bar ends full');
        assert.ok(seen.some((v) => v > 0 && v < 100), `the bar moved through the upload (${seen.join(' ')})`);
        assert.match(await p.getByTestId('upload-progress').innerText(), /100 %[\s\S]*MiB of .* MiB sent/);
        await p.getByTestId(`notes-${String(slot)}`).waitFor();
        await shot(p, 'firmwares-uploaded');

        // ---- The upgrade notes dialog: opened from the keyboard, closed with Escape.
        await p.getByTestId(`notes-${String(slot)}`).focus();
        await p.keyboard.press('Enter');
        const notes = p.getByTestId('notes');
        await notes.waitFor();
        assert.equal((await notes.innerText()).trim(), NOTES.trim());
        assert.match(await p.getByRole('heading', { name: /^Upgrade notes: / }).innerText(), new RegExp(`Upgrade notes: ${VERSION.replace(/\./g, '\\.')} \\(slot ${String(slot)}\\)`));
        const inDialog = await focusRing(p);
        assert.match(inDialog.what, /^button/, 'the dialog takes the focus');
        await shot(p, 'firmwares-notes');
        await p.keyboard.press('Escape');
        await notes.waitFor({ state: 'detached' });

        // ---- Test: a result per check.
        await p.getByTestId(`test-${String(slot)}`).click();
        const results = p.getByTestId('test-results');
        await results.waitFor({ timeout: 60_000 });
        const rows = await results.locator('tbody tr').allInnerTexts();
        console.log(`Test of slot ${String(slot)}:\n${rows.join('\n')}`);
        assert.ok(rows.length >= 3, 'a row per check');
        for (const r of rows) assert.match(r, /\t(pass|warn|fail|skip|n\/a)\t/, r);
        assert.ok(!rows.some((r) => /\tfail\t/.test(r)), 'no check fails');
        await shot(p, 'firmwares-test');

        // ---- After reboot: this node would boot the slot at its next start (the upgrade does it again).
        await p.getByTestId(`activate-${String(slot)}`).click();
        await p.getByTestId('after-reboot-said').filter({ hasText: 'boots after the next reboot' }).waitFor({ timeout: 60_000 });
        await p.getByTestId('slots').locator('tr', { hasText: VERSION }).getByText('after reboot', { exact: true }).waitFor({ timeout: 10_000 });
        await shot(p, 'firmwares-after-reboot');

        // ---- The cluster upgrade: the checklist ticked with Space, started with Enter, followed live.
        const upgrade = p.locator('#cluster-upgrade');
        const unticked = upgrade.locator('fieldset input[type=checkbox]:not(:checked):not(:disabled)');
        for (let left = 10; left > 0 && await unticked.count() > 0; left--) {
          const box = unticked.first();
          // Reached by the keyboard (a script's focus draws no ring after a mouse click).
          await box.focus();
          await p.keyboard.press('Shift+Tab');
          await p.keyboard.press('Tab');
          await p.keyboard.press('Space');
          assert.ok((await focusRing(p)).ring, 'visible focus on a checklist item');
        }
        assert.equal(await p.locator('#upgrade-slot').inputValue(), String(slot));
        await p.locator('#upgrade-slot').focus();
        await tabTo(p, /^button Upgrade the cluster$/, 3);
        await shot(p, 'firmwares-upgrade-checklist');
        await p.keyboard.press('Enter');
        const lines = p.getByTestId('upgrade-lines');
        await lines.filter({ hasText: `${secondary}: rebooting into Tandem ${VERSION}` }).waitFor({ timeout: 120_000 });
        await shot(p, 'firmwares-upgrade-running');
        await lines.filter({ hasText: `${secondary} runs Tandem ${VERSION}, committed and UpToDate` }).waitFor({ timeout: 180_000 });
        await p.getByTestId('upgrade-versions').filter({ hasText: `${secondary} Tandem ${VERSION}` }).waitFor({ timeout: 10_000 });
        await p.getByTestId('upgrade-result').filter({ hasText: `${primary} is rebooting into Tandem ${VERSION}` }).waitFor({ timeout: 60_000 });
        await shot(p, 'firmwares-upgrade-handover');

        // This node reboots: its sessions end; back, the page (same address) asks to sign in, then follows on.
        await signInAgain(p);
        await p.getByRole('heading', { level: 1, name: 'Firmwares' }).waitFor();
        await lines.filter({ hasText: `done: both nodes run Tandem ${VERSION}` }).waitFor({ timeout: 180_000 });
        await p.getByTestId('upgrade-versions').filter({ hasText: new RegExp(`Tandem ${VERSION.replace(/\./g, '\\.')}.*Tandem ${VERSION.replace(/\./g, '\\.')}`) }).waitFor({ timeout: 15_000 });
        console.log(`upgrade lines on the page:\n${await lines.innerText()}`);
        await shot(p, 'firmwares-upgrade-done');
        assert.equal(await versionOf(lab, 'a'), VERSION);
        assert.equal(await versionOf(lab, 'b'), VERSION);
        assert.notEqual(before, VERSION);
        const owner = await lab.vipOwner();
        assert.ok(owner === 'a' || owner === 'b', `one node serves the VIP (${String(owner)})`);
        const ping = await lab.clientPing(VIP, { count: 3, intervalMs: 100 });
        assert.ok(ping.replies.every((r) => r.ok && r.node === owner), 'the client is answered on the VIP');

        // ---- Narrow window: the same page, readable.
        await p.setViewportSize({ width: 420, height: 800 });
        await shot(p, 'firmwares-narrow');
        await p.setViewportSize({ width: 1280, height: 800 });

        // ---- Takeover for the Other node, from the node that serves now: its confirm dialog, then the VIP moves.
        const now = await steady(lab);
        const q = await context.newPage();
        await signIn(q, now.primary);
        await open(q, 'High Availability');
        await q.getByTestId('takeover-other').click();
        const dialog = q.getByRole('dialog');
        await dialog.getByText(`Make ${now.secondary} the primary?`).waitFor();
        await shot(q, 'high-availability-takeover-other');
        await dialog.getByRole('button', { name: 'Takeover' }).click();
        await waitFor('the other node to serve', 10_000, async () => ((await lab.vipOwner()) === now.secondary ? true : undefined));
        await q.locator('[data-badge=ha-this-role]').filter({ hasText: 'secondary' }).waitFor({ timeout: 10_000 });
      } catch (err) {
        for (const [i, page] of (browser?.contexts()[0]?.pages() ?? []).entries()) {
          await page.screenshot({ path: join(REPO_ROOT, '.tandem-lab', `console-fw-failure-${String(i)}.png`), fullPage: true }).catch(() => undefined);
        }
        throw err;
      } finally {
        await browser?.close();
      }
    }, { firmware: { trustedKeys: [keys.pub], trialTimeoutS: 30 } });
  });
});
