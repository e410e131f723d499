import { useState } from 'react';
import { Select } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import type { DeviceDto, PageData } from '@rivulet/api-types';
import { api } from '../api/client';

/** Picks one of the tenant's devices by name, searching the server as the person types. */
export function DeviceSelect({ value, onChange, label, placeholder = 'All devices' }: { value: string | null; onChange(id: string | null): void; label?: string; placeholder?: string }) {
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search, 250);
  const { data, isFetching } = useQuery({
    queryKey: ['device-options', debounced],
    queryFn: ({ signal }) =>
      api<PageData<DeviceDto>>('/api/tenant/devices', { query: { pageSize: 50, page: 0, textSearch: debounced, sortProperty: 'name', sortOrder: 'ASC' }, signal }),
  });
  // The chosen device stays an option while a search hides it.
  const [chosen, setChosen] = useState<{ value: string; label: string } | null>(null);
  const options = (data?.data ?? []).map((d) => ({ value: d.id.id, label: d.name }));
  if (value && chosen?.value === value && !options.some((o) => o.value === value)) options.unshift(chosen);
  return (
    <Select
      label={label}
      aria-label={label ?? 'Device'}
      placeholder={placeholder}
      data={options}
      value={value}
      searchable
      clearable
      searchValue={search}
      onSearchChange={setSearch}
      nothingFoundMessage={isFetching ? 'Searching…' : 'No devices'}
      onChange={(id, option) => {
        setChosen(id && option ? { value: id, label: option.label } : null);
        onChange(id);
      }}
      data-testid="alarm-device-filter"
      w={220}
    />
  );
}
