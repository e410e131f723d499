import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ActionIcon, Anchor, Badge, Breadcrumbs, Button, Group, Text, Title, Tooltip } from '@mantine/core';
import { modals } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { IconDeviceFloppy, IconDownload, IconEdit, IconPlus, IconX } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useBlocker, useParams } from 'react-router';
import type { DashboardDto } from '@rivulet/api-types';
import { api, errorMessage } from '../api/client';
import { EmptyState, ErrorState, LoadingState } from '../components/PageState';
import { DashboardGrid } from './DashboardGrid';
import { downloadDashboard } from './io';
import { kindOf, specOf, uuid, widgetsOf, withLayout, withoutWidget, withWidget, type JsonObject, type WidgetSpec } from './model';
import { readTimewindow, type TbTimewindow } from './timewindow';
import { TimewindowControl } from './TimewindowControl';
import { emptySpec, WidgetEditor } from './WidgetEditor';

/**
 * One dashboard: its widgets on the grid, live or over a history window. "Edit" works on a copy of
 * the configuration (add, move, resize, configure, remove widgets; change the time window) until
 * "Save" posts it back, or "Cancel" drops it; leaving with unsaved changes asks first.
 */
export default function DashboardPage() {
  const { dashboardId } = useParams();
  const queryClient = useQueryClient();
  const query = useQuery({ queryKey: ['dashboard', dashboardId], queryFn: () => api<DashboardDto>(`/api/dashboard/${dashboardId}`) });
  const [draft, setDraft] = useState<JsonObject | null>(null);
  const [viewTimewindow, setViewTimewindow] = useState<TbTimewindow | null>(null);
  const [editor, setEditor] = useState<{ id: string | null; spec: WidgetSpec } | null>(null);
  // Bumped when edits are dropped: the grid starts again from the saved layout.
  const [gridRevision, setGridRevision] = useState(0);
  const editing = draft !== null;
  const saved = query.data?.configuration as JsonObject | undefined;
  const dirty = editing && draft !== saved;
  const config = draft ?? saved;

  const save = useMutation({
    mutationFn: (configuration: JsonObject) => api<DashboardDto>('/api/dashboard', { method: 'POST', body: { id: dashboardId, title: query.data!.title, configuration } }),
    onSuccess: (d) => {
      queryClient.setQueryData(['dashboard', dashboardId], d);
      void queryClient.invalidateQueries({ queryKey: ['dashboards'] });
      setDraft(null);
      notifications.show({ color: 'green', message: 'Dashboard saved' });
    },
    onError: (e) => notifications.show({ color: 'red', title: 'Could not save the dashboard', message: errorMessage(e) }),
  });

  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirty && currentLocation.pathname !== nextLocation.pathname);
  useEffect(() => {
    if (blocker.state !== 'blocked') return;
    modals.openConfirmModal({
      title: 'Leave without saving?',
      children: <Text size="sm">The dashboard has changes that are not saved.</Text>,
      labels: { confirm: 'Leave', cancel: 'Stay' },
      confirmProps: { color: 'red' },
      onConfirm: () => blocker.proceed(),
      onCancel: () => blocker.reset(),
    });
  }, [blocker]);
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  const onLayout = useCallback((items: Parameters<typeof withLayout>[1]) => setDraft((d) => (d ? withLayout(d, items) : d)), []);
  const draftRef = useRef(draft);
  draftRef.current = draft;
  const onConfigure = useCallback((id: string) => {
    const d = draftRef.current;
    const w = d ? widgetsOf(d).find((p) => p.id === id)?.widget : undefined;
    const kind = w ? kindOf(w) : null;
    if (d && w && kind) setEditor({ id, spec: specOf(d, w, kind) });
  }, []);
  const onRemove = useCallback((id: string) => setDraft((d) => (d ? withoutWidget(d, id) : d)), []);

  const timewindow = useMemo(() => (editing ? readTimewindow(config ?? {}) : (viewTimewindow ?? readTimewindow(config ?? {}))), [editing, config, viewTimewindow]);

  if (query.isPending) return <LoadingState label="Loading the dashboard…" />;
  if (query.isError) return <ErrorState error={query.error} onRetry={() => void query.refetch()} title="Could not load the dashboard" />;
  const d = query.data;
  const count = config ? widgetsOf(config).length : 0;

  const cancel = () => {
    const discard = () => {
      setDraft(null);
      setGridRevision((r) => r + 1);
    };
    if (!dirty) return discard();
    modals.openConfirmModal({
      title: 'Discard changes?',
      children: <Text size="sm">The changes made since “Edit” will be lost.</Text>,
      labels: { confirm: 'Discard', cancel: 'Keep editing' },
      confirmProps: { color: 'red', 'data-testid': 'confirm-discard' } as never,
      onConfirm: discard,
    });
  };

  return (
    <>
      <Breadcrumbs mb={4} fz="sm">
        <Anchor component={Link} to="/dashboards">
          Dashboards
        </Anchor>
        <Text size="sm">{d.title}</Text>
      </Breadcrumbs>
      <Group justify="space-between" mb="md" wrap="wrap" gap="sm">
        <Group gap="xs">
          <Title order={2} data-testid="dashboard-title">
            {d.title}
          </Title>
          {editing && (
            <Badge color={dirty ? 'orange' : 'gray'} variant="light" data-testid="dirty-marker" data-dirty={dirty}>
              {dirty ? 'Unsaved changes' : 'Editing'}
            </Badge>
          )}
        </Group>
        <Group gap="xs">
          <TimewindowControl
            value={timewindow}
            onChange={(tw) => {
              if (editing) setDraft((c) => (c ? { ...c, timewindow: tw as JsonObject } : c));
              else setViewTimewindow(tw);
            }}
          />
          {editing ? (
            <>
              <Button variant="default" leftSection={<IconPlus size={16} />} onClick={() => setEditor({ id: null, spec: emptySpec() })} data-testid="add-widget">
                Add widget
              </Button>
              <Button variant="default" leftSection={<IconX size={16} />} onClick={cancel} data-testid="cancel-edit">
                Cancel
              </Button>
              <Button leftSection={<IconDeviceFloppy size={16} />} disabled={!dirty} loading={save.isPending} onClick={() => draft && save.mutate(draft)} data-testid="save-dashboard">
                Save
              </Button>
            </>
          ) : (
            <>
              <Tooltip label="Export JSON">
                <ActionIcon variant="default" size="lg" aria-label="Export JSON" onClick={() => void downloadDashboard(d.id.id).catch((e: unknown) => notifications.show({ color: 'red', message: errorMessage(e) }))} data-testid="export-dashboard">
                  <IconDownload size={18} />
                </ActionIcon>
              </Tooltip>
              <Button
                leftSection={<IconEdit size={16} />}
                onClick={() => {
                  // The view's own time window becomes the one edited (and saved).
                  setDraft(viewTimewindow ? { ...(saved ?? {}), timewindow: viewTimewindow as JsonObject } : (saved ?? {}));
                  setViewTimewindow(null);
                }}
                data-testid="edit-dashboard"
              >
                Edit
              </Button>
            </>
          )}
        </Group>
      </Group>
      {count === 0 ? (
        <EmptyState
          title="No widgets yet"
          action={
            editing ? (
              <Button leftSection={<IconPlus size={16} />} onClick={() => setEditor({ id: null, spec: emptySpec() })}>
                Add a widget
              </Button>
            ) : (
              <Button leftSection={<IconEdit size={16} />} onClick={() => setDraft(saved ?? {})}>
                Edit the dashboard
              </Button>
            )
          }
        >
          Add charts, value cards, gauges, tables and alarm lists bound to your devices.
        </EmptyState>
      ) : (
        <DashboardGrid key={gridRevision} config={config!} timewindow={timewindow} editing={editing} onLayout={onLayout} onConfigure={onConfigure} onRemove={onRemove} />
      )}
      <WidgetEditor
        opened={editor !== null}
        isNew={editor?.id === null}
        initial={editor?.spec ?? emptySpec()}
        onClose={() => setEditor(null)}
        onSave={(spec) => {
          const id = editor?.id ?? null;
          setDraft((c) => withWidget(c ?? {}, id, spec, uuid).config);
          setEditor(null);
        }}
      />
    </>
  );
}
