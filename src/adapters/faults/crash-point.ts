/**
 * Named crash points for the power-cut tests (SPEC §4: "SIGKILL at every step … leaves the node
 * bootable with its configuration"). A process started with TANDEM_CRASH_POINT=<name> kills
 * itself with SIGKILL when it reaches that point — nothing flushed, nothing cleaned up, as a
 * power cut would leave it. Without the variable this is one comparison.
 */
const armed = process.env.TANDEM_CRASH_POINT;

export function crashPoint(name: string): void {
  if (armed === undefined || armed !== name) return;
  process.stderr.write(`crash point ${name}: SIGKILL\n`);
  process.kill(process.pid, 'SIGKILL');
}
