#!/usr/bin/env node
/**
 * `npm run lab -- [--id ID | --dir DIR] <verb> …`: the namespace lab from the shell. Without
 * --id/--dir, verbs other than `up` work on the only lab under .tandem-lab/ (if there is one).
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Command } from 'commander';
import {
  isNodeIface, isNodeName, isSegment, isTiming, Lab, LabError, LABS_ROOT, listLabs,
  type LabStatus, type NodeIface, type NodeName, type Segment,
} from './lab.js';

// The lab's reboot/shutdown commands run as children of a node process that this very command
// may stop: its stdout may vanish under it. Never die of EPIPE.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

interface GlobalOpts { id?: string; dir?: string }

const program = new Command()
  .name('npm run lab --')
  .description('Tandem namespace lab: two nodes, an HA link, ext and int segments with routers, a client')
  .option('--id <id>', 'lab id (namespaces tdm<ID>-*); default: the only lab in .tandem-lab/')
  .option('--dir <dir>', 'lab directory (default .tandem-lab/<id>)')
  .showHelpAfterError();

function globals(): GlobalOpts { return program.opts<GlobalOpts>(); }

/** The lab the global options name, or the only one recorded under .tandem-lab/. */
function theLab(): Lab {
  const g = globals();
  if (g.id !== undefined || g.dir !== undefined) return Lab.open(g);
  const labs = listLabs();
  const only = labs[0];
  if (labs.length === 1 && only !== undefined) return Lab.open({ id: only });
  if (labs.length === 0) throw new LabError(`no lab found in ${LABS_ROOT}: run \`npm run lab -- up\` (or give --id/--dir)`);
  throw new LabError(`several labs (${labs.join(', ')}): choose one with --id`);
}

function node(s: string): NodeName {
  if (!isNodeName(s)) throw new LabError(`node must be a or b, not "${s}"`);
  return s;
}
/** a, b, or `self`: the node whose namespace this command runs in (the config's reboot/shutdown). */
function nodeOrSelf(lab: Lab, s: string): NodeName {
  if (s !== 'self') return node(s);
  const n = lab.selfNode();
  if (n === null) throw new LabError(`"self" names the node this command runs in, but this is not a node namespace of lab ${lab.id}`);
  return n;
}
function nodeIface(s: string, allowAll: true): NodeIface | 'all';
function nodeIface(s: string, allowAll: false): NodeIface;
function nodeIface(s: string, allowAll: boolean): NodeIface | 'all' {
  if (allowAll && s === 'all') return 'all';
  if (!isNodeIface(s)) throw new LabError(`interface must be ha0, ext0 or int0${allowAll ? ' or all' : ''}, not "${s}"`);
  return s;
}
function segment(s: string): Segment {
  if (!isSegment(s)) throw new LabError(`segment must be ext or int, not "${s}"`);
  return s;
}
function nodes(s: string | undefined): NodeName[] {
  return s === undefined || s === 'all' || s === 'both' ? ['a', 'b'] : [node(s)];
}

/** `sleep 600` or `["sh", "-c", "exec sleep 600"]`. */
function parseCommand(text: string): string[] {
  if (text.trimStart().startsWith('[')) {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.length > 0 && parsed.every((x) => typeof x === 'string')) return parsed;
    throw new LabError('--node-command: a JSON array of strings, please');
  }
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length === 0) throw new LabError('--node-command is empty');
  return words;
}

function printStatus(s: LabStatus): void {
  console.log(`lab ${s.id}: ${s.up ? 'up' : 'not up'}  (timing ${s.timing})`);
  console.log(`  dir     ${s.dir}`);
  console.log(`  config  ${s.config}`);
  console.log('  namespaces');
  for (const n of s.namespaces) {
    const links = (s.links[n.role] ?? [])
      .map((l) => `${l.name}${l.up ? '' : '(DOWN)'}${l.addresses.length > 0 ? ` ${l.addresses.join(',')}` : ''}`)
      .join('  ');
    console.log(`    ${n.name.padEnd(16)} ${n.exists ? links : '(missing)'}`);
  }
  console.log('  nodes');
  for (const n of ['a', 'b'] as const) {
    const v = s.nodes[n];
    console.log(`    ${n}  ${v.state}${v.pid !== null ? ` (pid ${v.pid})` : ''}  log ${v.log}`);
  }
  const faults: string[] = [];
  for (const [n, ifs] of Object.entries(s.cut)) if (ifs.length > 0) faults.push(`cut ${n} ${ifs.join(',')}`);
  for (const [n, rules] of Object.entries(s.loss)) {
    for (const [i, p] of Object.entries(rules)) faults.push(`loss ${n} ${i} ${p}%`);
  }
  for (const g of s.routersDown) faults.push(`router-down ${g}`);
  console.log(`  faults  ${faults.length > 0 ? faults.join('; ') : 'none'}`);
  console.log(`  192.0.2.10 is on: ${s.vipOwner ?? 'no node'}`);
}

