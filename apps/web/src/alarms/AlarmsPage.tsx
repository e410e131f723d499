import { Group, Text, Title } from '@mantine/core';
import { AlarmTable } from './AlarmTable';
import { ALARM_REFRESH_MS } from './use-alarms';

export default function AlarmsPage() {
  return (
    <>
      <Group justify="space-between" align="baseline" mb="md">
        <Title order={2}>Alarms</Title>
        <Text size="xs" c="dimmed">
          Refreshes every {ALARM_REFRESH_MS / 1000} s
        </Text>
      </Group>
      <AlarmTable />
    </>
  );
}
