// When a build is stale: a source (file, or any file under a folder) newer than the build's stamp.
// Shared by scripts/build-if-stale.mjs (the app) and client/scripts/build.mjs (the client library).
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** The newest modification time under `file` (0 when it does not exist). */
export function newest(file) {
  if (!existsSync(file)) return 0;
  const stat = statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(file).map((name) => newest(path.join(file, name))));
}

/** Whether any of `sources` changed after `stamp` was last touched (or there is no stamp). */
export function isStale(stamp, sources) {
  return !existsSync(stamp) || Math.max(...sources.map(newest)) > statSync(stamp).mtimeMs;
}
