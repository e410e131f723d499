import { useEffect, useState, type ReactNode } from 'react';
import { ActionIcon, Anchor, Badge, Button, Card, Group, Pagination, Select, Table, Text, TextInput, Title, Tooltip, UnstyledButton } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { modals } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { IconArrowsSort, IconChevronDown, IconChevronUp, IconPencil, IconPlug, IconPlus, IconSearch, IconTrash } from '@tabler/icons-react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import type { DeviceDto } from '@rivulet/api-types';
import { errorMessage } from '../api/client';
import { EmptyState, ErrorState, LoadingState } from '../components/PageState';
import { ProfileSelect } from '../device-profiles/ProfileSelect';
import { ConnectDrawer } from './ConnectDrawer';
import { DeviceActivity } from './DeviceActivity';
import { DeviceFormModal } from './DeviceFormModal';
import { deleteDevice, isGateway, listDevices, type DeviceListParams, type SortOrder, type SortProperty } from './devices-api';
import { useNow } from './use-now';

const PAGE_SIZES = ['10', '20', '50'];
const SORTABLE: readonly SortProperty[] = ['name', 'deviceProfileName', 'createdTime'];

/** Paging, search, the profile filter and sort live in the URL, so a reload or a shared link shows the same page. */
function useListParams(): [DeviceListParams, (patch: Partial<DeviceListParams>) => void] {
  const [sp, setSp] = useSearchParams();
  const sortProperty = (SORTABLE as readonly string[]).includes(sp.get('sort') ?? '') ? (sp.get('sort') as SortProperty) : 'createdTime';
  const params: DeviceListParams = {
    page: Math.max(0, Number(sp.get('page') ?? 0) || 0),
    pageSize: PAGE_SIZES.includes(sp.get('pageSize') ?? '') ? Number(sp.get('pageSize')) : 10,
    textSearch: sp.get('q') ?? '',
    deviceProfileId: sp.get('profile') || null,
    sortProperty,
    sortOrder: sp.get('order') === 'ASC' ? 'ASC' : sp.get('order') === 'DESC' ? 'DESC' : sortProperty === 'createdTime' ? 'DESC' : 'ASC',
  };
  const update = (patch: Partial<DeviceListParams>) => {
    const next = { ...params, ...patch };
    const out = new URLSearchParams();
    if (next.page) out.set('page', String(next.page));
    if (next.pageSize !== 10) out.set('pageSize', String(next.pageSize));
    if (next.textSearch) out.set('q', next.textSearch);
    if (next.deviceProfileId) out.set('profile', next.deviceProfileId);
    if (next.sortProperty !== 'createdTime' || next.sortOrder !== 'DESC') {
      out.set('sort', next.sortProperty);
      out.set('order', next.sortOrder);
    }
    setSp(out, { replace: true });
  };
  return [params, update];
}

