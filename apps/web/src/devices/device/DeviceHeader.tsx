import { Anchor, Badge, Breadcrumbs, Group, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import type { DeviceDto } from '@rivulet/api-types';
import { useAttributes } from './AttributesPanel';
import { ago } from './device-api';
import { useNow } from '../use-now';

/** Name, type, label and the active state (server attributes active / lastActivityTime, kept live). */
export function DeviceHeader({ device }: { device: DeviceDto }) {
  const server = useAttributes(device.id.id, 'SERVER_SCOPE');
  const now = useNow(5000);
  const attr = (k: string) => server.data?.find((a) => a.key === k)?.value;
  const active = attr('active') === true;
  const lastActivity = attr('lastActivityTime');
  return (
    <Stack gap={4} mb="md">
      <Breadcrumbs>
        <Anchor component={Link} to="/devices" size="sm">
          Devices
        </Anchor>
        <Text size="sm">{device.name}</Text>
      </Breadcrumbs>
      <Group gap="sm" align="center" wrap="wrap">
        <Title order={2} data-testid="device-name" style={{ wordBreak: 'break-word' }}>
          {device.name}
        </Title>
        <Badge color={active ? 'green' : 'gray'} variant="dot" size="lg" data-testid="device-active" data-active={active}>
          {server.isLoading ? '…' : active ? 'Active' : 'Inactive'}
        </Badge>
        {device.additionalInfo?.gateway === true && <Badge variant="light">Gateway</Badge>}
      </Group>
      <Group gap="lg">
        <Text size="sm" c="dimmed">
          Device profile: <Text span c="var(--mantine-color-text)">{device.type}</Text>
        </Text>
        {device.label && (
          <Text size="sm" c="dimmed">
            Label: <Text span c="var(--mantine-color-text)">{device.label}</Text>
          </Text>
        )}
        <Text size="sm" c="dimmed">
          Last activity: <Text span c="var(--mantine-color-text)">{typeof lastActivity === 'number' && lastActivity > 0 ? ago(lastActivity, now) : 'never'}</Text>
        </Text>
      </Group>
    </Stack>
  );
}
