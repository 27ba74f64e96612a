// Real receivers for notification tests: an HTTP server on loopback that records what it is sent, and fake
// programs (notify-send, a command notifier) that write their arguments and stdin to files.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface Received {
  method: string;
  path: string;
  contentType: string | undefined;
  body: string;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** HTTP status for the next answers (default 200). */
  status: number;
  /** Hold answers this long (ms). */
  delayMs: number;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let b = '';
    req.setEncoding('utf8').on('data', (c: string) => (b += c)).on('end', () => resolve(b));
  });

export async function startReceiver(): Promise<Receiver> {
  const r: Receiver = { url: '', received: [], status: 200, delayMs: 0, close: async () => undefined };
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    r.received.push({ method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'], body });
    const answer = () => {
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(r.status < 300 ? '{"ok":true}' : '{"ok":false}');
    };
    if (r.delayMs > 0) setTimeout(answer, r.delayMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}

/** A fake program in `dir` that appends its arguments (one JSON line) to `log`, and stdin to `log.stdin`. */
export async function fakeProgram(dir: string, name: string, log: string, exitCode = 0): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await writeFile(
    path,
    `#!${process.execPath}
const fs = require('node:fs');
let input = '';
process.stdin.setEncoding('utf8').on('data', (c) => (input += c)).on('end', () => {
  fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)) + '\\n');
  if (input) fs.appendFileSync(${JSON.stringify(`${log}.stdin`)}, input);
  process.exit(${exitCode});
});
`,
  );
  await chmod(path, 0o755);
  return path;
}
