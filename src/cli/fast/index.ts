// Fast paths: commands a robot runs constantly, answered before citty, YAML or the AWS SDK load. main.ts asks here
// first; a fast path returns true when it answered (output written, exit code 0) and false when the command must
// run on the full path. It never reports an error itself: every refusal comes from the full path.
//
// To add one: write `src/cli/fast/<command>.ts` exporting a `FastPath`, keep it to node builtins and small leaf
// modules (no citty, yaml, @aws-sdk, @inquirer: the build puts this whole graph into dist/cli.cjs, which every
// command loads; the keychain binding only through require() when the path runs), make it return
// false on any doubt, and add one line below.
import { writeSync } from 'node:fs';
import { fastCredentialProcess } from './credential-process.js';
import { fastGrant, type FastIo } from './grant.js';

export type { FastIo };
export type FastPath = (argv: readonly string[], io: FastIo) => Promise<boolean>;

export const fastPaths: Readonly<Record<string, FastPath>> = {
  grant: fastGrant,
  'credential-process': fastCredentialProcess,
};

/** Straight to fd 1: creating process.stdout costs more than the answer. A full pipe falls back to the stream. */
function writeStdout(text: string): void {
  const buf = Buffer.from(text);
  let done = 0;
  try {
    while (done < buf.length) done += writeSync(1, buf, done);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    process.stdout.write(buf.subarray(done));
  }
}

export function processIo(): FastIo {
  return { env: process.env, cwd: process.cwd(), now: () => Date.now(), write: writeStdout };
}
