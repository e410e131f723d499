import { ActionIcon, Badge, Button, Card, Group, Select, Stack, Text, Textarea, TextInput, Tooltip } from '@mantine/core';
import { IconBraces, IconPlus, IconTrash, IconX } from '@tabler/icons-react';
import { notifications } from '@mantine/notifications';
import { fromEditorAlarm, newCondition, newSimpleAlarm, OPERATION_SIGNS, OPERATIONS, SEVERITIES, type EditorAlarm, type Operation, type Severity, type SimpleAlarm, type SimpleCondition } from './alarm-rules';

/** The field of one alarm that the last save refused, with the reason. */
export interface AlarmFieldError {
  index: number;
  field: string;
  message: string;
}

const SEVERITY_COLORS: Readonly<Record<Severity, string>> = { CRITICAL: 'red', MAJOR: 'orange', MINOR: 'yellow', WARNING: 'grape', INDETERMINATE: 'gray' };
const OPERATION_OPTIONS = OPERATIONS.map((o) => ({ value: o, label: OPERATION_SIGNS[o] }));

/** A JSON alarm's type, for the card's title; the text may not parse while it is being edited. */
function typeOfJson(json: string): string | null {
  try {
    const v = JSON.parse(json) as { alarmType?: unknown };
    return typeof v.alarmType === 'string' ? v.alarmType : null;
  } catch {
    return null;
  }
}

function ConditionRow({ prefix, value, onChange, error }: { prefix: 'create' | 'clear'; value: SimpleCondition; onChange: (c: SimpleCondition) => void; error: (field: string) => string | undefined }) {
  return (
    <Group gap="xs" align="flex-start" wrap="nowrap">
      <TextInput
        label="Time-series key"
        placeholder="temperature"
        name={`${prefix}.key`}
        value={value.key}
        onChange={(e) => onChange({ ...value, key: e.currentTarget.value })}
        error={error(`${prefix}.key`)}
        style={{ flex: 2 }}
      />
      <Select
        label="Operation"
        aria-label={`${prefix === 'create' ? 'Create' : 'Clear'} operation`}
        data={OPERATION_OPTIONS}
        value={value.operation}
        onChange={(v) => v && onChange({ ...value, operation: v as Operation })}
        allowDeselect={false}
        data-testid={`${prefix}-operation`}
        w={90}
      />
      <TextInput
        label="Value"
        placeholder="30"
        inputMode="decimal"
        name={`${prefix}.value`}
        value={value.value}
        onChange={(e) => onChange({ ...value, value: e.currentTarget.value })}
        error={error(`${prefix}.value`)}
        style={{ flex: 1 }}
      />
      <TextInput
        label="For (seconds)"
        placeholder="at once"
        inputMode="numeric"
        name={`${prefix}.duration`}
        value={value.durationSec}
        onChange={(e) => onChange({ ...value, durationSec: e.currentTarget.value })}
        error={error(`${prefix}.duration`)}
        style={{ flex: 1 }}
      />
    </Group>
  );
}

function SimpleAlarmCard({ alarm, onChange, error }: { alarm: SimpleAlarm; onChange: (a: SimpleAlarm) => void; error: (field: string) => string | undefined }) {
  return (
    <Stack gap="sm">
      <Group gap="xs" align="flex-start" wrap="nowrap">
        <TextInput
          label="Alarm type"
          placeholder="High temperature"
          name="alarmType"
          required
          value={alarm.alarmType}
          onChange={(e) => onChange({ ...alarm, alarmType: e.currentTarget.value })}
          error={error('alarmType')}
          style={{ flex: 1 }}
        />
        <Select
          label="Severity"
          aria-label="Severity"
          data={SEVERITIES.map((s) => ({ value: s, label: s.charAt(0) + s.slice(1).toLowerCase() }))}
          value={alarm.severity}
          onChange={(v) => v && onChange({ ...alarm, severity: v as Severity })}
          allowDeselect={false}
          leftSection={<Badge size="xs" circle color={SEVERITY_COLORS[alarm.severity]} children="" />}
          data-testid="alarm-severity"
          w={170}
        />
      </Group>
      <div>
        <Text size="sm" fw={600} mb={4}>
          Create the alarm when
        </Text>
        <ConditionRow prefix="create" value={alarm.create} onChange={(create) => onChange({ ...alarm, create })} error={error} />
      </div>
      {alarm.clear ? (
        <div data-testid="clear-rule">
          <Group justify="space-between" mb={4}>
            <Text size="sm" fw={600}>
              Clear the alarm when
            </Text>
            <Button size="compact-xs" variant="subtle" color="gray" leftSection={<IconX size={12} />} onClick={() => onChange({ ...alarm, clear: null })} data-testid="remove-clear-rule">
              Remove clear condition
            </Button>
          </Group>
          <ConditionRow prefix="clear" value={alarm.clear} onChange={(clear) => onChange({ ...alarm, clear })} error={error} />
        </div>
      ) : (
        <Group>
          <Button size="compact-sm" variant="light" leftSection={<IconPlus size={14} />} onClick={() => onChange({ ...alarm, clear: { ...newCondition(), key: alarm.create.key } })} data-testid="add-clear-rule">
            Add clear condition
          </Button>
          <Text size="xs" c="dimmed">
            Without one, the alarm stays active until someone clears it.
          </Text>
        </Group>
      )}
    </Stack>
  );
}

