import { ApiProperty, ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { KindProperty, SinkFieldsDto } from '../dto/sink-fields.dto.js';
import { SUBJECT_VOCABULARIES, type SubjectVocabulary } from './nats.transport.js';

const VOCABULARY_DESCRIPTION =
  'The subjects\' last tokens. `events`: the event name, `<subjectPrefix>.invoices.created` (the default). ' +
  '`legacy` (deprecated, removed in 0.3.0): the table and the op, `<subjectPrefix>.invoices.insert`, as sinks created before 0.2.0 publish.';

/** Settings of a NATS JetStream sink (the API's side; see nats.driver.ts). */
export class NatsSettingsDto {
  @Matches(/^(nats|tls):\/\/[^\s,]+$/i, { each: true, message: '$property must hold nats:// or tls:// URLs' })
  @IsString({ each: true, message: '$property must hold nats:// or tls:// URLs' })
  @ArrayMaxSize(10)
  @ArrayMinSize(1, { message: '$property must name at least one server' })
  @IsArray({ message: '$property must be an array of URLs' })
  @ApiProperty({ example: ['nats://127.0.0.1:4222'] })
  servers: string[];

  /** Subjects are `<subjectPrefix>.<event>`, e.g. `rowcast.invoices.created`. Default: rowcast. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, { message: '$property must be dot-separated tokens of letters, digits, dashes or underscores' })
  @MaxLength(200)
  @IsString({ message: '$property must be a string' })
  subjectPrefix?: string;

  @IsOptional()
  @IsIn(SUBJECT_VOCABULARIES, { message: `$property must be one of ${SUBJECT_VOCABULARIES.join(', ')}` })
  @ApiPropertyOptional({ enum: SUBJECT_VOCABULARIES, description: VOCABULARY_DESCRIPTION })
  subjectVocabulary?: SubjectVocabulary;

  /** The JetStream stream (created over `<subjectPrefix>.>` if missing). Default: ROWCAST. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,100}$/, { message: '$property must be 1–100 letters, digits, dashes or underscores' })
  @IsString({ message: '$property must be a string' })
  stream?: string;

  @IsOptional()
  @MaxLength(200)
  @IsString({ message: '$property must be a string' })
  user?: string;

  /** Never returned or logged. */
  @IsOptional()
  @MaxLength(500)
  @IsString({ message: '$property must be a string' })
  pass?: string;

  /** Never returned or logged. */
  @IsOptional()
  @MaxLength(2000)
  @IsString({ message: '$property must be a string' })
  token?: string;
}

/**
 * Absent fields stay as they are. The credentials (`user`, `pass`, `token`) go together: giving any
 * of them replaces all three, so a token can take the place of a user and password.
 */
export class NatsSettingsChangesDto extends PartialType(NatsSettingsDto, { skipNullProperties: false }) {}

export class NatsSettingsView {
  servers: string[];
  subjectPrefix: string;
  @ApiProperty({ enum: SUBJECT_VOCABULARIES, description: VOCABULARY_DESCRIPTION })
  subjectVocabulary: SubjectVocabulary;
  stream: string;
  @ApiPropertyOptional()
  user?: string;
}

export class NatsSinkDto extends SinkFieldsDto {
  @KindProperty('nats')
  kind: 'nats';
  settings: NatsSettingsView;
}
