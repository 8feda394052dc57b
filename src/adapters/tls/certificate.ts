/**
 * The HTTPS API's certificate: the operator's own (api.cert_file / api.key_file), or a
 * self-signed ECDSA P-256 pair made once, on first start, into `<state_dir>/api/` (key mode
 * 0600) with the node's addresses as subject alternative names. Made by `openssl req` (once per
 * node, never per request): Node.js can use a certificate but not make one.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

export interface Certificate {
  readonly cert: string;
  readonly key: string;
  /** SHA-256 fingerprint of the certificate (colon-separated hex), what a client pins. */
  readonly fingerprint: string;
  readonly selfSigned: boolean;
}

export function loadOrCreateCertificate(opts: {
  readonly stateDir: string; readonly node: string; readonly addresses: readonly string[];
  readonly certFile: string | null; readonly keyFile: string | null;
}): Certificate {
  if (opts.certFile !== null && opts.keyFile !== null) {
    const cert = readFileSync(opts.certFile, 'utf8');
    return { cert, key: readFileSync(opts.keyFile, 'utf8'), fingerprint: fingerprintOf(cert), selfSigned: false };
  }
  const dir = join(opts.stateDir, 'api');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const san = ['DNS:localhost', `DNS:${opts.node}`, ...opts.addresses.map((a) => `IP:${a}`)].join(',');
    // Written aside and renamed: a cut leaves no half pair.
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', `${keyPath}.tmp`, '-out', `${certPath}.tmp`, '-days', '3650',
      '-subj', `/CN=tandem ${opts.node}`, '-addext', `subjectAltName=${san}`,
    ], { stdio: 'pipe' });
    chmodSync(`${keyPath}.tmp`, 0o600);
    renameSync(`${keyPath}.tmp`, keyPath);
    renameSync(`${certPath}.tmp`, certPath);
  }
  const cert = readFileSync(certPath, 'utf8');
  return { cert, key: readFileSync(keyPath, 'utf8'), fingerprint: fingerprintOf(cert), selfSigned: true };
}

export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

