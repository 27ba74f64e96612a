// Public entry point: `import aws from 'keyrack-aws'` gives the AWS plugin; hosts build contexts with
// createRobotContext (robot operations) and createHumanContext (unlock only).
import { awsPlugin } from './aws/plugin.js';

export default awsPlugin;
export { awsPlugin, type AwsPlugin } from './aws/plugin.js';
export { createHumanContext, createRobotContext, type ContextOptions } from './core/context.js';
export { KeyrackError, EXIT_CODES, errorJson, formatError, type Reason } from './core/errors.js';
export { renderGrant, grantVariables, type Format } from './core/output.js';
export type {
  DeviceCodePrompt,
  Grant,
  GrantRequest,
  HumanContext,
  Identity,
  KeyrackPlugin,
  LoginCapability,
  RobotContext,
  RoleCredentials,
  UnlockRequest,
  UnlockResult,
  ValidatedRef,
} from './core/plugin.js';
export type { KeyrackFile, KeyRef, AwsProfileRef } from './core/keyrack-file.js';
export type { KeyStatus } from './aws/status.js';
export type { RoleListing } from './aws/list-roles.js';
export type { LockResult } from './aws/lock.js';
