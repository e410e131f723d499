import { useMemo, useState } from 'react';
import { Box, Group, ScrollArea, Stack, Table, Text, TextInput, useComputedColorScheme } from '@mantine/core';
import { useElementSize } from '@mantine/hooks';
import { IconSearch } from '@tabler/icons-react';
import { sourcesOf } from '../model';
import { useBoundDevices, useLatestValues, type BoundDevice, type Latest } from '../data';
import { numericValue } from '../../charts/values';
import { ago, formatTime, formatValue } from './format';
import { widgetDecimals, widgetUnits, type WidgetProps } from './types';
import { WidgetMessage, widgetError } from './WidgetMessage';

function useLatestBound({ config, widget }: WidgetProps): { devices: BoundDevice[]; latest: Latest; state: React.ReactNode | null } {
  const sources = useMemo(() => sourcesOf(config, widget), [config, widget]);
  const bound = useBoundDevices(sources);
  const latest = useLatestValues(bound.devices);
  let state: React.ReactNode | null = null;
  if (bound.unsupported && bound.devices.length === 0) state = <WidgetMessage kind="empty">This widget's data source is not supported here ({bound.unsupported}).</WidgetMessage>;
  else if (bound.error) state = widgetError(bound.error);
  else if (bound.loading) state = <WidgetMessage kind="loading" />;
  else if (bound.devices.length === 0 || bound.devices.every((d) => d.keys.length === 0)) state = <WidgetMessage kind="empty">No device or key bound. Configure the widget to pick them.</WidgetMessage>;
  return { devices: bound.devices, latest, state };
}

/** ThingsBoard's value card: the latest value of the first bound key, with unit and decimals. */
export function ValueCardWidget(props: WidgetProps) {
  const { devices, latest, state } = useLatestBound(props);
  if (state) return state;
  const device = devices[0]!;
  const key = device.keys[0]!;
  const v = latest[device.id]?.[key.name];
  return (
    <Stack h="100%" justify="center" align="center" gap={2} p="xs" data-testid="value-card">
      <Text size="sm" c="dimmed" ta="center" lineClamp={1}>
        {key.label || key.name}
        {devices.length > 1 || !props.widget.config.title ? ` · ${device.name}` : ''}
      </Text>
      <Text fz={36} fw={600} lh={1.1} data-testid="card-value" style={{ fontVariantNumeric: 'tabular-nums' }}>
        {formatValue(v?.value, widgetDecimals(props.widget, key.decimals), widgetUnits(props.widget, key.units))}
      </Text>
      <Text size="xs" c="dimmed" title={v ? formatTime(v.ts) : undefined}>
        {v ? ago(v.ts) : 'no data yet'}
      </Text>
    </Stack>
  );
}

