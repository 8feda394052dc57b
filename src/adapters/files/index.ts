/**
 * The sync store on disk (issue 4): scanning roots into manifests, hashing prefixes for append
 * plans, receiving files crash-safely, and preserving a diverged root. See docs/sync-store.md.
 */
export { preserveDiverged, divergedStamp } from './diverged.js';
export { DEFAULT_RACY_WINDOW_MS, HashCache, type HashCacheOptions } from './hash-cache.js';
export {
  IN_PLACE_APPEND_BYTES, INCOMING_DIR, MAX_PARTIALS, openReceiver, RESUME_MIN_BYTES, SyncIntegrityError, type PartialTransfer,
  type IncomingFile, type IntegrityProblem, type Leftover, type Receiver, type ReceiverOptions, type RemoveOptions,
} from './receiver.js';
export {
  canSetOwners, hashCachePath, prefixHashes, prefixSha256, scanFile, scanFileWithPrefix, scanTree,
  type Refused, type RefusedKind, type ScanOptions, type ScanResult, type ScanStats,
} from './scan.js';
