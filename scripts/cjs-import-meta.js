// Injected into the CommonJS builds (scripts/build.mjs): what `import.meta.url` is in an ES module.
export const __keyrack_import_meta_url = require('node:url').pathToFileURL(__filename).href;