/** A radial gauge (ThingsBoard's analogue gauge) of the first bound key between min and max. */
export function GaugeWidget(props: WidgetProps) {
  const { devices, latest, state } = useLatestBound(props);
  const scheme = useComputedColorScheme('light');
  const { ref, width, height } = useElementSize();
  if (state) return state;
  const device = devices[0]!;
  const key = device.keys[0]!;
  const settings = (props.widget.config.settings ?? {}) as Record<string, unknown>;
  const min = typeof settings.minValue === 'number' ? settings.minValue : 0;
  const max = typeof settings.maxValue === 'number' && settings.maxValue > min ? settings.maxValue : min + 100;
  const v = latest[device.id]?.[key.name];
  const n = numericValue(v?.value);
  const frac = n === null ? 0 : Math.min(1, Math.max(0, (n - min) / (max - min)));
  const color = key.color ?? '#228be6';
  // A 240° arc: from 150° to 390° (clockwise, 0° pointing right).
  const arc = (from: number, to: number, r: number) => {
    const p = (a: number) => [50 + r * Math.cos((a * Math.PI) / 180), 50 + r * Math.sin((a * Math.PI) / 180)] as const;
    const [x1, y1] = p(from);
    const [x2, y2] = p(to);
    return `M ${x1} ${y1} A ${r} ${r} 0 ${to - from > 180 ? 1 : 0} 1 ${x2} ${y2}`;
  };
  const size = Math.max(60, Math.min(width, height - 28));
  const decimals = widgetDecimals(props.widget, key.decimals);
  return (
    <Stack ref={ref} h="100%" align="center" justify="center" gap={0} data-testid="gauge" style={{ overflow: 'hidden' }}>
      {width > 0 && (
        <svg width={size} height={size * 0.9} viewBox="0 3 100 90" role="img" aria-label={`${key.label || key.name}: ${formatValue(v?.value, decimals)}`}>
          <path d={arc(150, 390, 40)} fill="none" stroke={scheme === 'dark' ? '#373a40' : '#e9ecef'} strokeWidth={9} strokeLinecap="round" />
          {frac > 0 && <path d={arc(150, 150 + 240 * frac, 40)} fill="none" stroke={color} strokeWidth={9} strokeLinecap="round" />}
          <text x={50} y={52} textAnchor="middle" fontSize={14} fontWeight={600} fill="currentColor" data-testid="gauge-value">
            {formatValue(v?.value, decimals)}
          </text>
          <text x={50} y={63} textAnchor="middle" fontSize={7} fill="currentColor" opacity={0.6}>
            {widgetUnits(props.widget, key.units)}
          </text>
          <text x={22} y={88} textAnchor="middle" fontSize={7} fill="currentColor" opacity={0.7}>
            {min}
          </text>
          <text x={78} y={88} textAnchor="middle" fontSize={7} fill="currentColor" opacity={0.7}>
            {max}
          </text>
        </svg>
      )}
      <Text size="xs" c="dimmed" lineClamp={1}>
        {key.label || key.name} · {device.name}
      </Text>
    </Stack>
  );
}

/** ThingsBoard's entities table: one row per bound device, one column per key, latest values live. */
export function EntitiesTableWidget(props: WidgetProps) {
  const { devices, latest, state } = useLatestBound(props);
  const [search, setSearch] = useState('');
  if (state) return state;
  const keys = [...new Map(devices.flatMap((d) => d.keys).map((k) => [k.name, k])).values()];
  const rows = devices.filter((d) => d.name.toLowerCase().includes(search.trim().toLowerCase()));
  return (
    <Stack h="100%" gap={4} data-testid="entities-table">
      {devices.length > 5 && (
        <Group px={4}>
          <TextInput size="xs" leftSection={<IconSearch size={14} />} placeholder="Search devices" value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
        </Group>
      )}
      <ScrollArea style={{ flex: 1 }} type="auto">
        <Table striped highlightOnHover stickyHeader fz="sm" miw={keys.length * 90 + 140}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Device</Table.Th>
              {keys.map((k) => (
                <Table.Th key={k.name} ta="right">
                  {k.label || k.name}
                </Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((d) => (
              <Table.Tr key={d.id} data-testid="entities-row" data-device={d.name}>
                <Table.Td fw={500}>{d.name}</Table.Td>
                {keys.map((k) => {
                  const v = latest[d.id]?.[k.name];
                  const has = d.keys.some((x) => x.name === k.name);
                  return (
                    <Table.Td key={k.name} ta="right" data-key={k.name} title={v ? formatTime(v.ts) : undefined} style={{ fontVariantNumeric: 'tabular-nums' }}>
                      {has ? formatValue(v?.value, widgetDecimals(props.widget, k.decimals), widgetUnits(props.widget, k.units)) : ''}
                    </Table.Td>
                  );
                })}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        {rows.length === 0 && (
          <Box p="sm">
            <Text size="sm" c="dimmed">
              No device matches.
            </Text>
          </Box>
        )}
      </ScrollArea>
    </Stack>
  );
}
