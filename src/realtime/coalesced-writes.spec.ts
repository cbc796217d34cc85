import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { coalesceWebSocketWrites } from './coalesced-writes.js';

describe('coalesceWebSocketWrites', () => {
  it("corks the TCP socket around one flush of engine.io's WebSocket transport, and only for several packets", () => {
    expect(coalesceWebSocketWrites()).toBe(true);
    const require = createRequire(createRequire(import.meta.url).resolve('socket.io'));
    const { websocket: WebSocket } = require('engine.io').transports;
    const calls: string[] = [];
    const tcp = { cork: () => calls.push('cork'), uncork: () => calls.push('uncork') };
    // The transport's own send, as engine.io runs it: one frame per packet, each a write.
    const fake = Object.create(WebSocket.prototype, {
      socket: { value: { _socket: tcp } },
      _canSendPreEncodedFrame: { value: () => false },
      parser: { value: { encodePacket: () => calls.push('write') } },
    });
    fake.send([{ type: 'message', data: 'a' }, { type: 'message', data: 'b' }]);
    expect(calls).toEqual(['cork', 'write', 'write', 'uncork']);
    calls.length = 0;
    fake.send([{ type: 'message', data: 'a' }]);
    expect(calls).toEqual(['write']);
  });
});
