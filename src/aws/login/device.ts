// Device-code login: show a URL and a code, poll CreateToken at the server's pace until a human approves.
import { KeyrackError } from '../../core/errors.js';
import type { HumanContext } from '../../core/plugin.js';
import type { OidcTarget, TokenGrant } from '../oidc-token.js';
import { pollDeviceToken, startDeviceAuthorization } from './oidc.js';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(cancelled()); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export function cancelled(): KeyrackError {
  return new KeyrackError({ code: 'login.cancelled', reason: 'locked', message: 'login cancelled; nothing was written', fix: 'run keyrack unlock again when ready' });
}

export async function deviceCodeLogin(
  ctx: HumanContext,
  target: OidcTarget,
  reg: { clientId: string; clientSecret: string },
  startUrl: string,
  names: { subject: string; unlockCommand: string },
): Promise<TokenGrant> {
  const clock = ctx.runtime.clock;
  const auth = await startDeviceAuthorization(target, reg, startUrl, names);
  const expiresAt = clock.now() + auth.expiresIn * 1000;
  ctx.login.showDeviceCode({ verificationUri: auth.verificationUri, verificationUriComplete: auth.verificationUriComplete, userCode: auth.userCode, expiresAt });
  if (ctx.login.canOpenBrowser) await ctx.login.openBrowser(auth.verificationUriComplete);
  let intervalMs = Math.max(1, auth.interval) * 1000;
  try {
    for (;;) {
      const remaining = expiresAt - clock.now();
      if (remaining <= 0) break;
      ctx.login.waiting(`waiting for approval of code ${auth.userCode}`, remaining);
      await sleep(intervalMs, target.signal);
      const poll = await pollDeviceToken(target, reg, auth.deviceCode, names);
      if (poll.kind === 'token') return poll.grant;
      if (poll.kind === 'slow-down') intervalMs += 5000; // RFC 8628 §3.5
      if (poll.kind === 'expired') break;
      if (poll.kind === 'denied') {
        throw new KeyrackError({ code: 'login.denied', reason: 'denied', message: `the login request for ${names.subject} was denied in the browser`, fix: `run ${names.unlockCommand} again and approve it` });
      }
    }
  } finally {
    ctx.login.done();
  }
  throw new KeyrackError({ code: 'login.code-expired', reason: 'expired', message: `the device code for ${names.subject} expired before it was approved`, fix: `run ${names.unlockCommand} again` });
}
