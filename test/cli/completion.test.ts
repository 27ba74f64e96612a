// keyrack completion bash|zsh|fish: generated from the commands' own flags. bash completion is exercised for real
// (COMP_WORDS → COMPREPLY in a bash that sourced the script); every command and flag is checked in all three.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { createSandbox, KEYRACK_BIN, type Sandbox } from '../helpers/keyrack.js';

const exec = promisify(execFile);

describe('keyrack completion', () => {
  let sb: Sandbox;
  const scripts: Record<string, string> = {};
  let commands: string[] = [];
  before(async () => {
    sb = await createSandbox();
    // `keyrack` on PATH, as an installed one would be: the scripts call it for env names and keys.
    const bin = join(sb.root, 'bin', 'keyrack');
    await writeFile(bin, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(KEYRACK_BIN)} "$@"\n`);
    await chmod(bin, 0o755);
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = await sb.run(['completion', shell]);
      assert.equal(r.code, 0, r.stderr);
      scripts[shell] = r.stdout;
    }
    const help = await sb.run(['--help']);
    commands = (/^USAGE keyrack (\S+)$/m.exec(help.stdout)?.[1] ?? '').split('|');
    assert.ok(commands.includes('add') && commands.includes('grant'), `commands from --help: ${commands.join(' ')}`);
  });
  after(async () => sb.close());

  /** What bash offers for the words typed so far (the last one may be partial). */
  const complete = async (...words: string[]): Promise<string[]> => {
    const file = join(sb.root, 'completion.bash');
    await writeFile(file, scripts.bash as string);
    const program = `source ${JSON.stringify(file)}; COMP_WORDS=(${['keyrack', ...words].map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}; _keyrack; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = await exec('bash', ['--norc', '-c', program], { cwd: sb.repo, env: sb.env });
    return r.stdout.split('\n').filter(Boolean);
  };

  it('bash: commands, flags of the command at hand, and the plugin positional', async () => {
    assert.deepEqual(await complete('un'), ['unlock']);
    assert.deepEqual((await complete('')).filter((c) => !c.startsWith('-')).sort(), [...commands].sort());
    assert.deepEqual(await complete('unlock', '--wr'), ['--write-profiles']);
    assert.deepEqual(await complete('add', 'aws', '--acc'), ['--account']);
    assert.deepEqual(await complete('add', ''), ['aws']);
    assert.deepEqual(await complete('list-roles', '--ch'), ['--check']);
    assert.deepEqual(await complete('completion', ''), ['bash', 'zsh', 'fish']);
  });

  it('bash: env names and keys come from the keyrack.yml in the current directory', async () => {
    assert.deepEqual(await complete('grant', '--env', ''), ['prep', 'prod']);
    assert.deepEqual(await complete('unlock', 'aws', '--env', 'pro'), ['prod']);
    assert.deepEqual(await complete('grant', ''), ['AWS_PROFILE']);
    assert.deepEqual(await complete('add', '--account', ''), []); // a value is expected: no flags offered
  });

  it('every command, and every flag of the new commands, is in all three scripts', () => {
    const flags: Record<string, string[]> = {
      add: ['env', 'key', 'sso', 'start-url', 'region', 'account', 'role', 'profile', 'yes', 'force', 'device-code', 'json', 'file'],
      init: ['org', 'envs', 'import', 'yes', 'force', 'json', 'file'],
      sync: ['env', 'force', 'dry-run', 'json', 'file'],
      unlock: ['write-profiles', 'force', 'json'],
      'list-roles': ['check', 'env', 'json'],
    };
    for (const c of commands) {
      assert.match(scripts.bash as string, new RegExp(`^ {4}${c}\\) opts=`, 'm'), `bash: ${c}`);
      assert.match(scripts.zsh as string, new RegExp(`^ {4}'${c}:`, 'm'), `zsh: ${c}`);
      assert.match(scripts.fish as string, new RegExp(`__fish_use_subcommand' -a ${c} `), `fish: ${c}`);
    }
    for (const [c, list] of Object.entries(flags)) {
      const zshCase = (scripts.zsh as string).split('\n').find((l) => l.startsWith(`    (${c}) _arguments`)) ?? '';
      for (const f of list) {
        assert.match(scripts.bash as string, new RegExp(`^ {4}${c}\\) opts="[^"]*--${f}[ "]`, 'm'), `bash ${c} --${f}`);
        assert.ok(zshCase.includes(`'--${f}[`), `zsh ${c} --${f}`);
        assert.match(scripts.fish as string, new RegExp(`__fish_seen_subcommand_from ${c}' -l ${f}[ \\n]`), `fish ${c} --${f}`);
      }
    }
  });

  it('the scripts say how to install them, and quote safely', () => {
    assert.match(scripts.bash as string, /^complete -F _keyrack keyrack$/m);
    assert.match(scripts.zsh as string, /^#compdef keyrack$/m);
    assert.match(scripts.fish as string, /^complete -c keyrack -f$/m);
    for (const line of (scripts.fish as string).split('\n').filter((l) => l.startsWith('complete'))) {
      assert.equal((line.match(/'/g) ?? []).length % 2, 0, `unbalanced quotes: ${line}`);
    }
  });

  it('an unknown shell is a usage error; --list outside a repo prints nothing', async () => {
    const r = await sb.run(['completion', 'powershell']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /keyrack completion bash\|zsh\|fish/);
    const none = await sb.run(['completion', '--list', 'envs'], { cwd: sb.home });
    assert.equal(none.code, 0);
    assert.equal(none.stdout, '');
  });
});
