import { useState } from 'react';
import { Badge, Group, Stack, Text, Tooltip } from '@mantine/core';
import { useSubscription } from '../api/use-subscription';
import { ago } from './use-now';

interface Activity {
  active: boolean | null;
  lastActivityTime: number | null;
}

/**
 * The device's `active` and `lastActivityTime` server attributes (maintained by the server's device
 * state service), live over the WebSocket for as long as the row is shown.
 */
export function DeviceActivity({ deviceId, now }: { deviceId: string; now: number }) {
  const [activity, setActivity] = useState<Activity>({ active: null, lastActivityTime: null });
  useSubscription({ type: 'ATTRIBUTES', entityType: 'DEVICE', entityId: deviceId, scope: 'SERVER_SCOPE', keys: 'active,lastActivityTime' }, (data) => {
    setActivity((prev) => {
      const next = { ...prev };
      const active = data.active?.at(-1)?.[1];
      if (active !== undefined) next.active = active === null ? null : active === 'true';
      const last = data.lastActivityTime?.at(-1)?.[1];
      if (last !== undefined) next.lastActivityTime = last === null ? null : Number(last);
      return next;
    });
  });
  const active = activity.active === true;
  return (
    <Group gap="xs" wrap="nowrap" data-testid="device-activity" data-active={active ? 'true' : 'false'}>
      <Badge color={active ? 'green' : 'gray'} variant="light" miw={74}>
        {active ? 'Active' : 'Inactive'}
      </Badge>
      <Stack gap={0}>
        {activity.lastActivityTime ? (
          <Tooltip label={new Date(activity.lastActivityTime).toLocaleString()}>
            <Text size="xs" c="dimmed" data-testid="last-activity">
              {ago(activity.lastActivityTime, now)}
            </Text>
          </Tooltip>
        ) : (
          <Text size="xs" c="dimmed" data-testid="last-activity">
            never
          </Text>
        )}
      </Stack>
    </Group>
  );
}
