/**
 * A narrated tour of the HA core on the simulated network: the same faults the system tests
 * inject on real namespaces, in virtual time, with every log line and alert the nodes emit.
 */
import type { TimingProfileName } from '../core/timing.js';
import { Simulation, type LogLine } from './simulation.js';

interface Chapter { readonly title: string; readonly run: (sim: Simulation) => void; readonly forMs: number }

const chapters: Chapter[] = [
  { title: 'Both nodes start together', run: () => undefined, forMs: 8000 },
  { title: "Node a's next hop on ext0 stops answering: forced takeover", run: (s) => { s.setNextHop('a', 'ext0', false); }, forMs: 5000 },
  { title: "It answers a again: equal reachability, nothing moves", run: (s) => { s.setNextHop('a', 'ext0', true); }, forMs: 5000 },
  { title: 'Both nodes lose the int0 router, 1.5 s apart: nothing moves', run: (s) => {
    s.setNextHop('b', 'int0', false);
    s.queue.at(s.now + 1500, () => { s.setNextHop('a', 'int0', false); });
  }, forMs: 6000 },
  { title: 'The router comes back', run: (s) => { s.setNextHop('a', 'int0', true); s.setNextHop('b', 'int0', true); }, forMs: 3000 },
  { title: 'The primary (b) is killed: a takes over', run: (s) => { s.crash('b'); }, forMs: 3000 },
  { title: 'b restarts and rejoins as secondary', run: (s) => { s.restart('b'); }, forMs: 4000 },
  { title: 'The HA link is cut, the redundant path (ext0) stays: no takeover', run: (s) => { s.cutPath('ha0'); }, forMs: 4000 },
  { title: 'The HA link returns', run: (s) => { s.cutPath('ha0', false); }, forMs: 2000 },
  { title: 'b falls behind (initial sync) and a loses its ext0 next hop: the takeover is vetoed', run: (s) => {
    s.setSync('b', 'Syncing');
    s.setNextHop('a', 'ext0', false);
  }, forMs: 6000 },
  { title: 'b is UpToDate again: the vetoed takeover happens at once', run: (s) => { s.setSync('b', 'UpToDate'); }, forMs: 32_000 },
  { title: 'Every heartbeat path is cut: both nodes serve (split brain)', run: (s) => { s.setNextHop('a', 'ext0', true); s.cutAllPaths(); }, forMs: 4000 },
  { title: 'The paths heal: split brain detected, one primary keeps serving', run: (s) => { s.cutAllPaths(false); }, forMs: 3000 },
  { title: "The operator keeps the primary's data: the other node's data is set aside, resync", run: (s) => {
    const keep = s.servingNodes()[0] ?? 'a';
    s.operator(keep, { type: 'resolve-split-brain', keep: 'this' });
  }, forMs: 4000 },
];

export function runDemo(profile: TimingProfileName, print: (line: string) => void): void {
  const sim = new Simulation({ profile, seed: 2026 });
  let shown = 0;
  const flush = (): void => {
    const lines: LogLine[] = sim.logs.slice(shown);
    shown = sim.logs.length;
    for (const l of lines) {
      if (l.event === 'next-hop' && l.message.includes('unknown →')) continue;
      print(`  ${(l.at / 1000).toFixed(3).padStart(8)} s  ${l.node}  ${l.level.padEnd(5)} ${l.message}`);
    }
  };
  print(`Tandem HA core on a simulated network (timing profile ${profile}; virtual time)\n`);
  for (const c of chapters) {
    print(`▶ ${c.title}`);
    c.run(sim);
    sim.runFor(c.forMs);
    flush();
    const a = sim.status('a');
    const b = sim.status('b');
    const serving = sim.servingNodes().filter((n) => sim.isRunning(n));
    print(`    → a: ${a?.this_node.role ?? 'down'}, b: ${b?.this_node.role ?? 'down'}; serving: ${serving.join(', ') || 'nobody'}; cluster ${a?.cluster.status ?? b?.cluster.status ?? '?'}\n`);
  }
}
