// The call log behind GET /_emulator/calls: what was asked, how it ended, for whom. It records operation names
// and outcomes only, never request bodies or tokens, so it can be shown to anyone.
export interface CallRecord {
  seq: number;
  operation: string;
  grantType?: string;
  /** The caller's user-agent product token, e.g. `aws-sdk-js/3.1163.0` (never anything secret). */
  agent?: string;
  status: number;
  /** Emulated time, ISO 8601. */
  time: string;
  user?: string;
}

const MAX_RECORDS = 10_000;

export class CallLog {
  private records: CallRecord[] = [];
  private seq = 0;

  add(r: Omit<CallRecord, 'seq'>): void {
    this.records.push({ seq: ++this.seq, ...r });
    if (this.records.length > MAX_RECORDS) this.records.splice(0, this.records.length - MAX_RECORDS);
  }

  list(since = 0): CallRecord[] {
    return this.records.filter((r) => r.seq > since);
  }

  /** Clears the log; sequence numbers keep growing so `since` stays meaningful for pollers. */
  clear(): void {
    this.records = [];
  }
}
