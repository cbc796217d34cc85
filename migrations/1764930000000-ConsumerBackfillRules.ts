import { MigrationInterface, QueryRunner } from 'typeorm';
import { FUNCTIONS } from './1764910000000-ConsumerCalls.js';

/**
 * consumer_receive's filter (ConsumerCalls) with the rules BackfillEvents gave client/src/filter.ts:
 * every journal row of a backfill (its reads and its own events, backfill_id set) passes only a
 * filter that names its event, and none of a backfill aimed at chosen sinks goes to a consumer group.
 */
export class ConsumerBackfillRules1764930000000 implements MigrationInterface {
  name = 'ConsumerBackfillRules1764930000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(RECEIVE);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(PREVIOUS_RECEIVE);
  }
}

/** consumer_receive as ConsumerCalls wrote it, to be replaced. */
const PREVIOUS_RECEIVE = (() => {
  const start = FUNCTIONS.indexOf('CREATE FUNCTION consumer_receive(');
  const end = FUNCTIONS.indexOf('$fn$;', start);
  if (start < 0 || end < 0) throw new Error('ConsumerBackfillRules: consumer_receive was not found');
  return FUNCTIONS.slice(start, end + '$fn$;'.length).replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION');
})();

/** The journal's rows: a backfill's by name alone, and never one aimed at sinks. */
export const RECEIVE = (() => {
  const from = "(CASE WHEN c.op = 'READ' THEN";
  const now = PREVIOUS_RECEIVE.replace(
    from,
    `(CASE WHEN c.backfill_id IS NOT NULL AND capture.backfill_destinations(c.backfill_id) IS NOT NULL THEN false
                WHEN c.backfill_id IS NOT NULL THEN`,
  );
  if (now === PREVIOUS_RECEIVE) throw new Error(`ConsumerBackfillRules: ${from} was not found`);
  return now;
})();
