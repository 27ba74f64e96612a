// The shape of a rhachet keyrack vault adapter (`rhx keyrack …`), as keyrack-aws implements it. rhachet is not a
// dependency: these types restate the parts of its KeyrackHostVaultAdapter contract this adapter honours
// (unlock / isUnlocked / get / set / del / relock, the exid being the AWS profile name, the grant carrying the
// secret with its grade and expiry). See docs/writing-a-host.md, "rhachet".
import type { LoginCapability } from '../core/plugin.js';
import type { Clock, EnvVars } from '../core/runtime.js';

export const RHACHET_MECH = 'EPHEMERAL_VIA_AWS_SSO' as const;
export type RhachetMech = typeof RHACHET_MECH;

export interface RhachetKeyGrade {
  /** Only a reference (the profile name) is handed out; no secret touches the host. */
  protection: 'reference';
  duration: 'ephemeral';
}

export interface RhachetKeyGrant {
  /** `<org>.<env>.<KEY>` as the host addresses the key. */
  slug: string;
  key: { secret: string; grade: RhachetKeyGrade };
  source: { vault: string; mech: RhachetMech };
  env: string;
  org: string;
  /** ISO 8601: when the role credentials proven for this grant expire; ask again after that. */
  expiresAt: string;
}

/** What keyrack-aws learns about a profile when it is set; the host stores it and hands it back. */
export interface AwsProfileMeta {
  /** The Identity Center user the session belongs to (last part of the assumed-role ARN), when proven. */
  awsSsoUsername?: string;
  accountId: string;
  roleName: string;
  ssoSession?: string;
  /** Whether AWS confirmed the profile when it was set (false: no live session yet; unlock will prove it). */
  validated: boolean;
}

export interface RhachetVaultAdapter {
  readonly mechs: { supported: RhachetMech[] };
  /** Human: make the profile's SSO session live (reuse, refresh, or a login) and prove it. The only login path. */
  unlock(input: { identity?: string | null; silent?: boolean; exid?: string | null; meta?: Partial<AwsProfileMeta> | null; slug?: string | null; owner?: string | null }): Promise<void>;
  /** Robot-safe: does the profile work right now (session live, role credentials accepted by STS)? */
  isUnlocked(input?: { exid?: string | null; identity?: string | null; meta?: Partial<AwsProfileMeta> | null }): Promise<boolean>;
  /** Robot-safe: the profile name as the granted value, with its expiry, after proving it. Never logs in. */
  get(input: { slug: string; exid?: string | null; mech?: string | null; meta?: Partial<AwsProfileMeta> | null; owner?: string | null; identity?: string | null }): Promise<RhachetKeyGrant | null>;
  /** Robot-safe: validate a profile reference (exists, is SSO; proven with STS when a session is live). */
  set(input: { slug: string; exid?: string | null; mech?: string | null; expiresAt?: string | null }, context?: unknown): Promise<{ mech: RhachetMech; exid: string; meta: AwsProfileMeta }>;
  /** Nothing to delete: the reference lives in the host's manifest, the profile in ~/.aws/config. */
  del(input: { slug: string; exid?: string | null; owner?: string | null; mech?: string | null; meta?: unknown }): Promise<void>;
  /** End the profile's SSO session server-side and delete its token and role-credential caches. */
  relock(input: { slug: string; exid?: string | null }): Promise<void>;
}

export interface KeyrackAwsVaultOptions {
  /** Defaults to process.env at each call. */
  env?: EnvVars;
  cwd?: string;
  clock?: Clock;
  signal?: AbortSignal;
  debug?: boolean;
  /**
   * How unlock reaches the person: their terminal and browser. Default: this process's terminal (stderr), which
   * requires an interactive TTY, as `keyrack unlock` does. Robot operations never receive it.
   */
  login?: LoginCapability | (() => LoginCapability);
  /** Shown in "a human runs: …" fixes. Default `rhx keyrack unlock`. */
  unlockCommand?: string;
  /** `source.vault` in grants. Default `aws.config`, the rhachet vault this adapter stands in for. */
  vault?: string;
  /** Where unlock prints its one-line summary unless `silent` (default: stderr). */
  out?: { write(s: string): unknown };
}
