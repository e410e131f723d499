import { useState, type ReactNode } from 'react';
import { ActionIcon, Anchor, Badge, Button, Card, Group, Table, Text, TextInput, Title, Tooltip } from '@mantine/core';
import { modals } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { IconPlug, IconPlus, IconSearch } from '@tabler/icons-react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import type { DeviceDto } from '@rivulet/api-types';
import { errorMessage } from '../api/client';
import { ListFooter, RowActions, SortHeader } from '../components/ListTable';
import { EmptyState, ErrorState, LoadingState } from '../components/PageState';
import { useLastPageFallback, useListParams, useSearchText, type SortOrder } from '../components/use-list-params';
import { ProfileSelect } from '../device-profiles/ProfileSelect';
import { ConnectDrawer } from './ConnectDrawer';
import { DeviceActivity } from './DeviceActivity';
import { DeviceFormModal } from './DeviceFormModal';
import { deleteDevice, isGateway, listDevices, type SortProperty } from './devices-api';
import { useNow } from './use-now';

const SORTABLE: readonly SortProperty[] = ['name', 'deviceProfileName', 'createdTime'];

export default function DevicesPage() {
  // The profile filter lives in the URL too, as `profile`.
  const [params, setParams] = useListParams(SORTABLE, { deviceProfileId: 'profile' });
  const [search, setSearch] = useSearchText(params.textSearch, setParams);
  const [editing, setEditing] = useState<{ device?: DeviceDto } | null>(null);
  const [connecting, setConnecting] = useState<DeviceDto | null>(null);
  const now = useNow(5000);
  const queryClient = useQueryClient();

  const list = useQuery({ queryKey: ['devices', params], queryFn: ({ signal }) => listDevices(params, signal), placeholderData: keepPreviousData });

  useLastPageFallback(list, params.page, setParams);

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
  const onSort = (p: SortProperty, o: SortOrder) => setParams({ sortProperty: p, sortOrder: o, page: 0 });
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
                <SortHeader label="Name" property="name" params={params} onSort={onSort} />
                <SortHeader label="Device profile" property="deviceProfileName" params={params} onSort={onSort} />
                <Table.Th>Label</Table.Th>
                <Table.Th>Gateway</Table.Th>
                <SortHeader label="Created" property="createdTime" params={params} onSort={onSort} />
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
                    <RowActions name={d.name} kind="device" onEdit={() => setEditing({ device: d })} onDelete={() => confirmDelete(d)}>
                      <Tooltip label="Connect">
                        <ActionIcon variant="subtle" aria-label={`Connect ${d.name}`} onClick={() => setConnecting(d)} data-testid="connect-device">
                          <IconPlug size={18} />
                        </ActionIcon>
                      </Tooltip>
                    </RowActions>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        <ListFooter result={page} params={params} onChange={setParams} noun={['device', 'devices']} totalTestId="devices-total" />
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
