// Public entry point: `import aws from 'keyrack-aws'` gives the AWS plugin.
export { KeyrackError, EXIT_CODES, type Reason } from './core/errors.js';
