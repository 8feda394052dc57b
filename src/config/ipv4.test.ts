import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { broadcastOf, formatIpv4, ipv4Number, networkOf, parseBareIpv4, parseCidr, sameSubnet } from './ipv4.js';

describe('IPv4 parsing', () => {
  it('accepts strict dotted quads only', () => {
    assert.equal(ipv4Number('192.0.2.1'), 0xc0000201);
    assert.equal(ipv4Number('0.0.0.0'), 0);
    assert.equal(ipv4Number('255.255.255.255'), 0xffffffff);
    for (const bad of ['192.0.2', '192.0.2.1.5', '192.0.2.256', '192.0.2.01', '192.0.2.-1', '192.0.2.1 ', '0x1.0.0.1', '1e2.0.0.1', '', '...']) {
      assert.equal(ipv4Number(bad), null, bad);
    }
    assert.equal(formatIpv4(0xc0000201), '192.0.2.1');
  });

  it('computes networks and broadcasts at every prefix edge', () => {
    const v = ipv4Number('192.0.2.130')!;
    assert.equal(formatIpv4(networkOf(v, 25)), '192.0.2.128');
    assert.equal(formatIpv4(broadcastOf(v, 25)), '192.0.2.255');
    assert.equal(formatIpv4(networkOf(v, 32)), '192.0.2.130');
    assert.equal(formatIpv4(networkOf(v, 1)), '128.0.0.0');
    assert.equal(formatIpv4(broadcastOf(v, 1)), '255.255.255.255');
  });

  it('parses address/prefix, refusing IPv6, a missing or bad prefix and unusable addresses', () => {
    assert.deepEqual(parseCidr('192.0.2.11/24'), { ok: true, value: { address: '192.0.2.11', value: ipv4Number('192.0.2.11'), prefix: 24 } });
    const reason = (text: string) => { const r = parseCidr(text); return r.ok ? 'ok' : r.reason; };
    assert.equal(reason('2001:db8::1/64'), 'IPv6 is not supported: use an IPv4 address');
    assert.match(reason('::ffff:192.0.2.1/120'), /IPv6/);
    assert.match(reason('192.0.2.11'), /missing the prefix length: write address\/prefix, e\.g\. 192\.0\.2\.11\/24/);
    assert.match(reason('192.0.2.11/'), /prefix length/);
    assert.match(reason('192.0.2.11/024'), /prefix length/);
    assert.match(reason('192.0.2.11/24/1'), /prefix length/);
    assert.match(reason('host.example/24'), /not an IPv4 address/);
    assert.match(reason('0.1.2.3/8'), /not a usable address/);
    assert.match(reason('240.0.0.1/4'), /reserved/);
    assert.equal(reason('192.0.2.11/32'), 'ok');
  });

  it('parses a bare address, refusing a prefix', () => {
    assert.deepEqual(parseBareIpv4('192.0.2.1'), { ok: true, value: ipv4Number('192.0.2.1') });
    const r = parseBareIpv4('192.0.2.1/32');
    assert.ok(!r.ok);
    assert.match(r.reason, /without a prefix length: write 192\.0\.2\.1$/);
    const six = parseBareIpv4('fe80::1');
    assert.ok(!six.ok);
    assert.equal(six.reason, 'IPv6 is not supported: use an IPv4 address');
  });

  it('same subnet means same network and same prefix', () => {
    const cidr = (t: string) => { const r = parseCidr(t); assert.ok(r.ok); return r.value; };
    assert.ok(sameSubnet(cidr('203.0.113.1/30'), cidr('203.0.113.2/30')));
    assert.ok(!sameSubnet(cidr('203.0.113.1/30'), cidr('203.0.113.5/30')));
    assert.ok(!sameSubnet(cidr('192.0.2.11/24'), cidr('192.0.2.12/25')));
  });
});
