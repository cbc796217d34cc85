// CPU pinning: the measuring side (this process, which hosts the Socket.IO clients, autocannon and
// the writer threads; and pgbench) on one core, the server side (the app or the relay, and the
// embedded PostgreSQL) on another, for rowcast and its baselines alike. Unpinned, on a 2-core
// machine, both sides compete for both cores and a client-heavy scenario slows the server by
// however the scheduler happens to share them. Without taskset, or with fewer than 2 cores this
// process may use, everything runs unpinned and the results say so.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** The cores this process may run on, from taskset (util-linux); undefined without taskset. */
function allowedCores() {
  try {
    // "pid 123's current affinity list: 0-3,6"
    const list = execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' }).split(':').pop().trim();
    return list.split(',').flatMap((part) => {
      const [first, last = first] = part.split('-').map(Number);
      return Array.from({ length: last - first + 1 }, (_, i) => first + i);
    });
  } catch {
    return undefined;
  }
}

const cores = allowedCores();
/** Whether to pin, and the two cores: the first two this process may use. */
export const pinning =
  !cores ? { applied: false, reason: 'no taskset (util-linux)' }
  : cores.length < 2 ? { applied: false, reason: `only core ${cores[0]} available` }
  : { applied: true, clients: cores[0], server: cores[1] };

/** Pins this process, every thread of it (-a), to the clients' core; threads and children started later inherit it. */
export function pinSelf() {
  if (pinning.applied) execFileSync('taskset', ['-a', '-p', '-c', String(pinning.clients), String(process.pid)], { stdio: 'ignore' });
}

/** [file, args] to spawn `file args` on `side`'s core ('clients' or 'server'): taskset execs it, so the pid stays the same. */
export function pinnedCommand(side, file, args) {
  return pinning.applied ? ['taskset', ['-c', String(pinning[side]), file, ...args]] : [file, args];
}

/**
 * Pins a running process and its children to the server's core (PostgreSQL: the postmaster and
 * the processes it has started so far; those it forks later inherit its affinity). Returns whether it did.
 */
export function pinTree(pid) {
  if (!pinning.applied) return false;
  const pin = (each) => execFileSync('taskset', ['-a', '-p', '-c', String(pinning.server), String(each)], { stdio: 'ignore' });
  pin(pid);
  for (const child of childrenOf(pid)) {
    try {
      pin(child);
    } catch {
      // exited meanwhile (an autovacuum worker)
    }
  }
  return true;
}

/** Process ids of the live children of `pid` (Linux /proc). */
export function childrenOf(pid) {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after its last ')'.
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}
