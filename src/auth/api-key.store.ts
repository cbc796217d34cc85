import { randomUUID } from 'node:crypto';
import type { Sql } from '../database/sql.js';
import { ApiKey, newSecret, Scope } from './api-key.js';


interface ApiKeyRow {
  id: string;
  name: string;
  scopes: Scope[];
  tables: string[] | null;
  secret_hash: Buffer;
  created_at: Date;
  revoked_at: Date | null;
}

/** The SQL of the api_keys table, shared by the service and `npm run keys`. */
export const ApiKeyStore = {
  async all(query: Sql): Promise<ApiKey[]> {
    const rows = await query<ApiKeyRow>(
      'SELECT id, name, scopes, tables, secret_hash, created_at, revoked_at FROM api_keys ORDER BY created_at, name',
    );
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      scopes: row.scopes,
      tables: row.tables,
      secretHash: row.secret_hash,
      createdAt: row.created_at,
      revokedAt: row.revoked_at,
    }));
  },

  /** Stores a new key and returns its token, which exists nowhere else: show it once. */
  async create(query: Sql, key: { name: string; scopes: Scope[]; tables: string[] | null }): Promise<string> {
    const id = randomUUID();
    const { token, secretHash } = newSecret(id);
    await query('INSERT INTO api_keys (id, name, scopes, tables, secret_hash) VALUES ($1, $2, $3, $4, $5)', [
      id,
      key.name,
      key.scopes,
      key.tables,
      secretHash,
    ]);
    return token;
  },

  /** Revokes the active key of that name; false when there is none. */
  async revoke(query: Sql, name: string): Promise<boolean> {
    const rows = await query('UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING id', [name]);
    return rows.length > 0;
  },
};
