// Turns whatever the SDK or the network threw into the robot contract's reasons. The rule that matters:
// only a definite answer from AWS that the session is dead becomes `expired`; anything we cannot be sure of
// (5xx, throttling, timeouts, resets, garbage bodies, unknown errors) is `unavailable`, so nobody is sent to
// log in again because AWS hiccuped.
import { KeyrackError } from '../core/errors.js';

export type AwsOperation =
  | 'RegisterClient'
  | 'StartDeviceAuthorization'
  | 'CreateToken'
  | 'GetRoleCredentials'
  | 'ListAccounts'
  | 'ListAccountRoles'
  | 'Logout'
  | 'GetCallerIdentity'
  | 'AssumeRole'
  | 'AssumeRoleWithWebIdentity';

interface SdkLikeError {
  name?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  error?: string;
}

const TRANSIENT_NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);
const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'SlowDown', 'ServiceUnavailable', 'InternalServerException', 'InternalFailure', 'InternalError']);

/** Only names that look like AWS error names are ever repeated (they end up in messages and debug logs). */
const SAFE_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,63}$/;

export function errorName(e: unknown): string {
  if (typeof e !== 'object' || e === null) return typeof e;
  const x = e as SdkLikeError;
  const raw = x.name ?? x.Code ?? x.code ?? 'Error';
  return typeof raw === 'string' && SAFE_NAME.test(raw) && !raw.includes('EMUSECRET') ? raw : 'Error';
}

function httpStatus(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null ? (e as SdkLikeError).$metadata?.httpStatusCode : undefined;
}

export function isTransient(e: unknown): boolean {
  const name = errorName(e);
  const code = typeof e === 'object' && e !== null ? (e as SdkLikeError).code : undefined;
  const status = httpStatus(e);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (THROTTLING.has(name)) return true;
  if (code && TRANSIENT_NETWORK.has(code)) return true;
  if (['TimeoutError', 'AbortError', 'RequestTimeout', 'SyntaxError'].includes(name)) return true;
  return false;
}

export interface ClassifyContext {
  operation: AwsOperation;
  /** The command a human should run to get going again, e.g. `keyrack unlock aws --env prep`. */
  unlockCommand: string;
  /** For messages: the sso session or profile involved. */
  subject: string;
}

/** Map an AWS/network failure to a KeyrackError; never includes the original message (it may carry data). */
export function classifyAwsError(e: unknown, c: ClassifyContext): KeyrackError {
  const name = errorName(e);
  const status = httpStatus(e);
  const code = typeof e === 'object' && e !== null ? (e as SdkLikeError).code : undefined;
  const what =
    code && TRANSIENT_NETWORK.has(code) && code !== 'ETIMEDOUT'
      ? code // the SDK renames a reset connection `TimeoutError`; its code says what happened
      : ['TimeoutError', 'AbortError', 'RequestTimeout'].includes(name)
        ? 'timed out'
        : name === 'SyntaxError' || (status !== undefined && status >= 200 && status < 300)
          ? 'unreadable answer'
          : status !== undefined
            ? `${name}, HTTP ${status}`
            : name;
  const unavailable = () =>
    new KeyrackError({
      code: `aws.unavailable.${c.operation}`,
      reason: 'unavailable',
      message: `AWS did not answer ${c.operation} for ${c.subject} (${what}); nothing was changed`,
      fix: 'retry later; the session is still unlocked',
      cause: e,
    });
  if (isTransient(e)) return unavailable();
  const expired = (why: string) =>
    new KeyrackError({ code: `sso.expired.${c.operation}`, reason: 'expired', message: `${why} for ${c.subject}`, fix: `a human runs: ${c.unlockCommand}`, cause: e });
  switch (c.operation) {
    case 'CreateToken':
      if (name === 'InvalidGrantException' || name === 'ExpiredTokenException' || name === 'InvalidClientException')
        return expired('the SSO session has ended (refresh refused)');
      break;
    case 'GetRoleCredentials':
    case 'ListAccounts':
    case 'ListAccountRoles':
      if (name === 'UnauthorizedException') return expired('the SSO access token was refused');
      if (name === 'ResourceNotFoundException' || name === 'ForbiddenException')
        return new KeyrackError({ code: `sso.denied.${c.operation}`, reason: 'denied', message: `AWS denied the role for ${c.subject} (${name})`, fix: 'check the account and role in keyrack.yml and your Identity Center assignments (keyrack list-roles)', cause: e });
      break;
    case 'GetCallerIdentity':
    case 'AssumeRole':
      if (name === 'ExpiredToken' || name === 'ExpiredTokenException' || name === 'InvalidClientTokenId')
        return expired('AWS refused the role credentials');
      if (name === 'AccessDenied' || name === 'AccessDeniedException')
        return new KeyrackError({ code: `sts.denied.${c.operation}`, reason: 'denied', message: `AWS denied ${c.operation} for ${c.subject}`, fix: 'check the role and its trust policy', cause: e });
      break;
    default:
      break;
  }
  return unavailable();
}
