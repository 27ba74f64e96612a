// keyrack-aws/emulator: a local, protocol-faithful fake of AWS IAM Identity Center (SSO OIDC, the SSO portal)
// and STS for tests, demos and benchmarks. Importing this module has no side effects; startEmulator() listens.
export { startEmulator, type EmulatorOptions, type RunningEmulator } from './server.js';
export {
  DEFAULT_FIXTURE_KEYRACK_YML, defaultFixture, loadFixture, normalizeFixture, parseDuration,
  type Assignment, type DurationInput, type Fixture, type FixtureAccount, type FixtureInput, type FixtureRole,
  type FixtureUser, type Lifetimes, type RoleTrust, type WebIdentityProvider, type WebIdentityTrust,
} from './fixture.js';
export { SECRET_MARKER } from './ids.js';
export type { CallRecord } from './calls.js';
export { OPERATIONS as EMULATOR_OPERATIONS } from './faults.js';
