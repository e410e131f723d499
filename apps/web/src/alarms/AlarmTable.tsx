import { useMemo, useState } from 'react';
import { ActionIcon, Anchor, Badge, Box, Button, Checkbox, Code, Group, Pagination, ScrollArea, Select, Stack, Table, Text, TextInput, Tooltip, UnstyledButton } from '@mantine/core';
import { modals } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { IconCheck, IconChevronDown, IconChevronUp, IconSearch, IconSelector, IconX } from '@tabler/icons-react';
import { Link } from 'react-router';
import type { AlarmDto, AlarmSeverityDto } from '@rivulet/api-types';
import { errorMessage } from '../api/client';
import { EmptyState, ErrorState, LoadingState } from '../components/PageState';
import { actionable, DEFAULT_FILTERS, formatTs, nextSort, SEVERITIES, SEVERITY_COLOR, STATUS_FILTERS, statusColor, statusLabel, type AlarmFilters, type AlarmSortProperty, type StatusFilter } from './alarm-query';
import { AlarmDetailsDrawer } from './AlarmDetailsDrawer';
import { DeviceSelect } from './DeviceSelect';
import { useAlarmAction, useAlarmPage } from './use-alarms';

export interface AlarmTableProps {
  /** Only this device's alarms (the device page, a dashboard widget bound to a device); hides the device filter and column. */
  originatorId?: string;
  /** Fewer columns and filters, a shorter page: for a device page or a dashboard widget. */
  compact?: boolean;
}

function SortHeader({ column, label, filters, onSort }: { column: AlarmSortProperty; label: string; filters: AlarmFilters; onSort(c: AlarmSortProperty): void }) {
  const active = filters.sortProperty === column;
  const Icon = !active ? IconSelector : filters.sortOrder === 'DESC' ? IconChevronDown : IconChevronUp;
  return (
    <Table.Th aria-sort={active ? (filters.sortOrder === 'DESC' ? 'descending' : 'ascending') : 'none'}>
      <UnstyledButton onClick={() => onSort(column)} data-testid={`sort-${column}`}>
        <Group gap={4} wrap="nowrap">
          <Text fw={600} size="sm">
            {label}
          </Text>
          <Icon size={14} />
        </Group>
      </UnstyledButton>
    </Table.Th>
  );
}

