#!/usr/bin/env node
// A minimal keyrack host: everything a host needs, using only the package's public entry point.
// (docs/writing-a-host.md explains each part.)
//
//   node examples/host.mjs unlock [ENV]       a person at this terminal signs in (device code) and opens ENV
//   node examples/host.mjs grant KEY [ENV]    a robot asks for KEY: prints the profile name, or why not
//   node examples/host.mjs status [ENV]       robot-safe: what is unlocked, and the SSO token state
//
// Run it inside a repo with a keyrack.yml (or set KEYRACK_FILE). Against the local emulator instead of AWS:
//   keyrack emulator --auto-approve alice &            # prints: listening on http://127.0.0.1:PORT
//   export AWS_ENDPOINT_URL=http://127.0.0.1:PORT
//   node examples/host.mjs unlock prep && node examples/host.mjs grant AWS_PROFILE prep
import aws, { createHumanContext, createRobotContext, formatError, KeyrackError } from 'keyrack-aws';

/**
 * The host's half of a login: how it shows things to the person and opens their browser. Only a human context
 * carries one; this one asks for the device-code flow and prints to stderr (stdout stays for results).
 */
const terminal = {
  canOpenBrowser: false,
  preferDeviceCode: true,
  async openBrowser() {
    return false;
  },
  showDeviceCode(p) {
    process.stderr.write(`To sign in, open ${p.verificationUri} and enter the code ${p.userCode}\n(or open ${p.verificationUriComplete})\n`);
  },
  showAuthorizeUrl(url) {
    process.stderr.write(`Open this URL to approve: ${url}\n`);
  },
  waiting() {},
  done() {},
};

async function main(op, args) {
  // Robot context: the keyrack.yml nearest to the working directory, this process's environment. No login powers.
  const robot = await createRobotContext();
  switch (op) {
    case 'unlock': {
      // A human context only when a person is actually there: never in CI, never for a robot.
      if (!process.stdin.isTTY || !process.stderr.isTTY) {
        throw new KeyrackError({ code: 'host.not-interactive', reason: 'locked', message: 'unlock needs a person at a terminal', fix: 'run it yourself in a terminal' });
      }
      const r = await aws.unlock(createHumanContext(robot, terminal), { ...(args[0] ? { env: args[0] } : {}) });
      for (const v of r.validated) process.stdout.write(`${r.env}/${v.ref.key} → ${v.profile} as ${v.identity.arn}\n`);
      return;
    }
    case 'grant': {
      if (!args[0]) throw new KeyrackError({ code: 'host.usage', reason: 'invalid-input', message: 'grant needs a KEY', fix: 'node examples/host.mjs grant AWS_PROFILE prep' });
      const g = await aws.grant(robot, { key: args[0], ...(args[1] ? { env: args[1] } : {}) });
      process.stdout.write(`${g.profile}\n`);
      process.stderr.write(`(valid until ${new Date(g.expiresAt).toISOString()})\n`);
      return;
    }
    case 'status': {
      for (const s of await aws.status(robot, { ...(args[0] ? { env: args[0] } : {}) })) {
        process.stdout.write(`${s.env}/${s.key} → ${s.profile}: ${s.unlocked ? 'unlocked' : 'locked'}, sso token ${s.token}\n`);
      }
      return;
    }
    default:
      throw new KeyrackError({ code: 'host.usage', reason: 'invalid-input', message: 'unknown operation', fix: 'use unlock, grant or status' });
  }
}

try {
  await main(process.argv[2], process.argv.slice(3));
} catch (e) {
  // Every refusal is a KeyrackError with a stable reason and exit code (2 input, 3 locked, 4 AWS down, 5 denied, 6 config).
  if (!(e instanceof KeyrackError)) throw e;
  process.stderr.write(`${formatError(e)}\n`);
  process.exit(e.exitCode);
}
