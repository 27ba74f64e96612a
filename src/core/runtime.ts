// Everything a command touches in the outside world, resolved once and passed down explicitly:
// environment, file locations, clock, AWS endpoints. No module reads process.env or Date.now() itself.
import { homedir } from 'node:os';
import { join } from 'node:path';

export type EnvVars = Readonly<Record<string, string | undefined>>;

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface Paths {
  home: string;
  /** ~/.aws/config or AWS_CONFIG_FILE */
  awsConfig: string;
  /** ~/.aws/sso/cache (not configurable in the AWS CLI either) */
  ssoCache: string;
  /** ~/.aws/cli/cache: AWS-CLI-compatible role-credential cache */
  cliCache: string;
  /** $XDG_STATE_HOME/keyrack: unlock records, validation cache, locks, audit */
  state: string;
  /** $XDG_CONFIG_HOME/keyrack: the user's own keyrack config (never keyrack.yml) */
  config: string;
}

/** Endpoint overrides, as the AWS SDK reads them (`AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`). */
export interface Endpoints {
  ssoOidc?: string;
  sso?: string;
  sts?: string;
}

export interface Runtime {
  env: EnvVars;
  paths: Paths;
  clock: Clock;
  endpoints: Endpoints;
  cwd: string;
}

export function resolvePaths(env: EnvVars): Paths {
  const home = env.HOME || homedir();
  const xdgState = env.XDG_STATE_HOME || join(home, '.local', 'state');
  const xdgConfig = env.XDG_CONFIG_HOME || join(home, '.config');
  return {
    home,
    awsConfig: env.AWS_CONFIG_FILE || join(home, '.aws', 'config'),
    ssoCache: join(home, '.aws', 'sso', 'cache'),
    cliCache: join(home, '.aws', 'cli', 'cache'),
    state: join(xdgState, 'keyrack'),
    config: join(xdgConfig, 'keyrack'),
  };
}

export function resolveEndpoints(env: EnvVars): Endpoints {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true') return {};
  const all = env.AWS_ENDPOINT_URL || undefined;
  const pick = (v: string | undefined) => v || all;
  const out: Endpoints = {};
  const ssoOidc = pick(env.AWS_ENDPOINT_URL_SSO_OIDC);
  const sso = pick(env.AWS_ENDPOINT_URL_SSO);
  const sts = pick(env.AWS_ENDPOINT_URL_STS);
  if (ssoOidc) out.ssoOidc = ssoOidc;
  if (sso) out.sso = sso;
  if (sts) out.sts = sts;
  return out;
}

export function createRuntime(opts: { env?: EnvVars; cwd?: string; clock?: Clock } = {}): Runtime {
  const env = opts.env ?? process.env;
  return {
    env,
    paths: resolvePaths(env),
    clock: opts.clock ?? systemClock,
    endpoints: resolveEndpoints(env),
    cwd: opts.cwd ?? process.cwd(),
  };
}
