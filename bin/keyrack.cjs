#!/usr/bin/env node
// The installed `keyrack` command. CommonJS on purpose: Node starts a CommonJS entry without its ES module
// loader, which is most of what a warm `keyrack grant` would otherwise spend (research/latency.md).
require('../dist/cli.cjs');
