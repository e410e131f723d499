import { Anchor, Card, Group, ScrollArea, Table, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import { EmptyState, ErrorState, LoadingState } from '../../components/PageState';
import { ago, displayValue } from './device-api';
import type { LatestValue } from './use-latest-telemetry';
import { useNow } from '../use-now';

/** The table of every key's latest value, each with how long ago it came. */
export function LatestTelemetry({ values, isLoading, error, onRetry }: { values: Record<string, LatestValue> | undefined; isLoading: boolean; error: unknown; onRetry: () => void }) {
  const now = useNow(1000);
  const keys = values ? Object.keys(values).sort((a, b) => a.localeCompare(b)) : [];
  const newest = values ? Math.max(0, ...Object.values(values).map((v) => v.ts)) : 0;
  return (
    <Card withBorder padding="md" h="100%" data-testid="latest-telemetry">
      <Group justify="space-between" mb="xs">
        <Title order={4}>Latest telemetry</Title>
        {newest > 0 && (
          <Text size="xs" c="dimmed" data-testid="latest-updated">
            updated {ago(newest, now)}
          </Text>
        )}
      </Group>
      {isLoading ? (
        <LoadingState />
      ) : error ? (
        <ErrorState error={error} onRetry={onRetry} />
      ) : keys.length === 0 ? (
        <EmptyState title="No telemetry yet">
          This device has not sent any. See <Anchor component={Link} to="/devices" size="sm">Connect on the devices page</Anchor> for ready-to-paste commands.
        </EmptyState>
      ) : (
        <ScrollArea.Autosize mah={360}>
          <Table striped highlightOnHover verticalSpacing={6}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Key</Table.Th>
                <Table.Th>Value</Table.Th>
                <Table.Th>Updated</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {keys.map((key) => {
                const v = values![key]!;
                return (
                  <Table.Tr key={key} data-testid={`latest-row-${key}`}>
                    <Table.Td>
                      <Text size="sm" ff="monospace">
                        {key}
                      </Text>
                    </Table.Td>
                    <Table.Td data-testid={`latest-value-${key}`}>
                      <Text size="sm" fw={600} style={{ wordBreak: 'break-all' }} lineClamp={2}>
                        {displayValue(v.value)}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="xs" c="dimmed" title={new Date(v.ts).toLocaleString()} style={{ whiteSpace: 'nowrap' }}>
                        {ago(v.ts, now)}
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </ScrollArea.Autosize>
      )}
    </Card>
  );
}
