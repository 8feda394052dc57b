#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's test runner, shows the spec
// report, and ends with the plain summary line CI reads: "N passed, N failed, N skipped".
// Extra arguments are passed to `node --test` (e.g. a narrower path or --test-name-pattern).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'tandem-tests-'));
const tap = join(dir, 'report.tap');
const args = process.argv.slice(2);
const paths = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const child = spawn(
  process.execPath,
  [
    '--test',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    ...flags,
    ...(paths.length > 0 ? paths : ['dist/']),
  ],
  { stdio: 'inherit' },
);
child.on('exit', (code, signal) => {
  let text = '';
  try { text = readFileSync(tap, 'utf8'); } catch { /* runner died before writing */ }
  rmSync(dir, { recursive: true, force: true });
  const count = (name) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  const passed = count('pass');
  // A runner that exits non-zero without reporting a failure (crash, bad flag) still counts as one.
  const reported = count('fail') + count('cancelled');
  const failed = reported + (code !== 0 && reported === 0 ? 1 : 0);
  const skipped = count('skipped') + count('todo');
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(code ?? (signal ? 1 : 0));
});
