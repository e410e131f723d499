import { useEffect, useState } from 'react';
import { Select } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { getProfileInfo, listProfileInfos, profileKeys } from './device-profiles-api';

/**
 * One of the tenant's device profiles by name, searched on the server as the person types. As a
 * form field (default) a profile is required; as a list filter (`filter`) it can be cleared: all profiles.
 */
export function ProfileSelect({ value, onChange, error, filter = false }: { value: string | null; onChange: (id: string | null) => void; error?: string | undefined; filter?: boolean }) {
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search, 250);
  // The box shows the chosen profile's name: that is no search (every profile stays offered).
  const [chosenLabel, setChosenLabel] = useState<string | null>(null);
  const term = debounced === chosenLabel ? '' : debounced;
  const list = useQuery({ queryKey: profileKeys.options(term), queryFn: ({ signal }) => listProfileInfos(term, signal) });
  // The chosen profile's name, when the first page of the search does not hold it.
  const listed = list.data?.data.some((p) => p.id.id === value) ?? false;
  const chosen = useQuery({ queryKey: profileKeys.info(value ?? ''), queryFn: ({ signal }) => getProfileInfo(value!, signal), enabled: value !== null && list.isSuccess && !listed });
  const options = (list.data?.data ?? []).map((p) => ({ value: p.id.id, label: p.name }));
  if (value && !listed && chosen.data) options.unshift({ value, label: chosen.data.name });
  const valueLabel = options.find((o) => o.value === value)?.label ?? null;
  useEffect(() => setChosenLabel(valueLabel), [valueLabel]);
  const common = {
    data: options,
    value,
    searchable: true,
    searchValue: search,
    onSearchChange: setSearch,
    nothingFoundMessage: list.isFetching ? 'Searching…' : 'No device profiles',
  };
  if (filter) {
    return (
      <Select
        {...common}
        aria-label="Filter by device profile"
        placeholder={list.isPending ? 'Loading profiles…' : 'All device profiles'}
        onChange={onChange}
        clearable
        error={list.isError ? 'Device profiles not loaded' : undefined}
        w={240}
        data-testid="device-profile-filter"
      />
    );
  }
  return (
    <Select
      {...common}
      label="Device profile"
      description="Its rule chain, alarm rules and provisioning apply to the device"
      placeholder={list.isPending ? 'Loading profiles…' : 'Pick a profile'}
      required
      onChange={(id) => id && onChange(id)}
      allowDeselect={false}
      error={error ?? (list.isError ? 'Device profiles not loaded' : undefined)}
      data-testid="device-profile-select"
    />
  );
}
