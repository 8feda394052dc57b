import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openHeartbeatTransport } from './heartbeats.js';

// Two "nodes" on loopback addresses 127.0.0.2 and 127.0.0.3, sharing one port like real nodes.
const PORT = 47_000 + Math.floor(Math.random() * 1000);

describe('UDP heartbeat transport', () => {
  it('delivers every datagram on its path to the core, whoever sent it', async () => {
    const got: { node: string; path: string; text: string }[] = [];
    const decoder = new TextDecoder();
    const a = await openHeartbeatTransport([{ name: 'ha0', localAddress: '127.0.0.2', peerAddress: '127.0.0.3' }], PORT,
      (path, bytes) => { got.push({ node: 'a', path, text: decoder.decode(bytes) }); }, () => undefined);
    const b = await openHeartbeatTransport([{ name: 'ha0', localAddress: '127.0.0.3', peerAddress: '127.0.0.2' }], PORT,
      (path, bytes) => { got.push({ node: 'b', path, text: decoder.decode(bytes) }); }, () => undefined);
    // A third sender's datagram reaches the core too: the core authenticates and counts it.
    const stranger = await openHeartbeatTransport([{ name: 'ha0', localAddress: '127.0.0.4', peerAddress: '127.0.0.2' }], PORT,
      () => undefined, () => undefined);
    try {
      a.send('ha0', new TextEncoder().encode('from a'));
      stranger.send('ha0', new TextEncoder().encode('from a stranger'));
      b.send('ha0', new TextEncoder().encode('from b'));
      a.send('nope', new TextEncoder().encode('unknown path: dropped'));
      for (let i = 0; i < 50 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(got.sort((x, y) => `${x.node}${x.text}`.localeCompare(`${y.node}${y.text}`)), [
        { node: 'a', path: 'ha0', text: 'from a stranger' },
        { node: 'a', path: 'ha0', text: 'from b' },
        { node: 'b', path: 'ha0', text: 'from a' },
      ]);
    } finally {
      a.close();
      b.close();
      stranger.close();
    }
  });
});
