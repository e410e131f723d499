import { useState } from 'react';
import { ActionIcon, Anchor, Button, FileButton, Group, Menu, Modal, Pagination, Paper, Stack, Table, Text, TextInput, Title, UnstyledButton } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { modals } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { IconChevronDown, IconChevronUp, IconDotsVertical, IconDownload, IconPencil, IconPlus, IconSearch, IconTrash, IconUpload } from '@tabler/icons-react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router';
import type { DashboardInfoDto, DashboardInfoPage } from '@rivulet/api-types';
import { api, errorMessage } from '../api/client';
import { EmptyState, ErrorState, LoadingState } from '../components/PageState';
import { downloadDashboard, importDashboard } from './io';
import { emptyConfiguration } from './model';

const PAGE_SIZE = 20;
type Sort = { property: 'title' | 'createdTime'; order: 'ASC' | 'DESC' };

/** The tenant's dashboards: search, sort and pages; create, rename, delete; import and export ThingsBoard's JSON. */
export default function DashboardsPage() {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search.trim(), 250);
  const [page, setPage] = useState(0);
  const [sort, setSort] = useState<Sort>({ property: 'createdTime', order: 'DESC' });
  const [naming, setNaming] = useState<{ dashboard: DashboardInfoDto | null; title: string } | null>(null);
  const list = useQuery({
    queryKey: ['dashboards', debounced, page, sort],
    queryFn: () => api<DashboardInfoPage>('/api/tenant/dashboards', { query: { pageSize: PAGE_SIZE, page, textSearch: debounced, sortProperty: sort.property, sortOrder: sort.order } }),
    placeholderData: keepPreviousData,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['dashboards'] });

  const saveTitle = useMutation({
    mutationFn: async ({ dashboard, title }: { dashboard: DashboardInfoDto | null; title: string }) => {
      if (!dashboard) return api<DashboardInfoDto>('/api/dashboard', { method: 'POST', body: { title, configuration: emptyConfiguration(title) } });
      // A rename keeps the configuration (left out of the body, the server keeps it).
      return api<DashboardInfoDto>('/api/dashboard', { method: 'POST', body: { id: dashboard.id.id, title } });
    },
    onSuccess: (d, { dashboard }) => {
      setNaming(null);
      void refresh();
      void queryClient.invalidateQueries({ queryKey: ['dashboard', d.id.id] });
      if (!dashboard) void navigate(`/dashboards/${d.id.id}`);
      else notifications.show({ color: 'green', message: `Renamed to “${d.title}”` });
    },
  });

  const remove = (d: DashboardInfoDto) =>
    modals.openConfirmModal({
      title: 'Delete dashboard',
      children: (
        <Text size="sm">
          Delete <b>{d.title}</b>? Its widgets and layout are lost; the devices and their data stay.
        </Text>
      ),
      labels: { confirm: 'Delete', cancel: 'Cancel' },
      confirmProps: { color: 'red', 'data-testid': 'confirm-delete' } as never,
      onConfirm: async () => {
        try {
          await api(`/api/dashboard/${d.id.id}`, { method: 'DELETE' });
          queryClient.removeQueries({ queryKey: ['dashboard', d.id.id] });
          notifications.show({ color: 'green', message: `Deleted “${d.title}”` });
          await refresh();
        } catch (e) {
          notifications.show({ color: 'red', title: 'Could not delete the dashboard', message: errorMessage(e) });
        }
      },
    });

  const onImport = async (file: File | null) => {
    if (!file) return;
    try {
      const d = await importDashboard(file);
      notifications.show({ color: 'green', message: `Imported “${d.title}”` });
      await refresh();
      void navigate(`/dashboards/${d.id.id}`);
    } catch (e) {
      notifications.show({ color: 'red', title: 'Could not import the dashboard', message: errorMessage(e) });
    }
  };
  const onExport = (d: DashboardInfoDto) => void downloadDashboard(d.id.id).catch((e: unknown) => notifications.show({ color: 'red', title: 'Could not export', message: errorMessage(e) }));

  const sortHeader = (property: Sort['property'], label: string) => (
    <UnstyledButton
      onClick={() => setSort((s) => ({ property, order: s.property === property && s.order === 'ASC' ? 'DESC' : 'ASC' }))}
      data-testid={`sort-${property}`}
      style={{ display: 'inline-flex', alignItems: 'center', gap: 4, fontWeight: 600, fontSize: 'inherit' }}
    >
      {label}
      {sort.property === property && (sort.order === 'ASC' ? <IconChevronUp size={14} /> : <IconChevronDown size={14} />)}
    </UnstyledButton>
  );

  const rows = list.data?.data ?? [];
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>Dashboards</Title>
        <Group gap="xs">
          <FileButton onChange={(f) => void onImport(f)} accept="application/json,.json">
            {(props) => (
              <Button variant="default" leftSection={<IconUpload size={16} />} {...props} data-testid="import-dashboard">
                Import JSON
              </Button>
            )}
          </FileButton>
          <Button leftSection={<IconPlus size={16} />} onClick={() => setNaming({ dashboard: null, title: '' })} data-testid="create-dashboard">
            Create dashboard
          </Button>
        </Group>
      </Group>
      <TextInput
        mb="md"
        maw={360}
        leftSection={<IconSearch size={16} />}
        placeholder="Search by title"
        value={search}
        onChange={(e) => {
          setSearch(e.currentTarget.value);
          setPage(0);
        }}
        data-testid="dashboard-search"
      />
      {list.isPending ? (
        <LoadingState label="Loading dashboards…" />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} title="Could not load the dashboards" />
      ) : rows.length === 0 ? (
        debounced ? (
          <EmptyState title="No dashboard matches">Nothing is titled like “{debounced}”.</EmptyState>
        ) : (
          <EmptyState
            title="No dashboards yet"
            action={
              <Group gap="xs">
                <Button leftSection={<IconPlus size={16} />} onClick={() => setNaming({ dashboard: null, title: '' })}>
                  Create a dashboard
                </Button>
                <FileButton onChange={(f) => void onImport(f)} accept="application/json,.json">
                  {(props) => (
                    <Button variant="default" leftSection={<IconUpload size={16} />} {...props}>
                      Import JSON
                    </Button>
                  )}
                </FileButton>
              </Group>
            }
          >
            A dashboard shows your devices' telemetry live: charts, value cards, gauges, tables and alarms. ThingsBoard exports import as they are.
          </EmptyState>
        )
      ) : (
        <Stack gap="sm">
          <Paper withBorder radius="md" style={{ overflowX: 'auto' }}>
            <Table highlightOnHover verticalSpacing="sm" data-testid="dashboards-table" miw={560}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{sortHeader('title', 'Title')}</Table.Th>
                  <Table.Th>Description</Table.Th>
                  <Table.Th>{sortHeader('createdTime', 'Created')}</Table.Th>
                  <Table.Th w={60} />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {rows.map((d) => (
                  <Table.Tr key={d.id.id} data-testid="dashboard-row" data-title={d.title}>
                    <Table.Td>
                      <Anchor component={Link} to={`/dashboards/${d.id.id}`} fw={500}>
                        {d.title}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" c="dimmed" lineClamp={1}>
                        {d.description || '—'}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm">{new Date(d.createdTime).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}</Text>
                    </Table.Td>
                    <Table.Td>
                      <Menu position="bottom-end" withinPortal>
                        <Menu.Target>
                          <ActionIcon variant="subtle" aria-label={`Actions for ${d.title}`} data-testid="dashboard-actions">
                            <IconDotsVertical size={16} />
                          </ActionIcon>
                        </Menu.Target>
                        <Menu.Dropdown>
                          <Menu.Item leftSection={<IconPencil size={14} />} onClick={() => setNaming({ dashboard: d, title: d.title })} data-testid="rename-dashboard">
                            Rename
                          </Menu.Item>
                          <Menu.Item leftSection={<IconDownload size={14} />} onClick={() => onExport(d)} data-testid="export-row">
                            Export JSON
                          </Menu.Item>
                          <Menu.Divider />
                          <Menu.Item color="red" leftSection={<IconTrash size={14} />} onClick={() => remove(d)} data-testid="delete-dashboard">
                            Delete
                          </Menu.Item>
                        </Menu.Dropdown>
                      </Menu>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Paper>
          <Group justify="space-between">
            <Text size="sm" c="dimmed" data-testid="dashboards-total">
              {list.data.totalElements} dashboard{list.data.totalElements === 1 ? '' : 's'}
            </Text>
            {list.data.totalPages > 1 && <Pagination total={list.data.totalPages} value={page + 1} onChange={(p) => setPage(p - 1)} size="sm" />}
          </Group>
        </Stack>
      )}
      <Modal opened={naming !== null} onClose={() => (setNaming(null), saveTitle.reset())} title={naming?.dashboard ? 'Rename dashboard' : 'Create dashboard'}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (naming && naming.title.trim()) saveTitle.mutate({ dashboard: naming.dashboard, title: naming.title.trim() });
          }}
        >
          <Stack>
            <TextInput
              label="Title"
              data-autofocus
              required
              value={naming?.title ?? ''}
              onChange={(e) => {
                const title = e.currentTarget.value;
                setNaming((n) => (n ? { ...n, title } : n));
              }}
              error={saveTitle.error ? errorMessage(saveTitle.error) : undefined}
              data-testid="dashboard-title-input"
            />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setNaming(null)}>
                Cancel
              </Button>
              <Button type="submit" loading={saveTitle.isPending} disabled={!naming?.title.trim()} data-testid="dashboard-title-save">
                {naming?.dashboard ? 'Rename' : 'Create'}
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </>
  );
}

