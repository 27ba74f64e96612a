// Shared set-up for the hardened-mode tests: a sandbox (real keyrack binary, in-process emulator) whose
// processes use a private, unlocked gnome-keyring, with `token_store: keychain` for the sso-session `acme`.
// This test process reads and writes the same keyring through src/store/keychain.ts.
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tokenCacheKey } from '../../src/aws/cache-keys.js';
import { tokenAccount } from '../../src/aws/token-store-keychain.js';
import { KEYRACK_AWS_KEYCHAIN_SERVICE, keychainGet, keychainSet } from '../../src/store/keychain.js';
import { createSandbox, lastSeq, tokenFile, writeUserConfig, type Sandbox } from './keyrack.js';
import { startTestKeyring, type TestKeyring } from './keyring.js';

export const TOKEN_KEY = tokenCacheKey({ session: 'acme' });
export const KEYCHAIN_CONFIG = 'sso:\n  acme:\n    token_store: keychain\n';

export interface HardenedBox {
  sb: Sandbox;
  kr: TestKeyring;
  close(): Promise<void>;
}

/** Keyring + sandbox; this process's keychain calls go to the same keyring. `keychain: false` leaves the files mode. */
export async function hardenedSandbox(opts: { keychain?: boolean } = {}): Promise<HardenedBox> {
  const kr = await startTestKeyring();
  const saved = process.env.DBUS_SESSION_BUS_ADDRESS;
  process.env.DBUS_SESSION_BUS_ADDRESS = kr.env.DBUS_SESSION_BUS_ADDRESS;
  const sb = await createSandbox();
  sb.env.DBUS_SESSION_BUS_ADDRESS = kr.env.DBUS_SESSION_BUS_ADDRESS;
  if (opts.keychain !== false) await writeUserConfig(sb, KEYCHAIN_CONFIG);
  return {
    sb,
    kr,
    async close() {
      await sb.close();
      await kr.close();
      if (saved === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
      else process.env.DBUS_SESSION_BUS_ADDRESS = saved;
    },
  };
}


export interface StoredToken {
  accessToken: string;
  refreshToken?: string;
  clientId?: string;
  clientSecret?: string;
  expiresAt: string;
  [k: string]: unknown;
}

export async function keychainToken(): Promise<StoredToken | undefined> {
  const text = await keychainGet(KEYRACK_AWS_KEYCHAIN_SERVICE, tokenAccount(TOKEN_KEY));
  return text === undefined ? undefined : (JSON.parse(text) as StoredToken);
}

export async function writeKeychainToken(t: StoredToken): Promise<void> {
  await keychainSet(KEYRACK_AWS_KEYCHAIN_SERVICE, tokenAccount(TOKEN_KEY), JSON.stringify(t));
}


/** Every regular file under `root` (recursively) whose bytes contain one of `needles`: path → which. */
export async function filesContaining(root: string, needles: ReadonlyArray<string | RegExp>): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory()) await walk(p);
      else if (d.isFile()) {
        const text = (await readFile(p)).toString('latin1');
        const hits = needles.filter((n) => (typeof n === 'string' ? n !== '' && text.includes(n) : n.test(text)));
        if (hits.length > 0) out[p] = hits.map((h) => (typeof h === 'string' ? `${h.slice(0, 6)}…` : String(h)));
      }
    }
  };
  await walk(root);
  return out;
}

export const refreshCalls = async (sb: Sandbox, since: number) => (await sb.emu.control.calls(since)).filter((c) => c.operation === 'CreateToken' && c.grantType === 'refresh_token');

/**
 * The AWS SDK for JavaScript v3 in a separate node: STS GetCallerIdentity with `fromIni({ profile })`, in the
 * sandbox's environment (so fromIni runs the profile's credential_process there). Prints only the ARN or the
 * error message, never a credential.
 */
export function sdkCallerIdentity(sb: Sandbox, profile: string): Promise<{ arn?: string; error?: string }> {
  const script = `
const { fromIni } = await import('@aws-sdk/credential-providers');
const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
const sts = new STSClient({ region: 'us-east-1', maxAttempts: 1, credentials: fromIni({ profile: process.env.KR_PROFILE }) });
try { const o = await sts.send(new GetCallerIdentityCommand({})); process.stdout.write(JSON.stringify({ arn: o.Arn })); }
catch (e) { process.stdout.write(JSON.stringify({ error: String(e && e.message) })); }`;
  const env = { ...sb.env, AWS_CONFIG_FILE: join(sb.home, '.aws', 'config'), AWS_SHARED_CREDENTIALS_FILE: join(sb.home, '.aws', 'credentials'), KR_PROFILE: profile };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(t);
      try {
        resolve(JSON.parse(out) as { arn?: string; error?: string });
      } catch {
        reject(new Error(`the SDK child printed no JSON (stderr: ${err.slice(0, 500)})`));
      }
    });
  });
}

export { lastSeq, tokenFile, writeUserConfig };
