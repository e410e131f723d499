import { useEffect, useState } from 'react';
import { Button, Group, Modal, NumberInput, Select, Stack, TextInput } from '@mantine/core';
import { DevicePicker, KeyPicker } from './DeviceKeyPicker';
import { KIND_LABEL, type WidgetKind, type WidgetSpec } from './model';

const KINDS = (Object.keys(KIND_LABEL) as WidgetKind[]).map((k) => ({ value: k, label: KIND_LABEL[k] }));

/** Kinds that show one value of one device: the pickers take one device and one key. */
const SINGLE: ReadonlySet<WidgetKind> = new Set(['card', 'gauge']);

export function emptySpec(kind: WidgetKind = 'chart'): WidgetSpec {
  return { kind, title: '', deviceIds: [], keys: [], units: '', decimals: null, min: null, max: null };
}

/** Adds or configures a widget: its kind, title, devices and keys (from what the devices have), unit, decimals, gauge range. */
export function WidgetEditor({ opened, initial, isNew, onClose, onSave }: { opened: boolean; initial: WidgetSpec; isNew: boolean; onClose: () => void; onSave: (spec: WidgetSpec) => void }) {
  const [spec, setSpec] = useState<WidgetSpec>(initial);
  useEffect(() => {
    if (opened) setSpec(initial);
  }, [opened, initial]);
  const set = (patch: Partial<WidgetSpec>) => setSpec((s) => ({ ...s, ...patch }));
  const single = SINGLE.has(spec.kind);
  const needsKeys = spec.kind !== 'alarms';
  const invalid = needsKeys && (spec.deviceIds.length === 0 || spec.keys.length === 0);

  return (
    <Modal opened={opened} onClose={onClose} title={isNew ? 'Add widget' : 'Configure widget'} size="lg" data-testid="widget-editor">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (invalid) return;
          onSave({ ...spec, title: spec.title.trim() });
        }}
      >
        <Stack gap="sm">
          <Group grow align="flex-start">
            <Select
              label="Widget"
              data={KINDS}
              value={spec.kind}
              allowDeselect={false}
              onChange={(v) => {
                if (!v) return;
                const kind = v as WidgetKind;
                // One device and key for a card or a gauge.
                set(SINGLE.has(kind) ? { kind, deviceIds: spec.deviceIds.slice(0, 1), keys: spec.keys.slice(0, 1) } : { kind });
              }}
              data-testid="widget-kind"
              comboboxProps={{ withinPortal: false }}
            />
            <TextInput label="Title" value={spec.title} onChange={(e) => set({ title: e.currentTarget.value })} placeholder={KIND_LABEL[spec.kind]} data-testid="widget-title" />
          </Group>
          <DevicePicker multiple={!single} value={spec.deviceIds} onChange={(deviceIds) => set({ deviceIds })} />
          {needsKeys && (
            <KeyPicker
              deviceIds={spec.deviceIds}
              multiple={!single}
              value={spec.keys.map((k) => k.name)}
              onChange={(names) => set({ keys: names.map((name) => spec.keys.find((k) => k.name === name) ?? { name }) })}
            />
          )}
          {spec.kind === 'alarms' && spec.deviceIds.length === 0 && <TextInput readOnly variant="unstyled" value="No device picked: the list shows every alarm of the tenant." />}
          {needsKeys && (
            <Group grow>
              <TextInput label="Unit" placeholder="°C" value={spec.units} onChange={(e) => set({ units: e.currentTarget.value })} data-testid="widget-units" />
              <NumberInput label="Decimals" placeholder="as sent" min={0} max={10} value={spec.decimals ?? ''} onChange={(v) => set({ decimals: typeof v === 'number' ? v : null })} data-testid="widget-decimals" />
            </Group>
          )}
          {spec.kind === 'gauge' && (
            <Group grow>
              <NumberInput label="Minimum" placeholder="0" value={spec.min ?? ''} onChange={(v) => set({ min: typeof v === 'number' ? v : null })} data-testid="widget-min" />
              <NumberInput label="Maximum" placeholder="100" value={spec.max ?? ''} onChange={(v) => set({ max: typeof v === 'number' ? v : null })} data-testid="widget-max" />
            </Group>
          )}
          <Group justify="flex-end" mt="sm">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" disabled={invalid} data-testid="widget-save">
              {isNew ? 'Add' : 'Apply'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
