import { IsIn, IsString, Matches, ValidateIf } from 'class-validator';
import { COALESCE_MODES, type CoalesceMode } from '../../../client/src/protocol.js';
import { NotificationFilterDto } from '../../events/notification-filter.js';
import { NOTIFICATION_ID } from '../../events/event-catalog.js';

export class SubscribeDto extends NotificationFilterDto {
  /** Resume after this notification id: stored ones are replayed first. Absent: from now on. */
  @ValidateIf((_object: object, value: unknown) => value !== undefined)
  @Matches(NOTIFICATION_ID, { message: 'since must be a notification id (digits)' })
  @IsString({ message: 'since must be a notification id given as a string' })
  since?: string;

  /** `transaction`: one net change per row per transaction (client/src/protocol.ts). Absent: every change. */
  @ValidateIf((_object: object, value: unknown) => value !== undefined)
  @IsIn(COALESCE_MODES, { message: `coalesce must be ${COALESCE_MODES.map((mode) => `'${mode}'`).join(' or ')}, or left out for every change` })
  coalesce?: CoalesceMode;
}

export class UnsubscribeDto {
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'subscriptionId must be an id returned by subscribe' })
  @IsString({ message: 'subscriptionId must be a string' })
  subscriptionId: string;
}
