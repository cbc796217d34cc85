import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const src = path.resolve(import.meta.dirname, '../../src');

/** Every .ts file under src/, as a path relative to it. */
function sources(dir = src): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path.relative(src, full)] : [];
  });
}

/** The module (top folder under src/) a file belongs to; files at src/ itself are the app's. */
const moduleOf = (file: string) => (file.includes(path.sep) ? file.split(path.sep)[0] : 'app');

/**
 * Files that wire modules together, as app.module.ts does: scripts (`*.cli.ts`) are entry points
 * like main.ts (they may use any module, and no module imports them), and the one DataSource
 * definition lists the entities of every module (STYLE 5).
 */
const wiring = (file: string) => file.endsWith('.cli.ts') || file === path.join('database', 'data-source.options.ts');

/** Module → the modules its files import (relative imports that stay inside src/). */
function moduleGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sources().filter((file) => !wiring(file))) {
    const from = moduleOf(file);
    const edges = graph.get(from) ?? graph.set(from, new Set()).get(from)!;
    for (const [, specifier] of readFileSync(path.join(src, file), 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const target = path.relative(src, path.resolve(path.dirname(path.join(src, file)), specifier));
      if (target.startsWith('..')) continue; // client/, migrations/: outside the modules
      const to = moduleOf(target);
      if (to !== from) edges.add(to);
    }
  }
  return graph;
}

/** A file's code: what its comments say about another module's tables is no dependency. */
const withoutComments = (file: string) => readFileSync(file, 'utf8').replaceAll(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');

/** The cycles of a directed graph, one per strongly connected component of more than one node. */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (stack.includes(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do component.push((member = stack.pop()!));
      while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('module boundaries', () => {
  it('no two modules import each other, directly or around a loop', () => {
    expect(cycles(moduleGraph())).toEqual([]);
  });

  it('only the log module names the log’s tables and functions in SQL', () => {
    const logTables = /\b(notification_batches|notifications_legacy|notification_retention|notification_tables|notification_index|notification_lookups|capture\.(changes|drain_cursor|wakeup|take_batch|undrained))\b/;
    const outside = sources().filter((file) => moduleOf(file) !== 'log' && logTables.test(withoutComments(path.join(src, file))));
    expect(outside).toEqual([]);
  });

  it('only a sink kind’s driver branches on that kind', () => {
    const kinds = 'webhook|rabbitmq|nats';
    const branch = new RegExp(`(===|!==|case)\\s*'(${kinds})'|'(${kinds})'\\s*(===|!==)`);
    const drivers = path.join('sinks', 'drivers') + path.sep;
    const outside = sources().filter((file) => !file.startsWith(drivers) && branch.test(withoutComments(path.join(src, file))));
    expect(outside).toEqual([]);
  });
});
