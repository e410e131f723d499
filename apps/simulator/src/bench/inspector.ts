import WebSocket from 'ws';
import type { Child } from './children';

/** The inspector URL a child started with --inspect=127.0.0.1:0 printed. */
export async function inspectorUrl(child: Child): Promise<string> {
  const line = await child.waitFor(/Debugger listening on ws:\/\//, 30_000);
  return line.slice(line.indexOf('ws://')).trim();
}

/**
 * A full garbage collection in another Node process, through its inspector (the idle-memory figure
 * is taken after one, before and after the connections, so garbage does not count as cost).
 */
export async function collectGarbage(url: string): Promise<void> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  try {
    for (let id = 1; id <= 2; id++) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('inspector: no answer to HeapProfiler.collectGarbage')), 30_000);
        const onMsg = (raw: WebSocket.RawData) => {
          if ((JSON.parse(String(raw)) as { id?: number }).id === id) {
            clearTimeout(t);
            ws.off('message', onMsg);
            resolve();
          }
        };
        ws.on('message', onMsg);
        ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
      });
    }
  } finally {
    ws.close();
  }
}
