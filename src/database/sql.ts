import pg from 'pg';
import { DataSource, QueryRunner } from 'typeorm';

/**
 * The one way rowcast's own SQL runs: one statement, its rows. Whoever holds an `Sql` does not know
 * (or care) whether it runs on the pool, on a connection of its own, or inside an open transaction:
 * the statement functions that take one (src/log/sql/) read the same either way.
 */
export type Sql = <R = Record<string, unknown>>(text: string, values?: readonly unknown[]) => Promise<R[]>;

/** Each statement on a connection of the pool, taken and given back around it. */
export function poolSql(dataSource: DataSource): Sql {
  return async <R>(text: string, values?: readonly unknown[]) => {
    const runner = dataSource.createQueryRunner();
    try {
      return await rows<R>(runner, text, values);
    } finally {
      await runner.release();
    }
  };
}

/** Runs `work` in one transaction on the pool: it commits when `work` resolves, rolls back when it throws. */
export function inTransaction<T>(dataSource: DataSource, work: (sql: Sql) => Promise<T>): Promise<T> {
  return dataSource.transaction((manager) => work((text, values) => rows(manager.queryRunner!, text, values)));
}

/**
 * Each statement on `client` (a connection a service owns, or a pg pool), as one unnamed statement. With
 * `prepared`, each distinct text is prepared once per connection and then only bound and run: for
 * the few statements a loop runs thousands of times (the drainer's), whose plans do not depend on
 * their values.
 */
export function clientSql(client: pg.ClientBase | pg.Pool, options: { prepared?: boolean } = {}): Sql {
  return async <R>(text: string, values?: readonly unknown[]) => {
    let name: string | undefined;
    if (options.prepared) {
      const names = preparedOn.get(client) ?? preparedOn.set(client, new Map()).get(client)!;
      name = names.get(text);
      if (!name) names.set(text, (name = `rowcast-${names.size + 1}`));
    }
    return (await client.query({ text, values: values as unknown[] | undefined, name })).rows as R[];
  };
}

/** Names of the statements prepared on each connection: a name stands for one text per connection. */
const preparedOn = new WeakMap<pg.ClientBase | pg.Pool, Map<string, string>>();

/** A statement's rows, whatever its command: TypeORM's plain query() gives [rows, count] for UPDATE and DELETE. */
async function rows<R>(runner: QueryRunner, text: string, values?: readonly unknown[]): Promise<R[]> {
  const result = await runner.query(text, values as unknown[] | undefined, true);
  return result.records as R[];
}
