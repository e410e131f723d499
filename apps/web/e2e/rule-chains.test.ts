import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import type { Page } from 'playwright-core';
import type { TestBrowser } from '@rivulet/testing';
import { adminApi, launchBrowser, screenshot, signedInPage, startWebServer, type WebServer } from './harness';

type Api = Awaited<ReturnType<typeof adminApi>>;
interface Meta {
  version: number;
  firstNodeIndex: number | null;
  nodes: { name: string; type: string; configuration: Record<string, unknown>; additionalInfo?: { layoutX?: number; layoutY?: number } }[];
  connections: { fromIndex: number; toIndex: number; type: string }[];
}

const TB = 'org.thingsboard.rule.engine';

/** A ThingsBoard export without positions (as written by hand or by a script). */
function tbExportWithoutPositions(name: string) {
  return {
    ruleChain: { name, type: 'CORE', firstRuleNodeId: null, root: false, debugMode: false, configuration: null, additionalInfo: null },
    metadata: {
      firstNodeIndex: 0,
      nodes: [
        { type: `${TB}.filter.TbMsgTypeSwitchNode`, name: 'Message Type Switch', debugMode: false, configuration: { version: 0 } },
        { type: `${TB}.telemetry.TbMsgTimeseriesNode`, name: 'Save Timeseries', debugMode: false, configuration: { defaultTTL: 0 } },
        { type: `${TB}.telemetry.TbMsgAttributesNode`, name: 'Save Client Attributes', debugMode: false, configuration: { scope: 'CLIENT_SCOPE' } },
        { type: `${TB}.action.TbLogNode`, name: 'Log Other', debugMode: false, configuration: { jsScript: 'return msg;' } },
      ],
      connections: [
        { fromIndex: 0, toIndex: 1, type: 'Post telemetry' },
        { fromIndex: 0, toIndex: 2, type: 'Post attributes' },
        { fromIndex: 0, toIndex: 3, type: 'Other' },
      ],
      ruleChainConnections: null,
    },
  };
}

const node = (page: Page, name: string) => page.locator(`[data-testid="rule-node"][data-name="${name}"]`);

/** Drags a node type from the palette onto the canvas at (x, y) of the canvas. */
async function dropNode(page: Page, type: string, x: number, y: number): Promise<void> {
  await page.locator(`[data-testid="palette-item"][data-type="${type}"]`).dragTo(page.locator('.react-flow__pane'), { targetPosition: { x, y } });
}

/** Drags from a node's output handle to another node's input handle, then picks the relations. */
async function link(page: Page, from: string, to: string, relations: string[]): Promise<void> {
  const src = await node(page, from).locator('.react-flow__handle.source').boundingBox();
  const dst = await node(page, to).locator('.react-flow__handle.target').boundingBox();
  if (!src || !dst) throw new Error(`handles of ${from} -> ${to} not found`);
  await page.mouse.move(src.x + src.width / 2, src.y + src.height / 2);
  await page.mouse.down();
  await page.mouse.move(dst.x + dst.width / 2, dst.y + dst.height / 2, { steps: 8 });
  await page.mouse.up();
  for (const r of relations) await page.getByTestId('relation-options').getByText(r, { exact: true }).click();
  await page.getByTestId('relation-confirm').click();
}

async function createChain(page: Page, name: string): Promise<string> {
  await page.goto('/rule-chains');
  await page.getByTestId('create-chain').click();
  await page.getByTestId('chain-name-input').fill(name);
  await page.getByTestId('chain-name-save').click();
  await page.waitForURL(/\/rule-chains\/[0-9a-f-]{36}$/);
  await page.getByTestId('palette').waitFor();
  return new URL(page.url()).pathname.split('/').pop()!;
}

