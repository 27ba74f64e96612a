// Whether a process id names a live process on this host (signal 0: no signal is sent). EPERM means it lives but
// belongs to someone else. 0 and negative numbers address process groups, so they are never "alive" here.
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
