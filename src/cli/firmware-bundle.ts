/**
 * `tandem firmware keygen | build | verify`: the signed firmware bundle from the command line
 * (docs/firmware-bundle.md). Scripts outside the repository rely on these options, outputs and
 * exit codes:
 *
 *   keygen --out DIR     DIR/signing.key (0600, PKCS#8) and DIR/signing.pub (SPKI); never
 *                        overwrites. Exit 0, or 1 with the reason.
 *   build …              writes the bundle (default ./tandem-<version>.tfw) and prints two
 *                        lines: where, what and how large; then "<sha256>  <file>" (the
 *                        sha256sum format). Exit 0, or 1 with the option or file at fault.
 *   verify FILE --pubkey PUB [--json]
 *                        exit 0: the bundle is good, its manifest printed (a summary, or the
 *                        manifest JSON with --json). Exit 1: refused, one line on stderr
 *                        "refused: <reason naming the member>" (with --json, also
 *                        {"refused":{"code","message"}} on stdout). Exit 2: the check could not
 *                        run (unreadable file or key).
 *
 * Every module beyond commander is imported inside the actions: the CLI's other commands must
 * not pay for loading crypto, zod or the bundle code at start-up.
 */
import type { Command } from 'commander';
import type { KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { TrustedKey } from '../adapters/firmware/keys.js';
import type { Manifest } from '../core/firmware/types.js';

/** The checkout this CLI runs from (dist/cli/firmware-bundle.js → ../..): what `build` packages by default. */
const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url));
const CHUNK_BYTES = 1024 * 1024;

