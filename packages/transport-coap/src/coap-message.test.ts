import { describe, expect, it } from 'vitest';
import { MessageType, decodeMessage, encodeMessage, parseBlockOption, uintOption } from './coap-message';

describe('coap-message', () => {
  it('encodes and decodes options with extended deltas and lengths, token and payload', () => {
    const long = Buffer.alloc(300, 'p');
    const m = encodeMessage({
      type: MessageType.CON,
      code: '0.02',
      messageId: 0xbeef,
      token: Buffer.from([0xaa, 0xbb]),
      options: [
        [292, Buffer.from([1, 2, 3, 4])],
        [11, Buffer.from('api')],
        [11, long],
        [60, uintOption(65536)],
      ],
      payload: Buffer.from('{"a":1}'),
    });
    const d = decodeMessage(m);
    expect(d).toMatchObject({ type: MessageType.CON, codeText: '0.02', messageId: 0xbeef });
    expect(d?.token).toEqual(Buffer.from([0xaa, 0xbb]));
    expect(d?.options.map(([n, v]) => [n, v.length])).toEqual([
      [11, 3],
      [11, 300],
      [60, 3],
      [292, 4],
    ]);
    expect(d?.payload.toString()).toBe('{"a":1}');
  });

  it('Block option values; SZX 7 is reserved', () => {
    expect(parseBlockOption(Buffer.from([0x2e]))).toEqual({ num: 2, more: true, size: 1024 });
    expect(parseBlockOption(Buffer.from([0x07]))).toBeUndefined();
  });
});
