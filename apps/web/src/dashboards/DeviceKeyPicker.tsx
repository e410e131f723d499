import { useState } from 'react';
import { Loader, MultiSelect, Select, Text } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQueries, useQuery } from '@tanstack/react-query';
import type { DevicePage } from '@rivulet/api-types';
import { api } from '../api/client';
import { deviceQuery } from './data';

/** Devices to choose from: the first 50 matching the search, plus the ones already chosen. */
function useDeviceOptions(search: string, selected: string[]) {
  const [debounced] = useDebouncedValue(search, 250);
  const page = useQuery({
    queryKey: ['picker-devices', debounced],
    queryFn: () => api<DevicePage>('/api/tenant/devices', { query: { pageSize: 50, page: 0, textSearch: debounced, sortProperty: 'name', sortOrder: 'ASC' } }),
    staleTime: 10_000,
  });
  const chosen = useQueries({ queries: selected.map((id) => ({ ...deviceQuery(id), retry: false })) });
  const options = new Map<string, string>();
  for (const q of chosen) if (q.data) options.set(q.data.id.id, q.data.name);
  for (const d of page.data?.data ?? []) options.set(d.id.id, d.name);
  for (const id of selected) if (!options.has(id)) options.set(id, `${id.slice(0, 8)}… (not found)`);
  return { data: [...options].map(([value, label]) => ({ value, label })), loading: page.isFetching, error: page.error };
}

export function DevicePicker({ multiple, value, onChange }: { multiple: boolean; value: string[]; onChange: (ids: string[]) => void }) {
  const [search, setSearch] = useState('');
  const { data, loading, error } = useDeviceOptions(search, value);
  const common = {
    label: multiple ? 'Devices' : 'Device',
    placeholder: value.length === 0 ? 'Pick a device' : undefined,
    data,
    searchable: true,
    searchValue: search,
    onSearchChange: setSearch,
    filter: ({ options }: { options: unknown[] }) => options as never,
    nothingFoundMessage: loading ? 'Loading…' : 'No device matches',
    rightSection: loading ? <Loader size="xs" /> : undefined,
    error: error ? 'Could not load devices' : undefined,
    comboboxProps: { withinPortal: false },
  };
  return multiple ? (
    <MultiSelect {...common} value={value} onChange={onChange} data-testid="picker-devices" />
  ) : (
    <Select {...common} value={value[0] ?? null} onChange={(v) => onChange(v ? [v] : [])} data-testid="picker-devices" />
  );
}

/** The time-series keys the chosen devices actually have (GET .../keys/timeseries), union over them. */
export function KeyPicker({ deviceIds, multiple, value, onChange }: { deviceIds: string[]; multiple: boolean; value: string[]; onChange: (keys: string[]) => void }) {
  const queries = useQueries({
    queries: deviceIds.map((id) => ({ queryKey: ['ts-keys', id], queryFn: () => api<string[]>(`/api/plugins/telemetry/DEVICE/${id}/keys/timeseries`), staleTime: 5_000 })),
  });
  const loading = queries.some((q) => q.isPending);
  const keys = [...new Set([...queries.flatMap((q) => q.data ?? []), ...value])].sort();
  const description =
    deviceIds.length === 0 ? 'Pick a device first' : !loading && keys.length === 0 ? 'These devices have sent no telemetry yet: publish some, then pick its keys' : undefined;
  const common = {
    label: multiple ? 'Keys' : 'Key',
    description,
    data: keys,
    disabled: deviceIds.length === 0,
    searchable: true,
    rightSection: loading && deviceIds.length > 0 ? <Loader size="xs" /> : undefined,
    nothingFoundMessage: 'No such key',
    comboboxProps: { withinPortal: false },
  };
  return (
    <>
      {multiple ? (
        <MultiSelect {...common} value={value} onChange={onChange} data-testid="picker-keys" />
      ) : (
        <Select {...common} value={value[0] ?? null} onChange={(v) => onChange(v ? [v] : [])} data-testid="picker-keys" />
      )}
      {queries.some((q) => q.error) && (
        <Text size="xs" c="red">
          Could not read the keys of every device.
        </Text>
      )}
    </>
  );
}
