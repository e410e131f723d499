// Builds the web app before the browser tests when its build is missing or stale (a few seconds).
// @ts-expect-error: a plain .mjs script shared with `npm start`
import { buildWebIfStale } from '../scripts/build-if-stale.mjs';

export function setup(): void {
  (buildWebIfStale as (o: { quiet: boolean }) => boolean)({ quiet: true });
}
