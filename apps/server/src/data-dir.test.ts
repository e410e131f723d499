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

const entries = ['db', 'secret'];

describe('securePrivateDir', () => {
  const tmp = tempDir('rivulet-datadir-');
  afterAll(() => tmp.remove());

  it('creates a missing directory 0700 (parents too) and warns about nothing', () => {
    const logger = recordingLogger();
    const dir = join(tmp.dir, 'a', 'b');
    expect(securePrivateDir({ dir, entries, logger })).toBe(0);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(logger.warnings).toEqual([]);
  });

  it("tightens the directory and Rivulet's entries, leaves other files and symbolic link targets alone, and is quiet once private", () => {
    const outside = join(tmp.dir, 'outside.txt');
    writeFileSync(outside, 'not ours');
    chmodSync(outside, 0o644);
    const dir = join(tmp.dir, 'open');
    mkdirSync(join(dir, 'db', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'db', 'sub', 'f'), 'x');
    chmodSync(join(dir, 'db', 'sub', 'f'), 0o666);
    chmodSync(join(dir, 'db', 'sub'), 0o755);
    chmodSync(join(dir, 'db'), 0o777);
    writeFileSync(join(dir, 'secret'), 's');
    chmodSync(join(dir, 'secret'), 0o644);
    writeFileSync(join(dir, 'someone-elses.txt'), 'x');
    chmodSync(join(dir, 'someone-elses.txt'), 0o644);
    symlinkSync(outside, join(dir, 'db', 'link'));
    chmodSync(dir, 0o750);
    const logger = recordingLogger();
    expect(securePrivateDir({ dir, entries, logger })).toBe(5); // dir, db, db/sub, db/sub/f, secret
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'db', 'sub')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'db', 'sub', 'f')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'secret')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'someone-elses.txt')).mode & 0o777).toBe(0o644);
    expect(statSync(outside).mode & 0o777).toBe(0o644);
    expect(logger.warnings).toEqual([{ dataDir: dir, mode: '750', tightened: 5 }]);
    const again = recordingLogger();
    expect(securePrivateDir({ dir, entries, logger: again })).toBe(0);
    expect(again.warnings).toEqual([]);
  });

  it('refuses a data directory that is a file', () => {
    const f = join(tmp.dir, 'file');
    writeFileSync(f, '');
    expect(() => securePrivateDir({ dir: f, entries, logger: recordingLogger() })).toThrow(/is not a directory/);
  });
});
