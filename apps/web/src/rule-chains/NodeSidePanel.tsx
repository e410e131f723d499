import { lazy, Suspense, useState } from 'react';
import { Alert, Group, Loader, Select, Stack, Switch, Tabs, Text, TextInput } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { api, errorMessage } from '../api/client';
import type { ChainNode, NodeTypeDescriptor } from './chain-api';
import { NodeEventsPanel } from './NodeEventsPanel';

// The configuration form (rjsf, ajv, CodeMirror) is most of the editor's weight: its own chunk, fetched
// in the background as soon as the editor opens, so the canvas does not wait for it and the first
// node selected shows its form at once.
const loadNodeConfigPanel = () => import('./NodeConfigPanel').then((m) => ({ default: m.NodeConfigPanel }));
const NodeConfigPanel = lazy(loadNodeConfigPanel);
setTimeout(() => void loadNodeConfigPanel().catch(() => undefined), 0);

type DebugSettings = NonNullable<ChainNode['debugSettings']>;

/**
 * The selected node: its name, configuration (NodeConfigPanel), debug switch and debug events.
 * Debug and events address the node by its index in the saved chain, so they need it saved.
 */
export function NodeSidePanel({
  node,
  nodeType,
  errors,
  chainId,
  savedIndex,
  onRename,
  onConfigure,
  onDebug,
}: {
  node: ChainNode;
  nodeType: NodeTypeDescriptor | undefined;
  errors: { path: string; message: string }[];
  chainId: string;
  /** The node's index in the saved chain, or null when it is new or the chain has unsaved changes. */
  savedIndex: number | null;
  onRename: (name: string) => void;
  onConfigure: (configuration: Record<string, unknown>) => void;
  onDebug: (settings: DebugSettings) => void;
}) {
  const [minutes, setMinutes] = useState<string | null>('15');
  const [busy, setBusy] = useState(false);
  const until = node.debugSettings?.allEnabledUntil ?? 0;
  const debugOn = until > Date.now();

  async function switchDebug(enabled: boolean) {
    if (savedIndex === null) return;
    setBusy(true);
    try {
      const s = await api<DebugSettings>(`/api/ruleChain/${chainId}/node/${savedIndex}/debug`, { method: 'POST', body: { enabled, minutes: Number(minutes ?? 15) } });
      onDebug(s);
    } catch (e) {
      notifications.show({ color: 'red', title: 'Debug switch failed', message: errorMessage(e) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <Stack gap="sm" data-testid="node-panel">
      <TextInput label="Name" size="xs" value={node.name} onChange={(e) => onRename(e.currentTarget.value)} data-testid="node-name" />
      <Text size="xs" c="dimmed">
        {nodeType ? `${nodeType.name} · ${nodeType.category}` : node.type}
      </Text>
      {errors.length > 0 && (
        <Alert color="red" p="xs" data-testid="node-panel-errors">
          {errors.map((e, i) => (
            <Text key={i} size="xs">
              {e.path ? `${e.path}: ` : ''}
              {e.message}
            </Text>
          ))}
        </Alert>
      )}
      <Tabs defaultValue="config" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="config">Configuration</Tabs.Tab>
          <Tabs.Tab value="debug" data-testid="tab-debug">
            Debug
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="config" pt="xs">
          {nodeType ? (
            <Suspense fallback={<Loader size="sm" data-testid="node-config-loading" />}>
              <NodeConfigPanel key={node.id?.id} nodeType={nodeType} configuration={(node.configuration ?? {}) as Record<string, unknown>} onChange={onConfigure} errors={errors} />
            </Suspense>
          ) : (
            <Text size="xs" c="red">
              Rivulet does not implement the node type {node.type}.
            </Text>
          )}
        </Tabs.Panel>
        <Tabs.Panel value="debug" pt="xs">
          {savedIndex === null ? (
            <Text size="xs" c="dimmed">
              Save the chain to switch debug on and see this node's events.
            </Text>
          ) : (
            <Stack gap="xs">
              <Group gap="xs" align="flex-end">
                <Switch label="Record all messages" checked={debugOn} disabled={busy} onChange={(e) => void switchDebug(e.currentTarget.checked)} data-testid="debug-switch" />
                <Select size="xs" w={110} data={['5', '15', '60', '240', '1440']} value={minutes} onChange={setMinutes} aria-label="Debug minutes" rightSection={<Text size="xs">min</Text>} />
              </Group>
              <Text size="xs" c="dimmed">
                {debugOn ? `Until ${new Date(until).toLocaleTimeString()}; failures are always recorded.` : 'Failures are always recorded.'}
              </Text>
              <NodeEventsPanel ruleChainId={chainId} nodeIndex={savedIndex} />
            </Stack>
          )}
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
