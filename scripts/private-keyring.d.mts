export interface PrivateKeyring {
  /** DBUS_SESSION_BUS_ADDRESS of its private bus */
  address: string;
  close(): Promise<void>;
}
export function startPrivateKeyring(): Promise<PrivateKeyring>;
export function busCall(address: string, args: string[]): Promise<string>;
