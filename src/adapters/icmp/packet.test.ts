import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ECHO_BYTES, formatIpv4, internetChecksum, parseEchoReply, parseIpv4, writeEchoRequest,
} from './packet.js';

const ID = 0xbeef;
const TOKEN = 0x01020304;
const TARGET = '192.0.2.7';

/** The datagram a peer sends back for our request: IPv4 header + the request turned into a reply. */
function replyDatagram(opts: { seq?: number; from?: string; identifier?: number; token?: number; mutate?: (icmp: Buffer) => void; fixChecksum?: boolean } = {}): Buffer {
  const to = parseIpv4(TARGET)!;
  const icmp = Buffer.from(writeEchoRequest(Buffer.alloc(ECHO_BYTES), {
    identifier: opts.identifier ?? ID, token: opts.token ?? TOKEN, seq: opts.seq ?? 7, destination: to,
  }));
  icmp[0] = 0; // echo reply
  icmp.writeUInt16BE(0, 2);
  icmp.writeUInt16BE(internetChecksum(icmp), 2);
  if (opts.mutate) {
    opts.mutate(icmp);
    if (opts.fixChecksum ?? true) { icmp.writeUInt16BE(0, 2); icmp.writeUInt16BE(internetChecksum(icmp), 2); }
  }
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + icmp.length, 2);
  ip[8] = 64;
  ip[9] = 1;
  ip.writeUInt32BE(parseIpv4(opts.from ?? TARGET)!, 12);
  ip.writeUInt32BE(parseIpv4('192.0.2.1')!, 16);
  ip.writeUInt16BE(internetChecksum(ip), 10);
  return Buffer.concat([ip, icmp]);
}

describe('icmp packets', () => {
  it('computes the RFC 1071 checksum (odd lengths padded with zero)', () => {
    // The example of RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to ddf2, so the checksum is 220d.
    assert.equal(internetChecksum(Buffer.from('0001f203f4f5f6f7', 'hex')), 0x220d);
    assert.equal(internetChecksum(Buffer.from('01', 'hex')), 0xfeff);
    const request = writeEchoRequest(Buffer.alloc(64), { identifier: 1, token: 2, seq: 3, destination: 4 });
    assert.equal(request.length, ECHO_BYTES);
    assert.equal(internetChecksum(request), 0, 'a packet with its checksum sums to zero');
  });

  it('parses and formats IPv4 addresses strictly', () => {
    assert.equal(parseIpv4('192.0.2.1'), 0xc0000201);
    assert.equal(formatIpv4(0xcb007101), '203.0.113.1');
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.x', ' 1.2.3.4', '::1']) {
      assert.equal(parseIpv4(bad), undefined, bad);
    }
  });

  it('accepts an echo reply to our request', () => {
    assert.deepEqual(parseEchoReply(replyDatagram({ seq: 65535 }), ID, TOKEN), { address: TARGET, seq: 65535 });
  });

  it('ignores a reply with another identifier or token, a wrong checksum, type or code', () => {
    assert.equal(parseEchoReply(replyDatagram({ identifier: ID ^ 1 }), ID, TOKEN), undefined, 'identifier');
    assert.equal(parseEchoReply(replyDatagram({ token: TOKEN + 1 }), ID, TOKEN), undefined, 'token');
    assert.equal(parseEchoReply(replyDatagram({ mutate: (b) => { b[10] = 0; }, fixChecksum: false }), ID, TOKEN), undefined, 'checksum');
    assert.equal(parseEchoReply(replyDatagram({ mutate: (b) => { b[0] = 8; } }), ID, TOKEN), undefined, 'an echo request');
    assert.equal(parseEchoReply(replyDatagram({ mutate: (b) => { b[1] = 1; } }), ID, TOKEN), undefined, 'code 1');
    assert.equal(parseEchoReply(replyDatagram({ mutate: (b) => { b[8] = 0x41; } }), ID, TOKEN), undefined, 'magic');
  });

  it('ignores a reply from another address than the one probed', () => {
    assert.equal(parseEchoReply(replyDatagram({ from: '192.0.2.8' }), ID, TOKEN), undefined);
  });

  it('ignores truncated, fragmented, non-IPv4 or non-ICMP datagrams', () => {
    const good = replyDatagram();
    assert.equal(parseEchoReply(good.subarray(0, good.length - 1), ID, TOKEN), undefined, 'truncated');
    assert.equal(parseEchoReply(good.subarray(0, 10), ID, TOKEN), undefined, 'shorter than a header');
    const fragment = Buffer.from(good); fragment.writeUInt16BE(0x2000, 6);
    assert.equal(parseEchoReply(fragment, ID, TOKEN), undefined, 'more fragments');
    const v6 = Buffer.from(good); v6[0] = 0x65;
    assert.equal(parseEchoReply(v6, ID, TOKEN), undefined, 'version 6');
    const udp = Buffer.from(good); udp[9] = 17;
    assert.equal(parseEchoReply(udp, ID, TOKEN), undefined, 'UDP');
    const longer = Buffer.concat([good, Buffer.alloc(4)]); longer.writeUInt16BE(good.length + 4, 2);
    assert.equal(parseEchoReply(longer, ID, TOKEN), undefined, 'a payload of another size');
  });

  it('reads a datagram at an offset of a larger buffer (the receive slots)', () => {
    const good = replyDatagram({ seq: 12 });
    const slots = Buffer.concat([Buffer.alloc(130, 0xff), good, Buffer.alloc(50, 0xff)]);
    assert.deepEqual(parseEchoReply(slots, ID, TOKEN, 130, 130 + good.length), { address: TARGET, seq: 12 });
    assert.equal(parseEchoReply(slots, ID, TOKEN, 130, 130 + good.length - 1), undefined, 'cut short');
    assert.equal(parseEchoReply(slots, ID, TOKEN, 129, 130 + good.length), undefined, 'misaligned');
  });

  it('honours IP options (a header longer than 20 bytes)', () => {
    const good = replyDatagram({ seq: 9 });
    const withOptions = Buffer.concat([good.subarray(0, 20), Buffer.from([1, 1, 1, 0]), good.subarray(20)]);
    withOptions[0] = 0x46;
    withOptions.writeUInt16BE(withOptions.length, 2);
    assert.deepEqual(parseEchoReply(withOptions, ID, TOKEN), { address: TARGET, seq: 9 });
  });
});
