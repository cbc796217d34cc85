import { MigrationInterface, QueryRunner } from 'typeorm';
import { SETTLE as PREVIOUS_SETTLE } from './1764970000000-ConsumerSettleDecodeOnce.js';
import { edited } from './definition-edits.js';

/**
 * A nack, extension or term of a batch message could deadlock with a seek. It locks the batch's row,
 * then inserts the message into consumer_messages, whose foreign key check share-locks the group's
 * row; a seek holds that row (FOR UPDATE) and deletes the group's batches, so each waited on the
 * other and PostgreSQL aborted one (the settle, as a 500). Those verbs now share-lock the group's
 * row first, before any batch: beside a seek they wait for it and then find their leases gone
 * (unknown). An ack inserts nothing and takes no lock on the group: the hot path is unchanged.
 */
export class ConsumerSettleLocksGroupFirst1764980000000 implements MigrationInterface {
  name = 'ConsumerSettleLocksGroupFirst1764980000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(SETTLE);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(PREVIOUS_SETTLE);
  }
}

export const SETTLE = edited('ConsumerSettleLocksGroupFirst', PREVIOUS_SETTLE, [
  [
    `    SELECT * INTO g FROM consumer_groups WHERE name = group_name;
`,
    `    IF verb = 'ack' THEN
      SELECT * INTO g FROM consumer_groups WHERE name = group_name;
    ELSE
      -- Before any batch row (see migration ConsumerSettleLocksGroupFirst): what it inserts into
      -- consumer_messages share-locks the group's row, which a seek holds while it deletes batches.
      SELECT * INTO g FROM consumer_groups WHERE name = group_name FOR KEY SHARE;
    END IF;
`,
  ],
]);
