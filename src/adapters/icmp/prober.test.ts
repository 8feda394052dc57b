/**
 * The ICMP prober on real sockets in network namespaces made by this test (no mocks):
 *
 *   P (prober)  tdmicmpXXXXa 192.0.2.1/24    <-veth->  tdmicmpXXXXb 192.0.2.2/24    T (target)
 *               tdmicmpXXXXc 203.0.113.1/24  <-veth->  tdmicmpXXXXd 203.0.113.2/24  W (another host)
 *               tdmicmpXXXXe 198.51.100.1/24 <-veth->  tdmicmpXXXXf 198.51.100.2/24 T (deleted and re-created)
 *
 * The prober runs in P, in a child process (`ip netns exec P node probe-child.js`) that prints
 * replies and errors as JSON lines. Only namespaces created here are touched, and they are
 * removed after the suite whatever happened (and at process exit as a last resort).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./probe-child.js', import.meta.url));

function skipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux (raw sockets, network namespaces)';
  if (process.getuid?.() !== 0) return 'needs root (raw ICMP sockets and network namespaces)';
  const ip = spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  if (ip.error !== undefined || ip.status !== 0) return '`ip netns` is unavailable (install iproute2)';
  return undefined;
}

const hasCommand = (cmd: string, args: string[]): boolean => {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
};

const run = (cmd: string, args: readonly string[], input?: string): string =>
  execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Event {
  readonly event: string;
  readonly prober?: string;
  readonly interface?: string;
  readonly address?: string;
  readonly seq?: number;
  readonly code?: string;
  readonly message?: string;
}

/** The prober process in namespace P. */
class ProbeChild {
  readonly events: Event[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = '';
  private waiters: (() => void)[] = [];

  constructor(namespace: string) {
    this.child = spawn('ip', ['netns', 'exec', namespace, process.execPath, CHILD]);
    this.child.stderr.on('data', (chunk: Buffer) => { this.stderr += chunk.toString(); });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.events.push(JSON.parse(line) as Event);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.child.on('exit', () => { for (const wake of this.waiters.splice(0)) wake(); });
  }

  command(c: Record<string, unknown>): void {
    this.child.stdin.write(`${JSON.stringify(c)}\n`);
  }

  send(prober: string, iface: string, address: string, seq: number): void {
    this.command({ op: 'send', prober, iface, address, seq });
  }

  /** Resolves with the first event (from the whole history) matching, or rejects after `ms`. */
  async waitFor(match: (e: Event) => boolean, ms = 5000, what = 'event'): Promise<Event> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null) {
        throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events)}; stderr: ${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  replies(prober: string, seq?: number): Event[] {
    return this.events.filter((e) => e.event === 'reply' && e.prober === prober && (seq === undefined || e.seq === seq));
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => { resolve(); }));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

const skip = skipReason();