function fail(message: string, exitCode = 1): never {
  process.stderr.write(`tandem: ${message}\n`);
  process.exit(exitCode);
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

const size = (n: number): string => (n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

interface BuildOptions {
  key: string;
  version: string;
  type: string;
  published?: string;
  notes?: string;
  minFrom?: string;
  out?: string;
  from?: string;
  releases?: string;
}

export function registerBundleCommands(firmware: Command): void {
  firmware.command('keygen')
    .description('make an Ed25519 signing key pair: DIR/signing.key (private, mode 0600) and DIR/signing.pub (public)')
    .requiredOption('--out <dir>', 'directory for the two files (created, mode 0700, if missing)')
    .action(async (o: { out: string }) => {
      const { writeKeyPair } = await import('../adapters/firmware/keys.js');
      try {
        const k = writeKeyPair(o.out);
        console.log(`wrote ${k.keyFile} (private: keep it off the nodes) and ${k.pubFile} (trust it on the nodes); key id ${k.id}`);
      } catch (err) {
        fail(messageOf(err));
      }
    });

  firmware.command('build')
    .description('build a signed firmware bundle of this checkout (or of --from DIR)')
    .requiredOption('--key <file>', 'private signing key (tandem firmware keygen), mode 0600')
    .requiredOption('--version <semver>', 'release version, MAJOR.MINOR.PATCH[-PRERELEASE]')
    .requiredOption('--type <type>', 'release type: lts or feature')
    .option('--published <date>', 'publication date YYYY-MM-DD (default: today, UTC)')
    .option('--notes <file>', 'upgrade notes, a UTF-8 text file (default: none)')
    .option('--min-from <semver>', 'lowest version this firmware may be installed over (default: any)')
    .option('--out <file>', 'bundle file (default: ./tandem-<version>.tfw)')
    .option('--from <dir>', 'package this built Tandem tree instead of the checkout')
    .option('--releases <file>', 'JSON list of other known releases [{"version","type","published"}]')
    .action(async (o: BuildOptions) => { await build(o); });

  firmware.command('verify')
    .description('check a bundle (signature, manifest, every payload hash) and print its manifest')
    .argument('<file>', 'the bundle')
    .requiredOption('--pubkey <pub>', 'trusted public key: a PEM file or inline PEM (repeat for several)', collect)
    .option('--json', 'print the manifest as JSON')
    .action(async (file: string, o: { pubkey: string[]; json?: boolean }) => { await verifyCommand(file, o.pubkey, o.json === true); });
}

async function build(o: BuildOptions): Promise<void> {
  const [{ isCalendarDate, isSemver, checkReleases }, { loadSigningKey }, { buildFirmware }, { readFile, stat }, path] = await Promise.all([
    import('../adapters/firmware/manifest.js'), import('../adapters/firmware/keys.js'), import('../app/firmware/build.js'),
    import('node:fs/promises'), import('node:path'),
  ]);
  const semverHint = 'MAJOR.MINOR.PATCH[-PRERELEASE], e.g. 1.4.0 or 2.0.0-rc.1';
  if (!isSemver(o.version)) fail(`--version ${o.version}: not a semantic version (${semverHint})`);
  if (o.type !== 'lts' && o.type !== 'feature') fail(`--type ${o.type}: must be lts or feature`);
  const type: 'lts' | 'feature' = o.type;
  const published = o.published ?? new Date().toISOString().slice(0, 10);
  if (!isCalendarDate(published)) fail(`--published ${published}: not a calendar date (YYYY-MM-DD)`);
  if (o.minFrom !== undefined && !isSemver(o.minFrom)) fail(`--min-from ${o.minFrom}: not a semantic version (${semverHint})`);
  let notes = '';
  if (o.notes !== undefined) {
    try {
      notes = new TextDecoder('utf-8', { fatal: true }).decode(await readFile(o.notes));
    } catch (err) {
      fail(`--notes ${o.notes}: ${err instanceof TypeError ? 'not UTF-8 text' : `cannot read it (${messageOf(err)})`}`);
    }
  }
  let releases: ReturnType<typeof checkReleases> = [];
  if (o.releases !== undefined) {
    try {
      releases = checkReleases(JSON.parse(await readFile(o.releases, 'utf8')));
    } catch (err) {
      fail(`--releases ${o.releases}: ${messageOf(err)}`);
    }
  }
  const tree = o.from === undefined ? CHECKOUT : path.resolve(o.from);
  if (!(await stat(tree).catch(() => null))?.isDirectory()) fail(`--from ${o.from ?? tree}: not a directory`);
  let signingKey: KeyObject;
  try {
    signingKey = loadSigningKey(o.key).key;
  } catch (err) {
    fail(messageOf(err));
  }
  const out = o.out ?? `tandem-${o.version}.tfw`;
  try {
    const { bundle, notes: skipped } = await buildFirmware({ tree, signingKey, version: o.version, type, published, notes, minFrom: o.minFrom ?? null, releases, out });
    for (const note of skipped) process.stderr.write(`note: ${note}\n`);
    const m = bundle.manifest;
    console.log(`wrote ${out}: tandem ${m.version} (${m.type}), ${m.payload.files.length} files (${size(m.payload.bytes)}), bundle ${size(bundle.bytes)} (${bundle.bytes} bytes), signed by key ${bundle.keyId}`);
    // sha256sum's own line format, so `… | tail -n 1 > FILE.sha256` then `sha256sum -c` checks a copy.
    console.log(`${bundle.sha256}  ${out}`);
  } catch (err) {
    fail(`cannot build ${out}: ${messageOf(err)}`);
  }
}

async function verifyCommand(file: string, pubkeys: readonly string[], json: boolean): Promise<void> {
  const [{ loadPublicKey }, { readBundle }, { BundleRefused }, { createReadStream }] = await Promise.all([
    import('../adapters/firmware/keys.js'), import('../adapters/firmware/reader.js'), import('../adapters/firmware/refusal.js'), import('node:fs'),
  ]);
  let trustedKeys: TrustedKey[];
  try {
    trustedKeys = pubkeys.map(loadPublicKey);
  } catch (err) {
    fail(messageOf(err), 2);
  }
  try {
    const read = await readBundle(createReadStream(file, { highWaterMark: CHUNK_BYTES }), { trustedKeys });
    const source = trustedKeys.find((k) => k.id === read.keyId)?.source ?? '';
    console.log(json ? JSON.stringify(read.manifest, null, 2) : formatManifest(read.manifest, read.keyId, source));
  } catch (err) {
    if (!(err instanceof BundleRefused)) fail(`cannot verify ${file}: ${messageOf(err)}`, 2);
    if (json) console.log(JSON.stringify({ refused: { code: err.code, message: err.message } }));
    process.stderr.write(`refused: ${err.message}\n`);
    process.exit(1);
  }
}

/** The operator's view of a verified manifest. */
export function formatManifest(m: Manifest, keyId: string, keySource: string): string {
  const releases = m.releases.map((r) => `${r.version} (${r.type}, ${r.published})`).join(', ');
  const notes = m.notes.trimEnd();
  return [
    `tandem ${m.version} (${m.type === 'lts' ? 'LTS' : 'Feature Release'}), published ${m.published}: signature and payload verified (key ${keyId}${keySource === '' ? '' : `, ${keySource}`})`,
    `  installs over:   ${m.min_from === null ? 'any version' : `${m.min_from} or later`}`,
    `  config schema:   ${m.config_schema.version} (${m.config_schema.migrations.length} ${m.config_schema.migrations.length === 1 ? 'migration' : 'migrations'})`,
    `  HA protocol:     ${m.ha_protocol.min === m.ha_protocol.max ? String(m.ha_protocol.min) : `${m.ha_protocol.min}–${m.ha_protocol.max}`}`,
    `  runtime:         Node.js ABI ${m.runtime.node_abi}, ${m.runtime.platform} ${m.runtime.arch}`,
    `  payload:         ${m.payload.files.length} files, ${size(m.payload.bytes)}`,
    `  built:           ${m.built_at}`,
    `  other releases:  ${releases === '' ? 'none' : releases}`,
    notes === '' ? '  notes:           none' : `  notes:\n${notes.split('\n').map((l) => (l === '' ? '' : `    ${l}`)).join('\n')}`,
  ].join('\n');
}
