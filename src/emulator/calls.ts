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

/** At least this many of the newest records are kept. */
const MAX_RECORDS = 10_000;
/** Old records are dropped in batches of this many: trimming on every add would copy the whole log each call. */
const TRIM_BATCH = 1_000;

export class CallLog {
  private records: CallRecord[] = [];
  private seq = 0;

  add(r: Omit<CallRecord, 'seq'>): void {
    this.records.push({ seq: ++this.seq, ...r });
    if (this.records.length > MAX_RECORDS + TRIM_BATCH) this.records.splice(0, this.records.length - MAX_RECORDS);
  }

  list(since = 0): CallRecord[] {
    // Records are in seq order: find the first one after `since` by bisection.
    let lo = 0;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.records[mid]?.seq ?? 0) > since) hi = mid;
      else lo = mid + 1;
    }
    return this.records.slice(lo);
  }

  /** Clears the log; sequence numbers keep growing so `since` stays meaningful for pollers. */
  clear(): void {
    this.records = [];
  }
}
