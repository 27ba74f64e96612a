#!/usr/bin/env node
// Thin launcher: the whole CLI is one bundled file so start-up reads as little as possible.
import '../dist/cli.mjs';
