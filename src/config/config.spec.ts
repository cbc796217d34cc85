import { getMetadataStorage } from 'class-validator';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, EnvironmentVariables, loadConfig } from './config.js';

/** README.md's configuration table: variable → its default cell. */
function documented(): Map<string, string> {
  const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
  const rows = [...section.matchAll(/^\| `([A-Z_]+)` \| ([^|]*) \|/gm)];
  return new Map(rows.map(([, variable, cell]) => [variable, cell.trim()]));
}

describe('loadConfig', () => {
  it('defaults to the embedded database on loopback', () => {
    const sut = loadConfig({});
    expect(sut).toMatchObject({ databaseUrl: undefined, port: 3000, host: '127.0.0.1', logLevel: 'info', bodyLimit: '1mb' });
    expect(sut.embeddedPgDir).toMatch(/\.data\/postgres$/);
  });

  it('binds all interfaces when DATABASE_URL is set', () => {
    const sut = loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/app', PORT: '8080' });
    expect(sut).toMatchObject({ databaseUrl: 'postgres://u:p@db:5432/app', port: 8080, host: '0.0.0.0' });
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 3000, databaseUrl: undefined });
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '3000.5' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ HOST: 'a b' }, 'HOST'],
    [{ DB_POOL_SIZE: '0' }, 'DB_POOL_SIZE'],
    [{ BODY_LIMIT: 'huge' }, 'BODY_LIMIT'],
  ])('refuses %j with one line naming the variable', (env, variable) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { message } = error as ConfigError;
    expect(message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
    expect(message).not.toContain('\n');
  });

  it('has every variable it reads in the README table, and nothing else there', () => {
    const declared = getMetadataStorage()
      .getTargetValidationMetadatas(EnvironmentVariables, '', true, false)
      .map((metadata) => metadata.propertyName);
    expect([...documented().keys()].sort()).toEqual([...new Set(declared)].sort());
  });

  it('has the defaults the README table gives: setting a variable to its documented default changes nothing', () => {
    const defaults = new Map([...documented()].filter(([, cell]) => /^`[^`]+`$/.test(cell)).map(([variable, cell]) => [variable, cell.slice(1, -1)]));
    expect(defaults.size).toBeGreaterThan(15);
    for (const [variable, value] of defaults) expect(loadConfig({ [variable]: value }), variable).toEqual(loadConfig({}));
  });
});
