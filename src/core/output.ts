// Turning a grant into what the robot asked for. Values go to stdout; everything else goes to stderr.
import { KeyrackError } from './errors.js';
import type { Grant } from './plugin.js';

export const FORMATS = ['value', 'shell', 'json', 'dotenv'] as const;
export type Format = (typeof FORMATS)[number];

export function parseFormat(v: string | undefined, credentials: boolean): Format {
  if (v === undefined || v === '') return credentials ? 'json' : 'value';
  if ((FORMATS as readonly string[]).includes(v)) {
    if (v === 'value' && credentials) {
      throw new KeyrackError({ code: 'cli.format', reason: 'invalid-input', message: '--format value cannot carry a credential set', fix: 'use --credentials with --format json, shell or dotenv' });
    }
    return v as Format;
  }
  throw new KeyrackError({ code: 'cli.format', reason: 'invalid-input', message: `unknown --format ${JSON.stringify(v)}`, fix: `use one of: ${FORMATS.join(', ')}` });
}

/** The environment variables a grant stands for. */
export function grantVariables(g: Grant): Record<string, string> {
  if (!g.credentials) return { [g.key]: g.profile };
  return {
    AWS_ACCESS_KEY_ID: g.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: g.credentials.secretAccessKey,
    AWS_SESSION_TOKEN: g.credentials.sessionToken,
    AWS_CREDENTIAL_EXPIRATION: new Date(g.credentials.expiresAt).toISOString(),
  };
}

/** POSIX-shell single quoting: the only character needing care inside '…' is ' itself. */
export function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

function dotenvQuote(v: string): string {
  return /^[\w@%+=:,./-]*$/.test(v) ? v : `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export function renderGrant(g: Grant, format: Format): string {
  const vars = grantVariables(g);
  switch (format) {
    case 'value':
      return `${g.profile}\n`;
    case 'shell':
      return Object.entries(vars).map(([k, v]) => `export ${k}=${shellQuote(v)}`).join('\n') + '\n';
    case 'dotenv':
      return Object.entries(vars).map(([k, v]) => `${k}=${dotenvQuote(v)}`).join('\n') + '\n';
    case 'json':
      return `${JSON.stringify({
        env: g.env,
        key: g.key,
        profile: g.profile,
        identity: g.identity,
        expiresAt: new Date(g.expiresAt).toISOString(),
        cached: g.cached,
        ...(g.credentials
          ? {
              credentials: {
                AccessKeyId: g.credentials.accessKeyId,
                SecretAccessKey: g.credentials.secretAccessKey,
                SessionToken: g.credentials.sessionToken,
                Expiration: new Date(g.credentials.expiresAt).toISOString(),
              },
            }
          : { value: g.profile }),
      })}\n`;
  }
}
