import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import type { TestBrowser } from '@rivulet/testing';
import { adminApi, launchBrowser, screenshot, signedInPage, startWebServer, type WebServer } from './harness';

type Api = Awaited<ReturnType<typeof adminApi>>;
interface Meta {
  version: number;
  firstNodeIndex: number | null;
  nodes: { name: string; type: string; configuration: Record<string, unknown>; additionalInfo?: { layoutX?: number; layoutY?: number }; debugSettings?: { allEnabledUntil: number } }[];
  connections: { fromIndex: number; toIndex: number; type: string }[];
}

const execFileP = promisify(execFile);
const TB = 'org.thingsboard.rule.engine';
/** ThingsBoard's own default root rule chain export. */
const TB_ROOT_CHAIN = readFileSync(join(import.meta.dirname, '../../server/src/fixtures/thingsboard-root-rule-chain.json'), 'utf8');

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

/** Types into a field of the node configuration form (rjsf ids: root_<key>). A click first: the form counts only a person's edit. */
async function setField(page: Page, key: string, value: string): Promise<void> {
  const input = page.locator(`#root_${key}`);
  await input.click();
  await input.fill(value);
}

/** Picks a choice of a select in the node configuration form. */
async function pickField(page: Page, key: string, option: string): Promise<void> {
  await page.locator(`#root_${key}`).click();
  await page.getByTestId('node-config-panel').getByRole('option', { name: option, exact: true }).click();
}

