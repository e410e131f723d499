import { useCallback, useState } from 'react';
import { ActionIcon, Badge, Button, Card, Group, ScrollArea, Table, Tabs, Text, Title, Tooltip } from '@mantine/core';
import { modals } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { IconPencil, IconPlus, IconTrash } from '@tabler/icons-react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { AttributeScopeName, Json } from '@rivulet/api-types';
import { errorMessage } from '../../api/client';
import { useSubscription } from '../../api/use-subscription';
import { EmptyState, ErrorState, LoadingState } from '../../components/PageState';
import { AttributeEditor, type AttributeDraft } from './AttributeEditor';
import { typeOf } from './attribute-value';
import { ago, deleteAttribute, displayValue, getAttributes, saveAttribute } from './device-api';
import { useNow } from '../use-now';

const SCOPE_LABEL: Record<AttributeScopeName, string> = { CLIENT_SCOPE: 'Client', SHARED_SCOPE: 'Shared', SERVER_SCOPE: 'Server' };
const SCOPE_HELP: Record<AttributeScopeName, string> = {
  CLIENT_SCOPE: 'Reported by the device itself; read-only here.',
  SHARED_SCOPE: 'Set here, pushed to the device (it receives changes on v1/devices/me/attributes).',
  SERVER_SCOPE: 'Kept on the server; the device does not see them.',
};

/** The query of one scope's attributes, refreshed whenever the WebSocket says one changed. */
export function useAttributes(deviceId: string, scope: AttributeScopeName) {
  const qc = useQueryClient();
  const queryKey = ['device-attributes', deviceId, scope];
  const query = useQuery({ queryKey, queryFn: () => getAttributes(deviceId, scope) });
  // Wire values are strings: the REST read gives them typed, so an update means "read again".
  const onData = useCallback(() => void qc.invalidateQueries({ queryKey: ['device-attributes', deviceId, scope] }), [qc, deviceId, scope]);
  useSubscription({ type: 'ATTRIBUTES', entityType: 'DEVICE', entityId: deviceId, scope }, onData);
  return query;
}

