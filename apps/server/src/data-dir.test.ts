import { chmodSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@rivulet/core';
import { afterAll, describe, expect, it } from 'vitest';
import { securePrivateDir } from './data-dir';
import { tempDir } from './test-helpers';

function recordingLogger(): Logger & { warnings: Array<Record<string, unknown>> } {
  const warnings: Array<Record<string, unknown>> = [];
  const l = { warnings, debug() {}, info() {}, error() {}, warn: (f: Record<string, unknown>) => warnings.push(f), child: () => l };
  return l;
}

describe('securePrivateDir', () => {
  const tmp = tempDir('rivulet-datadir-');
  afterAll(() => tmp.remove());

  it('creates a missing directory 0700 (parents too) and warns about nothing', () => {
    const logger = recordingLogger();
    const dir = join(tmp.dir, 'a', 'b');
    expect(securePrivateDir({ dir, logger })).toBe(0);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(logger.warnings).toEqual([]);
  });

  it('tightens an open tree, never follows a symbolic link out of it, and is quiet once private', () => {
    const outside = join(tmp.dir, 'outside.txt');
    writeFileSync(outside, 'not ours');
    chmodSync(outside, 0o644);
    const dir = join(tmp.dir, 'open');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'sub', 'f'), 'x');
    chmodSync(join(dir, 'sub', 'f'), 0o666);
    chmodSync(join(dir, 'sub'), 0o755);
    chmodSync(dir, 0o750);
    symlinkSync(outside, join(dir, 'link'));
    const logger = recordingLogger();
    expect(securePrivateDir({ dir, logger })).toBe(2 + 1); // dir, sub, f
    expect(statSync(join(dir, 'sub', 'f')).mode & 0o777).toBe(0o600);
    expect(statSync(outside).mode & 0o777).toBe(0o644);
    expect(logger.warnings).toEqual([{ dataDir: dir, mode: '750', tightened: 3 }]);
    const again = recordingLogger();
    expect(securePrivateDir({ dir, logger: again })).toBe(0);
    expect(again.warnings).toEqual([]);
  });

  it('refuses a data directory that is a file', () => {
    const f = join(tmp.dir, 'file');
    writeFileSync(f, '');
    expect(() => securePrivateDir({ dir: f, logger: recordingLogger() })).toThrow(/is not a directory/);
  });
});
