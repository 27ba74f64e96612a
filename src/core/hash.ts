// SHA-256 as lowercase hex, through node:crypto. (The fast paths have their own JavaScript one,
// src/cli/fast/sha256.ts, because loading node:crypto costs more than their whole answer.)
import { createHash } from 'node:crypto';

export const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
