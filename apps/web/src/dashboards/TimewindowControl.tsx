import { useState } from 'react';
import { Button, Group, NumberInput, Popover, SegmentedControl, Select, Stack, Text, TextInput } from '@mantine/core';
import { IconClock } from '@tabler/icons-react';
import { describeTimewindow, formatSpan, isRealtime, MAX_RAW_POINTS, resolveWindow, type TbTimewindow } from './timewindow';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const REALTIME_SPANS = [MIN, 5 * MIN, 15 * MIN, 30 * MIN, HOUR, 6 * HOUR, 12 * HOUR, DAY, 7 * DAY];
const HISTORY_SPANS = [HOUR, 6 * HOUR, DAY, 7 * DAY, 30 * DAY, 90 * DAY, 365 * DAY];
const AGGS = ['NONE', 'AVG', 'MIN', 'MAX', 'SUM', 'COUNT'];
const INTERVALS = [0, 1000, 5000, 10_000, 30_000, MIN, 5 * MIN, 15 * MIN, 30 * MIN, HOUR, 6 * HOUR, 12 * HOUR, DAY, 7 * DAY];

const spanData = (spans: number[]) => spans.map((s) => ({ value: String(s), label: formatSpan(s) }));
const toLocalInput = (ts: number) => {
  const d = new Date(ts - new Date(ts).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
};

/**
 * The dashboard's time window in ThingsBoard's shape: realtime (the last N, live) or history (the
 * last N, or a fixed range), with an aggregation whose interval is raised as needed so a range is
 * never split into more than MAX_INTERVALS buckets.
 */
export function TimewindowControl({ value, onChange }: { value: TbTimewindow; onChange: (tw: TbTimewindow) => void }) {
  const [opened, setOpened] = useState(false);
  const [draft, setDraft] = useState<TbTimewindow>(value);
  const open = () => {
    setDraft(value);
    setOpened(true);
  };
  const realtime = isRealtime(draft);
  const agg = draft.aggregation?.type ?? 'NONE';
  const fixed = !realtime && draft.history?.historyType === 1;
  const now = Date.now();
  const fixedRange = draft.history?.fixedTimewindow ?? { startTimeMs: now - DAY, endTimeMs: now };
  const set = (patch: Partial<TbTimewindow>) => setDraft((d) => ({ ...d, ...patch }));
  const resolved = resolveWindow(draft);
  const wantedInterval = (realtime ? draft.realtime?.interval : draft.history?.interval) ?? 0;

  return (
    <Popover opened={opened} onChange={setOpened} position="bottom-end" width={340} shadow="md" withinPortal>
      <Popover.Target>
        <Button variant="default" leftSection={<IconClock size={16} />} onClick={() => (opened ? setOpened(false) : open())} data-testid="timewindow-button">
          {describeTimewindow(value)}
        </Button>
      </Popover.Target>
      <Popover.Dropdown data-testid="timewindow-panel">
        <Stack gap="sm">
          <SegmentedControl
            fullWidth
            value={realtime ? 'realtime' : 'history'}
            onChange={(v) => set({ selectedTab: v === 'realtime' ? 0 : 1, realtime: { realtimeType: 0, interval: 1000, timewindowMs: HOUR, ...draft.realtime }, history: { historyType: 0, timewindowMs: DAY, interval: 0, ...draft.history } })}
            data={[
              { value: 'realtime', label: 'Realtime' },
              { value: 'history', label: 'History' },
            ]}
            data-testid="timewindow-mode"
          />
          {realtime ? (
            <Select
              label="Last"
              data={spanData(REALTIME_SPANS)}
              value={String(draft.realtime?.timewindowMs ?? HOUR)}
              onChange={(v) => v && set({ realtime: { ...draft.realtime, realtimeType: 0, timewindowMs: Number(v) } })}
              allowDeselect={false}
              data-testid="timewindow-last"
              comboboxProps={{ withinPortal: false }}
            />
          ) : (
            <>
              <SegmentedControl
                size="xs"
                value={fixed ? 'range' : 'last'}
                onChange={(v) => set({ history: { ...draft.history, historyType: v === 'range' ? 1 : 0, fixedTimewindow: fixedRange } })}
                data={[
                  { value: 'last', label: 'Last…' },
                  { value: 'range', label: 'Range' },
                ]}
                data-testid="timewindow-history-mode"
              />
              {fixed ? (
                <Group grow>
                  <TextInput
                    type="datetime-local"
                    label="From"
                    value={toLocalInput(fixedRange.startTimeMs)}
                    onChange={(e) => {
                      const t = new Date(e.currentTarget.value).getTime();
                      if (Number.isFinite(t)) set({ history: { ...draft.history, historyType: 1, fixedTimewindow: { ...fixedRange, startTimeMs: t } } });
                    }}
                    data-testid="timewindow-from"
                  />
                  <TextInput
                    type="datetime-local"
                    label="To"
                    value={toLocalInput(fixedRange.endTimeMs)}
                    onChange={(e) => {
                      const t = new Date(e.currentTarget.value).getTime();
                      if (Number.isFinite(t)) set({ history: { ...draft.history, historyType: 1, fixedTimewindow: { ...fixedRange, endTimeMs: t } } });
                    }}
                    data-testid="timewindow-to"
                  />
                </Group>
              ) : (
                <Select
                  label="Last"
                  data={spanData(HISTORY_SPANS)}
                  value={String(draft.history?.timewindowMs ?? DAY)}
                  onChange={(v) => v && set({ history: { ...draft.history, historyType: 0, timewindowMs: Number(v) } })}
                  allowDeselect={false}
                  data-testid="timewindow-history-last"
                  comboboxProps={{ withinPortal: false }}
                />
              )}
            </>
          )}
          <Group grow align="flex-end">
            <Select
              label="Aggregation"
              data={AGGS}
              value={agg}
              onChange={(v) => v && set({ aggregation: { ...draft.aggregation, type: v } })}
              allowDeselect={false}
              data-testid="timewindow-agg"
              comboboxProps={{ withinPortal: false }}
            />
            {agg === 'NONE' ? (
              <NumberInput
                label="Max points"
                min={10}
                max={MAX_RAW_POINTS}
                step={1000}
                value={draft.aggregation?.limit ?? MAX_RAW_POINTS}
                onChange={(v) => set({ aggregation: { ...draft.aggregation, type: 'NONE', limit: typeof v === 'number' ? v : MAX_RAW_POINTS } })}
              />
            ) : (
              <Select
                label="Interval"
                data={INTERVALS.map((i) => ({ value: String(i), label: i === 0 ? 'Auto' : formatSpan(i) }))}
                value={String(INTERVALS.includes(wantedInterval) ? wantedInterval : 0)}
                onChange={(v) => {
                  const interval = Number(v ?? 0);
                  if (realtime) set({ realtime: { ...draft.realtime, interval } });
                  else set({ history: { ...draft.history, interval } });
                }}
                allowDeselect={false}
                data-testid="timewindow-interval"
                comboboxProps={{ withinPortal: false }}
              />
            )}
          </Group>
          {agg !== 'NONE' && (
            <Text size="xs" c="dimmed" data-testid="timewindow-effective">
              {agg} per {formatSpan(resolved.interval)}: {Math.ceil(resolved.spanMs / resolved.interval)} intervals
              {wantedInterval > 0 && resolved.interval > wantedInterval ? ' (interval raised to keep at most 1000)' : ''}
            </Text>
          )}
          <Group justify="flex-end" gap="xs">
            <Button variant="default" size="xs" onClick={() => setOpened(false)}>
              Cancel
            </Button>
            <Button
              size="xs"
              onClick={() => {
                onChange(draft);
                setOpened(false);
              }}
              data-testid="timewindow-apply"
            >
              Apply
            </Button>
          </Group>
        </Stack>
      </Popover.Dropdown>
    </Popover>
  );
}
