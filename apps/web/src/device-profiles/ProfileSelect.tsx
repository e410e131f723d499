import { useEffect, useState } from 'react';
import { Select } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { getProfileInfo, listProfileInfos, profileKeys } from './device-profiles-api';

/** One of the tenant's device profiles by name, searched on the server as the person types. */
export function ProfileSelect({ value, onChange, error }: { value: string | null; onChange: (id: string | null) => void; error?: string | undefined }) {
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
  return (
    <Select
      label="Device profile"
      description="Its rule chain, alarm rules and provisioning apply to the device"
      placeholder={list.isPending ? 'Loading profiles…' : 'Pick a profile'}
      required
      data={options}
      value={value}
      onChange={(id) => id && onChange(id)}
      allowDeselect={false}
      searchable
      searchValue={search}
      onSearchChange={setSearch}
      nothingFoundMessage={list.isFetching ? 'Searching…' : 'No device profiles'}
      error={error ?? (list.isError ? 'Device profiles not loaded' : undefined)}
      data-testid="device-profile-select"
    />
  );
}