program.command('up')
  .description('build the topology, write cluster.yaml, start both nodes')
  .option('--timing <profile>', 'timing profile in cluster.yaml: default | fast', 'default')
  .option('--no-start', 'do not start the node processes')
  .option('--node-command <cmd>', 'node process instead of `tandem node`: words, or a JSON array; placeholders {node} {config} {dir} {repo} {id}')
  .option('--trusted-key <file>', 'a firmware signing public key the nodes trust (firmware.trusted_keys; repeatable)', (v: string, prev: string[] | undefined) => [...(prev ?? []), resolve(v)])
  .option('--trial-timeout <s>', 'firmware.trial_timeout_s', (v) => Number.parseInt(v, 10))
  .action(async (o: { timing: string; start: boolean; nodeCommand?: string; trustedKey?: string[]; trialTimeout?: number }) => {
    if (!isTiming(o.timing)) throw new LabError(`timing must be default or fast, not "${o.timing}"`);
    const g = globals();
    const nodeCommand = o.nodeCommand === undefined ? undefined : parseCommand(o.nodeCommand);
    const firmware = o.trustedKey === undefined && o.trialTimeout === undefined ? undefined
      : { ...(o.trustedKey === undefined ? {} : { trustedKeys: o.trustedKey }), ...(o.trialTimeout === undefined ? {} : { trialTimeoutS: o.trialTimeout }) };
    const lab = new Lab({ ...g, timing: o.timing, ...(nodeCommand ? { nodeCommand } : {}), ...(firmware === undefined ? {} : { firmware }),
      onStep: (step) => { console.error(`  ${step}…`); } });
    await lab.up({ start: o.start });
    const id = `--id ${lab.id}`;
    console.log(`lab ${lab.id} is up: namespaces tdm${lab.id}-{a,b,rext,rint,client,sw}`);
    console.log(`  config ${lab.configPath}`);
    console.log(`  logs   ${lab.logPath('a')}, ${lab.logPath('b')}, ${lab.hooksLog}`);
    console.log(`  try    npm run lab -- ${id} status | cut a ext0 | heal a ext0 | down`);
  });

program.command('down')
  .description('stop the nodes, delete the namespaces, remove the lab directory')
  .option('--keep', 'keep the lab directory (logs, config)')
  .action(async (o: { keep?: boolean }) => {
    const lab = theLab();
    await lab.down({ keep: o.keep === true });
    console.log(`lab ${lab.id} is down${o.keep === true ? ` (kept ${lab.dir})` : ''}`);
  });

program.command('status')
  .description('namespaces, links, node processes, faults, who holds 192.0.2.10')
  .option('--json', 'machine-readable')
  .action(async (o: { json?: boolean }) => {
    const s = await theLab().status();
    if (o.json === true) console.log(JSON.stringify(s, null, 2)); else printStatus(s);
  });

program.command('cut').argument('<node>').argument('<iface>', 'ha0 | ext0 | int0 | all')
  .description("set a node's interface down")
  .action(async (n: string, i: string) => { await theLab().cut(node(n), nodeIface(i, true)); });

program.command('heal').argument('<node>').argument('<iface>', 'ha0 | ext0 | int0 | all')
  .description("set a node's interface up again")
  .action(async (n: string, i: string) => { await theLab().heal(node(n), nodeIface(i, true)); });

program.command('loss').argument('<node>').argument('<iface>').argument('<pct>', '0–100; 0 removes the rule')
  .description('random packet loss on a node interface, both directions (nftables)')
  .action(async (n: string, i: string, p: string) => {
    if (!/^\d+$/.test(p)) throw new LabError(`loss must be an integer 0–100, not "${p}"`);
    await theLab().loss(node(n), nodeIface(i, false), Number(p));
  });

program.command('router-down').argument('<segment>', 'ext | int')
  .description("the segment's router stops answering: both nodes lose that next hop")
  .action(async (g: string) => { await theLab().routerDown(segment(g)); });

program.command('router-up').argument('<segment>', 'ext | int')
  .description('the router answers again')
  .action(async (g: string) => { await theLab().routerUp(segment(g)); });

const processVerbs: [string, string, (lab: Lab, n: NodeName) => Promise<unknown>][] = [
  ['start', 'start the node process', (lab, n) => lab.start(n)],
  ['stop', 'SIGTERM the node process (SIGKILL after 10 s)', (lab, n) => lab.stop(n)],
  ['restart', 'stop, then start the node process', (lab, n) => lab.restart(n)],
  ['kill', 'SIGKILL the node process', (lab, n) => lab.kill(n)],
  ['freeze', 'SIGSTOP the node process', (lab, n) => lab.freeze(n)],
  ['thaw', 'SIGCONT the node process', (lab, n) => lab.thaw(n)],
];
for (const [verb, description, act] of processVerbs) {
  const takesAll = verb === 'start' || verb === 'stop';
  program.command(verb).argument(takesAll ? '[node]' : '<node>', takesAll ? 'a | b | self (default both)' : 'a | b | self')
    .description(description)
    .action(async (n: string | undefined) => {
      const lab = theLab();
      const which = n === 'self' ? [nodeOrSelf(lab, n)] : takesAll ? nodes(n) : [node(n ?? '')];
      for (const x of which) {
        await act(lab, x);
        const pid = lab.pid(x);
        console.log(`${x}: ${lab.processState(x)}${pid !== null ? ` (pid ${pid})` : ''}`);
      }
    });
}

program.command('exec').argument('<ns>', 'a | b | rext | rint | client | sw').argument('<cmd...>')
  .description('run a command in a namespace of the lab: exec client -- ping 192.0.2.10')
  .action(async (where: string, cmd: string[]) => {
    const lab = theLab();
    const ns = lab.resolveNs(where);
    const code = await new Promise<number>((res) => {
      const child = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'inherit' });
      child.on('error', () => { res(127); });
      child.on('exit', (c, sig) => { res(c ?? (sig !== null ? 128 : 1)); });
    });
    process.exitCode = code;
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof LabError) {
    console.error(`lab: ${err.message}`);
    process.exitCode = 1;
  } else {
    throw err;
  }
}
