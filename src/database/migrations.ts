import { ApiKeys1764000000000 } from '../../migrations/1764000000000-ApiKeys.js';
import { Capture1763800000000 } from '../../migrations/1763800000000-Capture.js';
import { Notifications1763800000001 } from '../../migrations/1763800000001-Notifications.js';
import { OneWritePerChange1764100000000 } from '../../migrations/1764100000000-OneWritePerChange.js';
import { Sinks1764200000000 } from '../../migrations/1764200000000-Sinks.js';
import { CaptureFollowsSchema1764400000000 } from '../../migrations/1764400000000-CaptureFollowsSchema.js';
import { SinkRecovery1764300000000 } from '../../migrations/1764300000000-SinkRecovery.js';
import { BoundedLogReads1764500000000 } from '../../migrations/1764500000000-BoundedLogReads.js';
import { Invoices1763700000000 } from '../../migrations/1763700000000-Invoices.js';
import { NatsSubjectVocabulary1764610000000 } from '../../migrations/1764610000000-NatsSubjectVocabulary.js';
import { LogLookups1764700000000 } from '../../migrations/1764700000000-LogLookups.js';
import { InvoiceNoSearch1764800000000 } from '../../migrations/1764800000000-InvoiceNoSearch.js';
import { SinkLastDelivered1764810000000 } from '../../migrations/1764810000000-SinkLastDelivered.js';
import { SinkCoalesce1764850000000 } from '../../migrations/1764850000000-SinkCoalesce.js';
import { ConsumerGroups1764870000000 } from '../../migrations/1764870000000-ConsumerGroups.js';
import { Backfills1764900000000 } from '../../migrations/1764900000000-Backfills.js';
import { ConsumerCalls1764910000000 } from '../../migrations/1764910000000-ConsumerCalls.js';
import { EnableWithBackfill1764915000000 } from '../../migrations/1764915000000-EnableWithBackfill.js';
import { BackfillEvents1764920000000 } from '../../migrations/1764920000000-BackfillEvents.js';
import { ConsumerBackfillRules1764930000000 } from '../../migrations/1764930000000-ConsumerBackfillRules.js';
import { ConsumerLeaseBatches1764950000000 } from '../../migrations/1764950000000-ConsumerLeaseBatches.js';
import { TakeBatchWholeTransactions1764960000000 } from '../../migrations/1764960000000-TakeBatchWholeTransactions.js';
import { ConsumerSettleDecodeOnce1764970000000 } from '../../migrations/1764970000000-ConsumerSettleDecodeOnce.js';
import { ConsumerSettleLocksGroupFirst1764980000000 } from '../../migrations/1764980000000-ConsumerSettleLocksGroupFirst.js';

/** Every migration, in order. Listed as classes so that the build, the CLI and the tests agree. */
export const migrations = [Invoices1763700000000, Capture1763800000000, Notifications1763800000001, ApiKeys1764000000000, OneWritePerChange1764100000000, Sinks1764200000000, SinkRecovery1764300000000, CaptureFollowsSchema1764400000000, BoundedLogReads1764500000000, NatsSubjectVocabulary1764610000000, LogLookups1764700000000, InvoiceNoSearch1764800000000, SinkLastDelivered1764810000000, SinkCoalesce1764850000000, ConsumerGroups1764870000000, Backfills1764900000000, ConsumerCalls1764910000000, EnableWithBackfill1764915000000, BackfillEvents1764920000000, ConsumerBackfillRules1764930000000, ConsumerLeaseBatches1764950000000, TakeBatchWholeTransactions1764960000000, ConsumerSettleDecodeOnce1764970000000, ConsumerSettleLocksGroupFirst1764980000000];
