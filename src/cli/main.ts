// keyrack CLI entry (bundled to dist/cli.mjs).
console.log('keyrack: not yet');
