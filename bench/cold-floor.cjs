// The floor under a cold grant: the same two AWS calls with nothing else. GetRoleCredentials with the cached SSO
// access token, then GetCallerIdentity signed with SigV4, over node:http and node:crypto, as keyrack sends them;
// no keyrack.yml, no ~/.aws/config, no checks, no caches written. What a cold grant costs above this is keyrack's.
// SigV4 is written out rather than taken from src/aws/sts.ts (signV4): loading keyrack's bundle is exactly what
// this floor leaves out. The emulator verifies the signature, so a wrong one fails the run instead of timing it.
// Usage: node bench/cold-floor.cjs TOKEN_FILE ACCOUNT ROLE REGION (endpoints from AWS_ENDPOINT_URL_SSO / _STS).
'use strict';
const http = require('node:http');
const { createHash, createHmac } = require('node:crypto');
const { readFileSync } = require('node:fs');

const [tokenFile, account, role, region] = process.argv.slice(2);
const { accessToken } = JSON.parse(readFileSync(tokenFile, 'utf8'));

function call(url, method, headers, body) {
  return new Promise((resolve, reject) => {
    const r = http.request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => (text += c)).on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    r.on('error', reject).end(body);
  });
}

const sha256 = (s) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (k, s) => createHmac('sha256', k).update(s, 'utf8').digest();

async function main() {
  const portal = new URL('/federation/credentials', process.env.AWS_ENDPOINT_URL_SSO);
  portal.search = new URLSearchParams({ account_id: account, role_name: role }).toString();
  const { roleCredentials: c } = JSON.parse(await call(portal, 'GET', { 'x-amz-sso_bearer_token': accessToken, accept: 'application/json' }));

  const sts = new URL('/', process.env.AWS_ENDPOINT_URL_STS);
  const body = 'Action=GetCallerIdentity&Version=2011-06-15';
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', host: sts.host, 'x-amz-date': amzDate, 'x-amz-security-token': c.sessionToken };
  const names = Object.keys(headers).sort();
  const canonical = ['POST', '/', '', ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), sha256(body)].join('\n');
  const scope = `${day}/${region}/sts/aws4_request`;
  const key = hmac(hmac(hmac(hmac(`AWS4${c.secretAccessKey}`, day), region), 'sts'), 'aws4_request');
  const signature = createHmac('sha256', key).update(['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n'), 'utf8').digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  const xml = await call(sts, 'POST', headers, body);
  if (!/<Arn>[^<]+<\/Arn>/.test(xml)) throw new Error('no Arn in the GetCallerIdentity answer');
  process.stdout.write('ok\n');
}

main().catch((e) => {
  process.stderr.write(`cold-floor: ${e.message}\n`);
  process.exit(1);
});