/** The tenant's alarms (or one device's): filters, paging, sorting, acknowledge and clear one or many, details. */
export function AlarmTable({ originatorId, compact = false }: AlarmTableProps) {
  const [filters, setFilters] = useState<AlarmFilters>({ ...DEFAULT_FILTERS, deviceId: originatorId ?? null, pageSize: compact ? 10 : DEFAULT_FILTERS.pageSize });
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [opened, setOpened] = useState<AlarmDto | null>(null);
  const query = useAlarmPage({ ...filters, deviceId: originatorId ?? filters.deviceId });
  const action = useAlarmAction();

  const alarms = useMemo(() => query.data?.data ?? [], [query.data]);
  // The fresh copy while it is on the page; the one clicked once a filter hides it.
  const openAlarm = opened ? (alarms.find((a) => a.id.id === opened.id.id) ?? opened) : null;
  const { toAck, toClear } = actionable(alarms, selected);
  const filtered = filters.severity !== null || filters.status !== null || filters.textSearch.trim() !== '' || (!originatorId && filters.deviceId !== null);

  /** Any filter change goes back to the first page and drops the selection. */
  function update(patch: Partial<AlarmFilters>) {
    setFilters((f) => ({ ...f, page: 0, ...patch }));
    setSelected(new Set());
  }

  async function run(kind: 'ack' | 'clear', targets: AlarmDto[]) {
    try {
      const { done, updated, failed } = await action.mutateAsync({ action: kind, ids: targets.map((a) => a.id.id) });
      setOpened((o) => (o ? (updated.find((u) => u.id.id === o.id.id) ?? o) : o));
      const verb = kind === 'ack' ? 'Acknowledged' : 'Cleared';
      if (failed.length === 0) notifications.show({ color: 'green', message: `${verb} ${done} alarm${done === 1 ? '' : 's'}` });
      else notifications.show({ color: 'red', title: `${failed.length} of ${targets.length} failed`, message: errorMessage(failed[0]) });
      setSelected(new Set());
    } catch (e) {
      notifications.show({ color: 'red', message: errorMessage(e) });
    }
  }

  function confirmBulk(kind: 'ack' | 'clear', targets: AlarmDto[]) {
    const verb = kind === 'ack' ? 'Acknowledge' : 'Clear';
    modals.openConfirmModal({
      title: `${verb} ${targets.length} alarm${targets.length === 1 ? '' : 's'}?`,
      children: (
        <Text size="sm">
          {kind === 'ack'
            ? 'They stay active until cleared; acknowledging tells others someone is on it.'
            : 'Clearing ends them: a new alarm of the same type on the same originator starts afresh.'}
        </Text>
      ),
      labels: { confirm: verb, cancel: 'Cancel' },
      confirmProps: { color: kind === 'clear' ? 'red' : 'blue', 'data-testid': 'confirm-bulk' } as Record<string, unknown>,
      onConfirm: () => void run(kind, targets),
    });
  }

  const allOnPage = alarms.length > 0 && alarms.every((a) => selected.has(a.id.id));
  const someOnPage = alarms.some((a) => selected.has(a.id.id));

  const filterBar = (
    <Group gap="sm" align="flex-end" wrap="wrap">
      {!compact && (
        <TextInput
          placeholder="Search type or severity"
          leftSection={<IconSearch size={16} />}
          value={filters.textSearch}
          onChange={(e) => update({ textSearch: e.currentTarget.value })}
          aria-label="Search alarms"
          w={220}
        />
      )}
      <Select
        placeholder="Any severity"
        aria-label="Severity"
        data={SEVERITIES.map((s) => ({ value: s, label: s[0] + s.slice(1).toLowerCase() }))}
        value={filters.severity}
        onChange={(v) => update({ severity: v as AlarmSeverityDto | null })}
        clearable
        w={160}
        data-testid="alarm-severity-filter"
      />
      <Select
        placeholder="Any status"
        aria-label="Status"
        data={STATUS_FILTERS.map((s) => ({ value: s.value, label: s.label }))}
        value={filters.status}
        onChange={(v) => update({ status: v as StatusFilter | null })}
        clearable
        w={180}
        data-testid="alarm-status-filter"
      />
      {!originatorId && <DeviceSelect value={filters.deviceId} onChange={(id) => update({ deviceId: id })} />}
    </Group>
  );

  const bulkBar = selected.size > 0 && (
    <Group gap="sm" data-testid="bulk-actions">
      <Text size="sm">{selected.size} selected</Text>
      <Button size="xs" variant="light" leftSection={<IconCheck size={14} />} disabled={toAck.length === 0 || action.isPending} onClick={() => confirmBulk('ack', toAck)} data-testid="bulk-ack">
        Acknowledge {toAck.length}
      </Button>
      <Button size="xs" variant="light" color="red" leftSection={<IconX size={14} />} disabled={toClear.length === 0 || action.isPending} onClick={() => confirmBulk('clear', toClear)} data-testid="bulk-clear">
        Clear {toClear.length}
      </Button>
      <Button size="xs" variant="subtle" color="gray" onClick={() => setSelected(new Set())}>
        Deselect
      </Button>
    </Group>
  );

  let body;
  if (query.isPending) body = <LoadingState label="Loading alarms…" />;
  else if (query.isError && !query.data) body = <ErrorState title="Could not load alarms" error={query.error} onRetry={() => void query.refetch()} />;
  else if (alarms.length === 0)
    body = filtered ? (
      <EmptyState title="No alarms match these filters">Clear a filter to see more.</EmptyState>
    ) : (
      <EmptyState title="No alarms">
        Alarms are raised by the <b>create alarm</b> node of a rule chain (for example after a threshold filter), or through the REST API with <Code>POST /api/alarm</Code>. They appear here as they are raised.
      </EmptyState>
    );
  else
    body = (
      <ScrollArea type="auto">
        <Table highlightOnHover verticalSpacing="xs" miw={compact ? 520 : 860} data-testid="alarm-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th w={36}>
                <Checkbox
                  aria-label="Select all alarms on this page"
                  checked={allOnPage}
                  indeterminate={someOnPage && !allOnPage}
                  onChange={() => setSelected(allOnPage ? new Set() : new Set(alarms.map((a) => a.id.id)))}
                  data-testid="select-all"
                />
              </Table.Th>
              <SortHeader column="createdTime" label="Created" filters={filters} onSort={(c) => setFilters((f) => ({ ...f, ...nextSort(f, c) }))} />
              {!originatorId && <Table.Th>Originator</Table.Th>}
              <SortHeader column="type" label="Type" filters={filters} onSort={(c) => setFilters((f) => ({ ...f, ...nextSort(f, c) }))} />
              <SortHeader column="severity" label="Severity" filters={filters} onSort={(c) => setFilters((f) => ({ ...f, ...nextSort(f, c) }))} />
              <Table.Th>Status</Table.Th>
              <Table.Th w={88} />
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {alarms.map((a) => (
              <Table.Tr key={a.id.id} data-testid="alarm-row" data-alarm-id={a.id.id} data-status={a.status} bg={selected.has(a.id.id) ? 'var(--mantine-primary-color-light)' : undefined}>
                <Table.Td>
                  <Checkbox
                    aria-label={`Select alarm ${a.type}`}
                    checked={selected.has(a.id.id)}
                    onChange={() =>
                      setSelected((s) => {
                        const next = new Set(s);
                        if (next.has(a.id.id)) next.delete(a.id.id);
                        else next.add(a.id.id);
                        return next;
                      })
                    }
                  />
                </Table.Td>
                <Table.Td>
                  <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                    {formatTs(a.createdTime)}
                  </Text>
                </Table.Td>
                {!originatorId && (
                  <Table.Td>
                    {a.originator.entityType === 'DEVICE' ? (
                      <Anchor component={Link} to={`/devices/${a.originator.id}`} size="sm">
                        {a.originatorName ?? a.originator.id}
                      </Anchor>
                    ) : (
                      <Text size="sm">{a.originatorName ?? 'Tenant'}</Text>
                    )}
                  </Table.Td>
                )}
                <Table.Td>
                  <Anchor component="button" size="sm" onClick={() => setOpened(a)} data-testid="alarm-open">
                    {a.type}
                  </Anchor>
                </Table.Td>
                <Table.Td>
                  <Badge color={SEVERITY_COLOR[a.severity]} variant="filled" size="sm" data-testid="alarm-severity">
                    {a.severity}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  <Badge variant="light" color={statusColor(a)} size="sm" data-testid="alarm-status" style={{ textTransform: 'none' }}>
                    {statusLabel(a)}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap" justify="flex-end">
                    {/* An action that no longer applies leaves its place empty, so the column stays aligned. */}
                    {a.acknowledged ? (
                      <Box w={28} />
                    ) : (
                      <Tooltip label="Acknowledge">
                        <ActionIcon variant="subtle" aria-label={`Acknowledge ${a.type}`} disabled={action.isPending} onClick={() => void run('ack', [a])} data-testid="row-ack">
                          <IconCheck size={16} />
                        </ActionIcon>
                      </Tooltip>
                    )}
                    {a.cleared ? (
                      <Box w={28} />
                    ) : (
                      <Tooltip label="Clear">
                        <ActionIcon variant="subtle" color="red" aria-label={`Clear ${a.type}`} disabled={action.isPending} onClick={() => void run('clear', [a])} data-testid="row-clear">
                          <IconX size={16} />
                        </ActionIcon>
                      </Tooltip>
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </ScrollArea>
    );

  const total = query.data?.totalPages ?? 0;
  return (
    <Stack gap="sm" data-testid="alarm-table-root">
      {filterBar}
      {query.isError && query.data && <ErrorState title="Could not refresh alarms" error={query.error} onRetry={() => void query.refetch()} />}
      {bulkBar}
      {body}
      {total > 1 && (
        <Group justify="space-between">
          <Text size="sm" c="dimmed">
            {query.data?.totalElements} alarms
          </Text>
          <Pagination size="sm" total={total} value={filters.page + 1} onChange={(p) => { setFilters((f) => ({ ...f, page: p - 1 })); setSelected(new Set()); }} data-testid="alarm-pagination" />
        </Group>
      )}
      <AlarmDetailsDrawer alarm={openAlarm} onClose={() => setOpened(null)} busy={action.isPending} onAck={(a) => void run('ack', [a])} onClear={(a) => void run('clear', [a])} />
    </Stack>
  );
}
