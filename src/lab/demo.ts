#!/usr/bin/env node
/**
 * `npm run demo [-- --timing fast] [-- --keep]`: the namespace lab with both Tandem nodes
 * running. Prints what to try, then reports who holds the service address as it moves.
 * Ctrl-C (or SIGTERM) tears the lab down.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { dataDir } from './files.js';
import { isRoot, isTiming, Lab, LabError, REPO_ROOT, VIP, type VipOwner } from './lab.js';
import { sleep } from './run.js';

const args = process.argv.slice(2);
const timingAt = args.indexOf('--timing');
const timingArg = args.includes('--fast') ? 'fast' : timingAt >= 0 ? args[timingAt + 1] ?? '' : 'default';
const keep = args.includes('--keep');

if (!isRoot()) {
  console.error('network namespaces need root: run as root (e.g. sudo npm run demo)');
  process.exit(1);
}
if (!isTiming(timingArg)) {
  console.error(`--timing must be default or fast, not "${timingArg}"`);
  process.exit(1);
}

const lab = new Lab({ timing: timingArg });
const rel = (p: string): string => relative(REPO_ROOT, p) || '.';
const lab$ = `npm run lab -- --id ${lab.id}`;

/** `ready`: up() finished; a signal before that is acted on once it has (up cleans up on failure). */
const demo = { stopping: false, ready: false, interrupted: false };
async function teardown(code: number): Promise<void> {
  if (demo.stopping) { console.log('still tearing down, one moment…'); return; }
  demo.stopping = true;
  console.log(`\ntearing lab ${lab.id} down…`);
  try {
    await lab.down({ keep });
    console.log(keep ? `done; logs kept in ${rel(lab.dir)}/ (remove it when done)` : 'done; nothing left behind');
  } catch (err) {
    console.error(`teardown failed: ${err instanceof Error ? err.message : String(err)}`);
    console.error(`retry with: ${lab$} down`);
    code = 1;
  }
  process.exit(code);
}
function onSignal(): void {
  if (demo.ready) { void teardown(0); return; }
  demo.interrupted = true;
  console.log('\ninterrupted: finishing the set-up, then tearing it down…');
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

console.log(`Tandem demo: two nodes in network namespaces (lab ${lab.id}, timing ${timingArg})\n`);
try {
  await lab.up({ start: true });
} catch (err) {
  console.error(err instanceof LabError ? err.message : err);
  process.exit(1);
}
demo.ready = true;
if (demo.interrupted) await teardown(0);

const cfg = rel(lab.configPath);
const consoleUser = await addConsoleUser();
const forwards = forwardConsoles();

const tries: [string, string][] = [
  [`npx tandem status --config ${cfg} --node a`, 'the cluster as node a sees it'],
  [`${lab$} cut a ext0`, "a's ext link goes down (heal a ext0 undoes it)"],
  [`${lab$} router-down int`, 'both nodes lose the same next hop: nothing should move'],
  [`${lab$} kill a`, 'SIGKILL the node process (start a brings it back)'],
  [`${lab$} freeze a`, 'SIGSTOP the node process (thaw a resumes it)'],
  [`echo hello >> ${rel(dataDir(lab.dir, 'a'))}/audit.log`, "write into the primary's data_dir (a's, unless b took over): it appears in b's at once"],
  [`npx tandem data barrier --config ${cfg} --node a`, 'returns once everything written before is stored on the secondary'],
  [`${lab$} cut a ha0`, 'HA link cut: ext0 still carries heartbeats; b becomes Outdated (sync paused)'],
  [`${lab$} loss b ext0 30`, "30 % random loss on b's ext0 (0 removes it)"],
  [`${lab$} exec client -- ping ${VIP}`, 'the service, from the client'],
  [`${lab$} status`, 'namespaces, links, processes, faults, who holds the VIP'],
];
const width = Math.max(...tries.map(([c]) => c.length));
console.log(`Topology (namespaces tdm${lab.id}-*):
  a ── ha0 203.0.113.0/30 ── b      HA link (heartbeats, sync)
  ext 192.0.2.0/24     a .11  b .12  router rext .1  client .100   service address ${VIP}
  int 198.51.100.0/24  a .11  b .12  router rint .1

Try, in another shell (as root):
${tries.map(([c, what]) => `  ${c.padEnd(width)}   ${what}`).join('\n')}

Web console: ${forwards.length > 0 ? forwards.join(', ') : 'https://192.0.2.11:8443/ and https://192.0.2.12:8443/ from the client namespace'}
  user ${consoleUser?.user ?? '(none: tandem user add NAME --role admin on the primary)'}${consoleUser === null ? '' : `, password ${consoleUser.password}`} (self-signed certificate: accept it in the browser)

Logs: ${rel(lab.logPath('a'))}, ${rel(lab.logPath('b'))}; hooks: ${rel(lab.hooksLog)}
Ctrl-C tears everything down${keep ? ' (the lab directory is kept)' : ''}.
`);

let last: VipOwner | undefined;
let lastState = '';
while (!demo.stopping) {
  try {
    const owner = await lab.vipOwner();
    const procs = `a ${lab.processState('a')}, b ${lab.processState('b')}`;
    if (owner !== last || procs !== lastState) {
      const who = owner === null ? 'no node' : owner === 'both' ? 'BOTH nodes' : `node ${owner}`;
      console.log(`${new Date().toISOString().slice(11, 23)}  ${VIP} on ${who}; processes: ${procs}`);
      last = owner;
      lastState = procs;
    }
  } catch {
    // The lab is being torn down under us.
  }
  await sleep(500);
}

/** An admin for the web console, added on whichever node is primary (users are managed there). */
async function addConsoleUser(): Promise<{ user: string; password: string } | null> {
  const password = randomBytes(9).toString('base64url');
  const file = join(lab.dir, 'console-password');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  for (let i = 0; i < 40; i++) {
    for (const node of ['a', 'b'] as const) {
      const r = await lab.exec(node, [process.execPath, join(REPO_ROOT, 'dist/cli/tandem.js'), 'user', 'add', 'admin', '--role', 'admin',
        '--password-file', file, '--config', lab.configPath, '--node', node]);
      if (r.code === 0) return { user: 'admin', password };
    }
    await sleep(500);
  }
  return null;
}

/**
 * The consoles from the host: https://127.0.0.1:8443/ (node a) and :8444 (node b). Each
 * connection is carried by a small relay started in the client namespace (the nodes' addresses
 * are only reachable there).
 */
function forwardConsoles(): string[] {
  const out: string[] = [];
  for (const [port, address] of [[8443, '192.0.2.11'], [8444, '192.0.2.12']] as const) {
    const server = createServer((socket) => {
      const relay = spawn('ip', ['netns', 'exec', lab.ns('client'), process.execPath, '-e',
        `const s = require('node:net').connect(8443, '${address}'); process.stdin.pipe(s); s.pipe(process.stdout); s.on('error', () => process.exit(1)); s.on('close', () => process.exit(0));`],
      { stdio: ['pipe', 'pipe', 'ignore'] });
      socket.pipe(relay.stdin);
      relay.stdout.pipe(socket);
      const end = (): void => { socket.destroy(); relay.kill(); };
      socket.on('error', end); socket.on('close', end); relay.on('exit', end);
    });
    server.on('error', (err) => { console.log(`(the console forward on 127.0.0.1:${String(port)} is off: ${err.message})`); });
    server.listen(port, '127.0.0.1');
    server.unref();
    out.push(`https://127.0.0.1:${String(port)}/ (node ${address.endsWith('.11') ? 'a' : 'b'})`);
  }
  return out;
}
