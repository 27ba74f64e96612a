// STS GetCallerIdentity: the proof that role credentials work right now, and who they belong to.
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { Logger } from '../core/log.js';
import type { Endpoints } from '../core/runtime.js';
import type { Identity, RoleCredentials } from '../core/plugin.js';
import { classifyAwsError, type ClassifyContext } from './classify.js';
import { deadline, observed, stsClient, type NetworkPolicy } from './clients.js';

export interface StsTarget {
  region: string;
  endpoints: Endpoints;
  net: NetworkPolicy;
  signal?: AbortSignal;
  log?: Logger;
}

/** Parses `arn:aws:sts::<acct>:assumed-role/AWSReservedSSO_<PermissionSet>_<hex>/<user>`. */
export function identityFromArn(arn: string, userId?: string): Identity {
  const m = /^arn:aws[\w-]*:sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(arn);
  const account = m?.[1] ?? /::(\d{12}):/.exec(arn)?.[1] ?? '';
  const roleName = m?.[2];
  const sso = roleName ? /^AWSReservedSSO_(.+)_[0-9a-f]{16}$/.exec(roleName) : null;
  const role = sso?.[1] ?? roleName;
  return { arn, account, ...(role ? { role } : {}), ...(userId ? { userId } : {}) };
}

export async function getCallerIdentity(t: StsTarget, creds: RoleCredentials, c: Omit<ClassifyContext, 'operation'>): Promise<Identity> {
  const client = stsClient(t.region, t.endpoints, t.net, creds);
  try {
    const out = await observed(t.log, 'GetCallerIdentity', () => client.send(new GetCallerIdentityCommand({}), { abortSignal: deadline(t.net, t.signal) }));
    if (!out.Arn) throw Object.assign(new Error('no Arn'), { name: 'SyntaxError' });
    return identityFromArn(out.Arn, out.UserId);
  } catch (e) {
    throw classifyAwsError(e, { ...c, operation: 'GetCallerIdentity' });
  } finally {
    client.destroy();
  }
}