function SortHeader({ label, property, params, onSort }: { label: string; property: SortProperty; params: DeviceListParams; onSort: (p: SortProperty, o: SortOrder) => void }) {
  const active = params.sortProperty === property;
  const Icon = !active ? IconArrowsSort : params.sortOrder === 'ASC' ? IconChevronUp : IconChevronDown;
  const nextOrder: SortOrder = active ? (params.sortOrder === 'ASC' ? 'DESC' : 'ASC') : property === 'createdTime' ? 'DESC' : 'ASC';
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

export default function DevicesPage() {
  const [params, setParams] = useListParams();
  const [search, setSearch] = useState(params.textSearch);
  const [debouncedSearch] = useDebouncedValue(search, 300);
  const [editing, setEditing] = useState<{ device?: DeviceDto } | null>(null);
  const [connecting, setConnecting] = useState<DeviceDto | null>(null);
  const now = useNow(5000);
  const queryClient = useQueryClient();

  useEffect(() => {
    if (debouncedSearch !== params.textSearch) setParams({ textSearch: debouncedSearch, page: 0 });
    // Only the typed text drives this; the URL follows it.
  }, [debouncedSearch]);

  const list = useQuery({ queryKey: ['devices', params], queryFn: ({ signal }) => listDevices(params, signal), placeholderData: keepPreviousData });

  // A page past the end (devices deleted elsewhere, a stale link): go to the last page.
  useEffect(() => {
    const d = list.data;
    if (d && !list.isPlaceholderData && d.data.length === 0 && params.page > 0) setParams({ page: Math.max(0, d.totalPages - 1) });
  });

  const remove = useMutation({
    mutationFn: (d: DeviceDto) => deleteDevice(d.id.id),
    onSuccess: async (_, d) => {
      await queryClient.invalidateQueries({ queryKey: ['devices'] });
      notifications.show({ color: 'green', message: `Device "${d.name}" deleted` });
    },
    onError: (e, d) => notifications.show({ color: 'red', title: `"${d.name}" not deleted`, message: errorMessage(e) }),
  });

  function confirmDelete(d: DeviceDto) {
    modals.openConfirmModal({
      title: `Delete ${d.name}?`,
      children: (
        <Text size="sm">
          Device <b>{d.name}</b> will be deleted with its credentials, attributes and telemetry. This cannot be undone.
        </Text>
      ),
      labels: { confirm: 'Delete', cancel: 'Cancel' },
      confirmProps: { color: 'red', 'data-testid': 'confirm-delete' } as Record<string, string>,
      onConfirm: () => remove.mutate(d),
    });
  }

  const createButton = (
    <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing({})} data-testid="create-device">
      Add device
    </Button>
  );
  const filtering = params.textSearch !== '' || params.deviceProfileId !== null;
  // Nothing to search through: the empty state alone (the search box comes with the first device).
  const noDevicesAtAll = !filtering && search === '' && list.data?.totalElements === 0;
  let body: ReactNode;
  if (list.isPending) body = <LoadingState label="Loading devices…" />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} title="Devices not loaded" />;
  else if (list.data.totalElements === 0 && !filtering) {
    body = (
      <EmptyState
        title="No devices yet"
        action={
          <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing({})} data-testid="create-first-device">
            Create your first device
          </Button>
        }
      >
        A device is anything that sends telemetry: create one, then use its Connect panel to publish a first message.
      </EmptyState>
    );
  } else if (list.data.data.length === 0 && filtering) {
    body = (
      <EmptyState
        title="No matching devices"
        action={
          <Button variant="default" onClick={() => { setSearch(''); setParams({ textSearch: '', deviceProfileId: null, page: 0 }); }} data-testid="clear-filters">
            Clear filters
          </Button>
        }
      >
        {params.textSearch !== '' && params.deviceProfileId !== null
          ? `No device of this profile has “${params.textSearch}” in its name.`
          : params.textSearch !== ''
            ? `No device name contains “${params.textSearch}”.`
            : 'No device has this profile.'}
      </EmptyState>
    );
  } else {
    const page = list.data;
    body = (
      <>
        <Table.ScrollContainer minWidth={900}>
          <Table highlightOnHover verticalSpacing="sm" data-testid="devices-table" style={{ opacity: list.isPlaceholderData ? 0.6 : 1 }}>
            <Table.Thead>
              <Table.Tr>
                <SortHeader label="Name" property="name" params={params} onSort={(p, o) => setParams({ sortProperty: p, sortOrder: o, page: 0 })} />
                <SortHeader label="Device profile" property="deviceProfileName" params={params} onSort={(p, o) => setParams({ sortProperty: p, sortOrder: o, page: 0 })} />
                <Table.Th>Label</Table.Th>
                <Table.Th>Gateway</Table.Th>
                <SortHeader label="Created" property="createdTime" params={params} onSort={(p, o) => setParams({ sortProperty: p, sortOrder: o, page: 0 })} />
                <Table.Th>Activity</Table.Th>
                <Table.Th w={130} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {page.data.map((d) => (
                <Table.Tr key={d.id.id} data-testid="device-row" data-device-name={d.name}>
                  <Table.Td>
                    <Anchor component={Link} to={`/devices/${d.id.id}`} fw={500} data-testid="device-link">
                      {d.name}
                    </Anchor>
                  </Table.Td>
                  <Table.Td data-testid="device-profile">
                    <Text size="sm">{d.deviceProfileName}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" c={d.label ? undefined : 'dimmed'}>
                      {d.label ?? '—'}
                    </Text>
                  </Table.Td>
                  <Table.Td>{isGateway(d) ? <Badge variant="outline">Gateway</Badge> : <Text size="sm" c="dimmed">—</Text>}</Table.Td>
                  <Table.Td>
                    <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                      {new Date(d.createdTime).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <DeviceActivity deviceId={d.id.id} now={now} />
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap" justify="flex-end">
                      <Tooltip label="Connect">
                        <ActionIcon variant="subtle" aria-label={`Connect ${d.name}`} onClick={() => setConnecting(d)} data-testid="connect-device">
                          <IconPlug size={18} />
                        </ActionIcon>
                      </Tooltip>
                      <Tooltip label="Edit">
                        <ActionIcon variant="subtle" aria-label={`Edit ${d.name}`} onClick={() => setEditing({ device: d })} data-testid="edit-device">
                          <IconPencil size={18} />
                        </ActionIcon>
                      </Tooltip>
                      <Tooltip label="Delete">
                        <ActionIcon variant="subtle" color="red" aria-label={`Delete ${d.name}`} onClick={() => confirmDelete(d)} data-testid="delete-device">
                          <IconTrash size={18} />
                        </ActionIcon>
                      </Tooltip>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        <Group justify="space-between" mt="md">
          <Text size="sm" c="dimmed" data-testid="devices-total">
            {page.totalElements} {page.totalElements === 1 ? 'device' : 'devices'}
          </Text>
          <Group gap="sm">
            <Select
              aria-label="Devices per page"
              data-testid="page-size"
              data={PAGE_SIZES.map((s) => ({ value: s, label: `${s} per page` }))}
              value={String(params.pageSize)}
              onChange={(v) => v && setParams({ pageSize: Number(v), page: 0 })}
              allowDeselect={false}
              w={140}
              size="sm"
            />
            <Pagination total={Math.max(1, page.totalPages)} value={params.page + 1} onChange={(p) => setParams({ page: p - 1 })} size="sm" data-testid="pagination" />
          </Group>
        </Group>
      </>
    );
  }

  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>Devices</Title>
        {createButton}
      </Group>
      <Card withBorder padding="md">
        {!noDevicesAtAll && (
          <Group mb="md" gap="sm" align="flex-start">
            <TextInput
              placeholder="Search by name"
              aria-label="Search devices"
              leftSection={<IconSearch size={16} />}
              value={search}
              onChange={(e) => setSearch(e.currentTarget.value)}
              w={360}
              maw="100%"
              data-testid="device-search"
            />
            <ProfileSelect filter value={params.deviceProfileId} onChange={(id) => setParams({ deviceProfileId: id, page: 0 })} />
          </Group>
        )}
        {body}
      </Card>
      <DeviceFormModal opened={editing !== null} device={editing?.device} onClose={() => setEditing(null)} onSaved={(d) => (editing?.device ? undefined : setConnecting(d))} />
      <ConnectDrawer device={connecting} onClose={() => setConnecting(null)} />
    </>
  );
}
