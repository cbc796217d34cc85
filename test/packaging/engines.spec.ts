import { readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => JSON.parse(readFileSync(path.join(root, file), 'utf8'));

interface LockedPackage {
  engines?: { node?: string };
  /** Platform-specific builds (one per OS and CPU): npm installs only the matching one. */
  os?: string[];
  cpu?: string[];
}

describe('the Node versions package.json declares', () => {
  it('are ones every installed dependency declares it runs on, so npm warns on none of them', () => {
    const declared: string = read('package.json').engines.node;
    const { packages } = read('package-lock.json') as { packages: Record<string, LockedPackage> };
    const refusing = Object.entries(packages)
      .filter(([name, locked]) => name && locked.engines?.node && !locked.os && !locked.cpu)
      .filter(([, locked]) => !semver.subset(declared, locked.engines!.node!))
      .map(([name, locked]) => `${name.replace(/^.*node_modules\//, '')} wants ${locked.engines!.node}`);
    expect(refusing).toEqual([]);
  });

  it('include the Node running this suite', () => {
    expect(semver.satisfies(process.version, read('package.json').engines.node)).toBe(true);
  });
});
