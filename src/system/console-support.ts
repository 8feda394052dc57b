/**
 * The browser tests of the web console (console*.system.test.ts): Debian's Chromium, driven by
 * playwright-core, runs inside the lab's client namespace (an operator's workstation on the ext
 * segment) against two real nodes; every page is saved as a screenshot in docs/console/.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT, type Lab, type NodeName } from '../lab/lab.js';
import { cannotRun, EXT_ADDRESS, tandem, waitFor } from './support.js';

export const CHROMIUM = '/usr/bin/chromium';
export const USER = 'alice';
export const PASSWORD = 'a long enough password';
export const SHOTS = join(REPO_ROOT, 'docs', 'console');

export const consoleSkip = (): string | false => cannotRun()
  ?? (existsSync(CHROMIUM) ? null : `no ${CHROMIUM} (apt-get install chromium)`)
  ?? (existsSync(join(REPO_ROOT, 'web', 'dist', 'index.html')) ? null : 'the console is not built (npm run build)')
  ?? false;

export const url = (n: NodeName, path = '/'): string => `https://${EXT_ADDRESS[n]}:8443${path}`;

/** The admin user, added on the primary; it reaches the secondary through data sync. */
export async function addAdmin(lab: Lab, primary: NodeName, secondary: NodeName, dir: string): Promise<void> {
  const pw = join(dir, 'pw');
  writeFileSync(pw, `${PASSWORD}\n`);
  const added = await tandem(lab, primary, ['user', 'add', USER, '--role', 'admin', '--password-file', pw]);
  assert.equal(added.code, 0, added.stderr);
  await waitFor('the user known on the secondary', 20_000, async () => {
    const r = await lab.exec('client', ['curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'content-type: application/json',
      '-d', JSON.stringify({ user: USER, password: PASSWORD }), url(secondary, '/api/session')]);
    return r.stdout.trim() === '200' ? true : undefined;
  });
}

/** Chromium inside the client namespace: playwright starts this wrapper, which enters the namespace. */
export async function launch(lab: Lab, dir: string): Promise<Browser> {
  const wrapper = join(dir, 'chromium-in-client-ns');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${lab.ns('client')} ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);
  return chromium.launch({ executablePath: wrapper, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 60_000 });
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

export async function signIn(page: Page, node: NodeName): Promise<void> {
  await page.goto(url(node));
  await fillSignIn(page);
}

/** The sign-in form of the page as it is (its address kept: the console opens that page after). */
export async function fillSignIn(page: Page): Promise<void> {
  await page.getByLabel('User name').fill(USER);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-badge=header-role]').waitFor({ timeout: 15_000 });
}

export async function open(page: Page, title: string, heading = title): Promise<void> {
  await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: title, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

/** The text of a badge (data-badge=NAME) on the page, or null. */
export const badge = (page: Page, name: string): Promise<string | null> => page.locator(`[data-badge=${name}]`).first().textContent({ timeout: 2000 }).catch(() => null);

/** What has the keyboard focus, and whether its focus ring is drawn (a string: compiled without the DOM's types). */
export async function focusRing(page: Page): Promise<{ readonly what: string; readonly ring: boolean }> {
  return JSON.parse(await page.evaluate<string>(`(() => {
    const e = document.activeElement;
    if (e === null || e === document.body) return JSON.stringify({ what: 'nothing', ring: false });
    const cs = getComputedStyle(e);
    const what = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + (e.getAttribute('aria-label') || e.textContent || '').trim().slice(0, 40);
    return JSON.stringify({ what, ring: e.matches(':focus-visible') && cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2 });
  })()`)) as { what: string; ring: boolean };
}

/** Presses Tab until `want` has the focus (at most `max` times), each stop with a visible focus ring. */
export async function tabTo(page: Page, want: RegExp, max = 30): Promise<string> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const f = await focusRing(page);
    assert.ok(f.ring, `no visible focus on ${f.what}`);
    if (want.test(f.what)) return f.what;
  }
  throw new Error(`${String(want)} not reached by ${String(max)} Tab presses`);
}
