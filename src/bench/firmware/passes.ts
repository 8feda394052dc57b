/**
 * The two passes the firmware benchmark compares, over the same file through the same kind of
 * source (a read stream of 1 MiB chunks, what `tandem firmware verify` and an upload use):
 * readBundle verifying only, and a plain SHA-256 of the file — the most any verification
 * that hashes every byte can do.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { TrustedKey } from '../../adapters/firmware/keys.js';
import { readBundle } from '../../adapters/firmware/reader.js';

export const CHUNK_BYTES = 1024 * 1024;

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK_BYTES })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** readBundle without a sink: signature, manifest and every payload hash checked; bytes read. */
export async function verifyFile(file: string, key: TrustedKey): Promise<number> {
  const read = await readBundle(createReadStream(file, { highWaterMark: CHUNK_BYTES }), { trustedKeys: [key] });
  return read.bytesRead;
}
