// This very installation of keyrack, as files outside the package name it (credential_process lines in
// ~/.aws/config, systemd and launchd units): the node running it and the package's stable launcher,
// bin/keyrack.cjs. Not package.json's bin (dist/cli.cjs, a build output whose layout may change), and not how
// this process happened to be started. Absolute paths, so it works without PATH.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface Launcher {
  /** absolute path of the node binary */
  node: string;
  /** absolute path of keyrack's bin/keyrack.cjs */
  bin: string;
}

export function installedLauncher(): Launcher {
  const pkg = createRequire(import.meta.url).resolve('keyrack-aws/package.json');
  return { node: process.execPath, bin: join(dirname(pkg), 'bin', 'keyrack.cjs') };
}
