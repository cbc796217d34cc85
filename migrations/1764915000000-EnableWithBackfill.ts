import { MigrationInterface, QueryRunner } from 'typeorm';
import { ENABLE as PREVIOUS_ENABLE } from './1764400000000-CaptureFollowsSchema.js';

/**
 * capture.enable(tbl, columns, keep_old, backfill => true) (issue 19): puts a table under capture and,
 * in the same transaction, starts a backfill of the rows it holds, the one POST /backfills starts
 * (capture.backfill_start, every row, for whoever asks for `<table>.read`). So no change falls
 * between the two: a row changed after the enable is both captured and read in the log's order.
 *
 * It returns the backfill's id (NULL without one), hence a new function in place of the old one
 * (a return type cannot be replaced); calls without `backfill` read as before, positional or named.
 * A table without a primary key is captured with a warning, but a backfill of it is refused
 * (capture.backfill_start's error), and the enable with it.
 */
export class EnableWithBackfill1764915000000 implements MigrationInterface {
  name = 'EnableWithBackfill1764915000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION capture.enable(regclass, text[], boolean)`);
    await queryRunner.query(ENABLE);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION capture.enable(regclass, text[], boolean, boolean)`);
    await queryRunner.query(PREVIOUS_ENABLE);
  }
}

/** Replaces `from` in a function's definition, which must be there: a body that moved on is an error, not a silent no-op. */
function replacing(definition: string, from: string, to: string): string {
  if (!definition.includes(from)) throw new Error(`EnableWithBackfill: ${from} was not found`);
  return definition.replace(from, to);
}

/** capture.enable as CaptureFollowsSchema wrote it, with `backfill` and the backfill's id returned. */
export const ENABLE = replacing(
  replacing(
    PREVIOUS_ENABLE,
    'keep_old boolean DEFAULT NULL) RETURNS void',
    'keep_old boolean DEFAULT NULL, backfill boolean DEFAULT false) RETURNS bigint',
  ),
  `PERFORM capture.arm(tbl, true);
  END`,
  `PERFORM capture.arm(tbl, true);
    IF backfill THEN
      RETURN (capture.backfill_start(tbl, NULL, NULL)).id;
    END IF;
    RETURN NULL;
  END`,
);
