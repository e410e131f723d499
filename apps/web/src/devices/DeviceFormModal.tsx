import { useEffect, useState, type FormEvent } from 'react';
import { Alert, Button, Group, Modal, Stack, Switch, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { DeviceDto } from '@rivulet/api-types';
import { notifications } from '@mantine/notifications';
import { errorMessage } from '../api/client';
import { getDefaultProfileInfo, profileKeys } from '../device-profiles/device-profiles-api';
import { ProfileSelect } from '../device-profiles/ProfileSelect';
import { isGateway, saveDevice, type DeviceForm } from './devices-api';

const EMPTY: DeviceForm = { name: '', deviceProfileId: null, label: '', gateway: false };

function formOf(d: DeviceDto | undefined): DeviceForm {
  return d ? { name: d.name, deviceProfileId: d.deviceProfileId.id, label: d.label ?? '', gateway: isGateway(d) } : EMPTY;
}

/** Create (no `device`) or edit a device: name, device profile (the default one preselected), label and ThingsBoard's gateway flag. */
export function DeviceFormModal({ opened, device, onClose, onSaved }: { opened: boolean; device?: DeviceDto | undefined; onClose: () => void; onSaved?: (d: DeviceDto) => void }) {
  const [form, setForm] = useState<DeviceForm>(() => formOf(device));
  const [nameError, setNameError] = useState<string | null>(null);
  const queryClient = useQueryClient();
  const save = useMutation({
    mutationFn: (f: DeviceForm) => saveDevice(f, device),
    onSuccess: async (saved) => {
      await queryClient.invalidateQueries({ queryKey: ['devices'] });
      notifications.show({ color: 'green', message: device ? `Device "${saved.name}" saved` : `Device "${saved.name}" created` });
      onSaved?.(saved);
      onClose();
    },
  });
  const { reset } = save;
  const defaultProfile = useQuery({ queryKey: profileKeys.defaultInfo, queryFn: ({ signal }) => getDefaultProfileInfo(signal), enabled: opened && !device });
  const defaultProfileId = defaultProfile.data?.id.id;

  useEffect(() => {
    if (!opened) return;
    setForm(formOf(device));
    setNameError(null);
    reset();
  }, [opened, device, reset]);

  // A new device starts on the tenant's default profile, once it is known.
  useEffect(() => {
    if (opened && !device && defaultProfileId) setForm((f) => (f.deviceProfileId === null ? { ...f, deviceProfileId: defaultProfileId } : f));
  }, [opened, device, defaultProfileId]);

  function submit(e: FormEvent) {
    e.preventDefault();
    if (!form.name.trim()) {
      setNameError('Device name should be specified');
      return;
    }
    setNameError(null);
    save.mutate(form);
  }

  const serverError = save.error ? errorMessage(save.error) : null;
  // The server's name errors (duplicate, too long) belong under the name field.
  const nameServerError = serverError && /name/i.test(serverError) ? serverError : null;
  // ... and its profile errors (not found) under the profile field.
  const profileServerError = serverError && !nameServerError && /profile/i.test(serverError) ? serverError : null;
  return (
    <Modal opened={opened} onClose={onClose} title={device ? `Edit ${device.name}` : 'New device'} centered>
      <form onSubmit={submit} noValidate data-testid="device-form">
        <Stack gap="sm">
          <TextInput
            label="Name"
            name="name"
            required
            data-autofocus
            value={form.name}
            onChange={(e) => {
              setForm({ ...form, name: e.currentTarget.value });
              setNameError(null);
            }}
            error={nameError ?? nameServerError}
          />
          <ProfileSelect value={form.deviceProfileId} onChange={(id) => setForm((f) => ({ ...f, deviceProfileId: id }))} error={profileServerError ?? undefined} />
          <TextInput label="Label" name="label" value={form.label} onChange={(e) => setForm({ ...form, label: e.currentTarget.value })} />
          <Switch
            label="Gateway"
            name="gateway"
            description="Publishes for other devices through the gateway API (v1/gateway/*)"
            checked={form.gateway}
            onChange={(e) => setForm({ ...form, gateway: e.currentTarget.checked })}
          />
          {serverError && !nameServerError && !profileServerError && (
            <Alert color="red" data-testid="device-form-error">
              {serverError}
            </Alert>
          )}
          <Group justify="flex-end" mt="sm">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={save.isPending}>
              {device ? 'Save' : 'Create'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
