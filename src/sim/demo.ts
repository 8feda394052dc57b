/**
 * A narrated tour of the HA core on the simulated network: the same faults the system tests
 * inject on real namespaces, in virtual time, with every log line and alert the nodes emit.
 */
import type { TimingProfileName } from '../core/timing.js';
import { Simulation, type LogLine } from './simulation.js';

interface Chapter { readonly title: string; readonly run: (sim: Simulation) => void; readonly forMs: number }

const chapters: Chapter[] = [
  { title: 'Both nodes start together; the service writes a record every 200 ms, replicated live to the secondary', run: (s) => { s.startWriter(200); }, forMs: 8000 },
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
  { title: 'The HA link is cut again and a writes 150 records: b misses them (Outdated)', run: (s) => {
    s.cutPath('ha0');
    s.writeMany(150, 'a');
  }, forMs: 3000 },
  { title: 'The HA link returns: b resyncs (Syncing); a loses its ext0 next hop: the takeover is vetoed', run: (s) => {
    s.cutPath('ha0', false);
    s.setNextHop('a', 'ext0', false);
  }, forMs: 6000 },
  { title: "b's resync completes (UpToDate): the vetoed takeover happens at once", run: () => undefined, forMs: 32_000 },
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
    const node = (n: 'a' | 'b', st: typeof a): string =>
      `${n}: ${st?.this_node.role ?? 'down'} (${st === null ? '-' : `${st.sync.state}, ${sim.records(n).size} records`})`;
    print(`    → ${node('a', a)}, ${node('b', b)}; serving: ${serving.join(', ') || 'nobody'}; cluster ${a?.cluster.status ?? b?.cluster.status ?? '?'}\n`);
  }
}
