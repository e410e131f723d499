import { Fragment, useState } from 'react';
import { ActionIcon, Badge, Code, Group, Pagination, ScrollArea, SimpleGrid, Table, Text } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { IconChevronDown, IconChevronRight } from '@tabler/icons-react';
import type { DebugEventDto, PageData } from '@rivulet/api-types';
import { api } from '../api/client';
import { EmptyState, ErrorState, LoadingState } from '../components/PageState';
import { eventRow, EVENTS_REFRESH_MS } from './debug-events';

const PAGE_SIZE = 20;

/** A node's debug events, newest first, refreshing while the panel is open. */
export function NodeEventsPanel({ ruleChainId, nodeIndex }: { ruleChainId: string; nodeIndex: number }) {
  const [page, setPage] = useState(0);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const query = useQuery({
    queryKey: ['node-debug-events', ruleChainId, nodeIndex, page],
    queryFn: ({ signal }) => api<PageData<DebugEventDto>>(`/api/ruleChain/${ruleChainId}/node/${nodeIndex}/debug`, { query: { pageSize: PAGE_SIZE, page }, signal }),
    placeholderData: keepPreviousData,
    refetchInterval: EVENTS_REFRESH_MS,
    refetchIntervalInBackground: false,
    staleTime: 0,
  });

  if (query.isPending) return <LoadingState label="Loading events…" />;
  if (query.isError && !query.data) return <ErrorState title="Could not load the node's events" error={query.error} onRetry={() => void query.refetch()} />;
  const rows = query.data.data.map(eventRow);
  if (rows.length === 0 && page === 0)
    return (
      <EmptyState title="No events yet">
        A node records what passes through it only while its debug mode is on (failures are recorded always). Switch debug on for this node, save the chain, and send it a message: events appear here within a few seconds.
      </EmptyState>
    );

  const toggle = (id: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  return (
    <div data-testid="node-events">
      {query.isError && <ErrorState title="Could not refresh the events" error={query.error} />}
      <ScrollArea type="auto">
        <Table verticalSpacing={4} fz="sm" miw={560}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th w={28} />
              <Table.Th>Time</Table.Th>
              <Table.Th>Type</Table.Th>
              <Table.Th>Relation</Table.Th>
              <Table.Th>Message type</Table.Th>
              <Table.Th>Error</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((r) => (
              <Fragment key={r.id}>
                <Table.Tr data-testid="node-event" data-direction={r.direction} style={{ cursor: 'pointer' }} onClick={() => toggle(r.id)}>
                  <Table.Td>
                    <ActionIcon variant="subtle" size="sm" aria-label={open.has(r.id) ? 'Hide data' : 'Show data'}>
                      {open.has(r.id) ? <IconChevronDown size={14} /> : <IconChevronRight size={14} />}
                    </ActionIcon>
                  </Table.Td>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>{new Date(r.time).toLocaleTimeString()}</Table.Td>
                  <Table.Td>
                    <Badge size="sm" variant="light" color={r.direction === 'IN' ? 'blue' : 'teal'}>
                      {r.direction}
                    </Badge>
                  </Table.Td>
                  <Table.Td>{r.relation ?? '—'}</Table.Td>
                  <Table.Td>
                    <Text size="xs" ff="monospace">
                      {r.msgType}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    {r.error ? (
                      <Text size="xs" c="red" lineClamp={2} title={r.error}>
                        {r.error}
                      </Text>
                    ) : (
                      '—'
                    )}
                  </Table.Td>
                </Table.Tr>
                {open.has(r.id) && (
                  <Table.Tr data-testid="node-event-details">
                    <Table.Td colSpan={6}>
                      <SimpleGrid cols={2} spacing="xs">
                        <div>
                          <Text size="xs" fw={600}>
                            Data
                          </Text>
                          <Code block style={{ maxHeight: 240, overflow: 'auto' }}>
                            {r.data}
                          </Code>
                        </div>
                        <div>
                          <Text size="xs" fw={600}>
                            Metadata
                          </Text>
                          <Code block style={{ maxHeight: 240, overflow: 'auto' }}>
                            {r.metadata}
                          </Code>
                        </div>
                      </SimpleGrid>
                      {r.error && (
                        <Code block c="red" mt="xs">
                          {r.error}
                        </Code>
                      )}
                    </Table.Td>
                  </Table.Tr>
                )}
              </Fragment>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollArea>
      {query.data.totalPages > 1 && (
        <Group justify="flex-end" mt="xs">
          <Pagination size="sm" total={query.data.totalPages} value={page + 1} onChange={(p) => setPage(p - 1)} />
        </Group>
      )}
    </div>
  );
}
