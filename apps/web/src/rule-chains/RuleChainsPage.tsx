import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ActionIcon, Alert, Anchor, Badge, Button, Card, FileButton, Group, List, Menu, Modal, Pagination, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { modals } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { IconDots, IconDownload, IconPencil, IconPlus, IconSearch, IconStar, IconTrash, IconUpload } from '@tabler/icons-react';
import { api, errorMessage } from '../api/client';
import { EmptyState, ErrorState, LoadingState } from '../components/PageState';
import { chainKeys, downloadJson, parseNodeErrors, type Page, type RuleChainDto } from './chain-api';

const PAGE_SIZE = 10;

/** The tenant's rule chains: search, paging, create, rename, delete, root, import and export. */
export default function RuleChainsPage() {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [search, setSearch] = useState('');
  const [textSearch] = useDebouncedValue(search.trim(), 250);
  const [page, setPage] = useState(0);
  const [nameDialog, setNameDialog] = useState<{ chain: RuleChainDto | null } | null>(null);
  const [importError, setImportError] = useState<string | null>(null);

  const list = useQuery({
    queryKey: chainKeys.list({ page, textSearch }),
    queryFn: () => api<Page<RuleChainDto>>('/api/ruleChains', { query: { pageSize: PAGE_SIZE, page, textSearch, sortProperty: 'name', sortOrder: 'ASC' } }),
    placeholderData: keepPreviousData,
  });
  const refresh = () => qc.invalidateQueries({ queryKey: chainKeys.all });

  const setRoot = useMutation({
    mutationFn: (c: RuleChainDto) => api<RuleChainDto>(`/api/ruleChain/${c.id.id}/root`, { method: 'POST' }),
    onSuccess: (c) => {
      notifications.show({ color: 'green', message: `"${c.name}" is now the root chain: device messages enter it` });
      void refresh();
    },
    onError: (e) => notifications.show({ color: 'red', title: 'Could not set the root chain', message: errorMessage(e) }),
  });

  function confirmDelete(c: RuleChainDto) {
    modals.openConfirmModal({
      title: `Delete "${c.name}"?`,
      children: <Text size="sm">Its nodes, links and debug events are deleted. This cannot be undone.</Text>,
      labels: { confirm: 'Delete', cancel: 'Cancel' },
      confirmProps: { color: 'red', 'data-testid': 'confirm-delete' } as never,
      onConfirm: async () => {
        try {
          await api(`/api/ruleChain/${c.id.id}`, { method: 'DELETE' });
          notifications.show({ color: 'green', message: `Deleted "${c.name}"` });
          void refresh();
        } catch (e) {
          // The root chain: the server's own words ("Deletion of Root Tenant Rule Chain is prohibited!").
          notifications.show({ color: 'red', title: `"${c.name}" was not deleted`, message: errorMessage(e), autoClose: 8000 });
        }
      },
    });
  }

  async function exportChain(c: RuleChainDto) {
    try {
      const body = await api<unknown>(`/api/ruleChain/${c.id.id}/export`);
      downloadJson(`${c.name.replace(/[^\w.-]+/g, '_') || 'rule-chain'}.json`, body);
    } catch (e) {
      notifications.show({ color: 'red', title: 'Export failed', message: errorMessage(e) });
    }
  }

  async function importFile(file: File | null) {
    if (!file) return;
    setImportError(null);
    let body: unknown;
    try {
      body = JSON.parse(await file.text());
    } catch (e) {
      setImportError(`${file.name} is not JSON: ${errorMessage(e)}`);
      return;
    }
    try {
      const c = await api<RuleChainDto>('/api/ruleChain/import', { method: 'POST', body });
      notifications.show({ color: 'green', message: `Imported "${c.name}"` });
      void refresh();
      void navigate(`/rule-chains/${c.id.id}`);
    } catch (e) {
      setImportError(errorMessage(e));
    }
  }

  const data = list.data;
  return (
    <Stack gap="md">
      <Group justify="space-between" wrap="wrap">
        <Title order={2}>Rule chains</Title>
        <Group gap="xs">
          <FileButton onChange={(f) => void importFile(f)} accept="application/json,.json">
            {(props) => (
              <Button {...props} variant="default" leftSection={<IconUpload size={16} />} data-testid="import-chain">
                Import
              </Button>
            )}
          </FileButton>
          <Button leftSection={<IconPlus size={16} />} onClick={() => setNameDialog({ chain: null })} data-testid="create-chain">
            Create rule chain
          </Button>
        </Group>
      </Group>

      {importError && <ImportErrors message={importError} onClose={() => setImportError(null)} />}

      <TextInput
        placeholder="Search by name"
        leftSection={<IconSearch size={16} />}
        value={search}
        onChange={(e) => {
          setSearch(e.currentTarget.value);
          setPage(0);
        }}
        maw={360}
        aria-label="Search rule chains"
      />

      {list.isPending ? (
        <LoadingState />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : data && data.data.length === 0 ? (
        <EmptyState title={textSearch ? `No rule chain matches "${textSearch}"` : 'No rule chains yet'}>
          {textSearch ? 'Try another name.' : 'Create one, or import an export from Rivulet or ThingsBoard.'}
        </EmptyState>
      ) : (
        <Card withBorder padding={0}>
          <Table highlightOnHover verticalSpacing="sm" data-testid="chain-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Description</Table.Th>
                <Table.Th w={180}>Created</Table.Th>
                <Table.Th w={60} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data?.data.map((c) => (
                <Table.Tr key={c.id.id} data-testid="chain-row" data-name={c.name}>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      <Anchor component={Link} to={`/rule-chains/${c.id.id}`} fw={500}>
                        {c.name}
                      </Anchor>
                      {c.root && (
                        <Badge size="sm" variant="light" color="teal" data-testid="root-badge">
                          Root
                        </Badge>
                      )}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" c="dimmed" lineClamp={1}>
                      {descriptionOf(c)}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{new Date(c.createdTime).toLocaleString()}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Menu position="bottom-end" withinPortal>
                      <Menu.Target>
                        <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${c.name}`} data-testid="chain-actions">
                          <IconDots size={18} />
                        </ActionIcon>
                      </Menu.Target>
                      <Menu.Dropdown>
                        <Menu.Item leftSection={<IconPencil size={14} />} onClick={() => setNameDialog({ chain: c })}>
                          Rename
                        </Menu.Item>
                        <Menu.Item leftSection={<IconStar size={14} />} disabled={c.root} onClick={() => setRoot.mutate(c)}>
                          Make root
                        </Menu.Item>
                        <Menu.Item leftSection={<IconDownload size={14} />} onClick={() => void exportChain(c)}>
                          Export JSON
                        </Menu.Item>
                        <Menu.Divider />
                        <Menu.Item leftSection={<IconTrash size={14} />} color="red" onClick={() => confirmDelete(c)}>
                          Delete
                        </Menu.Item>
                      </Menu.Dropdown>
                    </Menu>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}
      {data && data.totalPages > 1 && (
        <Group justify="space-between">
          <Text size="sm" c="dimmed">
            {data.totalElements} rule chains
          </Text>
          <Pagination total={data.totalPages} value={page + 1} onChange={(p) => setPage(p - 1)} />
        </Group>
      )}

      <NameDialog
        state={nameDialog}
        onClose={() => setNameDialog(null)}
        onSaved={(c, created) => {
          setNameDialog(null);
          void refresh();
          if (created) void navigate(`/rule-chains/${c.id.id}`);
        }}
      />
    </Stack>
  );
}

function descriptionOf(c: RuleChainDto): string {
  const info = c.additionalInfo as { description?: unknown } | null;
  return typeof info?.description === 'string' ? info.description : '';
}

/** The import's refusal: one line per node when the engine named nodes, else the message. */
function ImportErrors({ message, onClose }: { message: string; onClose: () => void }) {
  const perNode = parseNodeErrors(message);
  const head = perNode.length > 0 ? message.slice(0, message.indexOf('node ')).replace(/[:\s]+$/, '') : message;
  return (
    <Alert color="red" title="Import refused" withCloseButton onClose={onClose} data-testid="import-error">
      <Text size="sm">{head}</Text>
      {perNode.length > 0 && (
        <List size="sm" mt="xs" spacing={2}>
          {perNode.map((e, i) => (
            <List.Item key={i} data-testid="import-node-error">
              <b>
                Node {e.nodeIndex} “{e.nodeName}”
              </b>
              {e.path ? ` ${e.path}` : ''}: {e.message}
            </List.Item>
          ))}
        </List>
      )}
    </Alert>
  );
}

function NameDialog({ state, onClose, onSaved }: { state: { chain: RuleChainDto | null } | null; onClose: () => void; onSaved: (c: RuleChainDto, created: boolean) => void }) {
  const editing = state?.chain ?? null;
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [shownFor, setShownFor] = useState<typeof state>(null);
  if (state !== shownFor) {
    // Opened (or reopened for another chain): start from that chain's name.
    setShownFor(state);
    setName(editing?.name ?? '');
    setError(null);
  }
  async function submit() {
    setBusy(true);
    setError(null);
    try {
      // A rename sends only the name: the server keeps the rest as stored, so a list read a while ago
      // cannot put back an older configuration or description.
      const body = editing ? { id: editing.id, name } : { name };
      const c = await api<RuleChainDto>('/api/ruleChain', { method: 'POST', body });
      onSaved(c, !editing);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <Modal opened={state !== null} onClose={onClose} title={editing ? `Rename "${editing.name}"` : 'New rule chain'}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Stack>
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={error} data-autofocus data-testid="chain-name-input" />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy} data-testid="chain-name-save">
              {editing ? 'Rename' : 'Create'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
