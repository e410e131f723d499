import { Card, Title } from '@mantine/core';
import { AlarmTable } from '../../alarms/AlarmTable';

/** The device's alarms: the alarms page's table held to this device (filters, acknowledge, clear, details). */
export function DeviceAlarms({ deviceId }: { deviceId: string }) {
  return (
    <Card withBorder padding="md" h="100%" data-testid="device-alarms">
      <Title order={4} mb="xs">
        Alarms
      </Title>
      <AlarmTable originatorId={deviceId} compact />
    </Card>
  );
}
