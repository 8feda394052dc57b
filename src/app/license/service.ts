/**
 * The license of the cluster (SPEC §5, the seed's "Updating the license"): installed from a
 * vendor's signed file (plain or in a .zip), shown, warned about ahead of its end, and read by
 * the firmware Test (an LTS release needs a license issued for it). It lives in the replicated
 * `license` root (`state_dir/store/license/license.lic`), so the secondary gets it like the
 * configuration: install it on the primary. A refused file leaves nothing behind.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { KeyError, loadPublicKey, type TrustedKey } from '../../adapters/firmware/keys.js';
import { LicenseRefused, licenseDocumentOf, MAX_LICENSE_BYTES, verifyLicense, type VerifiedLicense } from '../../adapters/license/format.js';
import { writeTextAtomic } from '../../adapters/state/store.js';
import type { TandemConfig } from '../../config/types.js';
import { licenseCovers, licenseState, licenseWarnings, LIMIT_TYPES, type LicenseFields } from '../../core/license.js';
import { OpError, readBounded, refuse } from '../api/operation.js';

/** The installed license, in the `license` root. */
export const LICENSE_FILE = 'license.lic';

export const LicenseView = z.object({
  installed: z.boolean(),
  license: z.object({
    customer: z.string(), serial: z.string(), limit_type: z.enum(LIMIT_TYPES), limit: z.number().int(),
    valid_from: z.string(), valid_to: z.string(), lts_releases: z.array(z.string()),
  }).nullable(),
  key_id: z.string().nullable(),
  state: z.enum(['valid', 'expired', 'not-yet-valid', 'none', 'invalid']),
  days_left: z.number().int().nullable(),
  warnings: z.array(z.string()),
});
export type LicenseView = z.infer<typeof LicenseView>;

export interface LicenseServiceOptions {
  /** The replicated license root (state_dir/store/license). */
  readonly store: string;
  readonly config: () => TandemConfig;
  /** This node's role now (a secondary's store follows the primary). */
  readonly role: () => string | null;
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  readonly now?: () => number;
}

type Installed = { readonly kind: 'none' } | { readonly kind: 'ok'; readonly license: VerifiedLicense } | { readonly kind: 'invalid'; readonly reason: string };

export class LicenseService {
  constructor(private readonly o: LicenseServiceOptions) {}

  private now(): number { return (this.o.now ?? Date.now)(); }
  get file(): string { return join(this.o.store, LICENSE_FILE); }

  private vendorKeys(): TrustedKey[] {
    return this.o.config().license.vendorKeys.map((spec) => {
      try { return loadPublicKey(spec); } catch (err) {
        if (err instanceof KeyError) throw new LicenseRefused(`license.vendor_keys: ${err.message}`);
        throw err;
      }
    });
  }

  /** The installed license, checked again on every read (a vendor key removed from the configuration voids it). */
  private installed(): Installed {
    let doc: Buffer;
    try {
      doc = readFileSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
      return { kind: 'invalid', reason: `cannot read ${this.file}: ${(err as Error).message}` };
    }
    try {
      return { kind: 'ok', license: verifyLicense(doc, this.vendorKeys()) };
    } catch (err) {
      if (err instanceof LicenseRefused) return { kind: 'invalid', reason: err.message };
      throw err;
    }
  }

  /** The fields of the installed, verified license; null when none is (or it no longer verifies). */
  current(): LicenseFields | null {
    const i = this.installed();
    return i.kind === 'ok' ? i.license.fields : null;
  }

  show(): LicenseView {
    const i = this.installed();
    const warnings = this.licenseWarnings(this.now());
    if (i.kind === 'none') return { installed: false, license: null, key_id: null, state: 'none', days_left: null, warnings };
    if (i.kind === 'invalid') return { installed: true, license: null, key_id: null, state: 'invalid', days_left: null, warnings };
    const s = licenseState(i.license.fields, this.now());
    return {
      installed: true, license: { ...i.license.fields, lts_releases: [...i.license.fields.lts_releases] }, key_id: i.license.keyId,
      state: s.kind, days_left: s.kind === 'valid' ? s.daysLeft : null, warnings,
    };
  }

  /**
   * What the System Monitor's issues and the alerts read: an expired license, one ending within
   * `license.warn_days`, one not valid yet, an installed file that no longer verifies.
   */
  licenseWarnings(nowMs: number): string[] {
    const i = this.installed();
    if (i.kind === 'invalid') return [`the installed license is not valid: ${i.reason}`];
    return licenseWarnings(i.kind === 'ok' ? i.license.fields : null, nowMs, this.o.config().license.warnDays);
  }

  /** The firmware Test's license check for a target release. */
  checkFor(target: { readonly version: string; readonly type: string }): { readonly status: 'pass' | 'fail' | 'skip'; readonly message: string } {
    const i = this.installed();
    if (i.kind === 'invalid' && target.type === 'lts') return { status: 'fail', message: `Tandem ${target.version} is an LTS release and the installed license is not valid: ${i.reason}` };
    return licenseCovers(i.kind === 'ok' ? i.license.fields : null, target, this.now());
  }

  /** Installs a license from an upload (the file, or a .zip holding it): verified whole before anything is kept. */
  async install(upload: Readable): Promise<LicenseView & { readonly messages: string[] }> {
    if (this.o.role() === 'secondary') refuse(409, 'this node is the secondary: install the license on the primary (it is replicated to this node)');
    const bytes = await readBounded(upload, MAX_LICENSE_BYTES);
    let verified: VerifiedLicense;
    try {
      verified = verifyLicense(await licenseDocumentOf(bytes), this.vendorKeys());
    } catch (err) {
      if (err instanceof LicenseRefused) throw new OpError(400, [`license refused: ${err.message}`]);
      throw err;
    }
    const f = verified.fields;
    const s = licenseState(f, this.now());
    if (s.kind === 'expired') refuse(400, `license refused: it expired on ${f.valid_to}`);
    if (s.kind === 'not-yet-valid') refuse(400, `license refused: it is valid only from ${f.valid_from}; install it on or after that day`);
    mkdirSync(this.o.store, { recursive: true, mode: 0o700 });
    writeTextAtomic(this.file, verified.document.toString('utf8'), 0o600);
    const message = `license installed: ${f.customer}, serial ${f.serial}, ${String(f.limit)} ${f.limit_type}, valid ${f.valid_from} to ${f.valid_to}${f.lts_releases.length === 0 ? '' : `, LTS ${f.lts_releases.join(', ')}`} (vendor key ${verified.keyId})`;
    this.o.log('info', message);
    return { ...this.show(), messages: [message] };
  }
}

