import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from './password';

describe('hashPassword / verifyPassword', () => {
  it('produces a self-describing scrypt hash that verifies', async () => {
    const hash = await hashPassword('s3cret!');
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('s3cret!', hash)).toBe(true);
  });

  it('rejects a wrong password', async () => {
    const hash = await hashPassword('s3cret!');
    expect(await verifyPassword('s3cret', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  it('uses a random salt: the same password hashes differently', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('answers false for hashes it cannot read, without throwing', async () => {
    for (const bad of ['', 'plain', 'bcrypt$x', 'scrypt$3$8$1$AAAA$AAAA', 'scrypt$16384$8$1$$AAAA', 'scrypt$1073741824$8$1$AAAA$AAAA', 'scrypt$16384$999$1$AAAA$AAAA']) {
      expect(await verifyPassword('x', bad)).toBe(false);
    }
  });

  it('reads the parameters from the hash (so they can change later)', async () => {
    const hash = await hashPassword('pw');
    const [, , , , salt] = hash.split('$');
    // Same salt and password under other parameters gives another key: the stored N is what counts.
    const other = `scrypt$1024$8$1$${salt}$${hash.split('$')[5]}`;
    expect(await verifyPassword('pw', other)).toBe(false);
  });
});
