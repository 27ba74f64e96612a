// Fault injection: make the next N calls of an operation fail, stall, drop the connection or answer garbage,
// so clients' retry and error paths can be exercised against otherwise-real behaviour.
export type FaultAction =
  | { kind: 'error'; status: number; errorType: string; message: string | undefined }
  | { kind: 'delay'; ms: number }
  | { kind: 'reset' }
  | { kind: 'malformed' };

export interface Fault {
  operation: string;
  remaining: number;
  action: FaultAction;
}

export const OPERATIONS = [
  'RegisterClient', 'StartDeviceAuthorization', 'CreateToken', 'CreateTokenWithIAM',
  'ListAccounts', 'ListAccountRoles', 'GetRoleCredentials', 'Logout',
  'GetCallerIdentity', 'AssumeRole', 'AssumeRoleWithWebIdentity',
  'Authorize', 'AuthorizeDecision', 'DeviceVerification', 'DeviceDecision',
] as const;

export class Faults {
  private faults: Fault[] = [];

  add(f: Fault): void {
    this.faults.push(f);
  }

  clear(): void {
    this.faults = [];
  }

  /** The first armed fault for this operation, consuming one of its uses. */
  take(operation: string): FaultAction | undefined {
    const f = this.faults.find((x) => x.remaining > 0 && (x.operation === '*' || x.operation === operation));
    if (!f) return undefined;
    f.remaining--;
    this.faults = this.faults.filter((x) => x.remaining > 0);
    return f.action;
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }
}

/** Validates a POST /_emulator/faults body; returns an error string for the caller on bad input. */
export function parseFault(body: unknown): Fault | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be a JSON object';
  const b = body as Record<string, unknown>;
  const operation = b.operation;
  if (typeof operation !== 'string' || (operation !== '*' && !(OPERATIONS as readonly string[]).includes(operation))) {
    return `operation must be "*" or one of ${OPERATIONS.join(', ')}`;
  }
  const count = b.count === undefined ? 1 : b.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) return 'count must be a positive integer';
  const kinds = ['status', 'delayMs', 'reset', 'malformed'].filter((k) => b[k] !== undefined && b[k] !== false);
  if (kinds.length !== 1) return 'give exactly one of status (+errorType), delayMs, reset:true, malformed:true';
  let action: FaultAction;
  if (kinds[0] === 'status') {
    const status = b.status;
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) return 'status must be an HTTP error status (400-599)';
    if (typeof b.errorType !== 'string' || !/^[A-Za-z][\w.]*$/.test(b.errorType)) return 'errorType must be an error name such as ThrottlingException';
    if (b.message !== undefined && typeof b.message !== 'string') return 'message must be a string';
    action = { kind: 'error', status, errorType: b.errorType, message: b.message };
  } else if (kinds[0] === 'delayMs') {
    if (typeof b.delayMs !== 'number' || b.delayMs < 0 || b.delayMs > 120_000) return 'delayMs must be 0..120000';
    action = { kind: 'delay', ms: b.delayMs };
  } else if (kinds[0] === 'reset') {
    if (b.reset !== true) return 'reset must be true';
    action = { kind: 'reset' };
  } else {
    if (b.malformed !== true) return 'malformed must be true';
    action = { kind: 'malformed' };
  }
  return { operation, remaining: count, action };
}
