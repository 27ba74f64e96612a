// Crash-safe file writes: a reader (keyrack or the AWS CLI) sees the old file or the new one, never half.
// Secrets-bearing files are 0600 inside 0700 directories, as the AWS CLI creates them.
//
// Synchronous system calls behind async signatures: these files are small and touched a few times per command,
// where a thread-pool hop per step (open, write, fsync, close, rename: four or five each) costs a few tenths of a
// millisecond and, in a short-lived process, starts the thread pool at all. Measured in research/soak.md.
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** mkdir -p with 0700 for the directories it creates (existing ones are left as the user set them). */
export async function ensurePrivateDir(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Write via a temp file in the same directory, fsync, then rename over the target. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = PRIVATE_FILE_MODE): Promise<void> {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
    fsyncSync(fd);
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
