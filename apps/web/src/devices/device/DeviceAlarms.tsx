import { useState } from 'react';
import { Badge, Button, Card, Group, Pagination, ScrollArea, Table, Text, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { AlarmDto } from '@rivulet/api-types';
import { errorMessage } from '../../api/client';
import { EmptyState, ErrorState, LoadingState } from '../../components/PageState';
import { ackAlarm, clearAlarm, getDeviceAlarms } from './device-api';

const PAGE_SIZE = 10;
export const SEVERITY_COLOR: Record<AlarmDto['severity'], string> = { CRITICAL: 'red', MAJOR: 'orange', MINOR: 'yellow', WARNING: 'blue', INDETERMINATE: 'gray' };
const STATUS_LABEL: Record<AlarmDto['status'], string> = { ACTIVE_UNACK: 'Active, unacknowledged', ACTIVE_ACK: 'Active, acknowledged', CLEARED_UNACK: 'Cleared, unacknowledged', CLEARED_ACK: 'Cleared, acknowledged' };

function time(ts: number): string {
  return ts > 0 ? new Date(ts).toLocaleString() : '—';
}

/** The device's alarms, newest first, with acknowledge and clear; read again every 10 s. */
export function DeviceAlarms({ deviceId }: { deviceId: string }) {
  const [page, setPage] = useState(0);
  const qc = useQueryClient();
  const query = useQuery({ queryKey: ['device-alarms', deviceId, page], queryFn: () => getDeviceAlarms(deviceId, page, PAGE_SIZE), refetchInterval: 10_000 });
  const [busy, setBusy] = useState<string | null>(null);

  const act = async (alarm: AlarmDto, what: 'ack' | 'clear') => {
    setBusy(`${alarm.id.id}:${what}`);
    try {
      await (what === 'ack' ? ackAlarm(alarm.id.id) : clearAlarm(alarm.id.id));
      notifications.show({ color: 'green', message: `${what === 'ack' ? 'Acknowledged' : 'Cleared'} "${alarm.type}"` });
      await qc.invalidateQueries({ queryKey: ['device-alarms', deviceId] });
    } catch (e) {
      notifications.show({ color: 'red', title: 'Could not update the alarm', message: errorMessage(e) });
    } finally {
      setBusy(null);
    }
  };

  const alarms = query.data?.data ?? [];
  return (
    <Card withBorder padding="md" h="100%" data-testid="device-alarms">
      <Group justify="space-between" mb="xs">
        <Title order={4}>Alarms</Title>
        {query.data && (
          <Text size="xs" c="dimmed">
            {query.data.totalElements} in all
          </Text>
        )}
      </Group>
      {query.isLoading ? (
        <LoadingState />
      ) : query.error ? (
        <ErrorState error={query.error} onRetry={() => void query.refetch()} />
      ) : alarms.length === 0 ? (
        <EmptyState title="No alarms">Alarms raised by rule chains for this device appear here.</EmptyState>
      ) : (
        <>
          <ScrollArea>
            <Table striped verticalSpacing={6} miw={560}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Severity</Table.Th>
                  <Table.Th>Type</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Started</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {alarms.map((a) => (
                  <Table.Tr key={a.id.id} data-testid={`alarm-row-${a.type}`}>
                    <Table.Td>
                      <Badge color={SEVERITY_COLOR[a.severity]} variant="light" size="sm">
                        {a.severity}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm">{a.type}</Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="xs" data-testid="alarm-status" title={[a.ackTs ? `acknowledged ${time(a.ackTs)}` : '', a.clearTs ? `cleared ${time(a.clearTs)}` : ''].filter(Boolean).join(', ')}>
                        {STATUS_LABEL[a.status]}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                        {time(a.startTs)}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4} wrap="nowrap" justify="flex-end">
                        {!a.acknowledged && (
                          <Button size="compact-xs" variant="light" loading={busy === `${a.id.id}:ack`} onClick={() => void act(a, 'ack')} data-testid="alarm-ack">
                            Acknowledge
                          </Button>
                        )}
                        {!a.cleared && (
                          <Button size="compact-xs" variant="light" color="gray" loading={busy === `${a.id.id}:clear`} onClick={() => void act(a, 'clear')} data-testid="alarm-clear">
                            Clear
                          </Button>
                        )}
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </ScrollArea>
          {(query.data?.totalPages ?? 0) > 1 && <Pagination mt="sm" size="sm" total={query.data!.totalPages} value={page + 1} onChange={(p) => setPage(p - 1)} />}
        </>
      )}
    </Card>
  );
}
