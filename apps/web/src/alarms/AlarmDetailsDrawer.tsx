import { Badge, Code, Drawer, Group, Stack, Table, Text, Anchor, Button } from '@mantine/core';
import { Link } from 'react-router';
import type { AlarmDto } from '@rivulet/api-types';
import { formatTs, SEVERITY_COLOR, statusColor, statusLabel } from './alarm-query';

/** One alarm: its times, originator (linked to the device page) and details JSON. */
export function AlarmDetailsDrawer({ alarm, onClose, onAck, onClear, busy }: { alarm: AlarmDto | null; onClose(): void; onAck(a: AlarmDto): void; onClear(a: AlarmDto): void; busy: boolean }) {
  return (
    <Drawer opened={alarm !== null} onClose={onClose} position="right" size="md" title={alarm ? <Text fw={600}>{alarm.type}</Text> : null} data-testid="alarm-details">
      {alarm && (
        <Stack gap="md" data-testid="alarm-details-body">
          <Group gap="xs">
            <Badge color={SEVERITY_COLOR[alarm.severity]} variant="filled">
              {alarm.severity}
            </Badge>
            <Badge color={statusColor(alarm)} variant="light" data-testid="alarm-details-status" style={{ textTransform: 'none' }}>
              {statusLabel(alarm)}
            </Badge>
          </Group>
          <Table withRowBorders={false} verticalSpacing={4} layout="fixed">
            <Table.Tbody>
              <Table.Tr>
                <Table.Th w={120}>Originator</Table.Th>
                <Table.Td>
                  {alarm.originator.entityType === 'DEVICE' ? (
                    <Anchor component={Link} to={`/devices/${alarm.originator.id}`} size="sm" data-testid="alarm-originator-link">
                      {alarm.originatorName ?? alarm.originator.id}
                    </Anchor>
                  ) : (
                    <Text size="sm">{alarm.originatorName ?? 'Tenant'} (tenant)</Text>
                  )}
                </Table.Td>
              </Table.Tr>
              {(
                [
                  ['Started', alarm.startTs],
                  ['Last update', alarm.endTs],
                  ['Acknowledged', alarm.ackTs],
                  ['Cleared', alarm.clearTs],
                ] as const
              ).map(([label, ts]) => (
                <Table.Tr key={label}>
                  <Table.Th>{label}</Table.Th>
                  <Table.Td data-testid={`alarm-time-${label.toLowerCase().replace(' ', '-')}`}>{formatTs(ts)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <div>
            <Text fw={600} size="sm" mb={4}>
              Details
            </Text>
            {alarm.details === null || (typeof alarm.details === 'object' && Object.keys(alarm.details).length === 0) ? (
              <Text size="sm" c="dimmed">
                This alarm carries no details.
              </Text>
            ) : (
              <Code block data-testid="alarm-details-json" style={{ maxHeight: 360, overflow: 'auto' }}>
                {JSON.stringify(alarm.details, null, 2)}
              </Code>
            )}
          </div>
          <Group>
            <Button variant="light" disabled={alarm.acknowledged || busy} onClick={() => onAck(alarm)} data-testid="alarm-details-ack">
              Acknowledge
            </Button>
            <Button variant="light" color="gray" disabled={alarm.cleared || busy} onClick={() => onClear(alarm)} data-testid="alarm-details-clear">
              Clear
            </Button>
          </Group>
        </Stack>
      )}
    </Drawer>
  );
}
