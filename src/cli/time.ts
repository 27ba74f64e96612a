// Short, human-friendly times for terminal output.
export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function inFromNow(ms: number, now: number): string {
  const d = Math.round((ms - now) / 1000);
  const abs = Math.abs(d);
  const text = abs >= 86400 ? `${Math.floor(abs / 86400)}d${Math.floor((abs % 86400) / 3600)}h` : abs >= 3600 ? `${Math.floor(abs / 3600)}h${Math.floor((abs % 3600) / 60)}m` : abs >= 60 ? `${Math.floor(abs / 60)}m` : `${abs}s`;
  return d >= 0 ? `in ${text}` : `${text} ago`;
}
