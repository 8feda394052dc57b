import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  appendCandidates, applyPlanToManifest, EMPTY_SHA256, manifestEntries, manifestFromEntries, pathProblem, planSync,
  SyncPathError, validatePath,
  type FileEntry, type Manifest, type PrefixHash, type SyncPlan,
} from './manifest.js';

// ---- a pure in-memory model of a root: path → content, with directories implied by paths ----

type Tree = ReadonlyMap<string, Uint8Array>;

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const bytesOf = (text: string): Uint8Array => new TextEncoder().encode(text);

function manifestOf(tree: Tree): Manifest {
  const m = new Map<string, FileEntry>();
  for (const [path, content] of tree) m.set(path, { path, size: content.length, mtimeMs: 1_700_000_000_000, sha256: sha(content) });
  return m;
}

/** The prefix hashes the source's adapter would compute for the planner's candidates. */
function prefixesOf(source: Tree, target: Tree): Map<string, PrefixHash> {
  const out = new Map<string, PrefixHash>();
  for (const c of appendCandidates(manifestOf(source), manifestOf(target))) {
    out.set(c.path, { bytes: c.bytes, sha256: sha(source.get(c.path)!.subarray(0, c.bytes)) });
  }
  return out;
}

const parents = (path: string): string[] => {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
};

/**
 * Applies a plan the way the receiver does, in order (removals, then sends), refusing what a
 * real filesystem refuses: a file under a path that is a file, a file over a directory, an
 * append onto a copy that is not the announced prefix, content that does not match its hash.
 */
function applyPlan(target: Tree, plan: SyncPlan, source: Tree): Map<string, Uint8Array> {
  const out = new Map(target);
  for (const path of plan.remove) {
    assert.ok(out.delete(path), `remove of a missing file ${path}`);
  }
  for (const item of plan.send) {
    for (const dir of parents(item.path)) assert.ok(!out.has(dir), `${item.path}: parent ${dir} is a file`);
    for (const other of out.keys()) assert.ok(!other.startsWith(`${item.path}/`), `${item.path} is a directory`);
    const content = source.get(item.path)!;
    let result: Uint8Array;
    if (item.append === undefined) {
      result = content;
    } else {
      const existing = out.get(item.path);
      assert.ok(existing !== undefined, `append onto a missing ${item.path}`);
      assert.equal(existing.length, item.append.from);
      assert.equal(sha(existing), item.append.prefixSha256);
      result = new Uint8Array(item.size);
      result.set(existing, 0);
      result.set(content.subarray(item.append.from), item.append.from);
    }
    assert.equal(result.length, item.size);
    assert.equal(sha(result), item.sha256);
    out.set(item.path, result);
  }
  return out;
}

const tree = (files: Record<string, string>): Tree => new Map(Object.entries(files).map(([p, c]) => [p, bytesOf(c)]));

// ---- table-driven ----

