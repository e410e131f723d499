import { lazy, Suspense } from 'react';
import { Autocomplete, Box, Input, Loader, TagsInput, Text, useComputedColorScheme } from '@mantine/core';
import type { WidgetProps } from '@rjsf/utils';

// CodeMirror is only for script nodes: its own chunk, fetched in the background once the form is here.
const loadScriptEditor = () => import('./ScriptEditor');
const ScriptEditor = lazy(loadScriptEditor);
setTimeout(() => void loadScriptEditor().catch(() => undefined), 0);

/** A script field: CodeMirror with JavaScript highlighting, the function signature above and the closing brace below. */
export function CodeWidget({ id, value, onChange, label, options, rawErrors, readonly, disabled, required }: WidgetProps) {
  const scheme = useComputedColorScheme('light');
  const signature = typeof options.signature === 'string' ? options.signature : 'function (msg, metadata, msgType) {';
  const error = rawErrors && rawErrors.length > 0 ? rawErrors.join('; ') : undefined;
  return (
    <Input.Wrapper label={label} required={required} error={error} id={id} data-testid={`code-${id}`}>
      <Box style={{ border: `1px solid ${error ? 'var(--mantine-color-error)' : 'var(--mantine-color-default-border)'}`, borderRadius: 'var(--mantine-radius-sm)', overflow: 'hidden' }}>
        <Text ff="monospace" size="xs" px="xs" py={4} bg="var(--mantine-color-default-hover)" c="dimmed" data-testid="script-signature">
          {signature}
        </Text>
        <Suspense fallback={<Loader size="xs" m="xs" />}>
          <ScriptEditor id={id} value={typeof value === 'string' ? value : ''} onChange={(v) => onChange(v)} dark={scheme === 'dark'} editable={!readonly && !disabled} />
        </Suspense>
        <Text ff="monospace" size="xs" px="xs" py={4} bg="var(--mantine-color-default-hover)" c="dimmed">
          {'}'}
        </Text>
      </Box>
    </Input.Wrapper>
  );
}

/** A list of keys (or relation / message types): type and press Enter, with suggestions when there are some. */
export function TagsWidget({ id, value, onChange, label, options, rawErrors, readonly, disabled, required, schema }: WidgetProps) {
  const suggestions = Array.isArray(options.suggestions) ? (options.suggestions as string[]) : [];
  const list = Array.isArray(value) ? (value as unknown[]).map(String) : [];
  return (
    <TagsInput
      id={id}
      label={label}
      description={schema.description}
      required={required}
      value={list}
      data={suggestions}
      onChange={(v) => onChange(v)}
      disabled={disabled || readonly}
      error={rawErrors && rawErrors.length > 0 ? rawErrors.join('; ') : undefined}
      placeholder={list.length === 0 ? 'Type a name, press Enter' : undefined}
      clearable
      data-testid={`tags-${id}`}
    />
  );
}

/** Free text with the usual values offered (a field that also takes a ${pattern}). */
export function SuggestWidget({ id, value, onChange, label, options, rawErrors, readonly, disabled, required, schema }: WidgetProps) {
  const suggestions = Array.isArray(options.suggestions) ? (options.suggestions as string[]) : [];
  return (
    <Autocomplete
      id={id}
      label={label}
      description={schema.description}
      required={required}
      value={typeof value === 'string' ? value : ''}
      data={suggestions}
      onChange={(v) => onChange(v === '' ? undefined : v)}
      disabled={disabled || readonly}
      error={rawErrors && rawErrors.length > 0 ? rawErrors.join('; ') : undefined}
      data-testid={`suggest-${id}`}
    />
  );
}

export const customWidgets = { code: CodeWidget, tags: TagsWidget, suggest: SuggestWidget };
