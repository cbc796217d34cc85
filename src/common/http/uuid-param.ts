import { BadRequestException, Param, ParseUUIDPipe } from '@nestjs/common';

/** A path parameter that must be a UUID; a 400 names the parameter otherwise. */
export const UuidParam = (name: string): ParameterDecorator =>
  Param(
    name,
    new ParseUUIDPipe({ version: 'all', exceptionFactory: () => new BadRequestException(`${name} must be a UUID`) }),
  );