describe('planSync: table', () => {
  const rows: readonly { name: string; source: Record<string, string>; target: Record<string, string>; send: string[]; remove: string[]; appends?: string[]; bytes: number }[] = [
    { name: 'equal trees: nothing', source: { a: 'x', 'd/b': 'yy' }, target: { a: 'x', 'd/b': 'yy' }, send: [], remove: [], bytes: 0 },
    { name: 'empty target: everything', source: { b: '12', a: '1', 'd/e/f': '123' }, target: {}, send: ['a', 'b', 'd/e/f'], remove: [], bytes: 6 },
    { name: 'empty source: remove everything', source: {}, target: { z: '1', 'd/a': '2' }, send: [], remove: ['d/a', 'z'], bytes: 0 },
    { name: 'changed content, same size', source: { a: 'abc' }, target: { a: 'abd' }, send: ['a'], remove: [], bytes: 3 },
    { name: 'grown file with the same beginning: append', source: { log: 'line1\nline2\n' }, target: { log: 'line1\n' }, send: ['log'], remove: [], appends: ['log'], bytes: 6 },
    { name: 'grown file with a different beginning: whole file', source: { log: 'line1\nline2\n' }, target: { log: 'LINE1\n' }, send: ['log'], remove: [], bytes: 12 },
    { name: 'shrunk file: whole file', source: { log: 'line1\n' }, target: { log: 'line1\nline2\n' }, send: ['log'], remove: [], bytes: 6 },
    { name: 'grown from empty: whole file', source: { log: 'abc' }, target: { log: '' }, send: ['log'], remove: [], bytes: 3 },
    { name: 'file becomes a directory', source: { 'a/b': '1' }, target: { a: '0' }, send: ['a/b'], remove: ['a'], bytes: 1 },
    { name: 'directory becomes a file', source: { a: '1' }, target: { 'a/b': '0', 'a/c/d': '0' }, send: ['a'], remove: ['a/b', 'a/c/d'], bytes: 1 },
    { name: 'code-unit order, not locale order', source: { 'a/b': '', 'a-b': '', B: '' }, target: { 'z/y': '', Z: '' }, send: ['B', 'a-b', 'a/b'], remove: ['Z', 'z/y'], bytes: 0 },
  ];

  for (const row of rows) {
    it(row.name, () => {
      const source = tree(row.source);
      const target = tree(row.target);
      const plan = planSync(manifestOf(source), manifestOf(target), prefixesOf(source, target));
      assert.deepEqual(plan.send.map((s) => s.path), row.send);
      assert.deepEqual(plan.remove, row.remove);
      assert.deepEqual(plan.send.filter((s) => s.append !== undefined).map((s) => s.path), row.appends ?? []);
      assert.equal(plan.bytes, row.bytes);
      assert.equal(plan.files, row.send.length);
      assert.deepEqual(applyPlan(target, plan, source), source);
    });
  }

  it('sends an append only with a matching prefix hash of the target size', () => {
    const source = tree({ log: 'abcdef' });
    const target = tree({ log: 'abc' });
    const s = manifestOf(source);
    const t = manifestOf(target);
    assert.deepEqual(appendCandidates(s, t), [{ path: 'log', bytes: 3 }]);
    const right = { bytes: 3, sha256: sha(bytesOf('abc')) };
    assert.deepEqual(planSync(s, t, new Map([['log', right]])).send[0]?.append, { from: 3, prefixSha256: sha(bytesOf('abc')) });
    assert.equal(planSync(s, t).send[0]?.append, undefined, 'no prefix hash: whole file');
    assert.equal(planSync(s, t, new Map([['log', { bytes: 2, sha256: sha(bytesOf('ab')) }]])).send[0]?.append, undefined, 'hash of another length');
    assert.equal(planSync(s, t, new Map([['log', { bytes: 3, sha256: sha(bytesOf('abd')) }]])).send[0]?.append, undefined, 'different beginning');
  });

  it('never decides on mtime', () => {
    const s = manifestFromEntries([{ path: 'a', size: 1, mtimeMs: 1, sha256: sha(bytesOf('x')) }]);
    const t = manifestFromEntries([{ path: 'a', size: 1, mtimeMs: 9e12, sha256: sha(bytesOf('x')) }]);
    assert.equal(planSync(s, t).files, 0);
  });

  it('applyPlanToManifest gives the source manifest', () => {
    const source = tree({ a: '1', 'b/c': '22', log: 'abcd' });
    const target = tree({ a: '0', z: '', log: 'ab' });
    const plan = planSync(manifestOf(source), manifestOf(target), prefixesOf(source, target));
    assert.deepEqual(manifestEntries(applyPlanToManifest(manifestOf(target), plan)), manifestEntries(manifestOf(source)));
  });
});

