import { List, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api/client';
import type { Page } from './chain-api';

interface DebugEvent {
  id: { id: string };
  createdTime: number;
  body: { type: string; msgType: string; relationType: string | null; error: string | null };
}

// Minimal stand-in (a plain list) until the web-alarms branch's events panel replaces this file.
export function NodeEventsPanel({ ruleChainId, nodeIndex }: { ruleChainId: string; nodeIndex: number }) {
  const q = useQuery({
    queryKey: ['ruleChains', 'events', ruleChainId, nodeIndex],
    queryFn: () => api<Page<DebugEvent>>(`/api/ruleChain/${ruleChainId}/node/${nodeIndex}/debug`, { query: { pageSize: 20, page: 0 } }),
    refetchInterval: 3000,
  });
  if (!q.data) return <Text size="sm">{q.isError ? 'Could not load events' : 'Loading…'}</Text>;
  if (q.data.data.length === 0) return <Text size="sm" c="dimmed">No debug events yet.</Text>;
  return (
    <List size="xs" spacing={2}>
      {q.data.data.map((e) => (
        <List.Item key={e.id.id}>
          {new Date(e.createdTime).toLocaleTimeString()} {e.body.type} {e.body.msgType} {e.body.relationType ?? ''} {e.body.error ?? ''}
        </List.Item>
      ))}
    </List>
  );
}
export default NodeEventsPanel;
