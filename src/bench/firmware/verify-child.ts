/**
 * Child of the firmware benchmark: one pass over a bundle file (passes.ts), then one JSON line
 * {ms, maxRssKiB} — the peak resident memory of a process that did only that, so the parent
 * can show it stays flat as bundles grow.
 *
 *   node dist/bench/firmware/verify-child.js verify FILE PUBKEY    readBundle, verify only
 *   node dist/bench/firmware/verify-child.js sha256 FILE           plain SHA-256 (the reference)
 *   node dist/bench/firmware/verify-child.js idle                  nothing: Node.js and these modules loaded
 */
import { loadPublicKey } from '../../adapters/firmware/keys.js';
import { sha256OfFile, verifyFile } from './passes.js';

const [mode, file, pubkey] = process.argv.slice(2);
const usable = mode === 'idle' || (file !== undefined && (mode === 'verify' ? pubkey !== undefined : mode === 'sha256'));
if (!usable) {
  process.stderr.write('usage: verify-child.js verify FILE PUBKEY | sha256 FILE | idle\n');
  process.exit(2);
}
const started = performance.now();
if (mode === 'verify') await verifyFile(file ?? '', loadPublicKey(pubkey ?? ''));
else if (mode === 'sha256') await sha256OfFile(file ?? '');
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ ms, maxRssKiB: process.resourceUsage().maxRSS })}\n`);
