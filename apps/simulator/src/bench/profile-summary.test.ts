import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callersOf, ownerOf, summarizeProfile } from './profile-summary';

describe('CPU profile summary', () => {
  it('attributes frames to workspace packages, npm packages, Node and V8', () => {
    expect(ownerOf('file:///work/main/packages/core/src/msg.ts', 'createMsg')).toBe('@rivulet/core');
    expect(ownerOf('file:///work/main/node_modules/@scope/pkg/index.js', 'f')).toBe('@scope/pkg');
    expect(ownerOf('file:///x/node_modules/a/node_modules/b/i.js', 'f')).toBe('b');
    expect(ownerOf('node:internal/streams/writable', 'write')).toBe('node:internal');
    expect(ownerOf('', '(garbage collector)')).toBe('(gc)');
  });

  it('self and inclusive time per function and package, per message; callers bottom-up', () => {
    const dir = mkdtempSync(join(tmpdir(), 'prof-'));
    try {
      const file = join(dir, 'p.cpuprofile');
      const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
      writeFileSync(
        file,
        JSON.stringify({
          nodes: [
            { id: 1, callFrame: frame('(root)', ''), children: [2, 4] },
            { id: 2, callFrame: frame('outer', 'file:///r/packages/queue/src/q.ts'), children: [3] },
            { id: 3, callFrame: frame('inner', 'file:///r/node_modules/pg/lib/x.js') },
            { id: 4, callFrame: frame('(idle)', '') },
          ],
          samples: [3, 3, 2, 4],
          timeDeltas: [1000, 1000, 1000, 5000],
          startTime: 0,
          endTime: 8000,
        }),
      );
      const text = summarizeProfile(file, { messages: 3 });
      expect(text).toMatch(/busy 0\.0 s \(38%\), 3 messages/);
      expect(text).toMatch(/2 ms +66\.7% +666\.67 µs\/msg {2}inner {2}node_modules\/pg\/lib\/x\.js:1/);
      expect(text).toMatch(/Inclusive time by package[^\n]*\n +3 ms +100\.0% +1000\.00 µs\/msg {2}@rivulet\/queue/);
      expect(callersOf(file, 'inner')).toMatch(/2 ms {2}outer@queue\/src\/q\.ts:1 < \(root\)@:1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
