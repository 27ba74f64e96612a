// Web-identity tokens: decode a compact JWS and verify RS256 / ES256 signatures against the provider's JWKS
// with node:crypto. Claims (iss, aud, exp, nbf) are judged by the caller, which knows the AWS error to send.
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

function decodePart(part: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [h = '', p = '', s = ''] = parts;
  const header = decodePart(h);
  const payload = decodePart(p);
  if (!header || !payload || !/^[A-Za-z0-9_-]*$/.test(s)) return undefined;
  return { header, payload, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
}

const ALGS: Record<string, { kty: string; crv?: string }> = { RS256: { kty: 'RSA' }, ES256: { kty: 'EC', crv: 'P-256' } };

function importKey(jwk: JsonWebKey): KeyObject | undefined {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch {
    return undefined;
  }
}

/** Tries the key named by `kid` (or every key of the right type when there is no kid). */
export function verifyJwtSignature(jwt: DecodedJwt, keys: JsonWebKey[]): boolean {
  const alg = typeof jwt.header.alg === 'string' ? ALGS[jwt.header.alg] : undefined;
  if (!alg) return false; // `none`, HS256 and friends are never accepted
  const kid = jwt.header.kid;
  const candidates = keys.filter(
    (k) => k.kty === alg.kty && (alg.crv === undefined || k.crv === alg.crv) && (kid === undefined || k.kid === kid) && (k.use === undefined || k.use === 'sig'),
  );
  const data = Buffer.from(jwt.signingInput);
  for (const jwk of candidates) {
    const key = importKey(jwk);
    if (!key) continue;
    // JWS ES256 signatures are raw r||s, not DER.
    const ok = alg.kty === 'EC' ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, jwt.signature) : verify('sha256', data, key, jwt.signature);
    if (ok) return true;
  }
  return false;
}
