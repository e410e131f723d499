import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Liveness of this process's roles: not ready while starting and once stopping. Answers
 * `/api/health` for processes whose API role does not (the API answers it itself).
 */
export interface Readiness {
  ready(): boolean;
  markStarted(): void;
  markStopping(): void;
  /** True when the request was a health probe and was answered. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

export function createReadiness(): Readiness {
  let started = false;
  return {
    ready: () => started,
    markStarted: () => {
      started = true;
    },
    markStopping: () => {
      started = false;
    },
    handle(req, res) {
      if (req.url === '/api/health' || req.url?.startsWith('/api/health?')) {
        res.writeHead(started ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: started ? 'UP' : 'STARTING' }));
        return true;
      }
      return false;
    },
  };
}
