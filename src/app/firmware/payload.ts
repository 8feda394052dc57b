/**
 * Which files of a built Tandem tree a firmware bundle carries: what the node runs, nothing of
 * what built or tested it.
 *
 *   package.json                                   the entry points and dependencies
 *   bin/**                                         `tandem`
 *   dist/** except *.test.js, *.test-support.js    the compiled code, without the tests
 *              and their .map files
 *   native/icmp/build/Release/tandem_icmp.node     the ICMP addon
 *   web/dist/**                                    the web console, once there is one
 *   node_modules/…                                 the production dependency closure
 *
 * The dependency closure starts from package.json's dependencies and optionalDependencies and
 * follows each package's own (plus its peerDependencies: npm installs them, and the package
 * imports them), resolving every name as Node.js does from the package that needs it: its own
 * node_modules first, then each enclosing node_modules up to the tree. devDependencies and
 * whatever else lies in node_modules (node_modules/.bin included) are left out. A missing
 * dependency is an error (an optional or peer one is noted and skipped); a dependency that
 * resolves to a symlink (npm link, a workspace) is an error: the firmware must carry real files.
 * A symlink or a special file inside a carried directory is skipped with a note.
 *
 * Paths are sorted (code-unit order), so the same tree always gives the same bundle order.
 * Mode: 0o755 when any execute bit is set, 0o644 otherwise.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import type { BundleFile } from '../../adapters/firmware/writer.js';

export const NATIVE_ADDON = 'native/icmp/build/Release/tandem_icmp.node';
const TEST_OUTPUT = /\.(?:test|test-support)\.js(?:\.map)?$/;
/** npm's rule for package names (validate-npm-package-name), old upper-case names included. */
const PACKAGE_NAME = /^(?:@[a-z0-9\-~][a-z0-9\-._~]*\/)?[a-z0-9\-~][a-z0-9\-._~]*$/i;

export interface PayloadSelection {
  readonly files: readonly BundleFile[];
  /** What was skipped and why, for the builder. */
  readonly notes: readonly string[];
}

interface PackageJson {
  readonly name?: unknown;
  readonly dependencies?: unknown;
  readonly optionalDependencies?: unknown;
  readonly peerDependencies?: unknown;
}

const modeOf = (mode: number): number => ((mode & 0o111) !== 0 ? 0o755 : 0o644);
const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

/** The files of `tree` a bundle carries (module comment); throws when the tree is not a built Tandem. */
export async function selectPayload(tree: string): Promise<PayloadSelection> {
  const files: BundleFile[] = [];
  const notes: string[] = [];
  const at = (rel: string): string => posix.join(tree, rel);

  for (const [required, dir] of [['package.json', false], ['bin', true], ['dist/core/compat.js', false], [NATIVE_ADDON, false]] as const) {
    const st = await lstat(at(required)).catch(() => null);
    if (st === null || (dir ? !st.isDirectory() : !st.isFile())) {
      throw new Error(`${at(required)} is missing: not a built Tandem tree (npm ci builds dist/ and the native addon)`);
    }
  }
  const pkg = await readPackageJson(tree, '');
  files.push({ path: 'package.json', mode: 0o644 }, { path: NATIVE_ADDON, mode: modeOf((await lstat(at(NATIVE_ADDON))).mode) });
  await walk(tree, 'bin', files, notes, () => true);
  await walk(tree, 'dist', files, notes, (rel) => !TEST_OUTPUT.test(rel));
  if (await isDirectory(at('web/dist'))) await walk(tree, 'web/dist', files, notes, () => true);
  for (const dir of await dependencyClosure(tree, pkg, notes)) await walk(tree, dir, files, notes, () => true, true);

  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, notes };
}

async function isDirectory(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => null))?.isDirectory() === true;
}

async function readPackageJson(tree: string, dir: string): Promise<PackageJson> {
  const file = posix.join(tree, dir, 'package.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: ${errno(err) === 'ENOENT' ? 'missing' : (err as Error).message}${dir === '' ? '' : ' (not an installed package)'}`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch (err) {
    throw new Error(`${file}: not a package.json (${(err as Error).message})`);
  }
}

/**
 * Adds every file under `dir` that `keep` accepts. Within a package (`inPackage`), nested
 * node_modules directories are other packages: the closure adds those it needs.
 */
async function walk(tree: string, dir: string, files: BundleFile[], notes: string[], keep: (rel: string) => boolean, inPackage = false): Promise<void> {
  for (const entry of await readdir(posix.join(tree, dir))) {
    const rel = posix.join(dir, entry);
    const st = await lstat(posix.join(tree, rel));
    if (st.isDirectory()) {
      if (inPackage && entry === 'node_modules') continue;
      await walk(tree, rel, files, notes, keep, inPackage);
    } else if (st.isFile()) {
      if (keep(rel)) files.push({ path: rel, mode: modeOf(st.mode) });
    } else {
      notes.push(`skipped ${rel}: ${st.isSymbolicLink() ? 'a symlink' : 'not a regular file'} (a bundle carries regular files only)`);
    }
  }
}

/** Directories (relative to the tree) of the production dependency closure of `root`. */
async function dependencyClosure(tree: string, root: PackageJson, notes: string[]): Promise<string[]> {
  const found = new Set<string>();
  const queue: { dir: string; pkg: PackageJson }[] = [{ dir: '', pkg: root }];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const who = next.dir === '' ? 'package.json' : next.dir;
    const wanted: [string, 'required' | 'optional' | 'peer'][] = [
      ...namesOf(next.pkg.dependencies).map((n): [string, 'required'] => [n, 'required']),
      ...namesOf(next.pkg.optionalDependencies).map((n): [string, 'optional'] => [n, 'optional']),
      ...namesOf(next.pkg.peerDependencies).map((n): [string, 'peer'] => [n, 'peer']),
    ];
    for (const [name, kind] of wanted) {
      if (!PACKAGE_NAME.test(name)) throw new Error(`${who}: ${JSON.stringify(name)} is not a package name`);
      const dir = await resolvePackage(tree, next.dir, name);
      if (dir === null) {
        if (kind === 'required') throw new Error(`${who} depends on ${name}, which is not installed in ${posix.join(tree, 'node_modules')} (run npm ci --omit=dev)`);
        notes.push(`${who}: ${kind} dependency ${name} is not installed: left out`);
        continue;
      }
      if (found.has(dir)) continue;
      found.add(dir);
      queue.push({ dir, pkg: await readPackageJson(tree, dir) });
    }
  }
  return [...found];
}

const namesOf = (deps: unknown): string[] =>
  (typeof deps === 'object' && deps !== null && !Array.isArray(deps) ? Object.keys(deps) : []);

/** Where Node.js finds package `name` required from the package in `from` ('' = the tree), or null. */
async function resolvePackage(tree: string, from: string, name: string): Promise<string | null> {
  for (let dir = from; ; dir = dir.includes('/') ? posix.dirname(dir) : '') {
    if (posix.basename(dir) !== 'node_modules') {
      const candidate = posix.join(dir, 'node_modules', name);
      const st = await lstat(posix.join(tree, candidate)).catch((err: unknown) => {
        if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return null;
        throw err;
      });
      if (st?.isSymbolicLink() === true) {
        throw new Error(`${candidate} is a symlink (npm link, a workspace?): a firmware carries real files; install it (npm ci --omit=dev)`);
      }
      if (st?.isDirectory() === true) return candidate;
    }
    if (dir === '') return null;
  }
}
