import { memo, useMemo } from 'react';
import { ActionIcon, Card, Group, Text, Tooltip } from '@mantine/core';
import { IconGripVertical, IconSettings, IconTrash } from '@tabler/icons-react';
import ReactGridLayout, { useContainerWidth, type Layout } from 'react-grid-layout';
import 'react-grid-layout/css/styles.css';
import 'react-resizable/css/styles.css';
import './dashboard.css';
import { gridColumnsOf, kindOf, widgetFqn, widgetsOf, type JsonObject, type PlacedWidget, type TbLayoutItem } from './model';
import type { TbTimewindow } from './timewindow';
import { WIDGETS } from './widgets';
import { WidgetMessage } from './widgets/WidgetMessage';

interface GridProps {
  config: JsonObject;
  timewindow: TbTimewindow;
  editing: boolean;
  onLayout: (items: Array<{ id: string } & TbLayoutItem>) => void;
  onConfigure: (id: string) => void;
  onRemove: (id: string) => void;
}

const MARGIN = 10;

/**
 * The dashboard's widgets on ThingsBoard's grid (24 columns by default, cells about square as
 * there): fixed in view mode; in edit mode dragged by their header and resized by the corner.
 */
export function DashboardGrid({ config, timewindow, editing, onLayout, onConfigure, onRemove }: GridProps) {
  const { width, containerRef, mounted } = useContainerWidth();
  const cols = gridColumnsOf(config);
  const placed = useMemo(() => widgetsOf(config), [config]);
  const layout: Layout = useMemo(() => placed.map((p) => ({ i: p.id, x: p.layout.col, y: p.layout.row, w: p.layout.sizeX, h: p.layout.sizeY, minW: 2, minH: 2 })), [placed]);
  const rowHeight = Math.min(80, Math.max(24, Math.round((width - MARGIN * (cols + 1)) / cols)));

  return (
    <div ref={containerRef} className={editing ? 'rv-grid rv-grid-editing' : 'rv-grid'} data-testid="dashboard-grid">
      {mounted && width > 0 && (
        <ReactGridLayout
          width={width}
          layout={layout}
          gridConfig={{ cols, rowHeight, margin: [MARGIN, MARGIN], containerPadding: [0, 0] }}
          dragConfig={{ enabled: editing, handle: '.rv-widget-handle', cancel: '.rv-widget-nodrag' }}
          resizeConfig={{ enabled: editing, handles: ['se'] }}
          onLayoutChange={(next) => {
            if (!editing) return;
            const changed = next.some((n) => {
              const p = placed.find((x) => x.id === n.i);
              return !p || p.layout.col !== n.x || p.layout.row !== n.y || p.layout.sizeX !== n.w || p.layout.sizeY !== n.h;
            });
            if (changed) onLayout(next.map((n) => ({ id: n.i, col: n.x, row: n.y, sizeX: n.w, sizeY: n.h })));
          }}
        >
          {placed.map((p) => (
            <div key={p.id} data-testid="widget" data-widget-id={p.id} data-kind={kindOf(p.widget) ?? 'unsupported'} data-layout={`${p.layout.col},${p.layout.row},${p.layout.sizeX},${p.layout.sizeY}`}>
              <WidgetFrame placed={p} config={config} timewindow={timewindow} editing={editing} onConfigure={onConfigure} onRemove={onRemove} />
            </div>
          ))}
        </ReactGridLayout>
      )}
    </div>
  );
}

const WidgetFrame = memo(function WidgetFrame({
  placed,
  config,
  timewindow,
  editing,
  onConfigure,
  onRemove,
}: {
  placed: PlacedWidget;
  config: JsonObject;
  timewindow: TbTimewindow;
  editing: boolean;
  onConfigure: (id: string) => void;
  onRemove: (id: string) => void;
}) {
  const { id, widget } = placed;
  const kind = kindOf(widget);
  const Widget = kind ? WIDGETS[kind] : null;
  const title = typeof widget.config.title === 'string' ? widget.config.title : '';
  const showTitle = widget.config.showTitle !== false || editing;
  return (
    <Card withBorder padding={0} h="100%" radius="md" className="rv-widget">
      {showTitle && (
        <Group className={editing ? 'rv-widget-handle' : undefined} justify="space-between" wrap="nowrap" px="sm" py={6} gap={4} style={{ cursor: editing ? 'move' : undefined }}>
          <Group gap={4} wrap="nowrap" style={{ minWidth: 0 }}>
            {editing && <IconGripVertical size={14} style={{ flex: 'none', opacity: 0.5 }} />}
            <Text size="sm" fw={600} truncate data-testid="widget-title">
              {title || (kind ? '' : widgetFqn(widget))}
            </Text>
          </Group>
          {editing && (
            <Group gap={2} wrap="nowrap" className="rv-widget-nodrag">
              <Tooltip label="Configure">
                <ActionIcon variant="subtle" size="sm" aria-label="Configure widget" onClick={() => onConfigure(id)} disabled={!kind} data-testid="widget-configure">
                  <IconSettings size={16} />
                </ActionIcon>
              </Tooltip>
              <Tooltip label="Remove">
                <ActionIcon variant="subtle" color="red" size="sm" aria-label="Remove widget" onClick={() => onRemove(id)} data-testid="widget-remove">
                  <IconTrash size={16} />
                </ActionIcon>
              </Tooltip>
            </Group>
          )}
        </Group>
      )}
      <div className="rv-widget-body">
        {Widget ? <Widget config={config} widget={widget} timewindow={timewindow} /> : <WidgetMessage kind="empty">The widget type “{widgetFqn(widget) || 'unknown'}” is not drawn by this app; it is kept as it is.</WidgetMessage>}
      </div>
    </Card>
  );
});
