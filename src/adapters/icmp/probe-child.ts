/**
 * Test support for prober.test.ts: runs IcmpProbers in this process (started inside a network
 * namespace with `ip netns exec NS node dist/adapters/icmp/probe-child.js`), driven by JSON lines
 * on stdin, reporting JSON lines on stdout:
 *
 *   in:  {"op":"open","prober":"a"}
 *        {"op":"send","prober":"a","iface":"eth0","address":"192.0.2.2","seq":1}
 *        {"op":"close","prober":"a"}
 *   out: {"event":"ready"}
 *        {"event":"opened","prober":"a"}
 *        {"event":"reply","prober":"a","interface":"eth0","address":"192.0.2.2","seq":1}
 *        {"event":"error","prober":"a","code":"ENODEV","message":"..."}
 *
 * Ends (closing every prober) when stdin ends.
 */
import { createInterface } from 'node:readline';
import { IcmpError, openIcmpProber, type IcmpProber } from './prober.js';

const probers = new Map<string, IcmpProber>();
const emit = (event: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(event)}\n`); };

function handle(line: string): void {
  const command = JSON.parse(line) as { op: string; prober: string; iface?: string; address?: string; seq?: number };
  const name = command.prober;
  switch (command.op) {
    case 'open': {
      probers.set(name, openIcmpProber({
        onReply: (reply) => { emit({ event: 'reply', prober: name, ...reply }); },
        onError: (err) => { emit({ event: 'error', prober: name, code: err instanceof IcmpError ? err.code : 'EUNKNOWN', message: err.message }); },
      }));
      emit({ event: 'opened', prober: name });
      return;
    }
    case 'send':
      probers.get(name)?.send(command.iface ?? '', command.address ?? '', command.seq ?? -1);
      return;
    case 'close':
      probers.get(name)?.close(); // kept: sends to a closed prober must report ECLOSED
      emit({ event: 'closed', prober: name });
      return;
    default:
      emit({ event: 'error', prober: name, code: 'EBADCMD', message: `unknown op ${command.op}` });
  }
}

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  try {
    handle(line);
  } catch (err) {
    emit({ event: 'error', prober: '', code: 'ECHILD', message: err instanceof Error ? err.message : String(err) });
  }
});
input.on('close', () => {
  for (const prober of probers.values()) prober.close();
});
emit({ event: 'ready' });
