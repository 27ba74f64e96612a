// keyrack-aws/emulator: a local, protocol-faithful fake of SSO OIDC, the SSO portal and STS.
export {};
