/**
 * Why a firmware bundle was refused. Every refusal carries a stable `code` (scripts and the web
 * console branch on it; docs/firmware-bundle.md lists them) and a message naming the member and
 * what was wrong with it, precise enough to act on without opening the file.
 */

export const REFUSAL_CODES = [
  /** No trusted key is configured: signing can never be off, so nothing can verify. */
  'no-trusted-key',
  /** The signature names a key that is not trusted. */
  'unknown-key',
  /** The signature document is malformed, or does not verify over the manifest. */
  'bad-signature',
  /** manifest.sig is not the second member. */
  'missing-signature',
  /** The (signed) manifest is not a valid format-1 manifest. */
  'manifest-invalid',
  /** manifest.json is larger than MAX_MANIFEST_BYTES. */
  'manifest-too-large',
  /** A member the manifest does not list, or not manifest.json first. */
  'unexpected-member',
  /** A member the manifest lists, but later; or manifest.sig before manifest.json. */
  'out-of-order',
  /** A path listed or present twice (or both as a file and as a directory). */
  'duplicate',
  /** A path that is not a safe relative POSIX path (`..`, absolute, empty segments…). */
  'path-escape',
  /** A symbolic or hard link member. */
  'link',
  /** A directory, device, FIFO, pax or GNU extension header, or any other non-regular member. */
  'unsupported-entry',
  /** A payload member whose size is not the declared one. */
  'size-mismatch',
  /** A payload member whose content does not hash to the declared sha256. */
  'hash-mismatch',
  /** The bundle ends before its end-of-archive blocks. */
  'truncated',
  /** Non-zero bytes where only zero bytes may be (member padding, after the end), or too many. */
  'trailing-data',
  /** A tar header that is not strict POSIX ustar (checksum, magic, numeric fields, names). */
  'bad-header',
] as const;

export type RefusalCode = (typeof REFUSAL_CODES)[number];

export class BundleRefused extends Error {
  constructor(readonly code: RefusalCode, message: string) {
    super(message);
    this.name = 'BundleRefused';
  }
}
