// The plugin contract a host (keyrack's own CLI, or e.g. `rhx keyrack unlock aws`) uses.
//
// Human and robot operations get different context types. Only HumanContext carries a LoginCapability;
// robot operations are typed to receive a RobotContext, and the AWS plugin's robot code paths do not import
// any login module. A robot therefore cannot start a login by construction, not by a runtime flag.
import type { KeyrackFile, KeyRef } from './keyrack-file.js';
import type { Logger } from './log.js';
import type { Runtime } from './runtime.js';

export interface RobotContext {
  readonly runtime: Runtime;
  readonly file: KeyrackFile;
  readonly log: Logger;
  /** Cancels in-flight AWS calls (Ctrl-C, host shutdown). */
  readonly signal?: AbortSignal;
}

export interface DeviceCodePrompt {
  verificationUri: string;
  verificationUriComplete: string;
  userCode: string;
  /** epoch ms */
  expiresAt: number;
}

/** What only a human session can do: show things to a person and open their browser. */
export interface LoginCapability {
  /** Open a URL in the person's browser; resolves false when no browser could be started. */
  openBrowser(url: string): Promise<boolean>;
  /** Whether opening a browser can work here at all (display, not over SSH, not disabled by flag). */
  readonly canOpenBrowser: boolean;
  /** Prefer the device-code flow even when a browser could open. */
  readonly preferDeviceCode: boolean;
  showDeviceCode(prompt: DeviceCodePrompt): void;
  showAuthorizeUrl(url: string): void;
  /** Progress while waiting for the person; called repeatedly with the time left. */
  waiting(message: string, remainingMs: number): void;
  done(): void;
}

export interface HumanContext extends RobotContext {
  readonly login: LoginCapability;
}

export interface Identity {
  arn: string;
  account: string;
  /** The permission-set role name (from the AWSReservedSSO_<role>_<hash> role), when it is an SSO role. */
  role?: string;
  userId?: string;
}

export interface ValidatedRef {
  ref: KeyRef;
  profile: string;
  identity: Identity;
  /** epoch ms */
  credentialsExpireAt: number;
  /** epoch ms, when the SSO session's end is known */
  sessionExpiresAt?: number;
  /** epoch ms of the access token */
  tokenExpiresAt?: number;
}

export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** epoch ms */
  expiresAt: number;
  accountId?: string;
}

export interface UnlockRequest {
  env?: string;
  key?: string;
  /** seconds; the unlock record ends then instead of at lock / session end */
  forSeconds?: number;
  writeProfiles?: boolean;
}

export interface UnlockResult {
  env: string;
  validated: ValidatedRef[];
  /** epoch ms, or undefined when it lasts until lock / session end */
  until?: number;
  profilesWritten: string[];
  logins: { sso: string; how: 'reused' | 'refreshed' | 'pkce' | 'device-code' }[];
}

export interface GrantRequest {
  env?: string;
  key: string;
  credentials?: boolean;
}

export interface Grant {
  env: string;
  key: string;
  profile: string;
  identity: Identity;
  /** epoch ms */
  expiresAt: number;
  credentials?: RoleCredentials;
  /** true when served from the validation cache */
  cached: boolean;
}

/**
 * What every plugin offers a host. Only `unlock` takes a HumanContext. Plugins may add further robot
 * operations (the AWS plugin adds listRoles, status, lock), always typed with RobotContext.
 */
export interface KeyrackPlugin {
  readonly name: string;
  unlock(ctx: HumanContext, req: UnlockRequest): Promise<UnlockResult>;
  grant(ctx: RobotContext, req: GrantRequest): Promise<Grant>;
  lock(ctx: RobotContext, req: { env?: string; logout?: boolean }): Promise<unknown>;
}
