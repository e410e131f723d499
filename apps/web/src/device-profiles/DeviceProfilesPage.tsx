import { useEffect, useState, type ReactNode } from 'react';
import { ActionIcon, Alert, Anchor, Badge, Button, Card, Group, Pagination, Select, Table, Text, TextInput, Title, Tooltip, UnstyledButton } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { modals } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { IconArrowsSort, IconChevronDown, IconChevronUp, IconCircleCheckFilled, IconPencil, IconPlus, IconSearch, IconStar, IconStarFilled, IconTrash } from '@tabler/icons-react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import type { DeviceProfileDto } from '@rivulet/api-types';
import { errorMessage } from '../api/client';
import { EmptyState, ErrorState, LoadingState } from '../components/PageState';
import { deleteProfile, getRuleChain, listProfiles, profileKeys, provisionLabel, setDefaultProfile, TRANSPORT_LABELS, type ProfileListParams, type ProfileSortProperty } from './device-profiles-api';
import { ProfileFormModal } from './ProfileFormModal';

const PAGE_SIZES = ['10', '20', '50'];
const SORTABLE: readonly ProfileSortProperty[] = ['name', 'transportType', 'createdTime'];

/** Paging, search and sort live in the URL, as on the devices page. */
function useListParams(): [ProfileListParams, (patch: Partial<ProfileListParams>) => void] {
  const [sp, setSp] = useSearchParams();
  const sortProperty = (SORTABLE as readonly string[]).includes(sp.get('sort') ?? '') ? (sp.get('sort') as ProfileSortProperty) : 'createdTime';
  const params: ProfileListParams = {
    page: Math.max(0, Number(sp.get('page') ?? 0) || 0),
    pageSize: PAGE_SIZES.includes(sp.get('pageSize') ?? '') ? Number(sp.get('pageSize')) : 10,
    textSearch: sp.get('q') ?? '',
    sortProperty,
    sortOrder: sp.get('order') === 'ASC' ? 'ASC' : sp.get('order') === 'DESC' ? 'DESC' : sortProperty === 'createdTime' ? 'DESC' : 'ASC',
  };
  const update = (patch: Partial<ProfileListParams>) => {
    const next = { ...params, ...patch };
    const out = new URLSearchParams();
    if (next.page) out.set('page', String(next.page));
    if (next.pageSize !== 10) out.set('pageSize', String(next.pageSize));
    if (next.textSearch) out.set('q', next.textSearch);
    if (next.sortProperty !== 'createdTime' || next.sortOrder !== 'DESC') {
      out.set('sort', next.sortProperty);
      out.set('order', next.sortOrder);
    }
    setSp(out, { replace: true });
  };
  return [params, update];
}

