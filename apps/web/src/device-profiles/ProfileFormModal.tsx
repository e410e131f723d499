import { useEffect, useState, type FormEvent } from 'react';
import { ActionIcon, Alert, Badge, Button, Group, Modal, Select, Stack, Tabs, Text, Textarea, TextInput, Tooltip } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconRefresh } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { DeviceProfileDto } from '@rivulet/api-types';
import { errorMessage } from '../api/client';
import { AlarmFormError } from './alarm-rules';
import { AlarmRulesEditor, type AlarmFieldError } from './AlarmRulesEditor';
import { formOf, generateProvisionValue, PROVISION_TYPES, profileKeys, saveProfile, saveRequest, type ProfileForm, type ProvisionType } from './device-profiles-api';
import { RuleChainSelect } from './RuleChainSelect';

type Tab = 'details' | 'alarms' | 'provisioning';
interface FieldErrors {
  name?: string;
  provisionDeviceKey?: string;
  provisionDeviceSecret?: string;
  alarm?: AlarmFieldError;
}

function GenerateButton({ label, onClick }: { label: string; onClick: () => void }) {
  return (
    <Tooltip label={`Generate a new ${label}`}>
      <ActionIcon variant="subtle" aria-label={`Generate ${label}`} onClick={onClick} data-testid={`generate-${label.replace(/\W+/g, '-')}`}>
        <IconRefresh size={16} />
      </ActionIcon>
    </Tooltip>
  );
}