describe('ICMP prober in network namespaces', { skip: skip ?? false }, () => {
  const tag = `tdmicmp${randomBytes(2).toString('hex')}`;
  const P = `${tag}p`, T = `${tag}t`, W = `${tag}w`;
  const A = `${tag}a`, B = `${tag}b`, C = `${tag}c`, D = `${tag}d`, E = `${tag}e`, F = `${tag}f`;
  const TARGET = '192.0.2.2';
  const OTHER = '203.0.113.2';
  const created: string[] = [];
  let child: ProbeChild | undefined;
  let nextSeq = 1;

  const removeNamespaces = (): void => {
    for (const ns of created.splice(0)) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  };
  process.on('exit', removeNamespaces);

  before(async () => {
    const existing = run('ip', ['netns', 'list']);
    assert.ok(![P, T, W].some((ns) => existing.includes(ns)), `namespace names ${tag}* already in use`);
    for (const ns of [P, T, W]) {
      run('ip', ['netns', 'add', ns]);
      created.push(ns);
    }
    run('ip', ['link', 'add', A, 'netns', P, 'type', 'veth', 'peer', 'name', B, 'netns', T]);
    run('ip', ['link', 'add', C, 'netns', P, 'type', 'veth', 'peer', 'name', D, 'netns', W]);
    for (const [ns, dev, cidr] of [[P, A, '192.0.2.1/24'], [T, B, '192.0.2.2/24'], [P, C, '203.0.113.1/24'], [W, D, '203.0.113.2/24']] as const) {
      run('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', dev]);
      run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    addThirdLink();
    child = new ProbeChild(P);
    await child.waitFor((e) => e.event === 'ready', 10_000, 'the probe child to start');
    child.command({ op: 'open', prober: 'main' });
    await child.waitFor((e) => e.event === 'opened' && e.prober === 'main');
  });

  after(async () => {
    try {
      await child?.stop();
    } finally {
      removeNamespaces();
      process.off('exit', removeNamespaces);
    }
  });

  /** The E-F link, which one test deletes and creates again. */
  function addThirdLink(): void {
    run('ip', ['link', 'add', E, 'netns', P, 'type', 'veth', 'peer', 'name', F, 'netns', T]);
    run('ip', ['-n', P, 'addr', 'add', '198.51.100.1/24', 'dev', E]);
    run('ip', ['-n', T, 'addr', 'add', '198.51.100.2/24', 'dev', F]);
    run('ip', ['-n', P, 'link', 'set', E, 'up']);
    run('ip', ['-n', T, 'link', 'set', F, 'up']);
  }

  /** Sends one probe and waits for its reply (true) or `quietMs` without one (false). */
  async function probe(iface: string, address: string, opts: { prober?: string; quietMs?: number } = {}): Promise<{ seq: number; replied: boolean }> {
    const c = child!;
    const prober = opts.prober ?? 'main';
    const seq = nextSeq++;
    c.send(prober, iface, address, seq);
    try {
      await c.waitFor((e) => e.event === 'reply' && e.prober === prober && e.seq === seq, opts.quietMs ?? 1000);
      return { seq, replied: true };
    } catch {
      return { seq, replied: false };
    }
  }

  /** Probes every 200 ms until one is answered (an interface coming back, ARP re-resolving). */
  async function untilAnswered(iface: string, address: string, ms = 8000): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if ((await probe(iface, address, { quietMs: 200 })).replied) return;
    }
    assert.fail(`no reply from ${address} via ${iface} within ${ms} ms`);
  }

  it('gets each reply with its sequence number, on the interface it was sent from', async () => {
    const c = child!;
    const seqs = [nextSeq, nextSeq + 1, nextSeq + 2, 65535];
    nextSeq += 3;
    for (const seq of seqs) c.send('main', A, TARGET, seq);
    for (const seq of seqs) {
      const reply = await c.waitFor((e) => e.event === 'reply' && e.seq === seq, 5000, `reply ${seq}`);
      assert.deepEqual(reply, { event: 'reply', prober: 'main', interface: A, address: TARGET, seq });
    }
    await sleep(200);
    for (const seq of seqs) assert.equal(c.replies('main', seq).length, 1, `exactly one reply for ${seq}`);
  });

  it('gets no reply when bound to the wrong interface', async () => {
    // C leads to W, which does not have the target address: without SO_BINDTODEVICE the route
    // via A would be used and the probe answered.
    assert.equal((await probe(C, TARGET)).replied, false, 'a probe to T out of the interface towards W');
    // Both interfaces work for what is on them, and a reply is reported only on its interface.
    const viaC = await probe(C, OTHER, { quietMs: 5000 });
    assert.equal(viaC.replied, true, 'W answers on C');
    const viaA = await probe(A, TARGET, { quietMs: 5000 });
    assert.equal(viaA.replied, true, 'T answers on A');
    await sleep(200);
    assert.deepEqual(child!.replies('main', viaA.seq).map((e) => e.interface), [A]);
    assert.deepEqual(child!.replies('main', viaC.seq).map((e) => e.interface), [C]);
  });

  it('gets no reply while the peer side of the link is down, and replies again once it is up', async () => {
    run('ip', ['-n', T, 'link', 'set', B, 'down']);
    try {
      assert.equal((await probe(A, TARGET)).replied, false);
    } finally {
      run('ip', ['-n', T, 'link', 'set', B, 'up']);
    }
    await untilAnswered(A, TARGET);
  });

  it('gets no reply while an nftables rule in the target drops echo requests', { skip: hasCommand('nft', ['--version']) ? false : 'nft is not installed' }, async () => {
    run('ip', ['netns', 'exec', T, 'nft', '-f', '-'],
      'table inet tdmicmp {\n chain input {\n  type filter hook input priority 0; policy accept;\n  icmp type echo-request drop\n }\n}\n');
    try {
      assert.equal((await probe(A, TARGET)).replied, false);
    } finally {
      run('ip', ['netns', 'exec', T, 'nft', 'delete', 'table', 'inet', 'tdmicmp']);
    }
    await untilAnswered(A, TARGET);
  });

  it('ignores replies for another identifier (another prober, ping)', async () => {
    const c = child!;
    c.command({ op: 'open', prober: 'other' });
    await c.waitFor((e) => e.event === 'opened' && e.prober === 'other');
    const before = c.replies('main').length;
    const other = await probe(A, TARGET, { prober: 'other', quietMs: 5000 });
    assert.equal(other.replied, true, 'the other prober gets its reply');
    if (hasCommand('ping', ['-V'])) {
      const ping = spawnSync('ip', ['netns', 'exec', P, 'ping', '-n', '-c', '3', '-i', '0.2', '-W', '1', '-I', A, TARGET], { encoding: 'utf8' });
      assert.equal(ping.status, 0, `ping is answered: ${ping.stdout}${ping.stderr}`);
    }
    await sleep(300);
    assert.equal(c.replies('main').length, before, 'the main prober saw none of those replies');
    c.command({ op: 'close', prober: 'other' });
    await c.waitFor((e) => e.event === 'closed' && e.prober === 'other');
  });

  it('rebinds when its interface is deleted and created again under the same name', async () => {
    assert.equal((await probe(E, '198.51.100.2', { quietMs: 5000 })).replied, true);
    run('ip', ['-n', P, 'link', 'del', E]); // its peer F goes with it
    const gone = await probe(E, '198.51.100.2', { quietMs: 300 });
    assert.equal(gone.replied, false);
    await child!.waitFor((e) => e.event === 'error' && e.code === 'ENODEV' && (e.message ?? '').includes('198.51.100.2'), 3000, 'ENODEV for the deleted interface');
    addThirdLink(); // same name, new interface index
    await untilAnswered(E, '198.51.100.2');
  });

  it('reports bad requests and send errors through onError, and keeps working', async () => {
    const c = child!;
    const errorFor = (address: string, code: string) =>
      c.waitFor((e) => e.event === 'error' && e.code === code && (e.message ?? '').includes(address), 3000, `${code} for ${address}`);
    c.send('main', `${tag}x`, '192.0.2.100', nextSeq++); // no such interface in P
    await errorFor('192.0.2.100', 'ENODEV');
    c.send('main', A, '192.0.2.300', nextSeq++);
    await errorFor('192.0.2.300', 'EINVAL');
    c.send('main', A, '192.0.2.101', 70000);
    await errorFor('192.0.2.101', 'EINVAL');
    c.send('main', 'no/such', '192.0.2.102', nextSeq++);
    await errorFor('192.0.2.102', 'EINVAL');
    assert.equal((await probe(A, TARGET, { quietMs: 5000 })).replied, true, 'still probing');
    c.command({ op: 'close', prober: 'main' });
    await c.waitFor((e) => e.event === 'closed' && e.prober === 'main');
    c.send('main', A, '192.0.2.103', 1);
    await errorFor('192.0.2.103', 'ECLOSED');
  });
});
