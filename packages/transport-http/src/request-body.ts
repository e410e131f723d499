import type { IncomingMessage } from 'node:http';
import { DISCARD_LIMIT_BYTES } from './http-reply';

export type BodyResult =
  | { readonly kind: 'ok'; readonly text: string }
  /** More than the cap arrived; reading stopped there. */
  | { readonly kind: 'too-large' }
  /** The client went away before the end of the body. */
  | { readonly kind: 'aborted' };

const TOO_LARGE: BodyResult = { kind: 'too-large' };
const ABORTED: BodyResult = { kind: 'aborted' };

/**
 * The request body as UTF-8 text, at most `maxBytes` of it. Settles as soon as the cap is passed
 * (the caller answers 413 at once) or the client is gone; never rejects. After settling early it
 * keeps reading and dropping, up to DISCARD_LIMIT_BYTES, so the client can read the answer.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  return new Promise<BodyResult>((resolve) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let dropped = 0;

    req.on('data', (chunk: Buffer) => {
      if (settled) {
        dropped += chunk.length;
        if (dropped > DISCARD_LIMIT_BYTES) req.socket.destroy();
        return;
      }
      size += chunk.length;
      if (size > maxBytes) {
        settled = true;
        chunks = [];
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      // one chunk is the common case for small device payloads: no copy
      const buf = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      chunks = [];
      resolve({ kind: 'ok', text: buf.toString('utf8') });
    });
    const abort = (): void => {
      if (settled) return;
      settled = true;
      chunks = [];
      resolve(ABORTED);
    };
    // 'error' (ECONNRESET, "aborted") and a 'close' before 'end' both mean the client left mid-body.
    req.on('error', abort);
    req.on('close', abort);
  });
}