/** Configures the selected threshold node as `key operator value` through its form. */
async function configureThreshold(page: Page, key: string, operator: string, value: string): Promise<void> {
  await setField(page, 'key', key);
  await pickField(page, 'operator', operator);
  await setField(page, 'value', value);
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
describe('rule chains in the web app', { timeout: 60_000 }, () => {
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
        // rename
        await page.locator('[data-testid="chain-row"][data-name="Zone 1 alarms"] [data-testid="chain-actions"]').click();
        await page.getByRole('menuitem', { name: 'Rename' }).click();
        await page.getByTestId('chain-name-input').fill('Zone 1 (north) alarms');
        await page.getByTestId('chain-name-save').click();
        await page.locator('[data-testid="chain-row"][data-name="Zone 1 (north) alarms"]').waitFor();
        // another one can be deleted
        await page.locator('[data-testid="chain-row"][data-name="Zone 3 alarms"] [data-testid="chain-actions"]').click();
        await page.getByRole('menuitem', { name: 'Delete' }).click();
        await page.getByTestId('confirm-delete').click();
        await expect.poll(() => page.getByTestId('chain-row').count()).toBe(3);
        // export: ThingsBoard's export JSON, downloaded
        await page.locator('[data-testid="chain-row"][data-name="Root Rule Chain"] [data-testid="chain-actions"]').click();
        const download = page.waitForEvent('download');
        await page.getByRole('menuitem', { name: 'Export JSON' }).click();
        const file = await download;
        expect(file.suggestedFilename()).toBe('Root_Rule_Chain.json');
        const exported = JSON.parse(readFileSync((await file.path())!, 'utf8')) as { ruleChain: { name: string }; metadata: Meta };
        expect(exported.ruleChain.name).toBe('Root Rule Chain');
        expect(exported.metadata.nodes.length).toBeGreaterThan(0);
        // paging: ten a page
        for (let i = 1; i <= 9; i++) await rest('/api/ruleChain', { method: 'POST', body: { name: `Line ${i} chain` } });
        await page.reload();
        await expect.poll(() => page.getByTestId('chain-row').count()).toBe(10);
        await page.getByText('12 rule chains').waitFor();
        await page.getByRole('button', { name: '2', exact: true }).click();
        await expect.poll(() => page.getByTestId('chain-row').count()).toBe(2);
      }
      // The refused DELETE is the browser's own network log line, not the app's.
      expect(problems([/status of 400/])).toEqual([]);
      await context.close();
    }
  });

  it('builds a chain by dragging nodes from the palette and linking them; configures one; saves; a reload shows the same; undo restores a deleted node', async () => {
    const { page, context, problems } = await signedInPage(browser, server, { path: '/rule-chains' });
    const id = await createChain(page, 'Hot readings');
    // the palette's search
    await page.getByLabel('Search node types').fill('thresh');
    await expect.poll(() => page.getByTestId('palette-item').count()).toBe(1);
    await page.getByLabel('Search node types').fill('');
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
    await configureThreshold(page, 'temperature', '>=', '35');
    await page.getByTestId('dirty').waitFor();
    await page.locator('.react-flow__controls-fitview').click();
    await page.getByTestId('palette').locator('.mantine-ScrollArea-viewport').evaluate((el) => el.scrollTo(0, 0));
    await screenshot(page, 'rule-chain-editor-light');
    await page.getByTestId('save-chain').click();
    await page.getByTestId('dirty').waitFor({ state: 'detached' });

    const saved = await rest<Meta>(`/api/ruleChain/${id}/metadata`);
    const names = saved.nodes.map((n) => n.name);
    expect(names).toEqual(['message type switch', 'Too hot', 'save time series', 'create alarm']);
    expect(saved.firstNodeIndex).toBe(0);
    expect(saved.nodes[1]!.configuration).toMatchObject({ key: 'temperature', operator: '>=', value: 35 });
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
    await expect.poll(() => page.locator('.react-flow__edge').count()).toBe(4); // three links and the input's
    await expect.poll(() => page.locator('.react-flow__edge-text').allTextContents()).toEqual(expect.arrayContaining(['Post telemetry', 'True']));

    // delete a node, undo brings it back with its link, redo removes it again
    await node(page, 'create alarm').click();
    await page.keyboard.press('Delete');
    await node(page, 'create alarm').waitFor({ state: 'detached' });
    await page.getByTestId('dirty').waitFor();
    await page.keyboard.press('Control+z');
    await node(page, 'create alarm').waitFor();
    await expect.poll(() => page.locator('.react-flow__edge').count()).toBe(4);
    await page.getByTestId('dirty').waitFor({ state: 'detached' });
    await page.keyboard.press('Control+Shift+z');
    await node(page, 'create alarm').waitFor({ state: 'detached' });
    await page.keyboard.press('Control+z');
    // a link: double-click to change its relations, select and delete it, undo
    const label = async (text: string) => {
      const b = (await page.locator('.react-flow__edge', { hasText: text }).locator('.react-flow__edge-textbg').boundingBox())!;
      return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
    };
    let at = await label('True');
    await page.mouse.dblclick(at.x, at.y);
    await page.getByTestId('relation-options').getByText('False', { exact: true }).click();
    await page.getByTestId('relation-confirm').click();
    await page.locator('.react-flow__edge-text', { hasText: 'True / False' }).waitFor();
    at = await label('True / False');
    await page.mouse.click(at.x, at.y);
    await page.keyboard.press('Delete');
    await expect.poll(() => page.locator('.react-flow__edge').count()).toBe(3);
    await page.keyboard.press('Control+z');
    await page.keyboard.press('Control+z');
    await expect.poll(() => page.locator('.react-flow__edge-text').allTextContents()).toContain('True');
    await page.getByTestId('dirty').waitFor({ state: 'detached' });
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

  it('a save the server refuses keeps the editor state and shows the validation error on the node and in its panel', async () => {
    const chain = await rest<{ id: { id: string } }>('/api/ruleChain/import', {
      method: 'POST',
      body: {
        ruleChain: { name: 'Refused save', type: 'CORE' },
        metadata: { firstNodeIndex: 0, nodes: [{ type: 'rivulet.filter.threshold', name: 'Limit', configuration: { key: 'temperature', operator: '>', value: 30 } }], connections: [] },
      },
    });
    const { page, context, problems } = await signedInPage(browser, server, { path: `/rule-chains/${chain.id.id}` });
    await node(page, 'Limit').click();
    await setField(page, 'value', 'hot');
    await page.getByTestId('save-chain').click();
    await node(page, 'Limit').getByTestId('node-error').waitFor();
    expect(await node(page, 'Limit').getByTestId('node-error').textContent()).toBe('value: operators other than == and != need a number');
    expect(await page.getByTestId('node-panel-errors').textContent()).toContain('value: operators other than == and != need a number');
    expect(await node(page, 'Limit').getAttribute('data-invalid')).toBe('true');
    expect(await page.getByTestId('save-error').textContent()).toContain('Invalid configuration of node 0 "Limit": value: operators other than == and != need a number');
    // nothing lost: still dirty, the configuration as typed; nothing stored
    await page.getByTestId('dirty').waitFor();
    expect(await page.locator('#root_value').inputValue()).toBe('hot');
    expect((await rest<Meta>(`/api/ruleChain/${chain.id.id}/metadata`)).nodes[0]!.configuration).toMatchObject({ value: 30 });
    // leaving with unsaved changes asks first (router blocker); staying keeps everything
    await page.getByRole('link', { name: 'Back to rule chains' }).click();
    await page.getByTestId('leave-stay').click();
    expect(new URL(page.url()).pathname).toBe(`/rule-chains/${chain.id.id}`);
    await page.getByTestId('dirty').waitFor();
    // fixed: saved, the error goes
    await setField(page, 'value', '40');
    await page.getByTestId('save-chain').click();
    await page.getByTestId('dirty').waitFor({ state: 'detached' });
    expect(await node(page, 'Limit').getAttribute('data-invalid')).toBe('false');
    expect(await page.getByTestId('save-error').count()).toBe(0);
    expect((await rest<Meta>(`/api/ruleChain/${chain.id.id}/metadata`)).nodes[0]!.configuration).toMatchObject({ value: 40 });
    expect(problems([/status of 400/])).toEqual([]);
    await context.close();
  });

  it('imports a ThingsBoard export without positions: laid out in layers; an export with unknown node types is refused naming each node', async () => {
    const { page, context, problems } = await signedInPage(browser, server, { path: '/rule-chains' });
    await page.getByTestId('import-chain').waitFor();
    const bad = tbExportWithoutPositions('Bad import');
    bad.metadata.nodes.push(
      { type: `${TB}.edge.TbMsgPushToEdgeNode`, name: 'Push to edge', debugMode: false, configuration: {} } as never,
      { type: `${TB}.geo.TbGpsGeofencingFilterNode`, name: 'Geofence', debugMode: false, configuration: {} } as never,
    );
    await page.locator('input[type="file"]').setInputFiles({ name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(bad)) });
    await page.getByTestId('import-error').waitFor();
    const perNode = await page.getByTestId('import-node-error').allTextContents();
    expect(perNode).toHaveLength(2);
    expect(perNode[0]).toContain('Node 4 “Push to edge”');
    expect(perNode[0]).toContain('unknown node type org.thingsboard.rule.engine.edge.TbMsgPushToEdgeNode');
    expect(perNode[1]).toContain('Node 5 “Geofence”');
    expect((await rest<{ data: { name: string }[] }>('/api/ruleChains?pageSize=100&page=0')).data.map((c) => c.name)).not.toContain('Bad import');

    await page.locator('input[type="file"]').setInputFiles({ name: 'tb.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(tbExportWithoutPositions('From ThingsBoard'))) });
    await page.waitForURL(/\/rule-chains\/[0-9a-f-]{36}$/);
    await node(page, 'Log Other').waitFor();
    // Laid out: the switch in one column, the three it feeds in the next, stacked without overlap.
    const box = async (name: string) => (await node(page, name).boundingBox())!;
    const sw = await box('Message Type Switch');
    const targets = [await box('Save Timeseries'), await box('Save Client Attributes'), await box('Log Other')];
    for (const t of targets) {
      expect(t.x).toBeGreaterThan(sw.x + sw.width);
      expect(Math.abs(t.x - targets[0]!.x)).toBeLessThan(1);
    }
    const ys = targets.map((t) => t.y).sort((a, b) => a - b);
    expect(ys[1]! - ys[0]!).toBeGreaterThanOrEqual(targets[0]!.height);
    expect(ys[2]! - ys[1]!).toBeGreaterThanOrEqual(targets[0]!.height);
    // Nothing changed, so nothing to save until it is; saving stores the positions.
    await page.getByTestId('auto-layout').click();
    expect(problems([/status of 400/])).toEqual([]);
    await context.close();
  });

  it("imports ThingsBoard's own default root chain from a file and saves it unchanged from the editor", async () => {
    const original = JSON.parse(TB_ROOT_CHAIN) as { ruleChain: { name: string }; metadata: Meta };
    const { page, context, problems } = await signedInPage(browser, server, { path: '/rule-chains' });
    await page.getByTestId('import-chain').waitFor();
    await page.locator('input[type="file"]').setInputFiles({ name: 'root_rule_chain.json', mimeType: 'application/json', buffer: Buffer.from(TB_ROOT_CHAIN) });
    await page.waitForURL(/\/rule-chains\/[0-9a-f-]{36}$/);
    const id = new URL(page.url()).pathname.split('/').pop()!;
    await expect.poll(() => page.getByTestId('rule-node').count()).toBe(original.metadata.nodes.length);
    // a move, so there is something to save; everything else goes back as it came
    const box = (await node(page, 'Log Other').boundingBox())!;
    await page.mouse.move(box.x + 60, box.y + 10);
    await page.mouse.down();
    await page.mouse.move(box.x + 60, box.y + 70, { steps: 5 });
    await page.mouse.up();
    await page.getByTestId('dirty').waitFor();
    await page.getByTestId('save-chain').click();
    await page.getByTestId('dirty').waitFor({ state: 'detached' });
    const exported = await rest<{ metadata: Meta }>(`/api/ruleChain/${id}/export`);
    const strip = (m: Meta) => ({
      firstNodeIndex: m.firstNodeIndex,
      connections: m.connections,
      nodes: m.nodes.map(({ additionalInfo, ...n }) => ({ ...n, additionalInfo: { ...additionalInfo, layoutX: undefined, layoutY: undefined } })),
    });
    expect(strip(exported.metadata)).toEqual(strip(original.metadata));
    const moved = exported.metadata.nodes.find((n) => n.name === 'Log Other')!;
    const before = original.metadata.nodes.find((n) => n.name === 'Log Other')!;
    expect(moved.additionalInfo!.layoutY).toBeGreaterThan(before.additionalInfo!.layoutY!);
    expect(problems()).toEqual([]);
    await context.close();
  });

  it('opens and saves a chain of 200 nodes (timed in Chromium)', async () => {
    const nodes = Array.from({ length: 200 }, (_, i) => ({ type: 'rivulet.action.log', name: `Log ${i}`, configuration: {}, additionalInfo: { layoutX: 100 + (i % 20) * 260, layoutY: 60 + Math.floor(i / 20) * 100 } }));
    const connections = Array.from({ length: 199 }, (_, i) => ({ fromIndex: i, toIndex: i + 1, type: 'Success' }));
    const chain = await rest<{ id: { id: string } }>('/api/ruleChain/import', { method: 'POST', body: { ruleChain: { name: 'Two hundred', type: 'CORE' }, metadata: { firstNodeIndex: 0, nodes, connections } } });
    const { page, context, problems } = await signedInPage(browser, server, { path: '/rule-chains' });
    const t0 = Date.now();
    await page.goto(`/rule-chains/${chain.id.id}`);
    await expect.poll(() => page.getByTestId('rule-node').count(), { interval: 50 }).toBe(200);
    await page.locator('.react-flow__edge').nth(199).waitFor({ state: 'attached' });
    const openMs = Date.now() - t0;
    await node(page, 'Log 0').click();
    await page.getByTestId('node-name').fill('Log first');
    const t1 = Date.now();
    await page.getByTestId('save-chain').click();
    await page.getByTestId('dirty').waitFor({ state: 'detached' });
    const saveMs = Date.now() - t1;
    console.log(`200-node chain: open ${openMs} ms (navigation to 200 nodes and 200 links drawn), save ${saveMs} ms (click to saved)`);
    expect((await rest<Meta>(`/api/ruleChain/${chain.id.id}/metadata`)).nodes[0]!.name).toBe('Log first');
    expect(openMs).toBeLessThan(10_000);
    expect(saveMs).toBeLessThan(5_000);
    expect(problems()).toEqual([]);
    await context.close();
  });

  it('tells the later of two tabs saving the same chain that it changed, and lets it reload or overwrite', async () => {
    const chain = await rest<{ id: { id: string } }>('/api/ruleChain/import', { method: 'POST', body: tbExportWithoutPositions('Shared chain') });
    const id = chain.id.id;
    const a = await signedInPage(browser, server, { path: `/rule-chains/${id}` });
    const b = await signedInPage(browser, server, { path: `/rule-chains/${id}` });
    for (const tab of [a, b]) await node(tab.page, 'Log Other').waitFor();
    // tab A renames a node and saves
    await node(a.page, 'Log Other').click();
    await a.page.getByTestId('node-name').fill('Log (tab A)');
    await a.page.getByTestId('save-chain').click();
    await a.page.getByTestId('dirty').waitFor({ state: 'detached' });
    // tab B, still on the old version, deletes a node and saves: told, nothing overwritten
    await node(b.page, 'Save Client Attributes').click();
    await b.page.keyboard.press('Delete');
    await b.page.getByTestId('save-chain').click();
    await b.page.getByTestId('conflict-message').waitFor();
    expect(await b.page.getByTestId('conflict-message').textContent()).toContain('This chain was changed elsewhere: reload');
    let meta = await rest<Meta>(`/api/ruleChain/${id}/metadata`);
    expect(meta.nodes.map((n) => n.name)).toEqual(['Message Type Switch', 'Save Timeseries', 'Save Client Attributes', 'Log (tab A)']);
    // the editor kept B's change
    expect(await node(b.page, 'Save Client Attributes').count()).toBe(0);
    await b.page.getByTestId('dirty').waitFor();
    // Overwrite: B's chain replaces A's, knowingly
    await b.page.getByTestId('conflict-overwrite').click();
    await b.page.getByTestId('dirty').waitFor({ state: 'detached' });
    meta = await rest<Meta>(`/api/ruleChain/${id}/metadata`);
    expect(meta.nodes.map((n) => n.name)).toEqual(['Message Type Switch', 'Save Timeseries', 'Log Other']);
    // A is now the stale one; it reloads and sees B's chain
    await node(a.page, 'Save Timeseries').click();
    await a.page.getByTestId('node-name').fill('Save (tab A)');
    await a.page.getByTestId('save-chain').click();
    await a.page.getByTestId('conflict-reload').click();
    await node(a.page, 'Log Other').waitFor();
    expect(await a.page.getByTestId('rule-node').count()).toBe(3);
    expect(await a.page.getByTestId('dirty').count()).toBe(0);
    // The refused saves are the browser's own 409 log lines.
    for (const tab of [a, b]) {
      expect(tab.problems([/status of 409/])).toEqual([]);
      await tab.context.close();
    }
  });

  it('test-runs a sample message: highlights the path taken and shows each node output and the recorded writes; shows the editor in dark', async () => {
    const device = await rest<{ id: { id: string } }>('/api/device', { method: 'POST', body: { name: 'Boiler probe', type: 'thermometer' } });
    const chain = await rest<{ id: { id: string } }>('/api/ruleChain/import', {
      method: 'POST',
      body: {
        ruleChain: { name: 'Boiler alarms', type: 'CORE', root: false, debugMode: false, configuration: null, additionalInfo: null },
        metadata: {
          firstNodeIndex: 0,
          nodes: [
            { type: 'rivulet.filter.msgTypeSwitch', name: 'Type', configuration: {}, additionalInfo: { layoutX: 100, layoutY: 150 } },
            { type: 'rivulet.filter.threshold', name: 'Over 30', configuration: { key: 'temperature', operator: '>', value: 30 }, additionalInfo: { layoutX: 380, layoutY: 60 } },
            { type: 'rivulet.action.saveTimeseries', name: 'Save', configuration: {}, additionalInfo: { layoutX: 380, layoutY: 260 } },
            { type: 'rivulet.action.createAlarm', name: 'Overheat alarm', configuration: { alarmType: 'Overheat' }, additionalInfo: { layoutX: 660, layoutY: 20 } },
            { type: 'rivulet.action.log', name: 'Normal', configuration: {}, additionalInfo: { layoutX: 660, layoutY: 140 } },
          ],
          connections: [
            { fromIndex: 0, toIndex: 1, type: 'Post telemetry' },
            { fromIndex: 0, toIndex: 2, type: 'Post telemetry' },
            { fromIndex: 1, toIndex: 3, type: 'True' },
            { fromIndex: 1, toIndex: 4, type: 'False' },
          ],
        },
      },
    });
    const { page, context, problems } = await signedInPage(browser, server, { path: `/rule-chains/${chain.id.id}` });
    await node(page, 'Normal').waitFor();
    await page.getByTestId('open-test-run').click();
    await page.getByTestId('test-run-device').click();
    await page.getByRole('option', { name: 'Boiler probe' }).click();
    await page.getByTestId('test-run-payload').fill('{"temperature": 42}');
    await page.getByTestId('test-run-go').click();
    await page.getByTestId('test-run-result').waitFor();
    const visited = async (name: string) => node(page, name).getAttribute('data-visited');
    expect(await visited('Type')).toBe('true');
    expect(await visited('Over 30')).toBe('true');
    expect(await visited('Overheat alarm')).toBe('true');
    expect(await visited('Save')).toBe('true');
    expect(await visited('Normal')).toBe('false');
    const writes = JSON.parse((await page.getByTestId('test-run-writes').textContent()) ?? '[]') as { kind: string; alarm?: { type: string } }[];
    expect(writes.map((w) => w.kind).sort()).toEqual(['alarm', 'timeseries']);
    expect(writes.find((w) => w.kind === 'alarm')?.alarm?.type).toBe('Overheat');
    expect(await page.getByTestId('test-run-step').count()).toBe(4);
    await page.getByTestId('test-run-step').nth(1).locator('button').click();
    await page.getByText('"temperature": 42').first().waitFor();
    await screenshot(page, 'rule-chain-test-run-light');
    // nothing was stored: the device has no time series and no alarm
    expect(await rest(`/api/plugins/telemetry/DEVICE/${device.id.id}/values/timeseries?keys=temperature`)).toEqual({});
    expect((await rest<{ data: unknown[] }>(`/api/alarm/DEVICE/${device.id.id}?pageSize=10&page=0`)).data).toEqual([]);
    expect(problems()).toEqual([]);
    await context.close();

    const dark = await signedInPage(browser, server, { colorScheme: 'dark', path: `/rule-chains/${chain.id.id}` });
    await node(dark.page, 'Normal').click();
    await screenshot(dark.page, 'rule-chain-editor-dark');
    expect(dark.problems()).toEqual([]);
    await dark.context.close();
  });

  it('a script node: its code in a highlighted editor under the function signature, edited by typing, tested on a sample message through the server', async () => {
    const chain = await rest<{ id: { id: string } }>('/api/ruleChain/import', {
      method: 'POST',
      body: {
        ruleChain: { name: 'Script check', type: 'CORE' },
        metadata: { firstNodeIndex: 0, nodes: [{ type: 'rivulet.filter.script', name: 'Hot?', configuration: { jsScript: 'return msg.temperature > 30;' } }], connections: [] },
      },
    });
    const { page, context, problems } = await signedInPage(browser, server, { path: `/rule-chains/${chain.id.id}` });
    await node(page, 'Hot?').click();
    const editor = page.locator('.cm-content');
    await editor.waitFor();
    expect(await page.getByTestId('script-signature').textContent()).toBe('function Filter(msg, metadata, msgType) {');
    expect(await editor.textContent()).toBe('return msg.temperature > 30;');
    // highlighted: the keyword and the number are their own tokens
    expect(await editor.locator('span').count()).toBeGreaterThan(1);
    // typed into the editor: the node's configuration follows, the chain is dirty
    await editor.click();
    await page.keyboard.press('End');
    for (let i = 0; i < '30;'.length; i++) await page.keyboard.press('Backspace');
    await page.keyboard.type('50;');
    await page.getByTestId('dirty').waitFor();
    // the test runs what is in the editor, unsaved: 42 is not over 50
    await page.getByTestId('script-test-data').fill('{"temperature": 42}');
    await page.getByTestId('script-test-run').click();
    await page.getByTestId('script-test-output').waitFor();
    expect(await page.getByTestId('script-test-output').textContent()).toContain('False');
    await page.locator('.react-flow__controls-fitview').click();
    await page.getByTestId('script-signature').scrollIntoViewIfNeeded();
    await screenshot(page, 'rule-chain-script-node-light');
    await page.getByTestId('save-chain').click();
    await page.getByTestId('dirty').waitFor({ state: 'detached' });
    expect((await rest<Meta>(`/api/ruleChain/${chain.id.id}/metadata`)).nodes[0]!.configuration).toMatchObject({ jsScript: 'return msg.temperature > 50;' });
    expect(problems()).toEqual([]);
    await context.close();
  });

  it('a script node with a syntax error shows the error on the node when a test run is refused', async () => {
    const chain = await rest<{ id: { id: string } }>('/api/ruleChain/import', {
      method: 'POST',
      body: {
        ruleChain: { name: 'Broken script', type: 'CORE' },
        metadata: { firstNodeIndex: 0, nodes: [{ type: 'rivulet.filter.script', name: 'Broken filter', configuration: { jsScript: 'return msg.temperature >;' } }], connections: [] },
      },
    });
    const { page, context, problems } = await signedInPage(browser, server, { path: `/rule-chains/${chain.id.id}` });
    await page.getByTestId('open-test-run').click();
    await page.getByTestId('test-run-go').click();
    await page.getByTestId('test-run-error').waitFor();
    expect(await page.getByTestId('test-run-error').textContent()).toContain('failed to start: node 0 "Broken filter": jsScript: SyntaxError');
    await node(page, 'Broken filter').getByTestId('node-error').waitFor();
    expect(await node(page, 'Broken filter').getByTestId('node-error').textContent()).toMatch(/^jsScript: SyntaxError: unexpected token in expression: ';'/);
    expect(await node(page, 'Broken filter').getAttribute('data-invalid')).toBe('true');
    // the refused run is the browser's own 400 log line
    expect(problems([/status of 400/])).toEqual([]);
    await context.close();
  });


  it('the whole loop: a chain built from the palette (message type switch -> threshold "temperature > 30" -> create alarm; save time series) set as root; a hot reading from mosquitto_pub raises an alarm that appears on the open alarms page, then is acknowledged and cleared there', async () => {
    const device = await rest<{ id: { id: string } }>('/api/device', { method: 'POST', body: { name: 'Greenhouse sensor', type: 'default' } });
    const creds = await rest<{ credentialsId: string }>(`/api/device/${device.id.id}/credentials`);
    const { page, context, problems } = await signedInPage(browser, server, { path: '/rule-chains' });
    const id = await createChain(page, 'Greenhouse root');
    await dropNode(page, 'rivulet.filter.msgTypeSwitch', 20, 150);
    await dropNode(page, 'rivulet.filter.threshold', 250, 60);
    await dropNode(page, 'rivulet.action.saveTimeseries', 250, 260);
    await dropNode(page, 'rivulet.action.createAlarm', 480, 150);
    await link(page, 'message type switch', 'threshold', ['Post telemetry']);
    await link(page, 'message type switch', 'save time series', ['Post telemetry']);
    await link(page, 'threshold', 'create alarm', ['True']);
    await node(page, 'threshold').click();
    await configureThreshold(page, 'temperature', '>', '30');
    await page.locator('.react-flow__controls-fitview').click();
    await page.getByTestId('palette').locator('.mantine-ScrollArea-viewport').evaluate((el) => el.scrollTo(0, 0));
    await screenshot(page, 'rule-chain-node-config-light');
    await node(page, 'create alarm').click();
    await setField(page, 'alarmType', 'Greenhouse overheat');
    await page.getByTestId('save-chain').click();
    await page.getByTestId('dirty').waitFor({ state: 'detached' });
    const saved = await rest<Meta>(`/api/ruleChain/${id}/metadata`);
    expect(saved.nodes.find((n) => n.name === 'threshold')!.configuration).toMatchObject({ key: 'temperature', operator: '>', value: 30 });
    expect(saved.nodes.find((n) => n.name === 'create alarm')!.configuration).toMatchObject({ alarmType: 'Greenhouse overheat' });
    // make it root from the list
    await page.getByRole('link', { name: 'Back to rule chains' }).click();
    await page.locator('[data-testid="chain-row"][data-name="Greenhouse root"] [data-testid="chain-actions"]').click();
    await page.getByRole('menuitem', { name: 'Make root' }).click();
    await page.locator('[data-testid="chain-row"][data-name="Greenhouse root"] [data-testid="root-badge"]').waitFor();

    // the alarms page is open before the device speaks
    await page.getByRole('link', { name: 'Alarms', exact: true }).click();
    await page.getByText('No alarms', { exact: true }).waitFor();
    const publish = (payload: object) =>
      execFileP('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(server.mqttPort), '-u', creds.credentialsId, '-t', 'v1/devices/me/telemetry', '-q', '1', '-m', JSON.stringify(payload)]);
    await publish({ temperature: 24.5, humidity: 71.5 });
    await expect
      .poll(async () => (await rest<Record<string, { value: unknown }[]>>(`/api/plugins/telemetry/DEVICE/${device.id.id}/values/timeseries?keys=humidity`)).humidity?.[0]?.value, { timeout: 10_000 })
      .toEqual(expect.anything());
    await publish({ temperature: 36.2 });
    const row = page.getByTestId('alarm-row');
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
    expect(await row.textContent()).toContain('Greenhouse overheat');
    expect(await row.textContent()).toContain('Greenhouse sensor');
    await row.getByTestId('row-ack').click();
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 10_000 }).toBe('ACTIVE_ACK');
    await row.getByTestId('row-clear').click();
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 10_000 }).toBe('CLEARED_ACK');
    const alarms = await rest<{ data: { type: string; status: string; details?: unknown }[] }>(`/api/alarm/DEVICE/${device.id.id}?pageSize=10&page=0`);
    expect(alarms.data.map((a) => [a.type, a.status])).toEqual([['Greenhouse overheat', 'CLEARED_ACK']]);
    const stored = await rest<Record<string, { value: unknown }[]>>(`/api/plugins/telemetry/DEVICE/${device.id.id}/values/timeseries?keys=humidity,temperature`);
    expect(Number(stored.humidity![0]!.value)).toBe(71.5);
    expect(Number(stored.temperature![0]!.value)).toBe(36.2);
    // the editor shows the root chain's per-node counters
    await page.goto(`/rule-chains/${id}`);
    await expect.poll(() => node(page, 'save time series').getByTestId('node-stats').textContent(), { timeout: 10_000 }).toContain('in 2');
    // debug switch: on for the chosen minutes, shown on the node, applied without changing the chain's version
    const before = await rest<Meta>(`/api/ruleChain/${id}/metadata`);
    await node(page, 'save time series').click();
    await page.getByTestId('tab-debug').click();
    await page.getByTestId('debug-switch').click();
    await node(page, 'save time series').getByTestId('debug-on').waitFor();
    const after = await rest<Meta>(`/api/ruleChain/${id}/metadata`);
    expect(after.nodes.find((n) => n.name === 'save time series')!.debugSettings!.allEnabledUntil).toBeGreaterThan(Date.now() + 14 * 60_000);
    expect(after.version).toBe(before.version);
    expect(await page.getByTestId('dirty').count()).toBe(0);
    expect(problems()).toEqual([]);
    await context.close();
  });
});
