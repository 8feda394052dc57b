/**
 * Firmware as the pure core sees it (SPEC §4): releases, the signed manifest a bundle carries,
 * and the configuration migrations it brings. The bundle file format that carries a manifest is
 * in adapters/firmware (docs/firmware-bundle.md); these are only values.
 */

/** A release's type: Long Term Support or Feature Release. */
export type ReleaseType = 'lts' | 'feature';

/**
 * The firmware a node can run: a release from a bundle, or the factory firmware (the software the
 * node was installed with, slot 0), which has no manifest and no release type.
 */
export type FirmwareType = ReleaseType | 'factory';

/** What the release policy needs of a release. */
export interface Release {
  /** Semantic version, MAJOR.MINOR.PATCH[-PRERELEASE]. */
  readonly version: string;
  readonly type: ReleaseType;
  /** Publication date, YYYY-MM-DD, UTC. */
  readonly published: string;
}

/** The range of HA protocol versions (heartbeats, sync channel, peer calls) a firmware speaks. */
export interface ProtocolRange {
  readonly min: number;
  readonly max: number;
}

/**
 * One declarative step of a configuration migration. Paths are dotted keys of the configuration
 * document; a `*` segment matches every key of a mapping at that level
 * (`nodes.*.interfaces.*.next_hop`).
 */
export type MigrationStep =
  /** Moves the value at `from` to `to` (same `*` segments in both, matched positionally). */
  | { readonly op: 'rename'; readonly from: string; readonly to: string }
  /** Removes the key at `path`. */
  | { readonly op: 'remove'; readonly path: string }
  /** Sets `path` to `value` when the key is absent (a new required key with its old meaning). */
  | { readonly op: 'set-default'; readonly path: string; readonly value: unknown };

/** The migration of the configuration document from schema `from` to schema `to` (= from + 1). */
export interface Migration {
  readonly from: number;
  readonly to: number;
  /** What changed, for the operator (shown by Test and import). */
  readonly description: string;
  readonly steps: readonly MigrationStep[];
}

/** One file of a bundle's payload, in payload order. */
export interface PayloadFile {
  /** Relative POSIX path inside the firmware tree: no `..`, no leading `/`, no empty segment. */
  readonly path: string;
  readonly size: number;
  /** Lower-case hex SHA-256 of the content. */
  readonly sha256: string;
  /** Permission bits, 0o644 or 0o755. */
  readonly mode: number;
}

/** The signed manifest of a firmware bundle (`manifest.json`, format 1). */
export interface Manifest {
  readonly format: 1;
  readonly product: 'tandem';
  readonly version: string;
  readonly type: ReleaseType;
  /** YYYY-MM-DD, UTC. */
  readonly published: string;
  /** Upgrade notes, plain text (shown before an upgrade: `tandem firmware notes SLOT`). */
  readonly notes: string;
  /** The lowest version this firmware may be installed over, or null for any. */
  readonly min_from: string | null;
  /** The configuration schema this firmware runs and the migrations that lead to it. */
  readonly config_schema: { readonly version: number; readonly migrations: readonly Migration[] };
  readonly ha_protocol: ProtocolRange;
  /** Other releases the builder knew of (later ones tell a node when its own support ends). */
  readonly releases: readonly Release[];
  /** What the payload's native code was built for: it runs only on the same. */
  readonly runtime: { readonly node_abi: string; readonly platform: string; readonly arch: string };
  readonly payload: { readonly files: readonly PayloadFile[]; readonly bytes: number };
  /** ISO 8601 UTC time of the build. */
  readonly built_at: string;
}

/** The manifest's own release. */
export function releaseOf(m: Pick<Manifest, 'version' | 'type' | 'published'>): Release {
  return { version: m.version, type: m.type, published: m.published };
}
