#!/usr/bin/env python3
# Start N copies of a command at once and time each one from its start to its exit, for bench/run.mjs.
#
# Why not from Node: spawning 100 children from the benchmark's own process blocks its event loop for the whole
# spawn loop, and while 100 children hog both cores that starved loop notices their exits late, so every
# process looked as slow as the slowest moment of the harness (and the emulator in the same process could not
# answer meanwhile). Here posix_spawn starts each child, and a thread blocked in wait() takes each exit time the
# moment the kernel reports it.
#
# usage: burst.py N CWD STDERR_DIR -- COMMAND ARGS...   (environment: inherited)
# prints JSON: {"spawnMs": time to start all, "wallMs": until the last exit, "runs": [{"ms", "code", "stderr"}]}
import json
import os
import sys
import threading
import time

n, cwd, err_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cmd = sys.argv[5:]
os.chdir(cwd)
devnull = os.open(os.devnull, os.O_RDWR)

starts, exits = {}, []


def reap():
    while len(exits) < n:
        try:
            pid, status = os.wait()
        except ChildProcessError:  # nothing started yet
            time.sleep(0.001)
            continue
        exits.append((pid, time.monotonic(), os.waitstatus_to_exitcode(status)))


reaper = threading.Thread(target=reap)
reaper.start()
t0 = time.monotonic()
err_files = {}
for i in range(n):
    err_path = os.path.join(err_dir, f"{i}.err")
    err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, err, 2)]
    started = time.monotonic()
    pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=actions)
    os.close(err)
    starts[pid] = started
    err_files[pid] = err_path
spawn_ms = (time.monotonic() - t0) * 1000
reaper.join()


def stderr_of(pid):
    with open(err_files[pid], encoding="utf-8", errors="replace") as f:
        return f.read(300)


runs = [{"ms": (t - starts[pid]) * 1000, "code": code, "stderr": stderr_of(pid) if code else ""} for pid, t, code in exits]
print(json.dumps({"spawnMs": spawn_ms, "wallMs": (max(t for _, t, _ in exits) - t0) * 1000, "runs": runs}))
