// `keyrack emulator`: run the local AWS (SSO OIDC + portal + STS) in the foreground for demos and manual tests.
// Prints exactly one stdout line once listening, so scripts can wait for it and read the port.
import { defineCommand, type ArgsDef } from 'citty';
import { KeyrackError } from '../../core/errors.js';

const argsDef = {
  port: { type: 'string', description: 'port to listen on (default: any free port)' },
  fixture: { type: 'string', description: 'YAML or JSON Identity Center model (default: the built-in one)' },
  'auto-approve': { type: 'string', description: 'approve every login as this user after a short delay' },
  verbose: { type: 'boolean', description: 'log each request (operation and status, never secrets) to stderr' },
} as const satisfies ArgsDef;

// Typed as the generic CommandDef so the lazy loader in main.ts can hold it; citty parsed `raw` from `args`.
export default defineCommand<ArgsDef>({
  meta: { name: 'emulator', description: 'Run a local AWS IAM Identity Center + STS emulator on 127.0.0.1' },
  args: argsDef,
  async run({ args: raw }) {
    const opt = (name: keyof typeof argsDef): string | undefined => {
      const v: unknown = (raw as Record<string, unknown>)[name];
      return typeof v === 'string' ? v : undefined;
    };
    const args = { port: opt('port'), fixture: opt('fixture'), 'auto-approve': opt('auto-approve'), verbose: (raw as Record<string, unknown>).verbose === true };
    let port: number | undefined;
    if (args.port !== undefined) {
      if (!/^\d+$/.test(args.port) || Number(args.port) > 65535) {
        throw new KeyrackError({ code: 'cli.bad-port', reason: 'invalid-input', message: `--port ${JSON.stringify(args.port)} is not a port number`, fix: 'pass --port 0..65535' });
      }
      port = Number(args.port);
    }
    const { startEmulator, loadFixture } = await import('../../emulator/index.js');
    const fixture = args.fixture ? await loadFixture(args.fixture) : undefined;
    let emulator;
    try {
      emulator = await startEmulator({
        ...(port !== undefined ? { port } : {}),
        ...(fixture ? { fixture } : {}),
        ...(args['auto-approve'] ? { autoApprove: args['auto-approve'] } : {}),
        ...(args.verbose ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new KeyrackError({ code: 'emulator.port-in-use', reason: 'unavailable', message: `port ${port ?? 0} is already in use`, fix: 'pick another --port or omit it' });
      }
      throw e;
    }
    const running = emulator;
    process.stdout.write(`listening on ${running.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void running.close().then(resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  },
});
