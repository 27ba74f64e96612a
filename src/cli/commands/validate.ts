import { defineCommand } from 'citty';
import { findKeyrackFile, loadKeyrackFile } from '../../core/keyrack-file.js';
import { fileArg, processRuntime } from '../context.js';
import { reportAndExit } from '../report.js';

export default defineCommand({
  meta: { name: 'validate', description: 'Check keyrack.yml (references only, strict shape); exit 0 or 2' },
  args: { path: { type: 'positional', required: false, description: 'file to check (default: the one keyrack would use)' }, json: { type: 'boolean', description: 'print JSON' }, ...fileArg },
  async run({ args }) {
    try {
      const rt = processRuntime();
      const explicit = args.path || args.file;
      const path = findKeyrackFile({ cwd: rt.cwd, env: rt.env, ...(explicit ? { explicit } : {}) });
      const f = await loadKeyrackFile(path);
      const keys = Object.values(f.envs).reduce((n, k) => n + Object.keys(k).length, 0);
      const envs = Object.keys(f.envs).length;
      process.stdout.write(args.json ? `${JSON.stringify({ ok: true, file: path, envs, keys })}\n` : `${path}: ok (${envs} env(s), ${keys} key(s))\n`);
    } catch (e) {
      reportAndExit(e, { json: args.json === true });
    }
  },
});
