import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * NATS subjects end in the event name (`rowcast.invoices.created`) for sinks created from now on;
 * the sinks already there keep the subjects their consumers subscribe to (`rowcast.invoices.insert`)
 * until someone switches them with `PATCH {"nats": {"subjectVocabulary": "events"}}` (issue 18).
 * Changing them here would leave those consumers waiting on subjects nothing is published to any more,
 * with no error anywhere. `legacy` goes away in 0.3.0.
 *
 * `revision` is not bumped: the subjects a running sink publishes to do not change.
 */
export class NatsSubjectVocabulary1764610000000 implements MigrationInterface {
  name = 'NatsSubjectVocabulary1764610000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      UPDATE sinks SET config = config || '{"subjectVocabulary": "legacy"}'
      WHERE kind = 'nats' AND NOT config ? 'subjectVocabulary'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // The release before publishes every sink to the legacy subjects: say so, rather than keep a setting it ignores.
    await queryRunner.query(`UPDATE sinks SET config = config - 'subjectVocabulary' WHERE kind = 'nats'`);
  }
}
