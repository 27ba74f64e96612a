// The AWS plugin as a host sees it. Human operations take a HumanContext; robot operations a RobotContext.
import type { KeyrackPlugin } from '../core/plugin.js';
import { grant } from './grant.js';
import { listRoles } from './list-roles.js';
import { lock } from './lock.js';
import { status } from './status.js';
import { unlock } from './unlock.js';

export const awsPlugin = {
  name: 'aws',
  unlock,
  grant,
  listRoles,
  status,
  lock,
} as const;

// Compile-time proof that the AWS plugin honours the host contract (unlock alone takes a HumanContext).
const contract: KeyrackPlugin = awsPlugin;
void contract;

export type AwsPlugin = typeof awsPlugin;
