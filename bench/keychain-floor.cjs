// The floor under a keychain-mode credential_process: Node, the keychain binding, and one Secret Service read of
// the role credentials keyrack stored, with nothing else (no unlock, pins or token checks, no audit). keyrack's
// warm credential-process makes two such reads (the SSO token's and the role credentials').
// Usage: node bench/keychain-floor.cjs SERVICE ACCOUNT (DBUS_SESSION_BUS_ADDRESS names the bus).
'use strict';
const { Entry } = require('@napi-rs/keyring');

const [service, account] = process.argv.slice(2);
const text = new Entry(service, account, { linux: { store: 'secret-service' } }).getPassword();
if (!text) {
  process.stderr.write('keychain-floor: no such entry\n');
  process.exit(1);
}
if (!JSON.parse(text).Credentials?.AccessKeyId) {
  process.stderr.write('keychain-floor: the entry holds no role credentials\n');
  process.exit(1);
}
process.stdout.write('ok\n');
