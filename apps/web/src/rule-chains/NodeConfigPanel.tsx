import { useMemo, useRef } from 'react';
import { Alert, Stack, Text } from '@mantine/core';
import Form from '@rjsf/mantine';
import validator from '@rjsf/validator-ajv8';
import type { ErrorSchema, RJSFSchema, UiSchema as RjsfUiSchema } from '@rjsf/utils';
import { IconAlertTriangle } from '@tabler/icons-react';
import { fromFormData, formSchema, isScriptNode, toFormData, uiSchemaFor, type NodeTypeDescriptor } from './node-types';
import { toErrorTree, type FieldError } from './node-config-errors';
import { ScriptTestPanel } from './ScriptTestPanel';
import { customWidgets } from './widgets';

export type { NodeTypeDescriptor } from './node-types';

/**
 * A node's configuration form, generated from its type's JSON Schema (rjsf with Mantine), with a
 * code editor for scripts, tags inputs for key lists, the server's validation errors at their
 * fields and, for script nodes, a "Test script" run on a sample message through the server.
 */
export function NodeConfigPanel({
  nodeType,
  configuration,
  onChange,
  errors,
}: {
  nodeType: NodeTypeDescriptor;
  configuration: Record<string, unknown>;
  onChange(configuration: Record<string, unknown>): void;
  errors?: { path: string; message: string }[];
}) {
  const schema = useMemo(() => formSchema(nodeType.configSchema) as RJSFSchema, [nodeType]);
  const uiSchema = useMemo(() => uiSchemaFor(nodeType, configuration) as RjsfUiSchema, [nodeType, configuration]);
  const formData = useMemo(() => toFormData(nodeType.configSchema, configuration), [nodeType, configuration]);
  const fieldErrors: FieldError[] = errors ?? [];
  const extraErrors = useMemo(() => toErrorTree(fieldErrors) as ErrorSchema, [fieldErrors]);
  const nodeErrors = fieldErrors.filter((e) => e.path === '');
  // rjsf reports a change when it fills in defaults on mount; only a person's edit is a change
  // (otherwise selecting a node would mark the chain dirty).
  const touched = useRef(false);
  const hasFields = Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {}).length > 0;

  return (
    <Stack gap="sm" data-testid="node-config-panel" onPointerDownCapture={() => (touched.current = true)} onKeyDownCapture={() => (touched.current = true)}>
      <Text size="sm" c="dimmed">
        {nodeType.description}
      </Text>
      {nodeErrors.map((e) => (
        <Alert key={e.message} color="red" icon={<IconAlertTriangle />} data-testid="node-config-error">
          {e.message}
        </Alert>
      ))}
      {hasFields ? (
        <Form
          // A new node type is a new form (its own defaults and widgets).
          key={nodeType.type}
          schema={schema}
          uiSchema={uiSchema}
          formData={formData}
          validator={validator}
          widgets={customWidgets}
          extraErrors={extraErrors}
          // The server validates on save and test run; errors come back through `errors`.
          noValidate
          showErrorList={false}
          onChange={(e) => {
            if (touched.current) onChange(fromFormData(nodeType.configSchema, (e.formData ?? {}) as Record<string, unknown>));
          }}
          onSubmit={() => undefined}
        />
      ) : (
        <Text size="sm" c="dimmed" data-testid="node-config-empty">
          This node has nothing to configure.
        </Text>
      )}
      {isScriptNode(nodeType) && <ScriptTestPanel nodeType={nodeType} configuration={configuration} />}
    </Stack>
  );
}
