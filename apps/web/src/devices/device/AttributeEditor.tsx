import { useState } from 'react';
import { Button, Group, Modal, SegmentedControl, Stack, Switch, TextInput, Textarea } from '@mantine/core';
import type { Json } from '@rivulet/api-types';
import { parseValue, toText, typeOf, type ValueType } from './attribute-value';

export interface AttributeDraft {
  key: string;
  value: unknown;
}

/** Add (no `initial`) or edit an attribute: key, type and value, checked before saving. */
export function AttributeEditor({ opened, initial, scopeLabel, existingKeys, onClose, onSave }: {
  opened: boolean;
  initial: AttributeDraft | null;
  scopeLabel: string;
  existingKeys: readonly string[];
  onClose: () => void;
  onSave: (key: string, value: Json) => Promise<void>;
}) {
  return (
    <Modal opened={opened} onClose={onClose} title={initial ? `Edit ${scopeLabel} attribute` : `Add ${scopeLabel} attribute`} size="md">
      {/* Keyed so each opening starts from its own values. */}
      {opened && <EditorForm key={initial?.key ?? ''} initial={initial} existingKeys={existingKeys} onClose={onClose} onSave={onSave} />}
    </Modal>
  );
}

function EditorForm({ initial, existingKeys, onClose, onSave }: { initial: AttributeDraft | null; existingKeys: readonly string[]; onClose: () => void; onSave: (key: string, value: Json) => Promise<void> }) {
  const [key, setKey] = useState(initial?.key ?? '');
  const [type, setType] = useState<ValueType>(initial ? typeOf(initial.value) : 'string');
  const [text, setText] = useState(initial ? toText(initial.value) : '');
  const [saving, setSaving] = useState(false);
  const [touched, setTouched] = useState(false);

  const parsed = parseValue(type, type === 'boolean' ? (text === 'true' ? 'true' : 'false') : text);
  const keyError = key.trim() === '' ? 'Enter a key' : !initial && existingKeys.includes(key.trim()) ? 'This key exists: edit it instead' : null;

  const changeType = (t: ValueType) => {
    setType(t);
    if (t === 'boolean') setText(text === 'true' ? 'true' : 'false');
  };

  const submit = async () => {
    setTouched(true);
    if (keyError || !parsed.ok) return;
    setSaving(true);
    try {
      await onSave(key.trim(), parsed.value);
      onClose();
    } finally {
      setSaving(false);
    }
  };

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <Stack>
        <TextInput label="Key" value={key} onChange={(e) => setKey(e.currentTarget.value)} disabled={initial !== null} error={touched && keyError} data-autofocus={initial ? undefined : true} data-testid="attr-key" />
        <SegmentedControl
          value={type}
          onChange={(v) => changeType(v as ValueType)}
          data={[
            { value: 'string', label: 'String' },
            { value: 'number', label: 'Number' },
            { value: 'boolean', label: 'Boolean' },
            { value: 'json', label: 'JSON' },
          ]}
          data-testid="attr-type"
        />
        {type === 'boolean' ? (
          <Switch label={text === 'true' ? 'true' : 'false'} checked={text === 'true'} onChange={(e) => setText(e.currentTarget.checked ? 'true' : 'false')} data-testid="attr-bool" />
        ) : type === 'json' ? (
          <Textarea label="Value (JSON)" autosize minRows={4} maxRows={12} styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }} value={text} onChange={(e) => setText(e.currentTarget.value)} error={!parsed.ok && (touched || text !== '') ? parsed.error : null} data-testid="attr-value" />
        ) : (
          <TextInput label="Value" value={text} onChange={(e) => setText(e.currentTarget.value)} error={touched && !parsed.ok ? parsed.error : null} inputMode={type === 'number' ? 'decimal' : undefined} data-autofocus={initial ? true : undefined} data-testid="attr-value" />
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" loading={saving} data-testid="attr-save">
            Save
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
