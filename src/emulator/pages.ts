// The HTML a human (or a headless browser in a test) sees: the /authorize consent page, the /device code page
// and their outcomes. Rendering only; the decisions are made in browser.ts.
import type { FixtureUser } from './fixture.js';
import { xmlEscape as esc } from './wire.js';

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} - keyrack AWS emulator</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}
fieldset{border:1px solid #ccc;border-radius:6px;margin:1rem 0}label{display:block;margin:.3rem 0}
button{font-size:1rem;padding:.4rem 1.2rem;margin-right:.5rem}.code{font-family:monospace;font-size:1.4rem;letter-spacing:.1em}
.error{color:#a00}</style></head>
<body><h1>${esc(title)}</h1>
${body}
<p><small>Local AWS IAM Identity Center emulator. Nothing here talks to AWS.</small></p>
</body></html>
`;
}

function userPicker(users: FixtureUser[]): string {
  const options = users
    .map((u, i) => `<label><input type="radio" name="user" value="${esc(u.name)}"${i === 0 ? ' checked' : ''}> ${esc(u.name)} &lt;${esc(u.email)}&gt;</label>`)
    .join('\n');
  return `<fieldset><legend>Sign in as</legend>\n${options}\n</fieldset>`;
}

const buttons = `<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>`;

export function authorizePage(opts: { handle: string; clientName: string; scopes: string[]; users: FixtureUser[] }): string {
  return layout(
    'Allow access?',
    `<p><strong>${esc(opts.clientName)}</strong> asks for access to your AWS accounts${opts.scopes.length ? ` (scopes: ${esc(opts.scopes.join(' '))})` : ''}.</p>
<form method="post" action="/authorize">
<input type="hidden" name="request" value="${esc(opts.handle)}">
${userPicker(opts.users)}
${buttons}
</form>`,
  );
}

export function deviceEntryPage(error?: string): string {
  return layout(
    'Enter your code',
    `${error ? `<p class="error">${esc(error)}</p>` : ''}<form method="get" action="/device">
<label>Code shown by your CLI <input name="user_code" class="code" autocomplete="off" placeholder="XXXX-XXXX" required></label>
<button type="submit">Next</button>
</form>`,
  );
}

export function deviceConfirmPage(opts: { userCode: string; clientName: string; users: FixtureUser[] }): string {
  return layout(
    'Authorize request',
    `<p>Confirm that this code matches the one shown by <strong>${esc(opts.clientName)}</strong>:</p>
<p class="code">${esc(opts.userCode)}</p>
<form method="post" action="/device">
<input type="hidden" name="user_code" value="${esc(opts.userCode)}">
${userPicker(opts.users)}
${buttons}
</form>`,
  );
}

export function outcomePage(approved: boolean): string {
  return approved
    ? layout('Request approved', '<p>You can close this window and return to your terminal.</p>')
    : layout('Request denied', '<p>The request was denied. You can close this window.</p>');
}

export function errorPage(title: string, message: string): string {
  return layout(title, `<p class="error">${esc(message)}</p>`);
}