function SortHeader({ label, property, params, onSort }: { label: string; property: ProfileSortProperty; params: ProfileListParams; onSort: (p: ProfileSortProperty, o: 'ASC' | 'DESC') => void }) {
  const active = params.sortProperty === property;
  const Icon = !active ? IconArrowsSort : params.sortOrder === 'ASC' ? IconChevronUp : IconChevronDown;
  const nextOrder = active ? (params.sortOrder === 'ASC' ? 'DESC' : 'ASC') : property === 'createdTime' ? 'DESC' : 'ASC';
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

/** The profile's chain by name (a link to it), or the root chain when it names none. */
function RuleChainName({ id }: { id: string | null }) {
  const chain = useQuery({ queryKey: ['ruleChains', 'chain', id], queryFn: ({ signal }) => getRuleChain(id!, signal), enabled: id !== null });
  if (id === null)
    return (
      <Text size="sm" c="dimmed">
        Root chain
      </Text>
    );
  if (chain.isError)
    return (
      <Text size="sm" c="red">
        {errorMessage(chain.error)}
      </Text>
    );
  return (
    <Anchor component={Link} to={`/rule-chains/${id}`} size="sm">
      {chain.data?.name ?? '…'}
    </Anchor>
  );
}

/** The tenant's device profiles: search, paging, create, edit, default, delete. */
export default function DeviceProfilesPage() {
  const [params, setParams] = useListParams();
  const [search, setSearch] = useState(params.textSearch);
  const [debouncedSearch] = useDebouncedValue(search, 300);
  const [editing, setEditing] = useState<{ profile?: DeviceProfileDto } | null>(null);
  // The server's refusal stays on the page until dismissed (a notification is easily missed).
  const [deleteError, setDeleteError] = useState<{ name: string; message: string } | null>(null);
  const queryClient = useQueryClient();

  useEffect(() => {
    if (debouncedSearch !== params.textSearch) setParams({ textSearch: debouncedSearch, page: 0 });
  }, [debouncedSearch]);

  const list = useQuery({ queryKey: profileKeys.list(params), queryFn: ({ signal }) => listProfiles(params, signal), placeholderData: keepPreviousData });

  useEffect(() => {
    const d = list.data;
    if (d && !list.isPlaceholderData && d.data.length === 0 && params.page > 0) setParams({ page: Math.max(0, d.totalPages - 1) });
  });

  const refresh = () => queryClient.invalidateQueries({ queryKey: profileKeys.all });

  const makeDefault = useMutation({
    mutationFn: (p: DeviceProfileDto) => setDefaultProfile(p.id.id),
    onSuccess: async (p) => {
      await refresh();
      notifications.show({ color: 'green', message: `"${p.name}" is now the default device profile` });
    },
    onError: (e, p) => notifications.show({ color: 'red', title: `"${p.name}" not made default`, message: errorMessage(e) }),
  });

  const remove = useMutation({
    mutationFn: (p: DeviceProfileDto) => deleteProfile(p.id.id),
    onMutate: () => setDeleteError(null),
    onSuccess: async (_, p) => {
      await refresh();
      notifications.show({ color: 'green', message: `Device profile "${p.name}" deleted` });
    },
    onError: (e, p) => setDeleteError({ name: p.name, message: errorMessage(e) }),
  });

  function confirmDelete(p: DeviceProfileDto) {
    modals.openConfirmModal({
      title: `Delete device profile ${p.name}?`,
      children: (
        <Text size="sm">
          Device profile <b>{p.name}</b> will be deleted with its alarm rules and provisioning settings. A profile that devices use, or the default profile, cannot be deleted.
        </Text>
      ),
      labels: { confirm: 'Delete', cancel: 'Cancel' },
      confirmProps: { color: 'red', 'data-testid': 'confirm-delete' } as Record<string, string>,
      onConfirm: () => remove.mutate(p),
    });
  }

  const filtering = params.textSearch !== '';
  const nothingAtAll = !filtering && search === '' && list.data?.totalElements === 0;
  const onSort = (p: ProfileSortProperty, o: 'ASC' | 'DESC') => setParams({ sortProperty: p, sortOrder: o, page: 0 });
  let body: ReactNode;
  if (list.isPending) body = <LoadingState label="Loading device profiles…" />;
  else if (list.isError) body = <ErrorState error={list.error} onRetry={() => void list.refetch()} title="Device profiles not loaded" />;
  else if (list.data.totalElements === 0 && !filtering) {
    body = (
      <EmptyState
        title="No device profiles yet — create one"
        action={
          <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing({})} data-testid="create-first-profile">
            Create a device profile
          </Button>
        }
      >
        A profile gives its devices a rule chain, alarm rules and a way to provision themselves.
      </EmptyState>
    );
  } else if (list.data.data.length === 0 && filtering) {
    body = <EmptyState title="No matching device profiles">No profile name contains “{params.textSearch}”.</EmptyState>;
  } else {
    const page = list.data;
    body = (
      <>
        <Table.ScrollContainer minWidth={960}>
          <Table highlightOnHover verticalSpacing="sm" data-testid="profiles-table" style={{ opacity: list.isPlaceholderData ? 0.6 : 1 }}>
            <Table.Thead>
              <Table.Tr>
                <SortHeader label="Name" property="name" params={params} onSort={onSort} />
                <SortHeader label="Transport" property="transportType" params={params} onSort={onSort} />
                <Table.Th>Provisioning</Table.Th>
                <Table.Th>Default rule chain</Table.Th>
                <Table.Th ta="center">Default</Table.Th>
                <SortHeader label="Created" property="createdTime" params={params} onSort={onSort} />
                <Table.Th w={130} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {page.data.map((p) => (
                <Table.Tr key={p.id.id} data-testid="profile-row" data-profile-name={p.name} data-default={p.default}>
                  <Table.Td>
                    <UnstyledButton onClick={() => setEditing({ profile: p })} data-testid="profile-name">
                      <Text size="sm" fw={500} c="blue">
                        {p.name}
                      </Text>
                    </UnstyledButton>
                    {p.description && (
                      <Text size="xs" c="dimmed" lineClamp={1} maw={280}>
                        {p.description}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{TRANSPORT_LABELS[p.transportType]}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" c={p.provisionType === 'DISABLED' ? 'dimmed' : undefined} data-testid="profile-provision">
                      {provisionLabel(p.provisionType)}
                    </Text>
                  </Table.Td>
                  <Table.Td data-testid="profile-rule-chain-cell">
                    <RuleChainName id={p.defaultRuleChainId?.id ?? null} />
                  </Table.Td>
                  <Table.Td ta="center">
                    {p.default ? (
                      <Tooltip label="The default profile: devices created without one get it">
                        <Badge variant="light" color="green" leftSection={<IconCircleCheckFilled size={12} />} data-testid="default-badge">
                          Default
                        </Badge>
                      </Tooltip>
                    ) : (
                      <Text size="sm" c="dimmed">
                        —
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" style={{ whiteSpace: 'nowrap' }}>
                      {new Date(p.createdTime).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap" justify="flex-end">
                      <Tooltip label={p.default ? 'Already the default profile' : 'Make default'}>
                        <ActionIcon
                          variant="subtle"
                          color="yellow"
                          aria-label={`Make ${p.name} the default profile`}
                          disabled={p.default || makeDefault.isPending}
                          onClick={() => makeDefault.mutate(p)}
                          data-testid="make-default"
                          // The default row's star is a filled marker, not a greyed-out button.
                          style={p.default ? { backgroundColor: 'transparent', color: 'var(--mantine-color-yellow-6)' } : undefined}
                        >
                          {p.default ? <IconStarFilled size={18} /> : <IconStar size={18} />}
                        </ActionIcon>
                      </Tooltip>
                      <Tooltip label="Edit">
                        <ActionIcon variant="subtle" aria-label={`Edit ${p.name}`} onClick={() => setEditing({ profile: p })} data-testid="edit-profile">
                          <IconPencil size={18} />
                        </ActionIcon>
                      </Tooltip>
                      <Tooltip label="Delete">
                        <ActionIcon variant="subtle" color="red" aria-label={`Delete ${p.name}`} onClick={() => confirmDelete(p)} data-testid="delete-profile">
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
          <Text size="sm" c="dimmed" data-testid="profiles-total">
            {page.totalElements} {page.totalElements === 1 ? 'device profile' : 'device profiles'}
          </Text>
          <Group gap="sm">
            <Select
              aria-label="Device profiles per page"
              data={PAGE_SIZES.map((s) => ({ value: s, label: `${s} per page` }))}
              value={String(params.pageSize)}
              onChange={(v) => v && setParams({ pageSize: Number(v), page: 0 })}
              allowDeselect={false}
              w={140}
              size="sm"
            />
            <Pagination total={Math.max(1, page.totalPages)} value={params.page + 1} onChange={(n) => setParams({ page: n - 1 })} size="sm" data-testid="pagination" />
          </Group>
        </Group>
      </>
    );
  }

  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>Device profiles</Title>
        <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing({})} data-testid="create-profile">
          Add device profile
        </Button>
      </Group>
      {deleteError && (
        <Alert color="red" title={`Device profile "${deleteError.name}" was not deleted`} withCloseButton onClose={() => setDeleteError(null)} mb="md" data-testid="delete-error">
          {deleteError.message}
        </Alert>
      )}
      <Card withBorder padding="md">
        {!nothingAtAll && (
          <TextInput
            placeholder="Search by name"
            aria-label="Search device profiles"
            leftSection={<IconSearch size={16} />}
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            mb="md"
            maw={360}
            data-testid="profile-search"
          />
        )}
        {body}
      </Card>
      <ProfileFormModal opened={editing !== null} profile={editing?.profile} onClose={() => setEditing(null)} />
    </>
  );
}
