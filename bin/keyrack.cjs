#!/usr/bin/env node
// A stable path to the CLI, for what is written down outside this package: the credential_process lines keyrack
// puts in ~/.aws/config name this file. The installed `keyrack` command (package.json bin) is dist/cli.cjs itself,
// a CommonJS file started without Node's ES module loader and one module load sooner (research/latency.md).
require('../dist/cli.cjs');
