import { useEffect, useState } from 'react';
import { Select } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { getRuleChain, listRuleChains } from './device-profiles-api';

/**
 * One of the tenant's rule chains, searched on the server as the person types; empty means the
 * tenant's root chain (ThingsBoard's default when a profile names none).
 */
export function RuleChainSelect({ value, onChange, error }: { value: string | null; onChange: (id: string | null) => void; error?: string | undefined }) {
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search, 250);
  // The box shows the chosen chain's name: that is no search (every chain stays offered).
  const [chosenLabel, setChosenLabel] = useState<string | null>(null);
  const term = debounced === chosenLabel ? '' : debounced;
  const list = useQuery({ queryKey: ['ruleChains', 'options', term], queryFn: ({ signal }) => listRuleChains(term, signal) });
  // The chosen chain's name, when the first page of the search does not hold it.
  const listed = list.data?.data.some((c) => c.id.id === value) ?? false;
  const chosen = useQuery({ queryKey: ['ruleChains', 'chain', value], queryFn: ({ signal }) => getRuleChain(value!, signal), enabled: value !== null && list.isSuccess && !listed });
  const options = (list.data?.data ?? []).map((c) => ({ value: c.id.id, label: c.root ? `${c.name} (root)` : c.name }));
  if (value && !listed && chosen.data) options.unshift({ value, label: chosen.data.name });
  const valueLabel = options.find((o) => o.value === value)?.label ?? null;
  useEffect(() => setChosenLabel(valueLabel), [valueLabel]);
  return (
    <Select
      label="Default rule chain"
      description="The chain that takes the messages of this profile's devices; empty: the root chain"
      placeholder="Root rule chain"
      data={options}
      value={value}
      onChange={(id) => onChange(id)}
      searchable
      clearable
      searchValue={search}
      onSearchChange={setSearch}
      nothingFoundMessage={list.isFetching ? 'Searching…' : 'No rule chains'}
      error={error ?? (list.isError ? 'Rule chains not loaded' : undefined)}
      data-testid="profile-rule-chain"
    />
  );
}
