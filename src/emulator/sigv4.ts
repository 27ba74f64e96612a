// AWS Signature Version 4 verification (header form), as STS does it: rebuild the canonical request from what
// arrived, derive the signing key from the secret the emulator issued, compare signatures in constant time.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { EmuRequest } from './wire.js';

export const ALGORITHM = 'AWS4-HMAC-SHA256';

export interface ParsedAuthorization {
  accessKeyId: string;
  /** YYYYMMDD from the credential scope. */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`; a string explains what is missing. */
export function parseAuthorization(header: string): ParsedAuthorization | string {
  if (!header.startsWith(`${ALGORITHM} `)) return `Unsupported authorization type`;
  const fields = new Map<string, string>();
  for (const part of header.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((k) => !fields.get(k));
  if (missing.length > 0) {
    return `Authorization header requires ${missing.map((m) => `'${m}'`).join(', ')} parameter${missing.length > 1 ? 's' : ''}. Authorization=${ALGORITHM}`;
  }
  const scope = (fields.get('Credential') ?? '').split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !/^\d{8}$/.test(scope[1] ?? '')) {
    return `Credential should be scoped to a valid region, a service and aws4_request. ` + `Credential is malformed`;
  }
  const [accessKeyId = '', date = '', region = '', service = ''] = scope;
  return {
    accessKeyId,
    date,
    region,
    service,
    signedHeaders: (fields.get('SignedHeaders') ?? '').split(';').map((h) => h.trim().toLowerCase()),
    signature: fields.get('Signature') ?? '',
  };
}

/** RFC 3986 encoding with AWS's unreserved set (`A-Z a-z 0-9 - _ . ~`). */
export function awsEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, '%20'));
  } catch {
    return s;
  }
}

function canonicalPath(rawPath: string): string {
  // Non-S3 services normalise the path and encode each segment.
  const segments: string[] = [];
  for (const seg of rawPath.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') segments.pop();
    else segments.push(seg);
  }
  const path = `/${segments.map((s) => awsEncode(safeDecode(s))).join('/')}`;
  return rawPath.endsWith('/') && path !== '/' ? `${path}/` : path;
}

function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return '';
  return rawQuery
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const k = eq < 0 ? p : p.slice(0, eq);
      const v = eq < 0 ? '' : p.slice(eq + 1);
      return [awsEncode(safeDecode(k)), awsEncode(safeDecode(v))] as const;
    })
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** Header values as sent (rawHeaders keeps repeats apart), trimmed with inner whitespace runs collapsed. */
function headerValue(req: EmuRequest, name: string): string | undefined {
  const values: string[] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if ((req.rawHeaders[i] ?? '').toLowerCase() === name) values.push((req.rawHeaders[i + 1] ?? '').trim().replace(/\s+/g, ' '));
  }
  return values.length === 0 ? undefined : values.join(',');
}

const sha256hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

export function canonicalRequest(req: EmuRequest, signedHeaders: string[]): string | undefined {
  const lines: string[] = [];
  for (const h of signedHeaders) {
    const v = headerValue(req, h);
    if (v === undefined) return undefined; // a header that was signed but did not arrive cannot verify
    lines.push(`${h}:${v}\n`);
  }
  return [req.method, canonicalPath(req.rawPath), canonicalQuery(req.rawQuery), lines.join(''), signedHeaders.join(';'), sha256hex(req.body)].join('\n');
}

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

/** True when the request's signature is the one `secret` produces. */
export function verifySignature(req: EmuRequest, auth: ParsedAuthorization, amzDate: string, secret: string): boolean {
  const canonical = canonicalRequest(req, auth.signedHeaders);
  if (canonical === undefined || !auth.signedHeaders.includes('host')) return false;
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const toSign = [ALGORITHM, amzDate, scope, sha256hex(canonical)].join('\n');
  const expected = createHmac('sha256', signingKey(secret, auth.date, auth.region, auth.service)).update(toSign).digest();
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(auth.signature) ? auth.signature : '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** `20240101T120000Z` → epoch ms, or undefined. */
export function parseAmzDate(v: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? undefined : ms;
}