describe('paths and entries are validated on both sides', () => {
  const bad: readonly [string, RegExp][] = [
    ['', /empty/],
    ['/etc/passwd', /absolute/],
    ['a/../../etc', /"\.\."/],
    ['..', /"\.\."/],
    ['./a', /"\."/],
    ['a//b', /empty segment/],
    ['a/', /ends with/],
    ['a\0b', /NUL/],
    ['.tandem-sync/incoming/x', /work directory/],
  ];
  for (const [path, reason] of bad) {
    it(`refuses ${JSON.stringify(path)}`, () => {
      assert.match(pathProblem(path) ?? '', reason);
      assert.throws(() => { validatePath(path); }, SyncPathError);
      const entry = { path, size: 0, mtimeMs: 0, sha256: sha(new Uint8Array()) };
      const bogus: Manifest = new Map([[path, entry]]);
      assert.throws(() => planSync(bogus, new Map()), (e: unknown) => e instanceof SyncPathError && e.side === 'source' && reason.test(e.message));
      assert.throws(() => planSync(new Map(), bogus), (e: unknown) => e instanceof SyncPathError && e.side === 'target' && reason.test(e.message));
    });
  }

  it('accepts ordinary relative paths', () => {
    for (const p of ['a', 'a/b/c.txt', '.hidden', 'a/.tandem-sync', '...', 'with space/ünïcode', 'back\\slash']) {
      assert.equal(pathProblem(p), undefined, p);
    }
  });

  const e = (over: Partial<FileEntry>): FileEntry => ({ path: 'a', size: 1, mtimeMs: 0, sha256: 'a'.repeat(64), ...over });
  const badEntries: readonly [string, Manifest, RegExp][] = [
    ['negative size', new Map([['a', e({ size: -1 })]]), /size/],
    ['fractional size', new Map([['a', e({ size: 1.5 })]]), /size/],
    ['uppercase hash', new Map([['a', e({ sha256: 'A'.repeat(64) })]]), /sha256/],
    ['short hash', new Map([['a', e({ sha256: 'a' })]]), /sha256/],
    ['key differs from path', new Map([['b', e({})]]), /different path/],
    ['NaN mtime', new Map([['a', e({ mtimeMs: NaN })]]), /mtimeMs/],
    ['a file under a file', new Map([['a', e({})], ['a/b', e({ path: 'a/b' })]]), /parent "a" is a file/],
  ];
  for (const [name, m, reason] of badEntries) {
    it(`refuses an entry: ${name}`, () => {
      assert.throws(() => planSync(m, new Map()), reason);
    });
  }

  it('manifestFromEntries refuses duplicates and invalid prefix hashes are refused', () => {
    assert.throws(() => manifestFromEntries([e({}), e({})]), /listed twice/);
    assert.throws(() => planSync(new Map(), new Map(), new Map([['../x', { bytes: 1, sha256: 'a'.repeat(64) }]])), SyncPathError);
    assert.throws(() => planSync(new Map(), new Map(), new Map([['x', { bytes: -1, sha256: 'a'.repeat(64) }]])), /prefix hash/);
  });
});

// ---- properties ----

const segment = fc.constantFrom('a', 'b', 'c', 'log', 'd.txt');
const pathArb = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('/'));
const content = fc.uint8Array({ maxLength: 24 });

/** A valid tree: no path is both a file and a directory (the shorter one is dropped). */
const treeArb = fc.dictionary(pathArb, content, { maxKeys: 12 }).map((d) => {
  const paths = Object.keys(d);
  const m = new Map<string, Uint8Array>();
  for (const p of paths.sort()) {
    if (paths.some((q) => q.startsWith(`${p}/`))) continue;
    m.set(p, d[p]!);
  }
  return m;
});

