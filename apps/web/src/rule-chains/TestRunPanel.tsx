import { useState } from 'react';
import { Accordion, Alert, Badge, Button, Code, Group, Select, Stack, Text, Textarea } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { IconPlayerPlay } from '@tabler/icons-react';
import { api, ApiError, errorMessage } from '../api/client';
import type { Page, TestRunResultDto } from './chain-api';

const MSG_TYPES = ['POST_TELEMETRY_REQUEST', 'POST_ATTRIBUTES_REQUEST', 'ACTIVITY_EVENT', 'INACTIVITY_EVENT', 'CONNECT_EVENT', 'DISCONNECT_EVENT', 'TO_SERVER_RPC_REQUEST', 'ALARM'];

interface DeviceLite {
  id: { id: string };
  name: string;
}

function parseObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text || '{}');
  } catch (e) {
    throw new Error(`${what} is not JSON: ${errorMessage(e)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

/**
 * "Test run": a sample message through the chain as it is on the canvas (saved or not), on the server,
 * storing and sending nothing. The result goes to the editor (path highlight) and is listed here.
 */
export function TestRunPanel({
  buildChain,
  result,
  onResult,
  onRefused,
}: {
  buildChain: () => unknown;
  result: TestRunResultDto | null;
  onResult: (r: TestRunResultDto | null) => void;
  /** The server refused the chain (validation, a node that cannot start): its message, for the nodes it names. */
  onRefused: (message: string) => void;
}) {
  const [type, setType] = useState<string | null>('POST_TELEMETRY_REQUEST');
  const [deviceId, setDeviceId] = useState<string | null>(null);
  const [deviceSearch, setDeviceSearch] = useState('');
  const [search] = useDebouncedValue(deviceSearch, 250);
  const [metadata, setMetadata] = useState('{\n  "deviceName": "probe"\n}');
  const [payload, setPayload] = useState('{\n  "temperature": 42\n}');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const devices = useQuery({
    queryKey: ['devices', 'picker', search],
    queryFn: () => api<Page<DeviceLite>>('/api/tenant/devices', { query: { pageSize: 20, page: 0, textSearch: search } }),
  });

  async function run() {
    setError(null);
    setBusy(true);
    try {
      const meta = parseObject(metadata, 'Metadata');
      const data = parseObject(payload, 'Payload');
      const body = {
        chain: buildChain(),
        msg: {
          type: type ?? 'POST_TELEMETRY_REQUEST',
          data,
          metadata: Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
          ...(deviceId ? { originator: { entityType: 'DEVICE', id: deviceId } } : {}),
        },
      };
      onResult(await api<TestRunResultDto>('/api/ruleChain/testRun', { method: 'POST', body }));
    } catch (e) {
      setError(errorMessage(e));
      onResult(null);
      if (e instanceof ApiError && e.status === 400) onRefused(e.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Stack gap="xs" data-testid="test-run-panel">
      <Select label="Message type" data={MSG_TYPES} value={type} onChange={setType} searchable size="xs" allowDeselect={false} />
      <Select
        label="Originator device"
        placeholder="A fresh device id"
        size="xs"
        searchable
        clearable
        searchValue={deviceSearch}
        onSearchChange={setDeviceSearch}
        data={(devices.data?.data ?? []).map((d) => ({ value: d.id.id, label: d.name }))}
        value={deviceId}
        onChange={setDeviceId}
        nothingFoundMessage={devices.isPending ? 'Loading…' : 'No device'}
        data-testid="test-run-device"
      />
      <Textarea label="Metadata (JSON)" size="xs" autosize minRows={2} maxRows={6} value={metadata} onChange={(e) => setMetadata(e.currentTarget.value)} styles={{ input: { fontFamily: 'monospace' } }} />
      <Textarea label="Payload (JSON)" size="xs" autosize minRows={3} maxRows={10} value={payload} onChange={(e) => setPayload(e.currentTarget.value)} styles={{ input: { fontFamily: 'monospace' } }} data-testid="test-run-payload" />
      <Group justify="space-between">
        <Button size="xs" leftSection={<IconPlayerPlay size={14} />} loading={busy} onClick={() => void run()} data-testid="test-run-go">
          Run
        </Button>
        {result && (
          <Button size="xs" variant="subtle" color="gray" onClick={() => onResult(null)}>
            Clear highlight
          </Button>
        )}
      </Group>
      {error && (
        <Alert color="red" p="xs" data-testid="test-run-error">
          <Text size="xs">{error}</Text>
        </Alert>
      )}
      {result && <TestRunResult result={result} />}
    </Stack>
  );
}

function TestRunResult({ result }: { result: TestRunResultDto }) {
  return (
    <Stack gap={6} data-testid="test-run-result">
      <Group gap={6}>
        <Badge color={result.ok ? 'green' : 'red'} variant="light">
          {result.ok ? 'Processed' : 'Failed'}
        </Badge>
        {result.timedOut && <Badge color="orange">Timed out</Badge>}
        <Text size="xs" c="dimmed">
          {result.steps.length} steps · {result.writes.length} recorded writes
        </Text>
      </Group>
      {result.error && (
        <Text size="xs" c="red">
          {result.error}
        </Text>
      )}
      <Accordion variant="contained" multiple>
        {result.steps.map((s, i) => (
          <Accordion.Item key={i} value={String(i)} data-testid="test-run-step">
            <Accordion.Control>
              <Text size="xs">
                <b>{s.nodeName}</b> → {s.outputs.map((o) => o.relation).join(', ') || (s.error ? 'error' : 'done')} <Text span c="dimmed" size="xs">({s.durationMs.toFixed(1)} ms)</Text>
              </Text>
            </Accordion.Control>
            <Accordion.Panel>
              {s.error && (
                <Text size="xs" c="red">
                  {s.error}
                </Text>
              )}
              {s.outputs.map((o, j) => (
                <Stack key={j} gap={2} mb={4}>
                  <Text size="xs" fw={600}>
                    {o.relation}
                  </Text>
                  <Code block style={{ fontSize: 11, maxHeight: 180, overflow: 'auto' }}>
                    {JSON.stringify({ type: o.msg.type, data: o.msg.data, metadata: o.msg.metadata }, null, 2)}
                  </Code>
                </Stack>
              ))}
            </Accordion.Panel>
          </Accordion.Item>
        ))}
      </Accordion>
      {result.writes.length > 0 && (
        <>
          <Text size="xs" fw={600}>
            Recorded writes (nothing was stored or sent)
          </Text>
          <Code block style={{ fontSize: 11, maxHeight: 220, overflow: 'auto' }} data-testid="test-run-writes">
            {JSON.stringify(result.writes, null, 2)}
          </Code>
        </>
      )}
    </Stack>
  );
}