/** Attributes in their three scopes: client read-only; shared and server added, edited, deleted. */
export function AttributesPanel({ deviceId }: { deviceId: string }) {
  const [scope, setScope] = useState<AttributeScopeName>('SHARED_SCOPE');
  return (
    <Card withBorder padding="md" data-testid="attributes">
      <Title order={4} mb="xs">
        Attributes
      </Title>
      <Tabs value={scope} onChange={(v) => v && setScope(v as AttributeScopeName)} keepMounted={false}>
        <Tabs.List>
          {(['CLIENT_SCOPE', 'SHARED_SCOPE', 'SERVER_SCOPE'] as const).map((s) => (
            <Tabs.Tab key={s} value={s} data-testid={`attr-tab-${s}`}>
              {SCOPE_LABEL[s]}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        {(['CLIENT_SCOPE', 'SHARED_SCOPE', 'SERVER_SCOPE'] as const).map((s) => (
          <Tabs.Panel key={s} value={s} pt="sm">
            <ScopeTable deviceId={deviceId} scope={s} />
          </Tabs.Panel>
        ))}
      </Tabs>
    </Card>
  );
}

function ScopeTable({ deviceId, scope }: { deviceId: string; scope: AttributeScopeName }) {
  const query = useAttributes(deviceId, scope);
  const qc = useQueryClient();
  const now = useNow(5000);
  const [editing, setEditing] = useState<AttributeDraft | null>(null);
  const [open, setOpen] = useState(false);
  const editable = scope !== 'CLIENT_SCOPE';
  const label = SCOPE_LABEL[scope].toLowerCase();
  const refresh = () => qc.invalidateQueries({ queryKey: ['device-attributes', deviceId, scope] });

  const save = async (key: string, value: Json) => {
    try {
      await saveAttribute(deviceId, scope, key, value);
      notifications.show({ color: 'green', message: `Saved ${label} attribute "${key}"` });
      await refresh();
    } catch (e) {
      notifications.show({ color: 'red', title: 'Could not save the attribute', message: errorMessage(e) });
      throw e;
    }
  };

  const confirmDelete = (key: string) =>
    modals.openConfirmModal({
      title: `Delete ${label} attribute`,
      children: (
        <Text size="sm">
          Delete <b>{key}</b>? {scope === 'SHARED_SCOPE' ? 'The device is told it is gone.' : ''}
        </Text>
      ),
      labels: { confirm: 'Delete', cancel: 'Cancel' },
      confirmProps: { color: 'red', 'data-testid': 'confirm-delete' } as Record<string, unknown>,
      onConfirm: async () => {
        try {
          await deleteAttribute(deviceId, scope, key);
          notifications.show({ color: 'green', message: `Deleted "${key}"` });
          await refresh();
        } catch (e) {
          notifications.show({ color: 'red', title: 'Could not delete the attribute', message: errorMessage(e) });
        }
      },
    });

  const rows = [...(query.data ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  return (
    <>
      <Group justify="space-between" mb="xs" wrap="nowrap">
        <Text size="xs" c="dimmed">
          {SCOPE_HELP[scope]}
        </Text>
        {editable && (
          <Button
            size="xs"
            leftSection={<IconPlus size={14} />}
            onClick={() => {
              setEditing(null);
              setOpen(true);
            }}
            data-testid={`attr-add-${scope}`}
          >
            Add
          </Button>
        )}
      </Group>
      {query.isLoading ? (
        <LoadingState />
      ) : query.error ? (
        <ErrorState error={query.error} onRetry={() => void query.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState title={`No ${label} attributes`}>{editable ? 'Add one with the button above.' : 'The device has not reported any.'}</EmptyState>
      ) : (
        <ScrollArea.Autosize mah={320}>
          <Table striped highlightOnHover verticalSpacing={6} data-testid={`attr-table-${scope}`}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Key</Table.Th>
                <Table.Th>Value</Table.Th>
                <Table.Th>Type</Table.Th>
                <Table.Th>Updated</Table.Th>
                {editable && <Table.Th w={80} />}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((a) => (
                <Table.Tr key={a.key} data-testid={`attr-row-${a.key}`}>
                  <Table.Td>
                    <Text size="sm" ff="monospace">
                      {a.key}
                    </Text>
                  </Table.Td>
                  <Table.Td data-testid={`attr-value-${a.key}`}>
                    <Text size="sm" lineClamp={2} style={{ wordBreak: 'break-all' }} ff={typeof a.value === 'object' ? 'monospace' : undefined}>
                      {displayValue(a.value)}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge size="xs" variant="light" color="gray">
                      {typeOf(a.value)}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Text size="xs" c="dimmed" title={new Date(a.lastUpdateTs).toLocaleString()} style={{ whiteSpace: 'nowrap' }}>
                      {ago(a.lastUpdateTs, now)}
                    </Text>
                  </Table.Td>
                  {editable && (
                    <Table.Td>
                      <Group gap={4} wrap="nowrap">
                        <Tooltip label="Edit">
                          <ActionIcon
                            variant="subtle"
                            aria-label={`Edit ${a.key}`}
                            onClick={() => {
                              setEditing({ key: a.key, value: a.value });
                              setOpen(true);
                            }}
                            data-testid={`attr-edit-${a.key}`}
                          >
                            <IconPencil size={16} />
                          </ActionIcon>
                        </Tooltip>
                        <Tooltip label="Delete">
                          <ActionIcon variant="subtle" color="red" aria-label={`Delete ${a.key}`} onClick={() => confirmDelete(a.key)} data-testid={`attr-delete-${a.key}`}>
                            <IconTrash size={16} />
                          </ActionIcon>
                        </Tooltip>
                      </Group>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </ScrollArea.Autosize>
      )}
      {editable && <AttributeEditor opened={open} initial={editing} scopeLabel={label} existingKeys={rows.map((r) => r.key)} onClose={() => setOpen(false)} onSave={save} />}
    </>
  );
}
