import { useState, type ReactNode } from 'react';
import { ActionIcon, Alert, Anchor, Badge, Button, Card, Group, Table, Text, TextInput, Title, Tooltip, UnstyledButton } from '@mantine/core';
import { modals } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { IconCircleCheckFilled, IconPlus, IconSearch, IconStar, IconStarFilled } from '@tabler/icons-react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import type { DeviceProfileDto } from '@rivulet/api-types';
import { errorMessage } from '../api/client';
import { ListFooter, RowActions, SortHeader } from '../components/ListTable';
import { EmptyState, ErrorState, LoadingState } from '../components/PageState';
import { useLastPageFallback, useListParams, useSearchText, type SortOrder } from '../components/use-list-params';
import { deleteProfile, getRuleChain, listProfiles, profileKeys, provisionLabel, setDefaultProfile, TRANSPORT_LABELS, type ProfileSortProperty } from './device-profiles-api';
import { ProfileFormModal } from './ProfileFormModal';

const SORTABLE: readonly ProfileSortProperty[] = ['name', 'transportType', 'createdTime'];

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
  const [params, setParams] = useListParams(SORTABLE);
  const [search, setSearch] = useSearchText(params.textSearch, setParams);
  const [editing, setEditing] = useState<{ profile?: DeviceProfileDto } | null>(null);
  // The server's refusal stays on the page until dismissed (a notification is easily missed).
  const [deleteError, setDeleteError] = useState<{ name: string; message: string } | null>(null);
  const queryClient = useQueryClient();

  const list = useQuery({ queryKey: profileKeys.list(params), queryFn: ({ signal }) => listProfiles(params, signal), placeholderData: keepPreviousData });

  useLastPageFallback(list, params.page, setParams);

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
  const onSort = (p: ProfileSortProperty, o: SortOrder) => setParams({ sortProperty: p, sortOrder: o, page: 0 });
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
                    <RowActions name={p.name} kind="profile" onEdit={() => setEditing({ profile: p })} onDelete={() => confirmDelete(p)}>
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
                    </RowActions>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
        <ListFooter result={page} params={params} onChange={setParams} noun={['device profile', 'device profiles']} totalTestId="profiles-total" />
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