/**
 * profileData.alarms: one card per alarm. The common shape is a form; any other alarm (or one the
 * person switches to JSON) is a JSON text area, kept as written.
 */
export function AlarmRulesEditor({ alarms, onChange, errors }: { alarms: EditorAlarm[]; onChange: (a: EditorAlarm[]) => void; errors: AlarmFieldError | null }) {
  const set = (i: number, a: EditorAlarm) => onChange(alarms.map((x, j) => (j === i ? a : x)));
  const remove = (i: number) => onChange(alarms.filter((_, j) => j !== i));
  const toJson = (i: number, a: SimpleAlarm) => {
    try {
      set(i, { kind: 'advanced', original: a.original, json: JSON.stringify(fromEditorAlarm(a, i), null, 2) });
    } catch (e) {
      // A half-filled form has no JSON yet: say what is missing instead of losing what was typed.
      notifications.show({ color: 'yellow', title: 'Complete the alarm rule first', message: e instanceof Error ? e.message : String(e) });
    }
  };
  return (
    <Stack gap="sm" data-testid="alarm-rules">
      {alarms.length === 0 && (
        <Text size="sm" c="dimmed" data-testid="no-alarm-rules">
          No alarm rules: devices of this profile raise no alarms by themselves.
        </Text>
      )}
      {alarms.map((a, i) => {
        const error = (field: string) => (errors && errors.index === i && errors.field === field ? errors.message : undefined);
        const title = a.kind === 'simple' ? a.alarmType.trim() || 'New alarm rule' : (typeOfJson(a.json) ?? 'Alarm rule');
        return (
          <Card key={i} withBorder padding="sm" data-testid="alarm-rule" data-kind={a.kind}>
            <Group justify="space-between" mb="xs" wrap="nowrap">
              <Group gap="xs">
                <Text fw={600} size="sm">
                  {title}
                </Text>
                {a.kind === 'advanced' && (
                  <Badge variant="light" color="violet" data-testid="advanced-badge">
                    advanced (edit as JSON)
                  </Badge>
                )}
              </Group>
              <Group gap={4} wrap="nowrap">
                {a.kind === 'simple' && (
                  <Tooltip label="Edit as JSON (schedules, several severities, attributes…)">
                    <ActionIcon variant="subtle" aria-label="Edit as JSON" onClick={() => toJson(i, a)} data-testid="alarm-to-json">
                      <IconBraces size={18} />
                    </ActionIcon>
                  </Tooltip>
                )}
                <Tooltip label="Remove alarm rule">
                  <ActionIcon variant="subtle" color="red" aria-label={`Remove alarm rule ${title}`} onClick={() => remove(i)} data-testid="remove-alarm-rule">
                    <IconTrash size={18} />
                  </ActionIcon>
                </Tooltip>
              </Group>
            </Group>
            {a.kind === 'simple' ? (
              <SimpleAlarmCard alarm={a} onChange={(x) => set(i, x)} error={error} />
            ) : (
              <Textarea
                aria-label="Alarm rule JSON"
                description="ThingsBoard's DeviceProfileAlarm JSON: saved as written."
                name="json"
                autosize
                minRows={6}
                maxRows={20}
                spellCheck={false}
                value={a.json}
                onChange={(e) => set(i, { ...a, json: e.currentTarget.value })}
                error={error('json')}
                styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)', fontSize: 12 } }}
              />
            )}
          </Card>
        );
      })}
      <Group>
        <Button variant="default" leftSection={<IconPlus size={16} />} onClick={() => onChange([...alarms, newSimpleAlarm()])} data-testid="add-alarm-rule">
          Add alarm rule
        </Button>
      </Group>
    </Stack>
  );
}
