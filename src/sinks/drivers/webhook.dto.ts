import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { IsString, Matches, MaxLength } from 'class-validator';
import { KindProperty, SinkFieldsDto } from '../dto/sink-fields.dto.js';

/** Settings of a webhook (the API's side; see webhook.driver.ts). */
const URL_MESSAGE = '$property must be an http:// or https:// URL';
/** A webhook's endpoint; `url` at the top of /webhooks bodies, `webhook.url` in /sinks bodies. */
export const WebhookUrl = () =>
  applyDecorators(IsString({ message: URL_MESSAGE }), MaxLength(2000), Matches(/^https?:\/\/[^\s]+$/i, { message: URL_MESSAGE }));

export class WebhookSettingsDto {
  /** The endpoint: http or https; no private, loopback or link-local address unless the service allows them. */
  @WebhookUrl()
  @ApiProperty({ example: 'https://billing.example.com/hooks/rowcast' })
  url: string;
}

/** Absent fields stay as they are. */
export class WebhookSettingsChangesDto extends PartialType(WebhookSettingsDto, { skipNullProperties: false }) {}

export class WebhookSettingsView {
  url: string;
}

export class WebhookSinkDto extends SinkFieldsDto {
  @KindProperty('webhook')
  kind: 'webhook';
  settings: WebhookSettingsView;
  /** Until when a rotated-out secret is still signed with. */
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true })
  previousSecretExpiresAt: Date | null;
}

export class CreatedWebhookDto extends WebhookSinkDto {
  /** The signing secret (`whsec_…`): shown this once. */
  secret: string;
}
