// Parsed forms of the YAML files keyrack reads on every run (keyrack.yml), so that a robot's grant does not load
// a YAML parser to read a file that has not changed. Parsing (YAML, the secret scan, every field's validation) is a
// pure function of the file's path and text and of keyrack's own code, so an entry is used only for the same
// path, the same text (SHA-256) and the same build of keyrack (an id the build computes from the sources); a
// failed parse is never kept, so errors are always reported by the parser itself. One entry per file path, in
// the state directory (0600 files, 0700 directory), written atomically; a damaged entry is a miss.
import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic } from './files.js';
import { sha256Hex } from '../core/hash.js';

/** Set by the build (scripts/build.mjs); absent when the sources run directly (tests through tsx): no cache then. */
declare const __KEYRACK_BUILD_ID__: string | undefined;

/** Where entries live, and the build of keyrack whose parses they are. */
export interface ParseCache {
  dir: string;
  build: string;
}

/** The cache under keyrack's state directory for this build; undefined (no caching) when the build has no id. */
export function parseCacheFor(state: string): ParseCache | undefined {
  return typeof __KEYRACK_BUILD_ID__ === 'string' ? { dir: join(state, 'parsed'), build: __KEYRACK_BUILD_ID__ } : undefined;
}

interface Entry<T> {
  build: string;
  path: string;
  textSha256: string;
  value: T;
}


/**
 * `parse()`'s result for this path and text, from the cache when it holds an entry for them, else parsed and kept.
 * `kind` names the file type (part of the entry's name). Without a cache it just parses.
 */
export async function cachedParse<T>(cache: ParseCache | undefined, kind: string, path: string, text: string, parse: () => Promise<T>): Promise<T> {
  if (!cache) return parse();
  const file = join(cache.dir, `${kind}-${sha256Hex(path)}.json`);
  const textSha256 = sha256Hex(text);
  try {
    const raw = await readFileIfExists(file);
    const e = raw === undefined ? undefined : (JSON.parse(raw) as Partial<Entry<T>>);
    if (e && e.build === cache.build && e.path === path && e.textSha256 === textSha256 && e.value !== undefined) return e.value;
  } catch {
    // damaged: parse again and replace it
  }
  const value = await parse();
  await writeFileAtomic(file, JSON.stringify({ build: cache.build, path, textSha256, value } satisfies Entry<T>)).catch(() => undefined);
  return value;
}
