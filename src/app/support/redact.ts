/**
 * Removing secrets from the text of a support bundle, two ways at once:
 *
 * - **by form**: what a secret of Tandem looks like wherever it appears — PEM and OpenPGP private
 *   key blocks, scrypt password hashes (`scrypt$…`), API tokens (`tdm_<id>_<secret>`), the value
 *   of an `Authorization: Bearer` header, and JSON fields named like secrets (hash, password,
 *   token, secret, signature, private_key…);
 * - **by value**: the secrets this node holds (the cluster key, webhook secrets, private keys,
 *   password hashes, token hashes, license signatures), each in the forms it could be written in
 *   (as text, hex, base64, base64url, JSON-escaped, one PEM line at a time), searched for in the
 *   final text and bytes of every file of the bundle.
 *
 * What was removed is counted by kind (never shown). `leftovers` checks the final bytes once more:
 * a bundle in which a known secret is still found is never handed out.
 */

export const REDACTED = '[REDACTED]';

/** A secret shorter than this is not searched for by value (it would blank out ordinary words). */
export const MIN_SECRET_LENGTH = 6;

/** JSON keys whose value is a secret wherever they appear. */
export const SECRET_JSON_KEY = /^(hash|sha256|password|passphrase|secret|secrets|token|signature|private_key|key_pem|cluster_key)$/i;

const FORMS: readonly { readonly what: string; readonly re: RegExp; readonly keep?: number }[] = [
  { what: 'private key', re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----/g },
  { what: 'password hash', re: /scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+/g },
  { what: 'API token', re: /tdm_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}/g },
  { what: 'bearer credential', re: /(authorization["']?\s*[:=]\s*["']?bearer\s+)[^\s"'\\,]+/gi, keep: 1 },
];

interface Known { readonly what: string; readonly text: string }

export class Redactor {
  private readonly known: Known[] = [];
  private readonly raw: { readonly what: string; readonly bytes: Buffer }[] = [];
  /** What was removed, by kind. */
  readonly counts: Record<string, number> = {};
  /** Secrets too short to be searched for. */
  readonly tooShort: string[] = [];

  /** A secret given as the bytes of its file (the cluster key, a webhook secret, a key file). */
  addBytes(what: string, bytes: Buffer): void {
    if (bytes.length === 0) return;
    const text = bytes.toString('utf8');
    const printable = /^[\x20-\x7e\t\r\n]*$/.test(text);
    if (printable) this.addText(what, text);
    else if (bytes.length >= MIN_SECRET_LENGTH) this.raw.push({ what, bytes });
    this.addText(what, bytes.toString('hex'), true);
    this.addText(what, bytes.toString('hex').toUpperCase(), true);
    this.addText(what, bytes.toString('base64'), true);
    this.addText(what, bytes.toString('base64url'), true);
  }

  /** A secret given as text; a PEM block also line by line, so that one line of it is found too. */
  addText(what: string, value: string, derived = false): void {
    const v = value.trim();
    if (v.length < MIN_SECRET_LENGTH) {
      if (v.length > 0 && !derived) this.tooShort.push(what);
      return;
    }
    this.push(what, v);
    const escaped = JSON.stringify(v).slice(1, -1);
    if (escaped !== v) this.push(what, escaped);
    if (v.includes('\n')) {
      for (const line of v.split(/\r?\n/)) {
        const l = line.trim();
        if (l.length >= 16 && !l.startsWith('-----')) this.push(what, l);
      }
    }
  }

  private push(what: string, text: string): void {
    if (!this.known.some((k) => k.text === text)) this.known.push({ what, text });
    // Longest first: a secret that contains another is removed whole.
    this.known.sort((a, b) => b.text.length - a.text.length);
  }

  private count(what: string, n = 1): void { this.counts[what] = (this.counts[what] ?? 0) + n; }

  /** Text with every secret removed: forms first, then the known values. */
  text(input: string): string {
    let s = input;
    for (const f of FORMS) {
      s = s.replace(f.re, (...m: unknown[]) => {
        this.count(f.what);
        return f.keep === undefined ? `${REDACTED} ${f.what}` : `${String(m[f.keep])}${REDACTED}`;
      });
    }
    for (const k of this.known) {
      if (!s.includes(k.text)) continue;
      const parts = s.split(k.text);
      this.count(k.what, parts.length - 1);
      s = parts.join(`${REDACTED} ${k.what}`);
    }
    return s;
  }

  /** A JSON value with every field named like a secret replaced, then its text redacted as any text. */
  json(value: unknown): string {
    const walk = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(walk);
      if (typeof v !== 'object' || v === null) return v;
      return Object.fromEntries(Object.entries(v).map(([k, x]) => {
        if (SECRET_JSON_KEY.test(k) && x !== null && x !== '' && typeof x !== 'boolean' && typeof x !== 'number') { this.count(`field ${k}`); return [k, REDACTED]; }
        return [k, walk(x)];
      }));
    };
    return this.text(`${JSON.stringify(walk(value), null, 2)}\n`);
  }

  /** The bytes of a file of the bundle: its text redacted, then raw secret bytes removed. */
  bytes(input: string | Buffer): Buffer {
    let b = Buffer.from(this.text(typeof input === 'string' ? input : input.toString('utf8')), 'utf8');
    for (const r of this.raw) {
      for (let at = b.indexOf(r.bytes); at >= 0; at = b.indexOf(r.bytes)) {
        this.count(r.what);
        b = Buffer.concat([b.subarray(0, at), Buffer.from(REDACTED), b.subarray(at + r.bytes.length)]);
      }
    }
    return b;
  }

  /** The kinds of the known secrets still present in `b` (none, in a bundle handed out). */
  leftovers(b: Buffer): string[] {
    const found = new Set<string>();
    for (const k of this.known) if (b.includes(k.text)) found.add(k.what);
    for (const r of this.raw) if (b.includes(r.bytes)) found.add(r.what);
    return [...found];
  }
}
