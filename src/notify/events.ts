// What keyrack tells a human, as one JSON-serialisable event. The same object goes to every channel: as JSON to
// webhooks and commands, as text to the desktop, Slack and Telegram. Events carry names, times and commands to
// run — never a token, key or secret.
import { hostname } from 'node:os';

export const EVENT_TYPES = ['session-expiring', 'session-expired', 'robot-blocked', 'refresh-failing', 'unlocked', 'locked', 'login-approval', 'test'] as const;
export type NotifyEventType = (typeof EVENT_TYPES)[number];
export type Severity = 'info' | 'warning' | 'critical';

export interface DeviceApproval {
  /** where the human signs in and approves */
  verificationUri: string;
  verificationUriComplete: string;
  userCode: string;
  /** ISO 8601 */
  expiresAt: string;
}

export interface NotifyEvent {
  source: 'keyrack';
  version: 1;
  event: NotifyEventType;
  severity: Severity;
  title: string;
  message: string;
  /** ISO 8601 */
  at: string;
  host: string;
  /** sso-session name (or start URL of a legacy profile) */
  sso?: string;
  env?: string;
  key?: string;
  /** ISO 8601: when the SSO session ends (estimated) */
  endsAt?: string;
  /** what a human runs to fix it */
  command?: string;
  /** login-approval only: the device code the watcher started */
  approval?: DeviceApproval;
  /** robot-blocked only: who was refused */
  requester?: { pid: number; cwd: string; command: string[] };
}

const SEVERITY: Record<NotifyEventType, Severity> = {
  'session-expiring': 'warning',
  'session-expired': 'critical',
  'robot-blocked': 'critical',
  'refresh-failing': 'warning',
  unlocked: 'info',
  locked: 'info',
  'login-approval': 'critical',
  test: 'info',
};

export function makeEvent(at: number, e: Omit<NotifyEvent, 'source' | 'version' | 'severity' | 'at' | 'host'> & { severity?: Severity }): NotifyEvent {
  return { source: 'keyrack', version: 1, severity: e.severity ?? SEVERITY[e.event], at: new Date(at).toISOString(), host: hostname(), ...e };
}

/** Plain text for chat and desktop channels: title line, message, then what to do. */
export function eventText(e: NotifyEvent): string {
  const lines = [e.message];
  if (e.approval) lines.push(`Approve in a browser: ${e.approval.verificationUriComplete}`, `Code: ${e.approval.userCode} (valid until ${e.approval.expiresAt})`);
  if (e.command) lines.push(`Run: ${e.command}`);
  lines.push(`(${e.host}, ${e.at})`);
  return lines.join('\n');
}

/** `https://hooks.example.com` for messages: a webhook's path and query are often its secret. */
export function urlOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