/** Create (no `profile`) or edit a device profile: details, alarm rules and device provisioning. */
export function ProfileFormModal({ opened, profile, onClose }: { opened: boolean; profile?: DeviceProfileDto | undefined; onClose: () => void }) {
  const [form, setForm] = useState<ProfileForm>(() => formOf(profile));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [tab, setTab] = useState<Tab>('details');
  const queryClient = useQueryClient();
  const save = useMutation({
    mutationFn: (f: ProfileForm) => saveProfile(f, profile),
    onSuccess: async (saved) => {
      await queryClient.invalidateQueries({ queryKey: profileKeys.all });
      notifications.show({ color: 'green', message: profile ? `Device profile "${saved.name}" saved` : `Device profile "${saved.name}" created` });
      onClose();
    },
    // The server's refusal of a taken name or provision key: show the tab with that field.
    onError: (e) => {
      const m = errorMessage(e);
      if (/name/i.test(m)) setTab('details');
      else if (/provision/i.test(m)) setTab('provisioning');
    },
  });
  const { reset } = save;

  useEffect(() => {
    if (!opened) return;
    setForm(formOf(profile));
    setErrors({});
    setTab('details');
    reset();
  }, [opened, profile, reset]);

  const patch = (p: Partial<ProfileForm>) => setForm((f) => ({ ...f, ...p }));

  function submit(e: FormEvent) {
    e.preventDefault();
    const next: FieldErrors = {};
    if (!form.name.trim()) next.name = 'Device profile name should be specified';
    if (form.provisionType !== 'DISABLED') {
      if (!form.provisionDeviceKey.trim()) next.provisionDeviceKey = 'Provision device key should be specified';
      if (!form.provisionDeviceSecret.trim()) next.provisionDeviceSecret = 'Provision device secret should be specified';
    }
    try {
      // Builds the alarms now, so an incomplete rule is named before anything is sent.
      saveRequest(form, profile);
    } catch (err) {
      if (err instanceof AlarmFormError) next.alarm = { index: err.index, field: err.field, message: err.message };
      else throw err;
    }
    setErrors(next);
    if (next.name) setTab('details');
    else if (next.alarm) setTab('alarms');
    else if (next.provisionDeviceKey || next.provisionDeviceSecret) setTab('provisioning');
    if (Object.keys(next).length > 0) return;
    save.mutate(form);
  }

  const serverError = save.error ? errorMessage(save.error) : null;
  const provisioning = form.provisionType !== 'DISABLED';
  const alarmError = errors.alarm ?? null;
  return (
    <Modal opened={opened} onClose={onClose} title={profile ? `Edit device profile ${profile.name}` : 'New device profile'} size="xl" centered>
      <form onSubmit={submit} noValidate data-testid="profile-form">
        <Tabs value={tab} onChange={(t) => setTab((t as Tab | null) ?? 'details')} keepMounted={false}>
          <Tabs.List mb="md">
            <Tabs.Tab value="details" color={errors.name ? 'red' : undefined}>
              Details
            </Tabs.Tab>
            <Tabs.Tab
              value="alarms"
              color={alarmError ? 'red' : undefined}
              rightSection={form.alarms.length > 0 ? <Badge size="xs" variant="light" circle children={form.alarms.length} /> : undefined}
              data-testid="tab-alarms"
            >
              Alarm rules
            </Tabs.Tab>
            <Tabs.Tab value="provisioning" color={errors.provisionDeviceKey || errors.provisionDeviceSecret ? 'red' : undefined} data-testid="tab-provisioning">
              Device provisioning
            </Tabs.Tab>
          </Tabs.List>

          <Tabs.Panel value="details">
            <Stack gap="sm">
              <TextInput
                label="Name"
                name="name"
                required
                data-autofocus
                value={form.name}
                onChange={(e) => {
                  patch({ name: e.currentTarget.value });
                  setErrors((x) => ({ ...x, name: undefined }));
                }}
                error={errors.name ?? (serverError && /name/i.test(serverError) ? serverError : undefined)}
              />
              <RuleChainSelect value={form.defaultRuleChainId} onChange={(id) => patch({ defaultRuleChainId: id })} />
              <Textarea label="Description" name="description" autosize minRows={2} maxRows={6} value={form.description} onChange={(e) => patch({ description: e.currentTarget.value })} />
            </Stack>
          </Tabs.Panel>

          <Tabs.Panel value="alarms">
            <AlarmRulesEditor
              alarms={form.alarms}
              onChange={(alarms) => {
                patch({ alarms });
                setErrors((x) => ({ ...x, alarm: undefined }));
              }}
              errors={alarmError}
            />
          </Tabs.Panel>

          <Tabs.Panel value="provisioning">
            <Stack gap="sm">
              <Select
                label="Provision strategy"
                data={PROVISION_TYPES.map((p) => ({ value: p.value, label: p.label }))}
                value={form.provisionType}
                onChange={(v) => {
                  if (!v) return;
                  const type = v as ProvisionType;
                  // Turning provisioning on offers fresh credentials, as ThingsBoard's form does.
                  patch({
                    provisionType: type,
                    ...(type !== 'DISABLED' && !form.provisionDeviceKey ? { provisionDeviceKey: generateProvisionValue() } : {}),
                    ...(type !== 'DISABLED' && !form.provisionDeviceSecret ? { provisionDeviceSecret: generateProvisionValue() } : {}),
                  });
                }}
                allowDeselect={false}
                description={PROVISION_TYPES.find((p) => p.value === form.provisionType)?.description}
                data-testid="provision-type"
              />
              {provisioning && (
                <>
                  <TextInput
                    label="Provision device key"
                    name="provisionDeviceKey"
                    required
                    value={form.provisionDeviceKey}
                    onChange={(e) => {
                      patch({ provisionDeviceKey: e.currentTarget.value });
                      setErrors((x) => ({ ...x, provisionDeviceKey: undefined }));
                    }}
                    error={errors.provisionDeviceKey ?? (serverError && /provision/i.test(serverError) ? serverError : undefined)}
                    rightSection={<GenerateButton label="provision key" onClick={() => patch({ provisionDeviceKey: generateProvisionValue() })} />}
                    styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
                  />
                  <TextInput
                    label="Provision device secret"
                    name="provisionDeviceSecret"
                    required
                    value={form.provisionDeviceSecret}
                    onChange={(e) => {
                      patch({ provisionDeviceSecret: e.currentTarget.value });
                      setErrors((x) => ({ ...x, provisionDeviceSecret: undefined }));
                    }}
                    error={errors.provisionDeviceSecret}
                    rightSection={<GenerateButton label="provision secret" onClick={() => patch({ provisionDeviceSecret: generateProvisionValue() })} />}
                    styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
                  />
                  <Text size="xs" c="dimmed">
                    A device sends both in its provision request (MQTT <code>/provision/request</code>, HTTP or CoAP <code>/api/v1/provision</code>) and gets its credentials back.
                  </Text>
                </>
              )}
            </Stack>
          </Tabs.Panel>
        </Tabs>

        {serverError && (
          <Alert color="red" mt="md" title="Not saved" data-testid="profile-form-error">
            {serverError}
          </Alert>
        )}
        <Group justify="flex-end" mt="lg">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" loading={save.isPending} data-testid="save-profile">
            {profile ? 'Save' : 'Create'}
          </Button>
        </Group>
      </form>
    </Modal>
  );
}
