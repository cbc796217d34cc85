import { MigrationInterface, QueryRunner } from 'typeorm';
import { TAKE_BATCH as PREVIOUS_TAKE_BATCH } from './1764400000000-CaptureFollowsSchema.js';
import { edited } from './definition-edits.js';

/**
 * capture.take_batch took each transaction's rows with one look of `LIMIT max_rows - taken`; a row
 * it dropped (not in the triggers' shape) took a place in that LIMIT, so the batch ended short of
 * max_rows, the next transaction came, and the first one's rows past the LIMIT were never taken: a
 * transaction larger than the rest of a batch lost its tail behind one malformed row. It now looks
 * again from the last row while a look came back full.
 */
export class TakeBatchWholeTransactions1764960000000 implements MigrationInterface {
  name = 'TakeBatchWholeTransactions1764960000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(TAKE_BATCH);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(PREVIOUS_TAKE_BATCH);
  }
}

export const TAKE_BATCH = edited('TakeBatchWholeTransactions', PREVIOUS_TAKE_BATCH, [
  [
    `    r capture.changes;
  BEGIN`,
    `    r capture.changes;
    wanted int;
    seen int;
  BEGIN`,
  ],
  [
    `      FOR r IN SELECT * FROM capture.changes c WHERE c.tx = txs[i] AND c.id > after ORDER BY c.id LIMIT max_rows - taken LOOP
`,
    `      -- Again from \`after\` while a look comes back full: a dropped row took a place in its LIMIT.
      LOOP
      wanted := max_rows - taken;
      seen := 0;
      FOR r IN SELECT * FROM capture.changes c WHERE c.tx = txs[i] AND c.id > after ORDER BY c.id LIMIT wanted LOOP
        seen := seen + 1;
`,
  ],
  [
    `      END LOOP;
    END LOOP;
    PERFORM capture.move_cursor(k, upper, NULL, NULL, 0);`,
    `      END LOOP;
      EXIT WHEN seen < wanted;
      END LOOP;
    END LOOP;
    PERFORM capture.move_cursor(k, upper, NULL, NULL, 0);`,
  ],
]);
