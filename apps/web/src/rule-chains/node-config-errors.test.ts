import { describe, expect, it } from 'vitest';
import { parseServerError, toErrorTree } from './node-config-errors';

describe('server errors at their fields', () => {
  it('nests errors by field path, whatever the separator', () => {
    expect(
      toErrorTree([
        { path: 'defaultTTL', message: 'expected number' },
        { path: 'credentials.username', message: 'required' },
        { path: '/keys/0', message: 'too short' },
        { path: 'keys[1]', message: 'empty' },
        { path: '', message: 'whole node' },
      ]),
    ).toEqual({
      defaultTTL: { __errors: ['expected number'] },
      credentials: { username: { __errors: ['required'] } },
      keys: { '0': { __errors: ['too short'] }, '1': { __errors: ['empty'] } },
      __errors: ['whole node'],
    });
  });

  it("reads the node and field of the server's refusal", () => {
    expect(parseServerError('Invalid configuration of node 1 "Save Timeseries": defaultTTL: Invalid input: expected number, received string')).toEqual({
      nodeIndex: 1,
      path: 'defaultTTL',
      message: 'Invalid input: expected number, received string',
    });
    expect(parseServerError('Invalid configuration of node 0 "Gen": originatorId: DEVICE 1 is not an entity of this tenant')).toMatchObject({ nodeIndex: 0, path: 'originatorId' });
    expect(parseServerError('jsScript: Unexpected token \'}\'')).toEqual({ nodeIndex: null, path: 'jsScript', message: "Unexpected token '}'" });
    expect(parseServerError('Rule chain "Script test" failed to start: node 2 "Filter": jsScript: SyntaxError: unexpected token')).toEqual({
      nodeIndex: 2,
      path: 'jsScript',
      message: 'SyntaxError: unexpected token',
    });
    expect(parseServerError('Rule chain not found')).toBeNull();
  });
});