/** A target derived from a source: files kept, dropped, changed, truncated (append case) or extra. */
const pairArb = fc.tuple(treeArb, treeArb, fc.array(fc.constantFrom('keep', 'drop', 'change', 'truncate', 'extend'), { minLength: 12, maxLength: 12 }), content)
  .map(([source, extra, ops, noise]) => {
    const target = new Map<string, Uint8Array>();
    [...source.entries()].forEach(([p, c], i) => {
      const op = ops[i % ops.length]!;
      if (op === 'keep') target.set(p, c);
      else if (op === 'change') target.set(p, noise.length === c.length ? noise : Uint8Array.from(c, (b) => b ^ 1));
      else if (op === 'truncate') target.set(p, c.subarray(0, Math.floor(c.length / 2)));
      else if (op === 'extend') target.set(p, Uint8Array.from([...c, 7]));
    });
    // Extra target files, but only where they do not break the target's file/directory shape.
    for (const [p, c] of extra) {
      const clash = [...target.keys()].some((q) => q === p || q.startsWith(`${p}/`) || p.startsWith(`${q}/`));
      if (!clash) target.set(p, c);
    }
    return { source, target: target };
  });

const shuffled = <K, V>(m: ReadonlyMap<K, V>, seed: number): Map<K, V> => {
  const entries = [...m.entries()];
  for (let i = entries.length - 1; i > 0; i--) {
    const j = (seed * (i + 7)) % (i + 1);
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return new Map(entries);
};

describe('planSync: properties', () => {
  it('applying the plan to the target makes it equal to the source', () => {
    fc.assert(fc.property(pairArb, ({ source, target }) => {
      const plan = planSync(manifestOf(source), manifestOf(target), prefixesOf(source, target));
      assert.deepEqual(applyPlan(target, plan, source), source);
      assert.deepEqual(planSync(manifestOf(applyPlan(target, plan, source)), manifestOf(source)).files, 0);
    }), { numRuns: 500 });
  });

  it('is minimal: never sends a file whose size and hash already match, removes only what the source lacks', () => {
    fc.assert(fc.property(pairArb, ({ source, target }) => {
      const s = manifestOf(source);
      const t = manifestOf(target);
      const plan = planSync(s, t, prefixesOf(source, target));
      for (const item of plan.send) {
        const have = t.get(item.path);
        assert.ok(have === undefined || have.size !== item.size || have.sha256 !== item.sha256);
      }
      const differing = [...s.values()].filter((e) => { const h = t.get(e.path); return h === undefined || h.sha256 !== e.sha256 || h.size !== e.size; });
      assert.equal(plan.files, differing.length);
      assert.deepEqual(new Set(plan.remove), new Set([...t.keys()].filter((p) => !s.has(p))));
      assert.equal(plan.bytes, plan.send.reduce((n, i) => n + i.size - (i.append?.from ?? 0), 0));
      assert.equal(planSync(s, s).files + planSync(s, s).remove.length, 0);
    }), { numRuns: 300 });
  });

  it('is deterministic: sorted, and independent of the maps\' order', () => {
    fc.assert(fc.property(pairArb, fc.nat(1000), ({ source, target }, seed) => {
      const prefixes = prefixesOf(source, target);
      const a = planSync(manifestOf(source), manifestOf(target), prefixes);
      const b = planSync(shuffled(manifestOf(source), seed), shuffled(manifestOf(target), seed + 1), shuffled(prefixes, seed + 2));
      assert.deepEqual(a, b);
      const sorted = (xs: readonly string[]): boolean => xs.every((x, i) => i === 0 || xs[i - 1]! < x);
      assert.ok(sorted(a.send.map((s) => s.path)) && sorted(a.remove));
    }), { numRuns: 300 });
  });

  it('uses an append exactly when the target holds a non-empty strict prefix of the source', () => {
    fc.assert(fc.property(pairArb, ({ source, target }) => {
      const plan = planSync(manifestOf(source), manifestOf(target), prefixesOf(source, target));
      for (const item of plan.send) {
        const t = target.get(item.path);
        const s = source.get(item.path)!;
        const isPrefix = t !== undefined && t.length > 0 && t.length < s.length && sha(s.subarray(0, t.length)) === sha(t);
        assert.equal(item.append !== undefined, isPrefix, item.path);
      }
    }), { numRuns: 300 });
  });
});

describe('planSync with attributes (directories, symlinks, modes)', () => {
  const base = { mtimeMs: 1_700_000_000_000 };
  const file = (path: string, content: string, attrs: Partial<FileEntry> = {}): FileEntry =>
    ({ path, size: bytesOf(content).length, sha256: sha(bytesOf(content)), ...base, mode: 0o644, uid: 0, gid: 0, ...attrs });
  const dir = (path: string, attrs: Partial<FileEntry> = {}): FileEntry =>
    ({ path, kind: 'dir', size: 0, sha256: EMPTY_SHA256, ...base, mode: 0o755, uid: 0, gid: 0, ...attrs });
  const link = (path: string, target: string): FileEntry =>
    ({ ...file(path, target), kind: 'symlink', target, mode: 0o777 });
  const m = (...es: FileEntry[]): Manifest => manifestFromEntries(es);

  it('sends a directory before what it holds, removes directories after what they hold', () => {
    const plan = planSync(m(dir('a'), file('a/b', 'x'), dir('e')), m(dir('old'), dir('old/deep'), file('old/deep/f', 'y')));
    assert.deepEqual(plan.send.map((s) => s.path), ['a', 'a/b', 'e']);
    assert.deepEqual(plan.remove, ['old/deep/f', 'old/deep', 'old']);
    assert.equal(plan.bytes, 1, 'directories carry no bytes');
  });

  it('a directory replaced by a file (or a link) is removed first; a file by a link is replaced in place', () => {
    const plan = planSync(m(file('a', 'now a file'), link('b', '/etc/passwd')), m(dir('a'), file('a/x', 'in a'), file('b', 'a file')));
    assert.deepEqual(plan.remove, ['a/x', 'a']);
    assert.deepEqual(plan.send.map((s) => [s.path, s.kind ?? 'file']), [['a', 'file'], ['b', 'symlink']]);
    assert.equal(plan.send[1]?.target, '/etc/passwd', 'the target travels as stored');
  });

  it('attributes alone: a meta item without content; same attributes: nothing', () => {
    const t = m(file('f', 'same'), dir('d'));
    assert.equal(planSync(m(file('f', 'same'), dir('d')), t).files, 0);
    const plan = planSync(m(file('f', 'same', { mode: 0o600 }), dir('d', { uid: 1234 })), t);
    assert.deepEqual(plan.send.map((s) => [s.path, s.meta ?? false]), [['d', false], ['f', true]]);
    assert.equal(plan.bytes, 0);
    assert.equal(planSync(m(file('f', 'same', { mtimeMs: base.mtimeMs + 1 })), m(file('f', 'same'))).send[0]?.meta, true, 'mtime counts with attributes');
    assert.equal(planSync(m(file('f', 'same', { mtimeMs: base.mtimeMs + 0.001 })), m(file('f', 'same'))).files, 0, 'within the utimes precision');
    assert.equal(planSync(m(dir('d', { mtimeMs: 5 })), m(dir('d'))).files, 0, 'a directory\'s mtime does not count');
    const { uid: _uid, ...noOwner } = file('f', 'same');
    assert.equal(planSync(m(file('f', 'same', { uid: 1234 })), m(noOwner)).files, 0, 'an owner the target does not report is not compared');
  });

  it('refuses a path under a file or a symlink, bad modes and symlinks without a target', () => {
    assert.throws(() => m(link('l', 'x'), file('l/f', '1')), /its parent "l" is a symlink/);
    assert.throws(() => m(file('f', '1', { mode: 0o10000 })), /mode/);
    assert.throws(() => m({ ...file('l', 'x'), kind: 'symlink' }), /non-empty target/);
    assert.throws(() => m({ ...dir('d'), size: 3 }), /directory has size 0/);
    assert.doesNotThrow(() => m(dir('d'), file('d/f', '1')));
  });
});
