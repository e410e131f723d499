import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { AlarmDto, PageData } from '@rivulet/api-types';
import { api } from '../api/client';
import { alarmRequest, type AlarmFilters } from './alarm-query';

/**
 * Live updates by polling: the server's WebSocket API has no alarm subscription, so the visible
 * page refetches every few seconds. TanStack Query pauses the interval while the tab is hidden
 * (refetchIntervalInBackground is off).
 */
export const ALARM_REFRESH_MS = 3_000;

export function useAlarmPage(filters: AlarmFilters, live = true) {
  const { path, query } = alarmRequest(filters);
  return useQuery({
    queryKey: ['alarms', path, query],
    queryFn: ({ signal }) => api<PageData<AlarmDto>>(path, { query, signal }),
    placeholderData: keepPreviousData,
    refetchInterval: live ? ALARM_REFRESH_MS : false,
    refetchIntervalInBackground: false,
    staleTime: 0,
  });
}

/** Acknowledge or clear several alarms; every alarm query refetches afterwards. Resolves with how many failed. */
export function useAlarmAction() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ action, ids }: { action: 'ack' | 'clear'; ids: string[] }) => {
      const results = await Promise.allSettled(ids.map((id) => api<AlarmDto>(`/api/alarm/${id}/${action}`, { method: 'POST' })));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      const updated = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      return { done: updated.length, updated, failed: failed.map((r) => r.reason as unknown) };
    },
    onSettled: () => qc.invalidateQueries({ queryKey: ['alarms'] }),
  });
}
