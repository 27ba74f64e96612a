// The rule that keeps robots out of needless logins: only a definite answer from AWS that the session is dead is
// `expired`; anything uncertain (5xx, throttling, timeouts, resets, garbage) is `unavailable`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyAwsError, errorName, isTransient, type AwsOperation } from '../../src/aws/classify.js';

const ctx = (operation: AwsOperation) => ({ operation, subject: 'acme', unlockCommand: 'keyrack unlock aws --env prep' });

/** An error shaped like the SDK's, whose message carries a secret that must never be repeated. */
function sdkError(name: string, status?: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error('Token aoaEMUSECRETdeadbeefdeadbeefdeadbeef was refused'), { name, ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }), ...extra });
}

const rows: [AwsOperation, Error | unknown, 'expired' | 'unavailable' | 'denied', RegExp?][] = [
  // refresh
  ['CreateToken', sdkError('InvalidGrantException', 400), 'expired'],
  ['CreateToken', sdkError('InvalidClientException', 401), 'expired'],
  ['CreateToken', sdkError('ExpiredTokenException', 400), 'expired'],
  ['CreateToken', sdkError('InternalServerException', 500), 'unavailable', /HTTP 500/],
  ['CreateToken', sdkError('SlowDownException', 400), 'unavailable'],
  // portal
  ['GetRoleCredentials', sdkError('UnauthorizedException', 401), 'expired'],
  ['ListAccounts', sdkError('UnauthorizedException', 401), 'expired'],
  ['GetRoleCredentials', sdkError('ForbiddenException', 403), 'denied'],
  ['GetRoleCredentials', sdkError('ResourceNotFoundException', 404), 'denied'],
  ['GetRoleCredentials', sdkError('TooManyRequestsException', 429), 'unavailable', /HTTP 429/],
  ['ListAccounts', sdkError('InternalServerException', 503), 'unavailable'],
  // STS
  ['GetCallerIdentity', sdkError('ExpiredToken', 403), 'expired'],
  ['GetCallerIdentity', sdkError('InvalidClientTokenId', 403), 'expired'],
  ['GetCallerIdentity', sdkError('AccessDenied', 403), 'denied'],
  ['GetCallerIdentity', sdkError('Throttling', 400), 'unavailable', /Throttling, HTTP 400/],
  ['GetCallerIdentity', sdkError('ServiceUnavailable', 503), 'unavailable'],
  ['GetCallerIdentity', sdkError('InternalFailure', 500), 'unavailable'],
  ['GetCallerIdentity', sdkError('RequestExpired', 400), 'unavailable'],
  // the network and the wire
  ['GetCallerIdentity', sdkError('TimeoutError', undefined, { code: 'ECONNRESET' }), 'unavailable', /ECONNRESET/],
  ['GetCallerIdentity', sdkError('TimeoutError', undefined, { code: 'ETIMEDOUT' }), 'unavailable', /timed out/],
  ['CreateToken', sdkError('AbortError'), 'unavailable', /timed out/],
  ['GetRoleCredentials', sdkError('Error', undefined, { code: 'ECONNREFUSED' }), 'unavailable', /ECONNREFUSED/],
  ['ListAccounts', sdkError('SyntaxError', 200), 'unavailable', /unreadable answer/],
  ['GetCallerIdentity', sdkError('Error', 200), 'unavailable', /unreadable answer/],
  ['GetCallerIdentity', 'a string was thrown', 'unavailable'],
  ['GetCallerIdentity', undefined, 'unavailable'],
];

describe('classifyAwsError', () => {
  for (const [op, err, reason, message] of rows) {
    const e = typeof err === 'object' && err !== null ? (err as Error & { code?: string; $metadata?: { httpStatusCode?: number } }) : undefined;
    const label = e ? [e.name, e.$metadata?.httpStatusCode, e.code].filter((x) => x !== undefined).join(' ') : String(err);
    it(`${op}: ${label} → ${reason}`, () => {
      const k = classifyAwsError(err, ctx(op));
      assert.equal(k.reason, reason);
      assert.equal(k.exitCode, { expired: 3, unavailable: 4, denied: 5 }[reason]);
      assert.ok(k.code.endsWith(op), k.code);
      assert.doesNotMatch(k.message, /EMUSECRET|aoa/, 'the original message is never repeated');
      if (message) assert.match(k.message, message);
      if (reason === 'expired') assert.equal(k.fix, 'a human runs: keyrack unlock aws --env prep');
      if (reason === 'unavailable') assert.match(k.message, /nothing was changed/);
    });
  }

  it('a 5xx is never "expired", whatever the error is called', () => {
    for (const op of ['CreateToken', 'GetRoleCredentials', 'ListAccounts', 'GetCallerIdentity'] as const) {
      for (const name of ['InvalidGrantException', 'UnauthorizedException', 'ExpiredToken']) {
        for (const status of [500, 502, 503, 504, 429]) assert.equal(classifyAwsError(sdkError(name, status), ctx(op)).reason, 'unavailable', `${op} ${name} ${status}`);
      }
    }
  });

  it('error names are repeated only when they look like AWS error names', () => {
    assert.equal(errorName(sdkError('ThrottlingException')), 'ThrottlingException');
    assert.equal(errorName(sdkError('EMUSECRETabcdef')), 'Error');
    assert.equal(errorName(sdkError('name with spaces and a token aoa123')), 'Error');
    assert.equal(errorName(sdkError('x'.repeat(200))), 'Error');
    const k = classifyAwsError(sdkError('EMUSECRETabcdef', 400), ctx('GetCallerIdentity'));
    assert.doesNotMatch(k.message, /EMUSECRET/);
  });

  it('isTransient: status, throttling names, network codes, timeouts, garbage', () => {
    assert.equal(isTransient(sdkError('Whatever', 502)), true);
    assert.equal(isTransient(sdkError('ThrottlingException', 400)), true);
    assert.equal(isTransient(sdkError('Error', undefined, { code: 'EAI_AGAIN' })), true);
    assert.equal(isTransient(sdkError('SyntaxError')), true);
    assert.equal(isTransient(sdkError('InvalidGrantException', 400)), false);
    assert.equal(isTransient(sdkError('AccessDenied', 403)), false);
  });
});
