import { describe, expect, it } from 'vitest';
import { admit, Admitted, ConnectionFacts, isRefusal, LogFacts } from './admission.js';
import { SubscribeDto } from './dto/subscribe.dto.js';

const connection = (facts: Partial<ConnectionFacts> = {}): ConnectionFacts => ({ subscriptions: 0, maxSubscriptions: 20, ...facts });
const log = (facts: Partial<LogFacts> = {}): LogFacts => ({ purgedThrough: 0n, newest: 1000n, ...facts });
const request = (fields: Partial<SubscribeDto> = {}) => Object.assign(new SubscribeDto(), fields);

function admitted(result: ReturnType<typeof admit>): Admitted {
  if (isRefusal(result)) throw new Error(`refused: ${result.code} ${result.message}`);
  return result;
}

describe('admit', () => {
  it('admits a request with no since from the live end', () => {
    expect(admitted(admit(request({ tables: ['invoices'] }), connection(), log()))).toEqual({
      request: request({ tables: ['invoices'] }),
      since: undefined,
    });
  });

  it('admits any since between what retention deleted and the newest notification, whatever else the connection holds', () => {
    for (const since of ['500', '1000']) {
      expect(admitted(admit(request({ since }), connection({ subscriptions: 19 }), log({ purgedThrough: 500n }))).since).toBe(BigInt(since));
    }
  });

  it('refuses a since that retention has deleted past, and one after the newest notification', () => {
    expect(admit(request({ since: '499' }), connection(), log({ purgedThrough: 500n }))).toEqual({
      code: 'SINCE_EXPIRED',
      message: expect.stringContaining('notifications up to 500 have been deleted by retention'),
    });
    expect(admit(request({ since: '1001' }), connection(), log())).toEqual({
      code: 'INVALID_REQUEST',
      message: expect.stringContaining('since 1001 is after the newest notification (1000)'),
    });
  });

  it('refuses a subscription past the cap, before anything else', () => {
    expect(admit(request({ since: '5000' }), connection({ subscriptions: 20 }), log({ unknownNames: 'table x is unknown' }))).toEqual({
      code: 'TOO_MANY_SUBSCRIPTIONS',
      message: 'a connection may hold at most 20 subscriptions',
    });
  });

  it('refuses unknown tables or events with the catalog’s message', () => {
    expect(admit(request({ tables: ['nosuch'] }), connection(), log({ unknownNames: 'table nosuch is neither under capture nor in the log' }))).toEqual({
      code: 'INVALID_REQUEST',
      message: 'table nosuch is neither under capture nor in the log',
    });
  });

  it('holds a key limited to some tables to them: others are refused, none named means those', () => {
    const limited = connection({ allowedTables: ['invoices', 'orders'] });
    expect(admit(request({ tables: ['invoices', 'invoice_items'] }), limited, log())).toEqual({
      code: 'FORBIDDEN',
      message: 'this API key may not read invoice_items; it may read invoices, orders',
    });
    expect(admitted(admit(request({ events: ['invoices.*'], since: '7' }), limited, log())).request).toEqual(
      request({ events: ['invoices.*'], since: '7', tables: ['invoices', 'orders'] }),
    );
    expect(admitted(admit(request({ tables: ['orders'] }), limited, log())).request.tables).toEqual(['orders']);
  });
});
