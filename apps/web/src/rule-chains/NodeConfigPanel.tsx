import { useState } from 'react';
import { Stack, Text, Textarea } from '@mantine/core';
import type { NodeTypeDescriptor } from './chain-api';

// Minimal stand-in (a JSON textarea) until the web-alarms branch's schema form replaces this file.
export function NodeConfigPanel({
  nodeType,
  configuration,
  onChange,
  errors,
}: {
  nodeType: NodeTypeDescriptor;
  configuration: Record<string, unknown>;
  onChange: (configuration: Record<string, unknown>) => void;
  errors?: { path: string; message: string }[];
}) {
  const [text, setText] = useState(() => JSON.stringify(configuration, null, 2));
  const [parseError, setParseError] = useState<string | null>(null);
  return (
    <Stack gap="xs">
      <Text size="sm" c="dimmed">
        {nodeType.description}
      </Text>
      <Textarea
        label="Configuration (JSON)"
        autosize
        minRows={6}
        maxRows={20}
        styles={{ input: { fontFamily: 'monospace', fontSize: 12 } }}
        value={text}
        data-testid="node-config-json"
        error={parseError ?? (errors && errors.length > 0 ? errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ') : undefined)}
        onChange={(e) => {
          const next = e.currentTarget.value;
          setText(next);
          try {
            const v = JSON.parse(next) as unknown;
            if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('the configuration is a JSON object');
            setParseError(null);
            onChange(v as Record<string, unknown>);
          } catch (err) {
            setParseError(err instanceof Error ? err.message : String(err));
          }
        }}
      />
    </Stack>
  );
}
export default NodeConfigPanel;
