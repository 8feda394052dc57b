/**
 * The replication protocol's messages: the headers of the authenticated frames
 * (src/adapters/sync/channel.ts) that flow between a replica (the secondary, which connects) and
 * its source (the primary). Every received header is checked here; a frame that does not fit is
 * a protocol error that closes the session, never a guess.
 *
 *   replica → source   hello{cluster,node,uuid,generations,features?}   (in the handshake)
 *   source → replica   welcome{generations,roots,features?}             (in the handshake)
 *   replica → source   manifest{root,entries,partials?}… manifests-done
 *   source → replica   plan{bytes,files}, then remove / entry / file chunk… file-end, then caught-up
 *   source → replica   (live) remove / entry / file chunk… file-end, barrier{id}, ping
 *
 * Features: the replica lists what it supports in its hello; the source answers with the ones
 * both support in its welcome, and both sides use only those. A peer from before features sends
 * none (zod drops the unknown key on the other side): plain files only, no resume.
 *   attrs    manifests carry modes, owners, directories and symlinks; `entry` frames
 *   resume   the replica reports transfers it kept when cut (`partials`); the source continues them
 *   replica → source   committed{root,path,ok}, barrier-ack{id}, ping
 */
import { z } from 'zod';

const generations = z.object({ current: z.string().min(1).max(200), history: z.array(z.string().max(200)).max(64) });
const path = z.string().min(1).max(4096);
const root = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/);
const size = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** What this build supports (see the module comment). */
export const SYNC_FEATURES = ['attrs', 'resume'] as const;
export type SyncFeature = (typeof SYNC_FEATURES)[number];
const features = z.array(z.string().max(32)).max(32).optional();

/** The features both sides support: what the source answers to a hello's list. */
export const commonFeatures = (theirs: readonly string[] | undefined): SyncFeature[] =>
  SYNC_FEATURES.filter((f) => theirs?.includes(f) === true);

const id32 = z.number().int().min(0).max(0xffffffff);
const attrs = {
  kind: z.enum(['dir', 'symlink']).optional(),
  mode: z.number().int().min(0).max(0o7777).optional(),
  uid: id32.optional(),
  gid: id32.optional(),
  target: z.string().min(1).max(4096).optional(),
};

export const fileEntrySchema = z.object({ path, size, mtimeMs: z.number(), sha256, ...attrs });

export const helloSchema = z.object({
  cluster: z.string(),
  node: z.string(),
  uuid: z.string().nullable(),
  generations,
  features,
});
export type Hello = z.output<typeof helloSchema>;

export const welcomeSchema = z.object({ generations, roots: z.array(root), features });
export type Welcome = z.output<typeof welcomeSchema>;

const partialId = z.string().regex(/^[0-9a-f-]{36}$/);

/** A transfer the replica kept when it was cut: the first `have` bytes of version `size`/`sha256`. */
export const partialSchema = z.object({ path, size, sha256, have: size, prefixSha256: sha256, id: partialId });
export type PartialTransfer = z.output<typeof partialSchema>;

const sendItem = z.object({
  path, size, sha256, mtimeMs: z.number(),
  append: z.object({ from: size, prefixSha256: sha256 }).optional(),
  resume: z.object({ from: size, prefixSha256: sha256, id: partialId }).optional(),
  meta: z.literal(true).optional(),
  ...attrs,
});

/** What the source sends. */
export const sourceMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('plan'), bytes: size, files: size }),
  z.object({ type: z.literal('remove'), root, path }),
  z.object({ type: z.literal('file'), root, item: sendItem }),
  /** A directory, a symlink, or new attributes of an entry already there: one frame, no chunks. */
  z.object({ type: z.literal('entry'), root, item: sendItem }),
  z.object({ type: z.literal('chunk') }),
  z.object({ type: z.literal('file-end') }),
  /** The source could not read the file to the end as announced: drop it, it comes again. */
  z.object({ type: z.literal('file-abort'), reason: z.string().max(500) }),
  z.object({ type: z.literal('caught-up'), generations }),
  z.object({ type: z.literal('barrier'), id: size }),
  z.object({ type: z.literal('ping') }),
]);
export type SourceMessage = z.output<typeof sourceMessage>;

/** What the replica sends. */
export const replicaMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('manifest'), root, entries: z.array(fileEntrySchema), partials: z.array(partialSchema).max(64).optional() }),
  z.object({ type: z.literal('manifests-done') }),
  z.object({ type: z.literal('committed'), root, path, ok: z.boolean(), problem: z.string().max(500).optional() }),
  z.object({ type: z.literal('barrier-ack'), id: size }),
  z.object({ type: z.literal('ping') }),
]);
export type ReplicaMessage = z.output<typeof replicaMessage>;

/** Entries per manifest frame: bounded frames whatever the size of a root. */
export const MANIFEST_BATCH = 2000;

/** Bytes per `chunk` frame: large enough for throughput, small enough to interleave barriers. */
export const CHUNK_BYTES = 256 * 1024;

/** A message of the wrong shape: the session ends. */
export class ProtocolError extends Error {
  constructor(readonly from: string, detail: string) {
    super(`protocol error from the ${from}: ${detail}`);
    this.name = 'ProtocolError';
  }
}

export function parseMessage<T>(schema: z.ZodType<T>, header: unknown, from: string): T {
  const r = schema.safeParse(header);
  if (!r.success) throw new ProtocolError(from, r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return r.data;
}
