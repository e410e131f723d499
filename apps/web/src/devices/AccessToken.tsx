import { useState } from 'react';
import { ActionIcon, Button, Code, Group, Loader, Text, Tooltip } from '@mantine/core';
import { modals } from '@mantine/modals';
import { notifications } from '@mantine/notifications';
import { IconCheck, IconCopy, IconEye, IconEyeOff, IconRefresh } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { DeviceDto } from '@rivulet/api-types';
import { errorMessage } from '../api/client';
import { ErrorState } from '../components/PageState';
import { getCredentials, regenerateToken } from './devices-api';

/** Copies text; a notification says whether it worked (the clipboard needs a secure context). */
export async function copyText(text: string, what: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    notifications.show({ color: 'green', message: `${what} copied to the clipboard` });
    return true;
  } catch (e) {
    notifications.show({ color: 'red', title: `${what} not copied`, message: errorMessage(e) });
    return false;
  }
}

/** The device's access token: masked until revealed, copy, and regenerate after a confirmation. */
export function AccessToken({ device }: { device: DeviceDto }) {
  const id = device.id.id;
  const [revealed, setRevealed] = useState(false);
  const [copied, setCopied] = useState(false);
  const queryClient = useQueryClient();
  const credentials = useQuery({ queryKey: ['device-credentials', id], queryFn: () => getCredentials(id) });
  const regenerate = useMutation({
    mutationFn: () => regenerateToken(credentials.data!),
    onSuccess: async (saved) => {
      queryClient.setQueryData(['device-credentials', id], saved);
      // The Connect commands carry the token.
      await queryClient.invalidateQueries({ queryKey: ['device-connectivity', id] });
      notifications.show({ color: 'green', message: 'New access token saved; the old one no longer works' });
    },
    onError: (e) => notifications.show({ color: 'red', title: 'Token not changed', message: errorMessage(e) }),
  });

  if (credentials.isPending) return <Loader size="sm" />;
  if (credentials.isError) return <ErrorState error={credentials.error} onRetry={() => void credentials.refetch()} title="Credentials not loaded" />;
  const c = credentials.data;
  if (c.credentialsType !== 'ACCESS_TOKEN') {
    return <Text size="sm">This device uses MQTT basic credentials.</Text>;
  }
  const token = c.credentialsId;

  function confirmRegenerate() {
    modals.openConfirmModal({
      title: 'Regenerate the access token?',
      children: (
        <Text size="sm">
          <b>{device.name}</b> will have to use the new token: the current one stops working at once, for every protocol.
        </Text>
      ),
      labels: { confirm: 'Regenerate', cancel: 'Cancel' },
      confirmProps: { color: 'red', 'data-testid': 'confirm-regenerate' } as Record<string, string>,
      onConfirm: () => regenerate.mutate(),
    });
  }

  return (
    <Group gap="xs" wrap="nowrap" data-testid="access-token">
      <Code fz="sm" style={{ flex: 1, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }} data-testid="access-token-value">
        {revealed ? token : '•'.repeat(Math.min(token.length, 20))}
      </Code>
      <Tooltip label={revealed ? 'Hide' : 'Show'}>
        <ActionIcon variant="default" aria-label={revealed ? 'Hide token' : 'Show token'} onClick={() => setRevealed(!revealed)} data-testid="reveal-token">
          {revealed ? <IconEyeOff size={16} /> : <IconEye size={16} />}
        </ActionIcon>
      </Tooltip>
      <Tooltip label={copied ? 'Copied' : 'Copy'}>
        <ActionIcon
          variant="default"
          aria-label="Copy token"
          data-testid="copy-token"
          onClick={() =>
            void copyText(token, 'Access token').then((ok) => {
              setCopied(ok);
              if (ok) setTimeout(() => setCopied(false), 1500);
            })
          }
        >
          {copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
        </ActionIcon>
      </Tooltip>
      <Button size="xs" variant="light" color="red" leftSection={<IconRefresh size={14} />} loading={regenerate.isPending} onClick={confirmRegenerate} data-testid="regenerate-token">
        Regenerate
      </Button>
    </Group>
  );
}
