import { useMemo } from 'react';
import { Badge, ScrollArea, Table, Text } from '@mantine/core';
import { useQueries, useQuery } from '@tanstack/react-query';
import type { AlarmDto } from '@rivulet/api-types';
import { api } from '../../api/client';
import { SEVERITY_COLOR } from '../../alarms/alarm-query';
import { sourcesOf } from '../model';
import { useBoundDevices } from '../data';
import { formatTime } from './format';
import type { WidgetProps } from './types';
import { WidgetMessage, widgetError } from './WidgetMessage';

interface AlarmPage {
  data: AlarmDto[];
}

const SEARCH = ['ANY', 'ACTIVE', 'CLEARED', 'ACK', 'UNACK'] as const;
const REFRESH_MS = 5000;

/** ThingsBoard's alarms table: the bound devices' alarms (every device of the tenant when none is bound), newest first, refreshed every 5 s. */
export function AlarmListWidget({ config, widget }: WidgetProps) {
  const sources = useMemo(() => sourcesOf(config, widget), [config, widget]);
  const bound = useBoundDevices(sources);
  const wanted = widget.config.alarmSearchStatus;
  const searchStatus = SEARCH.includes(wanted as (typeof SEARCH)[number]) ? (wanted as string) : 'ANY';
  const query = { pageSize: 50, page: 0, searchStatus, sortProperty: 'createdTime', sortOrder: 'DESC' };
  const all = useQuery({
    queryKey: ['widget-alarms', 'tenant', searchStatus],
    queryFn: () => api<AlarmPage>('/api/alarms', { query }),
    enabled: sources.length === 0,
    refetchInterval: REFRESH_MS,
  });
  const perDevice = useQueries({
    queries: bound.devices.map((d) => ({
      queryKey: ['widget-alarms', d.id, searchStatus],
      queryFn: () => api<AlarmPage>(`/api/alarm/DEVICE/${d.id}`, { query }),
      refetchInterval: REFRESH_MS,
    })),
  });
  if (bound.error) return widgetError(bound.error);
  const queries = sources.length === 0 ? [all] : perDevice;
  const error = queries.find((q) => q.error)?.error;
  if (error) return widgetError(error);
  if (bound.loading || queries.some((q) => q.isPending)) return <WidgetMessage kind="loading" />;
  const alarms = queries
    .flatMap((q) => q.data?.data ?? [])
    .sort((a, b) => b.createdTime - a.createdTime)
    .slice(0, 50);
  if (alarms.length === 0) return <WidgetMessage kind="empty">No alarms.</WidgetMessage>;
  return (
    <ScrollArea h="100%" type="auto" data-testid="alarm-list">
      <Table striped fz="sm" stickyHeader miw={480}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Created</Table.Th>
            <Table.Th>Originator</Table.Th>
            <Table.Th>Type</Table.Th>
            <Table.Th>Severity</Table.Th>
            <Table.Th>Status</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {alarms.map((a) => (
            <Table.Tr key={a.id.id} data-testid="alarm-row">
              <Table.Td>
                <Text size="xs">{formatTime(a.createdTime)}</Text>
              </Table.Td>
              <Table.Td>{a.originatorName ?? a.originator.id}</Table.Td>
              <Table.Td>{a.type}</Table.Td>
              <Table.Td>
                <Badge size="sm" color={SEVERITY_COLOR[a.severity]} variant="light">
                  {a.severity}
                </Badge>
              </Table.Td>
              <Table.Td>
                <Text size="xs">{a.status.replace('_', ' ').toLowerCase()}</Text>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollArea>
  );
}
