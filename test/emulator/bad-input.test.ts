// Hostile and broken input on every route: each gets the service's own error (4xx with x-amzn-ErrorType and
// a parseable body), never a crash, a 500 or a hang.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SECRET_MARKER } from '../../src/emulator/index.js';
import { sandboxHome, startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

const BODIES = ['', 'null', '[]', '{', '{"clientId":1,"clientSecret":[],"grantType":{}}', '"str"', '1e999', randomBytes(64).toString('latin1'), 'Action=AssumeRole&Version=2011-06-15&RoleArn=%ZZ'];
const HEADERS: Record<string, string>[] = [
  {},
  { 'content-type': 'application/json' },
  { 'content-type': 'application/x-www-form-urlencoded' },
  { authorization: 'AWS4-HMAC-SHA256 Credential=/,SignedHeaders=,Signature=zz', 'x-amz-date': 'yesterday' },
  { authorization: 'Bearer nope', 'x-amz-sso_bearer_token': 'nope', 'x-amz-security-token': 'x' },
];
const ROUTES: [string, string][] = [
  ['POST', '/client/register'],
  ['POST', '/device_authorization'],
  ['POST', '/token'],
  ['POST', '/token?aws_iam=t'],
  ['GET', '/federation/credentials?account_id=&role_name='],
  ['GET', '/assignment/accounts?max_result=-1&next_token=%00'],
  ['GET', '/assignment/roles'],
  ['POST', '/logout'],
  ['POST', '/'],
  ['GET', '/?Action=GetCallerIdentity&Version=2011-06-15'],
  ['GET', '/authorize?client_id=&redirect_uri=javascript:alert(1)'],
  ['POST', '/authorize'],
  ['GET', '/device?user_code=%3Cscript%3E'],
  ['POST', '/device'],
];

describe('bad input', () => {
  let emu: TestEmulator;
  let restore: () => Promise<void>;
  before(async () => {
    restore = (await sandboxHome()).restore;
    emu = await startTestEmulator();
  });
  after(async () => {
    await emu.close();
    await restore();
  });

  test('every route × broken bodies × odd headers → a 4xx AWS error', async () => {
    for (const [method, path] of ROUTES) {
      for (const body of BODIES) {
        for (const headers of HEADERS) {
          const res = await fetch(`${emu.url}${path}`, { method, headers, ...(method === 'POST' ? { body } : {}) });
          const text = await res.text();
          const what = `${method} ${path} body=${JSON.stringify(body).slice(0, 30)} headers=${Object.keys(headers).join(',')}`;
          assert.ok(res.status >= 400 && res.status < 500, `${what} → ${res.status}`);
          assert.ok(res.headers.get('x-amzn-errortype'), `${what}: x-amzn-ErrorType`);
          assert.ok(res.headers.get('x-amzn-requestid'), `${what}: x-amzn-RequestId`);
          assert.ok(!text.includes('<script>'), `${what}: input is escaped`);
          assert.ok(!text.includes(SECRET_MARKER), `${what}: no secret in an error`);
        }
      }
    }
    assert.ok((await emu.control.calls()).every((c) => c.status < 500), 'no 5xx recorded');
  });
});
