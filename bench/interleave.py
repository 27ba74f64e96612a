# Whole-process times of a few commands, interleaved: each round runs every command once, in a fresh random order,
# so load from elsewhere spreads over all of them. Prints each median and its ratio to the first command's.
# Usage: python3 bench/interleave.py ROUNDS -- 'CMD 1' ';;' 'CMD 2' ...   (each command split as a shell would;
# PREP='shell command' runs, untimed, before every run). Used for the one-off comparisons in research/latency.md.
import os, random, shlex, statistics, subprocess, sys, time

WARMUP = 3
rounds = int(sys.argv[1])
cmds = [shlex.split(c) for c in ' '.join(sys.argv[3:]).split(';;')]
prep = os.environ.get('PREP')
times = [[] for _ in cmds]
for r in range(WARMUP + rounds):
    for i in random.sample(range(len(cmds)), len(cmds)):
        if prep:
            subprocess.run(prep, shell=True, check=True)
        t0 = time.perf_counter()
        done = subprocess.run(cmds[i], stdout=subprocess.DEVNULL)
        ms = (time.perf_counter() - t0) * 1000
        if done.returncode:
            sys.exit(f'{shlex.join(cmds[i])} exited {done.returncode}')
        if r >= WARMUP:
            times[i].append(ms)
base = statistics.median(times[0])
for cmd, t in zip(cmds, times):
    print(f'{statistics.median(t):7.1f} ms  {statistics.median(t) / base:5.2f}x  {shlex.join(cmd)}')
