// Loading keyrack.yml for a command: read it, then reuse its parse when the text is the one parsed before
// (store/parse-cache.ts), loading the YAML parser (./keyrack-file.ts) only when it must parse. A robot's grant
// against an unchanged keyrack.yml thus never loads YAML.
import { readFileSync } from 'node:fs';
import { KeyrackError } from './errors.js';
import type { KeyrackFile } from './keyrack-file.js';
import { cachedParse, type ParseCache } from '../store/parse-cache.js';

let lastParsed: { path: string; text: string; file: Promise<KeyrackFile> } | undefined;

/**
 * Parse `text` (read from `path`), or take the kept parse of the same text from `cache`. Within one process the
 * last parse is reused too (a grant reads the file twice; the watcher and hosts read it again and again). The
 * result is shared: callers never modify it.
 */
export function parseKeyrackText(text: string, path: string, cache?: ParseCache): Promise<KeyrackFile> {
  if (lastParsed?.path === path && lastParsed.text === text) return lastParsed.file;
  const file = cachedParse(cache, 'keyrack-yml', path, text, async () => (await import('./keyrack-file.js')).parseKeyrackFile(text, path));
  lastParsed = { path, text, file };
  // A failed parse is not kept: the next caller parses again and gets the error itself.
  file.catch(() => {
    if (lastParsed?.file === file) lastParsed = undefined;
  });
  return file;
}

export async function loadKeyrackFile(path: string, cache?: ParseCache): Promise<KeyrackFile> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new KeyrackError({
      code: missing ? 'keyrack-file.not-found' : 'keyrack-file.unreadable',
      reason: 'invalid-input',
      location: path,
      message: missing ? 'keyrack.yml not found' : 'keyrack.yml could not be read',
      fix: missing ? 'create it (see keyrack.yml.example) or point --file / KEYRACK_FILE at an existing one' : 'make it a readable file',
      cause: e,
    });
  }
  return parseKeyrackText(text, path, cache);
}
