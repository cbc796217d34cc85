import { Scope } from '../../src/auth/api-key.js';
import { ApiKeyStore } from '../../src/auth/api-key.store.js';
import { ApiKeysService } from '../../src/auth/api-keys.service.js';
import { clientSql } from '../../src/database/sql.js';
import type { TestApp } from './app.js';
import type { TestDatabase } from './database.js';

const query = (db: TestDatabase) => clientSql(db.sql);

/** Creates a key as `npm run keys -- create` does; returns its token. */
export function createKey(db: TestDatabase, name: string, scopes: Scope[], tables: string[] | null = null): Promise<string> {
  return ApiKeyStore.create(query(db), { name, scopes, tables });
}

export function revokeKey(db: TestDatabase, name: string): Promise<boolean> {
  return ApiKeyStore.revoke(query(db), name);
}

/** Makes the apps see the key table now, instead of at their next reload (within 500 ms). */
export async function reloadKeys(...apps: TestApp[]): Promise<void> {
  await Promise.all(apps.map((t) => t.app.get(ApiKeysService).refresh()));
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
