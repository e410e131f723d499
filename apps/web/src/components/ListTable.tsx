import type { ReactNode } from 'react';
import { ActionIcon, Group, Pagination, Select, Table, Text, Tooltip, UnstyledButton } from '@mantine/core';
import { IconArrowsSort, IconChevronDown, IconChevronUp, IconPencil, IconTrash } from '@tabler/icons-react';
import { firstOrder, PAGE_SIZES, type SortOrder } from './use-list-params';

/** A column header that sorts the list: a click sorts by it, a second click reverses the order. */
export function SortHeader<S extends string>({ label, property, params, onSort }: { label: string; property: S; params: { sortProperty: S; sortOrder: SortOrder }; onSort: (p: S, o: SortOrder) => void }) {
  const active = params.sortProperty === property;
  const Icon = !active ? IconArrowsSort : params.sortOrder === 'ASC' ? IconChevronUp : IconChevronDown;
  const nextOrder: SortOrder = active ? (params.sortOrder === 'ASC' ? 'DESC' : 'ASC') : firstOrder(property);
  return (
    <Table.Th aria-sort={active ? (params.sortOrder === 'ASC' ? 'ascending' : 'descending') : 'none'}>
      <UnstyledButton onClick={() => onSort(property, nextOrder)} data-testid={`sort-${property}`}>
        <Group gap={4} wrap="nowrap">
          <Text fw={700} size="sm">
            {label}
          </Text>
          <Icon size={14} opacity={active ? 1 : 0.5} />
        </Group>
      </UnstyledButton>
    </Table.Th>
  );
}

/** Under a list: how many rows there are (`noun`: singular and plural), the page size and the pages. */
export function ListFooter({
  result,
  params,
  onChange,
  noun,
  totalTestId,
}: {
  result: { totalElements: number; totalPages: number };
  params: { page: number; pageSize: number };
  onChange: (patch: { page: number; pageSize?: number }) => void;
  noun: readonly [string, string];
  totalTestId: string;
}) {
  return (
    <Group justify="space-between" mt="md">
      <Text size="sm" c="dimmed" data-testid={totalTestId}>
        {result.totalElements} {result.totalElements === 1 ? noun[0] : noun[1]}
      </Text>
      <Group gap="sm">
        <Select
          aria-label={`${noun[1][0]!.toUpperCase()}${noun[1].slice(1)} per page`}
          data-testid="page-size"
          data={PAGE_SIZES.map((s) => ({ value: s, label: `${s} per page` }))}
          value={String(params.pageSize)}
          onChange={(v) => v && onChange({ pageSize: Number(v), page: 0 })}
          allowDeselect={false}
          w={140}
          size="sm"
        />
        <Pagination total={Math.max(1, result.totalPages)} value={params.page + 1} onChange={(p) => onChange({ page: p - 1 })} size="sm" data-testid="pagination" />
      </Group>
    </Group>
  );
}

/** A row's buttons: the page's own (`children`), then Edit and Delete (test ids `edit-<kind>`, `delete-<kind>`). */
export function RowActions({ name, kind, onEdit, onDelete, children }: { name: string; kind: string; onEdit: () => void; onDelete: () => void; children?: ReactNode }) {
  return (
    <Group gap={4} wrap="nowrap" justify="flex-end">
      {children}
      <Tooltip label="Edit">
        <ActionIcon variant="subtle" aria-label={`Edit ${name}`} onClick={onEdit} data-testid={`edit-${kind}`}>
          <IconPencil size={18} />
        </ActionIcon>
      </Tooltip>
      <Tooltip label="Delete">
        <ActionIcon variant="subtle" color="red" aria-label={`Delete ${name}`} onClick={onDelete} data-testid={`delete-${kind}`}>
          <IconTrash size={18} />
        </ActionIcon>
      </Tooltip>
    </Group>
  );
}
