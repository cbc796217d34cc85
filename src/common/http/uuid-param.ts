import { BadRequestException, Param, type PipeTransform } from '@nestjs/common';
import { isUUID } from 'class-validator';

/**
 * A path parameter that must be a UUID; a 400 names the parameter otherwise.
 *
 * "A UUID" is class-validator's isUUID(value, 'all'), the check body ids get from IsUUID('all')
 * (versions 1-8 with the RFC variant, or the nil and max UUIDs). NestJS 11's ParseUUIDPipe has no
 * such version: its default accepts any 8-4-4-4-12 hex string, so path and body ids would disagree.
 */
export const UuidParam = (name: string): ParameterDecorator => Param(name, new UuidPipe(name));

class UuidPipe implements PipeTransform<unknown, string> {
  constructor(private readonly name: string) {}

  transform(value: unknown): string {
    if (typeof value === 'string' && isUUID(value, 'all')) return value;
    throw new BadRequestException(`${this.name} must be a UUID`);
  }
}
