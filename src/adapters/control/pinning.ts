/**
 * Trust on first use for the remote CLI, as SSH does: a node's HTTPS API has a self-signed
 * certificate, so the first connection to HOST:PORT fetches the certificate (nothing is sent),
 * keeps it in ~/.config/tandem/known-nodes.json and says so; every later connection trusts that
 * certificate only, and a node that presents another one is refused (the message says how to
 * forget it, should the node have been reinstalled).
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';

export function knownNodesFile(): string {
  return process.env.TANDEM_KNOWN_NODES ?? join(homedir(), '.config', 'tandem', 'known-nodes.json');
}

function read(file: string): Record<string, string> {
  try { return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>; } catch { return {}; }
}

/** The certificate to trust for `url`: pinned before, or fetched and pinned now (`onPin` tells the operator). */
export async function pinnedCertificate(url: string, onPin: (message: string) => void): Promise<string> {
  const u = new URL(url);
  const port = u.port === '' ? 443 : Number(u.port);
  const key = `${u.hostname}:${String(port)}`;
  const file = knownNodesFile();
  const known = read(file)[key];
  if (known !== undefined) return known;
  const pem = await fetchCertificate(u.hostname, port);
  const all = read(file);
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify({ ...all, [key]: pem }, null, 2)}\n`, { mode: 0o600 });
  onPin(`trusting the certificate of ${key} on first use (SHA-256 ${new X509Certificate(pem).fingerprint256}), kept in ${file}`);
  return pem;
}

function fetchCertificate(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, rejectUnauthorized: false, servername: /^[\d.]+$/.test(host) ? undefined : host }, () => {
      const raw = s.getPeerCertificate().raw as Buffer | undefined;
      s.end();
      if (raw === undefined) { reject(new Error(`${host}:${String(port)} presented no certificate`)); return; }
      resolve(`-----BEGIN CERTIFICATE-----\n${raw.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`);
    });
    s.setTimeout(5000, () => { s.destroy(new Error(`no TLS answer from ${host}:${String(port)} within 5 s`)); });
    s.once('error', reject);
  });
}
