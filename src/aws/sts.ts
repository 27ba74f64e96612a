// STS GetCallerIdentity: the proof that role credentials work right now, and who they belong to.
//
// Sent as a hand-built awsQuery request signed with SigV4 (below, node:crypto only), so a grant never loads the
// AWS SDK; with FIPS or dual-stack endpoints switched on it goes through the SDK's STS client instead.
import { createHmac } from 'node:crypto';
import type { Identity, RoleCredentials } from '../core/plugin.js';
import { classifyAwsError, type ClassifyContext } from './classify.js';
import { awsEndpoint, awsUrl, deadline, observed, sendAwsRequest, unusableAnswer, USER_AGENT, type AwsAnswer, type AwsCallTarget } from './network.js';
import { sha256Hex } from '../core/hash.js';

export type StsTarget = AwsCallTarget;

/** Parses `arn:aws:sts::<acct>:assumed-role/AWSReservedSSO_<PermissionSet>_<hex>/<user>`. */
export function identityFromArn(arn: string, userId?: string): Identity {
  const m = /^arn:aws[\w-]*:sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(arn);
  const account = m?.[1] ?? /::(\d{12}):/.exec(arn)?.[1] ?? '';
  const roleName = m?.[2];
  const sso = roleName ? /^AWSReservedSSO_(.+)_[0-9a-f]{16}$/.exec(roleName) : null;
  const role = sso?.[1] ?? roleName;
  return { arn, account, ...(role ? { role } : {}), ...(userId ? { userId } : {}) };
}

// ---------------------------------------------------------------------------------------------------------------
// SigV4 (header form), as AWS documents it: canonical request → string to sign → HMAC chain of date, region,
// service. test/cli/fast-path.test.ts checks it against AWS's published example.

const hmac = (key: string | Buffer, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();

/** RFC 3986 with AWS's unreserved set. */
const awsEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export interface SigV4Input {
  method: string;
  url: URL;
  /** Headers to sign (besides host and x-amz-date, which are added). */
  headers: Record<string, string>;
  body: string;
  region: string;
  service: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  now: Date;
}

/** The headers a request needs to carry: x-amz-date, host, x-amz-security-token (if any) and authorization. */
export function signV4(i: SigV4Input): Record<string, string> {
  const amzDate = i.now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const added: Record<string, string> = { host: i.url.host, 'x-amz-date': amzDate, ...(i.sessionToken ? { 'x-amz-security-token': i.sessionToken } : {}) };
  const all = new Map<string, string>();
  for (const [k, v] of Object.entries({ ...i.headers, ...added })) all.set(k.toLowerCase(), v.trim().replace(/\s+/g, ' '));
  const names = [...all.keys()].sort();
  const query = [...i.url.searchParams]
    .map(([k, v]) => [awsEncode(k), awsEncode(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const path = i.url.pathname.split('/').map((seg) => awsEncode(decodeURIComponent(seg))).join('/') || '/';
  const canonical = [i.method, path, query, ...names.map((n) => `${n}:${all.get(n) ?? ''}`), '', names.join(';'), sha256Hex(i.body)].join('\n');
  const scope = `${day}/${i.region}/${i.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${i.secretAccessKey}`, day), i.region), i.service), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  return { ...added, authorization: `AWS4-HMAC-SHA256 Credential=${i.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
}

// ---------------------------------------------------------------------------------------------------------------

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const xmlText = (s: string) =>
  s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_m, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : (XML_ENTITIES[e] ?? ''),
  );
const element = (xml: string, name: string) => {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m ? xmlText(m[1] ?? '').trim() : undefined;
};

/** awsQuery errors: `<ErrorResponse><Error><Code>`, else the `x-amzn-ErrorType` header. */
export function awsQueryErrorName(status: number, headers: AwsAnswer['headers'], body: string): string {
  const error = /<Error>([\s\S]*?)<\/Error>/.exec(body)?.[1];
  const code = error ? element(error, 'Code') : undefined;
  if (code) return code;
  const h = headers['x-amzn-errortype'];
  const header = Array.isArray(h) ? h[0] : h;
  if (header) return header.split(':')[0] ?? header;
  return status >= 500 ? 'InternalServerError' : 'UnknownError';
}

const STS_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

async function viaSdk(t: StsTarget, creds: RoleCredentials): Promise<{ arn?: string | undefined; userId?: string | undefined }> {
  const { GetCallerIdentityCommand, stsClient } = await import('./clients.js');
  const client = stsClient(t.region, t.endpoints, t.net, creds);
  try {
    const out = await observed(t.log, 'GetCallerIdentity', () => client.send(new GetCallerIdentityCommand({}), { abortSignal: deadline(t.net, t.signal) }));
    return { arn: out.Arn, userId: out.UserId };
  } finally {
    client.destroy();
  }
}

export async function getCallerIdentity(t: StsTarget, creds: RoleCredentials, c: Omit<ClassifyContext, 'operation'>): Promise<Identity> {
  try {
    const endpoint = t.env ? awsEndpoint('sts', t.region, t.endpoints.sts, t.env) : undefined;
    let arn: string | undefined;
    let userId: string | undefined;
    if (endpoint) {
      const url = awsUrl(endpoint, '/');
      const headers = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', 'user-agent': USER_AGENT };
      const sign = (now: Date) =>
        signV4({ method: 'POST', url, headers, body: STS_BODY, region: t.region, service: 'sts', accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken, now });
      const out = await observed(t.log, 'GetCallerIdentity', () => sendAwsRequest({ method: 'POST', url, headers, body: STS_BODY, sign, errorName: awsQueryErrorName }, t.net, deadline(t.net, t.signal)));
      // A well-formed answer only: a truncated or foreign body is "unreadable", never half-trusted.
      const result = /<GetCallerIdentityResult>([\s\S]*?)<\/GetCallerIdentityResult>[\s\S]*<\/GetCallerIdentityResponse>\s*$/.exec(out.body)?.[1];
      if (result !== undefined) {
        arn = element(result, 'Arn');
        userId = element(result, 'UserId');
      }
    } else {
      ({ arn, userId } = await viaSdk(t, creds));
    }
    if (!arn) throw unusableAnswer('no Arn');
    return identityFromArn(arn, userId);
  } catch (e) {
    throw classifyAwsError(e, { ...c, operation: 'GetCallerIdentity' });
  }
}
