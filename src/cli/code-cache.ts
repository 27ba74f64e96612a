// A V8 code cache for the command bundles the launcher requires after its fast path: what Node 22's
// `module.enableCompileCache()` does, for Node 20, which lacks it.
//
// Without it a cold `grant` compiles citty and the 200 KB grant bundle on every start, then compiles each function
// it runs on first call. V8 can serialise both (`vm.Script#createCachedData()` after the run includes the functions
// that ran), and a later start that hands the bytes back skips that work: about 14 ms of a cold grant's 88
// (research/latency.md). The launcher (dist/cli.cjs) itself is not covered: for its 37 KB, reading a cache costs
// more than it saves, and the warm fast path must stay as it is.
//
// The cache is a performance hint only, never trusted for correctness:
//   - one file per bundle in $XDG_CACHE_HOME/keyrack/code-cache, named by the build id (a hash of the sources),
//     the Node version and the architecture, so a file is only ever offered to the exact code it was made from;
//     V8 checks its own version, flags and the source length again and rejects a mismatch;
//   - a file that is not a regular file of this user, or that others may write, is ignored (and replaced);
//   - written at exit when there was none, V8 rejected it, or the run compiled functions it lacked (so it grows to
//     the paths actually taken: cold validation, cache hit, refusals) until a run adds nothing, after which it is
//     checked once a day (a `.settled` mark); temp file + rename, 0600 in a 0700 directory; files of other builds
//     are removed then;
//   - any failure (read-only home, full disk) just means no cache. KEYRACK_CODE_CACHE=0 turns it off.
import { readdirSync, rmSync, statSync } from 'node:fs';
import Module from 'node:module';
import { basename, dirname, join, sep } from 'node:path';
import { Script } from 'node:vm';
import type { EnvVars } from '../core/runtime.js';
import { readOwnFile, writeFileAtomicSync } from '../store/files.js';

/** Node's own CommonJS compile step, which is what gets wrapped (the same hook v8-compile-cache and others use). */
interface CompilingModule {
  exports: unknown;
  filename: string;
  _compile(content: string, filename: string): unknown;
}
interface ModuleInternals {
  prototype: CompilingModule;
  wrap(content: string): string;
}

/**
 * A bundle compiled in this process: its cache file, and what V8 accepted from it (nothing: compiled afresh;
 * `settled`: the file stopped growing, so nothing is checked at exit).
 */
interface Compiled {
  script: Script;
  file: string;
  accepted?: { bytes: number; settled: boolean };
}
/** Smaller growth is noise (V8 does not produce byte-identical caches), not a path the cache lacked. */
const GROWTH_BYTES = 1024;
/**
 * Next to a cache file that a run found complete: for a day, runs skip the check (making the cache to compare costs
 * 2–3 ms a run); then one run checks again, so a path first taken later still joins the cache within a day.
 */
const settledMark = (file: string) => `${file}.settled`;
const SETTLED_FOR_MS = 24 * 3600_000;
const isSettled = (file: string) => (statSync(settledMark(file), { throwIfNoEntry: false })?.mtimeMs ?? 0) > Date.now() - SETTLED_FOR_MS;

export interface CodeCacheOptions {
  /** Where the cache files go. */
  dir: string;
  /** Build id, Node version and architecture: the files' name prefix. */
  key: string;
  /** Bundles under this directory are covered (the launcher's `dist/cli`). */
  root: string;
}

export function codeCacheOptions(env: EnvVars, build: string | undefined, launcherDir: string, home: string): CodeCacheOptions | undefined {
  if (build === undefined || env.KEYRACK_CODE_CACHE === '0') return undefined;
  const cacheHome = env.XDG_CACHE_HOME || join(home, '.cache');
  return { dir: join(cacheHome, 'keyrack', 'code-cache'), key: `${build}-${process.version}-${process.arch}`, root: join(launcherDir, 'cli') + sep };
}

/**
 * Write each bundle's cache when there was none or V8 rejected it, or when this run compiled functions it did not
 * hold: a cache comes out of a run with that run's functions (one made after a cache hit holds the old ones too),
 * so the file grows to the union of the paths taken, until a run adds nothing; then it is marked settled and
 * checked again a day later. Files of other builds go when anything is written. Best effort.
 */
function save(opts: CodeCacheOptions, compiled: ReadonlyArray<Compiled>): void {
  try {
    let wrote = false;
    for (const { script, file, accepted } of compiled) {
      if (accepted?.settled) continue;
      const data = script.createCachedData();
      if (accepted && data.length <= accepted.bytes + GROWTH_BYTES) {
        writeFileAtomicSync(settledMark(file), '', { durable: false });
        continue;
      }
      writeFileAtomicSync(file, data, { durable: false });
      rmSync(settledMark(file), { force: true });
      wrote = true;
    }
    if (wrote) for (const name of readdirSync(opts.dir)) if (!name.startsWith(`${opts.key}-`)) rmSync(join(opts.dir, name), { force: true });
  } catch {
    // no cache this time
  }
}

/** Compile the covered bundles through the cache from now on, for the rest of this process. */
/** The cache bytes, when the file is a regular file of this user that no one else may write. */
function readCache(file: string): Buffer | undefined {
  try {
    const read = readOwnFile(file, 0o022);
    return read.kind === 'ok' ? read.bytes : undefined;
  } catch {
    return undefined;
  }
}

export function installCodeCache(opts: CodeCacheOptions): void {
  const M = Module as unknown as ModuleInternals;
  const compile = M.prototype._compile;
  const compiled: Compiled[] = [];
  M.prototype._compile = function (this: CompilingModule, content: string, filename: string): unknown {
    if (!filename.startsWith(opts.root) || !filename.endsWith('.cjs') || content.startsWith('#!')) return compile.call(this, content, filename);
    const file = join(opts.dir, `${opts.key}-${basename(filename)}.bin`);
    const cached = readCache(file);
    const script = new Script(M.wrap(content), { filename, ...(cached ? { cachedData: cached } : {}) });
    compiled.push({ script, file, ...(cached && !script.cachedDataRejected ? { accepted: { bytes: cached.length, settled: isSettled(file) } } : {}) });
    const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: CompilingModule, filename: string, dirname: string) => unknown;
    return wrapper.call(this.exports, this.exports, Module.createRequire(filename), this, filename, dirname(filename));
  };
  process.once('exit', () => save(opts, compiled));
}
