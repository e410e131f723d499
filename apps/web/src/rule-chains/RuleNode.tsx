import { memo } from 'react';
import { Handle, Position, type Node, type NodeProps } from '@xyflow/react';
import { Badge, Group, Paper, Text, Tooltip } from '@mantine/core';
import { IconBug, IconLogin2 } from '@tabler/icons-react';
import type { NodeStatsDto } from './chain-api';

export const CATEGORY_COLORS: Record<string, string> = {
  filter: 'yellow',
  enrichment: 'lime',
  transformation: 'cyan',
  action: 'red',
  external: 'grape',
  flow: 'indigo',
  sampling: 'orange',
};

export interface RuleNodeData extends Record<string, unknown> {
  name: string;
  typeName: string;
  category: string;
  /** Validation errors of this node from the last refused save. */
  errors: string[];
  stats: NodeStatsDto | null;
  debugUntil: number;
  /** On the last test run's path; with its error, when it failed there. */
  visited: boolean;
  runError: string | null;
}
export type RuleFlowNode = Node<RuleNodeData, 'rule'>;
export type InputFlowNode = Node<Record<string, never>, 'chainInput'>;

function statsLine(s: NodeStatsDto): string {
  const out = Object.values(s.out).reduce((a, b) => a + b, 0);
  // A node disabled by script strikes says so (and until when) where its counters are.
  const disabled = s.disabledUntil > Date.now() ? ` · disabled until ${new Date(s.disabledUntil).toLocaleTimeString()}` : '';
  return `in ${s.in} · out ${out}${disabled}`;
}

export const RuleNodeView = memo(function RuleNodeView({ data, selected }: NodeProps<RuleFlowNode>) {
  const color = CATEGORY_COLORS[data.category] ?? 'gray';
  const border = data.errors.length > 0 || data.runError ? 'var(--mantine-color-red-6)' : data.visited ? 'var(--mantine-color-green-6)' : selected ? 'var(--mantine-color-blue-6)' : 'var(--mantine-color-default-border)';
  return (
    <Paper
      shadow={selected ? 'md' : 'xs'}
      radius="sm"
      px="sm"
      py={6}
      w={200}
      data-testid="rule-node"
      data-name={data.name}
      data-visited={data.visited ? 'true' : 'false'}
      data-invalid={data.errors.length > 0 ? 'true' : 'false'}
      style={{ borderLeft: `5px solid var(--mantine-color-${color}-6)`, outline: `${data.visited || data.errors.length > 0 || selected ? 2 : 1}px solid ${border}` }}
    >
      <Handle type="target" position={Position.Left} />
      <Group gap={4} wrap="nowrap" justify="space-between">
        <Text size="sm" fw={600} truncate="end" title={data.name}>
          {data.name}
        </Text>
        {data.debugUntil > Date.now() && (
          <Tooltip label={`Debug on until ${new Date(data.debugUntil).toLocaleTimeString()}`}>
            <IconBug size={14} color="var(--mantine-color-orange-6)" data-testid="debug-on" />
          </Tooltip>
        )}
      </Group>
      <Text size="xs" c="dimmed" truncate="end">
        {data.typeName.toLowerCase() === data.name.toLowerCase() ? data.category : `${data.typeName} · ${data.category}`}
      </Text>
      {data.stats && (
        <Group gap={4} mt={2} wrap="nowrap">
          <Text size="xs" c="dimmed" data-testid="node-stats">
            {statsLine(data.stats)}
          </Text>
          {data.stats.errors > 0 && (
            <Badge size="xs" color="red" variant="light">
              {data.stats.errors} err
            </Badge>
          )}
        </Group>
      )}
      {(data.errors.length > 0 || data.runError) && (
        <Text size="xs" c="red" lineClamp={3} data-testid="node-error" mt={2}>
          {data.errors.length > 0 ? data.errors.join('; ') : data.runError}
        </Text>
      )}
      <Handle type="source" position={Position.Right} />
    </Paper>
  );
});

export const InputNodeView = memo(function InputNodeView({ selected }: NodeProps<InputFlowNode>) {
  return (
    <Paper shadow="xs" radius="xl" px="md" py={6} data-testid="input-node" style={{ outline: `${selected ? 2 : 1}px solid var(--mantine-color-${selected ? 'blue' : 'green'}-6)` }}>
      <Group gap={6} wrap="nowrap">
        <IconLogin2 size={16} color="var(--mantine-color-green-6)" />
        <Text size="sm" fw={600}>
          Input
        </Text>
      </Group>
      <Handle type="source" position={Position.Right} />
    </Paper>
  );
});

export const nodeTypes = { rule: RuleNodeView, chainInput: InputNodeView };
