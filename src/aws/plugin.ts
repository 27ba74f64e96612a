// The AWS plugin as a host sees it. Human operations take a HumanContext; robot operations a RobotContext.
import type { KeyrackPlugin } from '../core/plugin.js';
import { grant } from './grant.js';
import { listRoles } from './list-roles.js';
import { lock } from './lock.js';
import { status } from './status.js';
import { unlock } from './unlock.js';

export const awsPlugin: KeyrackPlugin & {
  listRoles: typeof listRoles;
  status: typeof status;
  lock: typeof lock;
  unlock: typeof unlock;
  grant: typeof grant;
} = {
  name: 'aws',
  unlock,
  grant,
  listRoles,
  status,
  lock,
};

export type AwsPlugin = typeof awsPlugin;