// The rule chains list and editor in real Chromium against the whole platform on real PostgreSQL.
describe('rule chains in the web app', () => {
  let server: WebServer;
  let browser: TestBrowser;
  let rest: Api;
  beforeAll(async () => {
    server = await startWebServer();
    browser = await launchBrowser();
    rest = await adminApi(server);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('lists chains in both themes, and refuses to delete the root chain with the server message', async () => {
    for (let i = 1; i <= 3; i++) await rest('/api/ruleChain', { method: 'POST', body: { name: `Zone ${i} alarms`, additionalInfo: { description: `Alarms of zone ${i}` } } });
    for (const scheme of ['light', 'dark'] as const) {
      const { page, context, problems } = await signedInPage(browser, server, { colorScheme: scheme, path: '/rule-chains' });
      await page.getByTestId('root-badge').waitFor();
      await screenshot(page, `rule-chains-${scheme}`);
      if (scheme === 'light') {
        // search
        await page.getByLabel('Search rule chains').fill('zone 2');
        await expect.poll(() => page.getByTestId('chain-row').count()).toBe(1);
        await page.getByLabel('Search rule chains').fill('');
        await expect.poll(() => page.getByTestId('chain-row').count()).toBe(4);
        // the root chain cannot be deleted: the server's words
        await page.locator('[data-testid="chain-row"][data-name="Root Rule Chain"] [data-testid="chain-actions"]').click();
        await page.getByRole('menuitem', { name: 'Delete' }).click();
        await page.getByTestId('confirm-delete').click();
        await page.getByText('Deletion of Root Tenant Rule Chain is prohibited!').waitFor();
        expect(await page.getByTestId('chain-row').count()).toBe(4);
        // another one can
        await page.locator('[data-testid="chain-row"][data-name="Zone 3 alarms"] [data-testid="chain-actions"]').click();
        await page.getByRole('menuitem', { name: 'Delete' }).click();
        await page.getByTestId('confirm-delete').click();
        await expect.poll(() => page.getByTestId('chain-row').count()).toBe(3);
      }
      // The refused DELETE is the browser's own network log line, not the app's.
      expect(problems([/status of 400/])).toEqual([]);
      await context.close();
    }
  });

  it('builds a chain by dragging nodes from the palette and linking them; configures one; saves; a reload shows the same; undo restores a deleted node', async () => {
    const { page, context, problems } = await signedInPage(browser, server, { path: '/rule-chains' });
    const id = await createChain(page, 'Hot readings');
    await dropNode(page, 'rivulet.filter.msgTypeSwitch', 20, 150);
    await dropNode(page, 'rivulet.filter.threshold', 250, 60);
    await dropNode(page, 'rivulet.action.saveTimeseries', 250, 260);
    await dropNode(page, 'rivulet.action.createAlarm', 480, 150);
    await node(page, 'create alarm').waitFor();
    await link(page, 'message type switch', 'threshold', ['Post telemetry']);
    await link(page, 'message type switch', 'save time series', ['Post telemetry']);
    await link(page, 'threshold', 'create alarm', ['True']);
    // configure the threshold: temperature > 35
    await node(page, 'threshold').click();
    await page.getByTestId('node-name').fill('Too hot');
    const cfg = page.getByTestId('node-config-json');
    await cfg.fill(JSON.stringify({ key: 'temperature', operator: '>', value: 35, source: 'DATA' }, null, 2));
    await page.getByTestId('dirty').waitFor();
    await page.locator('.react-flow__controls-fitview').click();
    await screenshot(page, 'rule-chain-editor-light');
    await page.getByTestId('save-chain').click();
    await page.getByTestId('dirty').waitFor({ state: 'detached' });

    const saved = await rest<Meta>(`/api/ruleChain/${id}/metadata`);
    const names = saved.nodes.map((n) => n.name);
    expect(names).toEqual(['message type switch', 'Too hot', 'save time series', 'create alarm']);
    expect(saved.firstNodeIndex).toBe(0);
    expect(saved.nodes[1]!.configuration).toMatchObject({ key: 'temperature', operator: '>', value: 35 });
    expect(saved.connections).toEqual(
      expect.arrayContaining([
        { fromIndex: 0, toIndex: 1, type: 'Post telemetry' },
        { fromIndex: 0, toIndex: 2, type: 'Post telemetry' },
        { fromIndex: 1, toIndex: 3, type: 'True' },
      ]),
    );
    expect(saved.connections).toHaveLength(3);

    await page.reload();
    await node(page, 'Too hot').waitFor();
    expect(await page.getByTestId('rule-node').count()).toBe(4);
    expect(await page.locator('.react-flow__edge').count()).toBe(4); // three links and the input's
    await expect.poll(() => page.locator('.react-flow__edge-text').allTextContents()).toEqual(expect.arrayContaining(['Post telemetry', 'True']));

    // delete a node, undo brings it back with its link, redo removes it again
    await node(page, 'create alarm').click();
    await page.keyboard.press('Delete');
    await node(page, 'create alarm').waitFor({ state: 'detached' });
    await page.getByTestId('dirty').waitFor();
    await page.keyboard.press('Control+z');
    await node(page, 'create alarm').waitFor();
    expect(await page.locator('.react-flow__edge').count()).toBe(4);
    await page.getByTestId('dirty').waitFor({ state: 'detached' });
    await page.keyboard.press('Control+Shift+z');
    await node(page, 'create alarm').waitFor({ state: 'detached' });
    await page.keyboard.press('Control+z');
    // copy and paste a node: a second one, named apart
    await node(page, 'save time series').click();
    await page.keyboard.press('Control+c');
    await page.keyboard.press('Control+v');
    await node(page, 'save time series (2)').waitFor();
    await page.keyboard.press('Control+z');
    await node(page, 'save time series (2)').waitFor({ state: 'detached' });
    expect(problems()).toEqual([]);
    await context.close();
  });
});
