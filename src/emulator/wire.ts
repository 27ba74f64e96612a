// Request/response shapes shared by every service module, and the three ways AWS spells an error on the wire:
// REST-JSON (OIDC, portal) with the `x-amzn-ErrorType` header, and awsQuery XML (STS).
import type { IncomingHttpHeaders } from 'node:http';

export interface EmuRequest {
  method: string;
  /** Decoded path without the query. */
  path: string;
  /** Path exactly as sent (percent-encoding intact), for SigV4. */
  rawPath: string;
  rawQuery: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  /** The x-amzn-RequestId this request will be answered with (STS repeats it in the XML). */
  requestId: string;
}

export interface EmuReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** For the call log. */
  user?: string;
  grantType?: string;
  /** Work to do after the response has been written (e.g. an approval's loopback redirect). */
  after?: () => Promise<void>;
}

export type Service = 'oidc' | 'portal' | 'sts' | 'page' | 'control';

const CORAL = 'http://internal.amazon.com/coral/';
const NAMESPACE: Record<Service, string> = {
  oidc: `${CORAL}com.amazonaws.sso.oidc/`,
  portal: `${CORAL}com.amazonaws.switchboard.portal/`,
  sts: `${CORAL}com.amazonaws.sts/`,
  page: `${CORAL}com.amazonaws.sso.oidc/`,
  control: `${CORAL}com.amazonaws.emulator/`,
};

export const errorTypeHeader = (service: Service, name: string) => ({ 'x-amzn-ErrorType': `${name}:${NAMESPACE[service]}` });

export function json(status: number, body: unknown, headers: Record<string, string> = {}): EmuReply {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function html(status: number, body: string): EmuReply {
  return { status, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, body };
}

export function redirect(location: string): EmuReply {
  return { status: 302, headers: { location, 'cache-control': 'no-store' }, body: '' };
}

export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

/** OIDC error codes for each exception: the OAuth `error` value and the modelled HTTP status. */
const OIDC_ERRORS: Record<string, [string, number, string]> = {
  AuthorizationPendingException: ['authorization_pending', 400, 'Authorization is still pending'],
  SlowDownException: ['slow_down', 400, 'Client is polling too quickly'],
  ExpiredTokenException: ['expired_token', 400, 'The token has expired'],
  AccessDeniedException: ['access_denied', 400, 'The user denied the authorization request'],
  InvalidGrantException: ['invalid_grant', 400, 'Invalid grant provided'],
  InvalidClientException: ['invalid_client', 401, 'Invalid client provided'],
  UnauthorizedClientException: ['unauthorized_client', 400, 'The client is not authorized for this grant type'],
  UnsupportedGrantTypeException: ['unsupported_grant_type', 400, 'Unsupported grant type'],
  InvalidScopeException: ['invalid_scope', 400, 'Invalid scope requested'],
  InvalidRequestException: ['invalid_request', 400, 'Invalid request'],
  InvalidClientMetadataException: ['invalid_client_metadata', 400, 'Invalid client metadata'],
  InvalidRedirectUriException: ['invalid_redirect_uri', 400, 'Invalid redirect URI'],
  InternalServerException: ['server_error', 500, 'An internal server error occurred'],
};

export type OidcErrorName = keyof typeof OIDC_ERRORS;

export function oidcError(name: OidcErrorName, description?: string, status?: number): EmuReply {
  const [error, modelled, text] = OIDC_ERRORS[name] ?? ['server_error', 500, 'error'];
  const body: Record<string, string> = { error, error_description: description ?? text };
  if (name === 'AccessDeniedException') body.reason = 'KMS_AccessDeniedException';
  return json(status ?? modelled, body, errorTypeHeader('oidc', name));
}

/** OIDC shape for an arbitrary (fault-injected) error name. */
export function oidcErrorAny(name: string, status: number, message: string | undefined): EmuReply {
  const known = OIDC_ERRORS[name];
  const body = { error: known?.[0] ?? 'server_error', error_description: message ?? known?.[2] ?? 'Injected fault' };
  return json(status, body, errorTypeHeader('oidc', name));
}

export const PORTAL_STATUS: Record<string, number> = {
  UnauthorizedException: 401,
  ResourceNotFoundException: 404,
  TooManyRequestsException: 429,
  InvalidRequestException: 400,
};

export function portalError(name: string, message: string, status?: number): EmuReply {
  return json(status ?? PORTAL_STATUS[name] ?? 400, { message }, errorTypeHeader('portal', name));
}

export const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

export function stsError(code: string, message: string, status: number, requestId: string): EmuReply {
  const type = status >= 500 ? 'Receiver' : 'Sender';
  const body =
    `<ErrorResponse xmlns="${STS_NS}">\n  <Error>\n    <Type>${type}</Type>\n    <Code>${xmlEscape(code)}</Code>\n` +
    `    <Message>${xmlEscape(message)}</Message>\n  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`;
  return { status, headers: { 'content-type': 'text/xml', ...errorTypeHeader('sts', code) }, body };
}

/** An injected error in the shape of the service that was called. */
export function faultReply(service: Service, errorType: string, status: number, message: string | undefined, requestId: string): EmuReply {
  switch (service) {
    case 'oidc':
      return oidcErrorAny(errorType, status, message);
    case 'portal':
      return portalError(errorType, message ?? 'Injected fault', status);
    case 'sts':
      return stsError(errorType, message ?? (errorType === 'Throttling' ? 'Rate exceeded' : 'Injected fault'), status, requestId);
    default:
      return { ...html(status, `<!doctype html><title>${xmlEscape(errorType)}</title><p>${xmlEscape(message ?? errorType)}</p>`), headers: { 'content-type': 'text/html; charset=utf-8', ...errorTypeHeader(service, errorType) } };
  }
}

/** A body that parses as neither JSON nor XML, with a success status: the worst thing a proxy can do. */
export function malformedReply(service: Service): EmuReply {
  const ct = service === 'sts' ? 'text/xml' : 'application/json';
  return { status: 200, headers: { 'content-type': ct }, body: service === 'sts' ? '<GetCallerIdentityResponse><Unclosed' : '{"accessToken": "trunc' };
}

/** Parses a JSON object body; undefined when it is not valid JSON or not an object. */
export function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  if (body.length === 0) return undefined;
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
