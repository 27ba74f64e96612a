// Crash-safe file writes: a reader (keyrack or the AWS CLI) sees the old file or the new one, never half.
// Secrets-bearing files are 0600 inside 0700 directories, as the AWS CLI creates them.
//
// Synchronous system calls behind async signatures: these files are small and touched a few times per command,
// where a thread-pool hop per step (open, write, fsync, close, rename: four or five each) costs a few tenths of a
// millisecond and, in a short-lived process, starts the thread pool at all. Measured in research/soak.md.
import { chmodSync, closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** mkdir -p with 0700 for the directories it creates (existing ones are left as the user set them). */
export async function ensurePrivateDir(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

export interface AtomicWriteOptions {
  /** File mode (default 0600). */
  mode?: number;
  /**
   * fsync before the rename (default true), so the new content survives a crash. Off for files that can always be
   * made again (the watcher's bookkeeping, the code cache): readers still see the old file or the new one.
   */
  durable?: boolean;
}

/**
 * Write via a temp file in the same directory, then rename over the target. The temp file is created exclusively;
 * its name needs to be unique, not secret (the directory is private), so Math.random serves: node:crypto would be
 * loaded at the start of every command that bundles this module (the launcher among them).
 */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const mode = opts.mode ?? PRIVATE_FILE_MODE;
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 12)}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
    if (opts.durable !== false) fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    chmodSync(tmp, mode); // umask may have narrowed or (for 0644 files) the open mode may differ
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** writeFileAtomicSync, durable, behind the async signature most callers use. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = PRIVATE_FILE_MODE): Promise<void> {
  writeFileAtomicSync(path, data, { mode });
}

/**
 * `read(fd)` on `path` opened for reading, closed afterwards; undefined when there is no file (other errors
 * propagate). One descriptor throughout, so what an fstat checked is what is read.
 */
export function readThroughFd<T>(path: string, read: (fd: number) => T): T | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return read(fd);
  } finally {
    closeSync(fd);
  }
}

/** What a file that must be this user's own turned out to be. */
export type OwnFileRead = { kind: 'missing' } | { kind: 'exposed'; detail: string } | { kind: 'ok'; bytes: Buffer };

/**
 * Read a file only if it is a regular file of this user with none of the `forbidden` mode bits (0o077: private, as
 * secrets must be; 0o022: nobody else may write it, as for code). The checked descriptor is the one read.
 */
export function readOwnFile(path: string, forbidden = 0o077): OwnFileRead {
  const read = readThroughFd(path, (fd): OwnFileRead => {
    const st = fstatSync(fd);
    if (!st.isFile()) return { kind: 'exposed', detail: 'not a regular file' };
    if ((st.mode & forbidden) !== 0) return { kind: 'exposed', detail: `mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}` };
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) return { kind: 'exposed', detail: 'owned by another user' };
    return { kind: 'ok', bytes: readFileSync(fd) };
  });
  return read ?? { kind: 'missing' };
}

/** Read a UTF-8 file, or undefined when it does not exist. Other errors propagate. */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Delete a file; true when it existed, false when it was already gone. Other errors propagate. */
export async function removeFileIfExists(path: string): Promise<boolean> {
  try {
    rmSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
