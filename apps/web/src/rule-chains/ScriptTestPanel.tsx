import { useState } from 'react';
import { Alert, Badge, Button, Code, Group, Paper, Select, SimpleGrid, Stack, Text, Textarea } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { IconAlertTriangle, IconPlayerPlay } from '@tabler/icons-react';
import type { TestRunResultDto } from '@rivulet/api-types';
import { api, errorMessage } from '../api/client';
import { MSG_TYPES, type NodeTypeDescriptor } from './node-types';
import { DEFAULT_SAMPLE, scriptTestOutcome, scriptTestRequest, type ScriptSample } from './script-test';

/** "Test script": runs this node alone on a sample message through POST /api/ruleChain/testRun (nothing stored, nothing sent). */
export function ScriptTestPanel({ nodeType, configuration }: { nodeType: NodeTypeDescriptor; configuration: Record<string, unknown> }) {
  const [sample, setSample] = useState<ScriptSample>(DEFAULT_SAMPLE);
  const run = useMutation({
    mutationFn: async () => scriptTestOutcome(await api<TestRunResultDto>('/api/ruleChain/testRun', { method: 'POST', body: scriptTestRequest(nodeType, configuration, sample) })),
  });
  const outcome = run.data;
  return (
    <Paper withBorder p="sm" data-testid="script-test">
      <Stack gap="xs">
        <Text fw={600} size="sm">
          Test script
        </Text>
        <Select label="Message type" data={MSG_TYPES} value={sample.msgType} onChange={(v) => v && setSample({ ...sample, msgType: v })} searchable allowDeselect={false} size="xs" />
        <SimpleGrid cols={1} spacing="xs">
          {/* One column: the side panel is narrow whatever the window (side by side, JSON wraps every few characters). */}
          <Textarea label="Message data (JSON)" value={sample.data} onChange={(e) => setSample({ ...sample, data: e.currentTarget.value })} autosize minRows={3} maxRows={10} styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 12 } }} data-testid="script-test-data" />
          <Textarea label="Metadata (JSON)" value={sample.metadata} onChange={(e) => setSample({ ...sample, metadata: e.currentTarget.value })} autosize minRows={3} maxRows={10} styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 12 } }} data-testid="script-test-metadata" />
        </SimpleGrid>
        <Group>
          <Button size="xs" leftSection={<IconPlayerPlay size={14} />} loading={run.isPending} onClick={() => run.mutate()} data-testid="script-test-run">
            Test script
          </Button>
        </Group>
        {run.isError && (
          <Alert color="red" icon={<IconAlertTriangle />} title="Could not run the test" data-testid="script-test-error">
            {errorMessage(run.error)}
          </Alert>
        )}
        {outcome && !outcome.ok && (
          <Alert color="red" icon={<IconAlertTriangle />} title="The script failed" data-testid="script-test-error">
            <Code block>{outcome.error}</Code>
          </Alert>
        )}
        {outcome?.ok && (
          <Stack gap="xs" data-testid="script-test-output">
            {outcome.outputs.length === 0 && (
              <Text size="sm" c="dimmed">
                The node sent nothing on.
              </Text>
            )}
            {outcome.outputs.map((o, i) => (
              <Stack key={i} gap={4}>
                <Group gap="xs">
                  <Badge variant="light">{o.relation}</Badge>
                  <Text size="xs" c="dimmed">
                    {o.msgType}
                  </Text>
                </Group>
                <Code block>{JSON.stringify({ msg: o.data, metadata: o.metadata }, null, 2)}</Code>
              </Stack>
            ))}
            {outcome.writes.length > 0 && (
              <>
                <Text size="xs" fw={600}>
                  Would write (not stored)
                </Text>
                <Code block>{JSON.stringify(outcome.writes, null, 2)}</Code>
              </>
            )}
            {outcome.logs.length > 0 && <Code block>{outcome.logs.join('\n')}</Code>}
          </Stack>
        )}
      </Stack>
    </Paper>
  );
}
