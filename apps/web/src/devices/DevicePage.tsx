import { Button, Grid, Stack } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { ApiError } from '../api/client';
import { EmptyState, ErrorState, LoadingState } from '../components/PageState';
import { AttributesPanel } from './device/AttributesPanel';
import { DeviceAlarms } from './device/DeviceAlarms';
import { DeviceHeader } from './device/DeviceHeader';
import { getDevice } from './device/device-api';
import { LatestTelemetry } from './device/LatestTelemetry';
import { RpcConsole } from './device/RpcConsole';
import { TelemetryChart } from './device/TelemetryChart';
import { useLatestTelemetry } from './device/use-latest-telemetry';

/** /devices/:deviceId: one device's live telemetry, chart, attributes, RPC console and alarms. */
export default function DevicePage() {
  const { deviceId = '' } = useParams();
  const device = useQuery({ queryKey: ['device', deviceId], queryFn: () => getDevice(deviceId) });
  if (device.isLoading) return <LoadingState label="Loading the device…" />;
  if (device.error) {
    // An unknown id (404) or one that is not an id at all (400): the device is not there.
    if (device.error instanceof ApiError && (device.error.status === 404 || device.error.status === 400)) {
      return (
        <div data-testid="device-not-found">
          <EmptyState
            title="Device not found"
            action={
              <Button component={Link} to="/devices" variant="light">
                Back to devices
              </Button>
            }
          >
            No device with id {deviceId} exists in your tenant. It may have been deleted.
          </EmptyState>
        </div>
      );
    }
    return <ErrorState error={device.error} onRetry={() => void device.refetch()} title="Could not load the device" />;
  }
  if (!device.data) return null;
  return <DeviceView key={deviceId} deviceId={deviceId} device={device.data} />;
}

function DeviceView({ deviceId, device }: { deviceId: string; device: NonNullable<Awaited<ReturnType<typeof getDevice>>> }) {
  const latest = useLatestTelemetry(deviceId);
  return (
    <Stack gap="md" data-testid="device-page">
      <DeviceHeader device={device} />
      <Grid gap="md">
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <LatestTelemetry values={latest.values} isLoading={latest.isLoading} error={latest.error} onRetry={() => void latest.refetch()} />
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <TelemetryChart deviceId={deviceId} latest={latest.values} />
        </Grid.Col>
      </Grid>
      <AttributesPanel deviceId={deviceId} />
      <Grid gap="md">
        <Grid.Col span={{ base: 12, lg: 6 }}>
          <RpcConsole deviceId={deviceId} />
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 6 }}>
          <DeviceAlarms deviceId={deviceId} />
        </Grid.Col>
      </Grid>
    </Stack>
  );
}
