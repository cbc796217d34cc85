import { ApiProperty, PartialType } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { KindProperty, SinkFieldsDto } from '../dto/sink-fields.dto.js';

/** Settings of a RabbitMQ sink (the API's side; see rabbitmq.driver.ts). */
const URL_MESSAGE = '$property must be an amqp:// or amqps:// URL';

export class RabbitMqSettingsDto {
  /** amqp:// or amqps:// URL, credentials included; never returned or logged. */
  @Matches(/^amqps?:\/\/[^\s]+$/i, { message: URL_MESSAGE })
  @MaxLength(2000)
  @IsString({ message: URL_MESSAGE })
  @ApiProperty({ example: 'amqp://guest:guest@127.0.0.1:5672' })
  url: string;

  /** A topic exchange (declared durable if missing); routing key = event name. Default: rowcast. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9._:-]{1,200}$/, { message: '$property must be 1–200 letters, digits, dots, dashes, colons or underscores' })
  @IsString({ message: '$property must be a string' })
  exchange?: string;
}

/** Absent fields stay as they are. */
export class RabbitMqSettingsChangesDto extends PartialType(RabbitMqSettingsDto, { skipNullProperties: false }) {}

export class RabbitMqSettingsView {
  /** The URL with its password replaced by `***`. */
  url: string;
  exchange: string;
}

export class RabbitMqSinkDto extends SinkFieldsDto {
  @KindProperty('rabbitmq')
  kind: 'rabbitmq';
  settings: RabbitMqSettingsView;
}
