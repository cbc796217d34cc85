import { BadRequestException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ActorContext } from './actor.context.js';

const ACTOR = /^[^\p{Cc}]{1,128}$/u;

/**
 * Reads X-Actor, the name of whoever makes a request, for the audit trail: REST writes set it as
 * `rowcast.actor` for their transaction, so notifications say who changed what.
 */
export function actorMiddleware(req: Request, _res: Response, next: NextFunction): void {
  const header = req.headers['x-actor'];
  const actor = Array.isArray(header) ? header[0] : header;
  if (actor !== undefined && !ACTOR.test(actor.trim())) {
    return next(new BadRequestException('X-Actor must be 1 to 128 printable characters'));
  }
  ActorContext.run(actor?.trim() || undefined, next);
}
