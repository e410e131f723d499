import { ActionIcon, Alert, Badge, Code, Drawer, Group, Stack, Tabs, Text, Tooltip } from '@mantine/core';
import { IconCopy } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import type { DeviceDto } from '@rivulet/api-types';
import { ErrorState, LoadingState } from '../components/PageState';
import { AccessToken, copyText } from './AccessToken';
import { getConnectivity, isGateway } from './devices-api';

function Command({ command, testId }: { command: string; testId: string }) {
  return (
    <Group gap="xs" align="flex-start" wrap="nowrap">
      <Code block fz="xs" style={{ flex: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }} data-testid={testId}>
        {command}
      </Code>
      <Tooltip label="Copy">
        <ActionIcon variant="default" aria-label="Copy command" onClick={() => void copyText(command, 'Command')}>
          <IconCopy size={16} />
        </ActionIcon>
      </Tooltip>
    </Group>
  );
}

const GATEWAY_TOPICS: Record<string, string> = {
  connect: 'v1/gateway/connect: a device behind the gateway comes online (created on first sight)',
  telemetry: 'v1/gateway/telemetry: time series of several devices at once',
  attributes: 'v1/gateway/attributes: client attributes of several devices',
  disconnect: 'v1/gateway/disconnect: a device goes offline',
};

/**
 * How to connect the device: its token, and commands (from GET /api/device-connectivity/{id}) that
 * carry it with this server's address and ports, for MQTT, HTTP and CoAP, plus the gateway topics.
 */
export function ConnectDrawer({ device, onClose }: { device: DeviceDto | null; onClose: () => void }) {
  const id = device?.id.id;
  const connectivity = useQuery({ queryKey: ['device-connectivity', id], queryFn: () => getConnectivity(id!), enabled: id !== undefined });
  const gateway = device ? isGateway(device) : false;
  return (
    <Drawer opened={device !== null} onClose={onClose} position="right" size="xl" title={device ? `Connect ${device.name}` : null}
      styles={{ title: { fontWeight: 600, fontSize: 'var(--mantine-font-size-lg)' } }}>
      {device && (
        <Stack gap="md" data-testid="connect-drawer">
          <Stack gap={4}>
            <Text fw={600} size="sm">
              Access token
            </Text>
            <AccessToken device={device} />
          </Stack>
          {connectivity.isPending && <LoadingState label="Loading commands…" />}
          {connectivity.isError && <ErrorState error={connectivity.error} onRetry={() => void connectivity.refetch()} />}
          {connectivity.data && (
            <>
              <Text size="sm" c="dimmed">
                Paste a command in a terminal to send <Code>{'{"temperature":25}'}</Code> as this device.
              </Text>
              <Tabs defaultValue={gateway && connectivity.data.gateway ? 'gateway' : 'mqtt'} keepMounted={false}>
                <Tabs.List>
                  {connectivity.data.mqtt?.mqtt && <Tabs.Tab value="mqtt">MQTT</Tabs.Tab>}
                  {connectivity.data.http?.http && <Tabs.Tab value="http">HTTP</Tabs.Tab>}
                  {connectivity.data.coap?.coap && <Tabs.Tab value="coap">CoAP</Tabs.Tab>}
                  {connectivity.data.gateway && (
                    <Tabs.Tab value="gateway" rightSection={<Badge size="xs">gateway</Badge>}>
                      Gateway
                    </Tabs.Tab>
                  )}
                </Tabs.List>
                {connectivity.data.mqtt?.mqtt && (
                  <Tabs.Panel value="mqtt" pt="sm">
                    <Stack gap="xs">
                      <Text size="sm">With mosquitto_pub (Debian: mosquitto-clients):</Text>
                      <Command command={connectivity.data.mqtt.mqtt} testId="command-mqtt" />
                    </Stack>
                  </Tabs.Panel>
                )}
                {connectivity.data.http?.http && (
                  <Tabs.Panel value="http" pt="sm">
                    <Stack gap="xs">
                      <Text size="sm">With curl:</Text>
                      <Command command={connectivity.data.http.http} testId="command-http" />
                    </Stack>
                  </Tabs.Panel>
                )}
                {connectivity.data.coap?.coap && (
                  <Tabs.Panel value="coap" pt="sm">
                    <Stack gap="xs">
                      <Text size="sm">With libcoap&apos;s client (Debian: libcoap3-bin; coap-client elsewhere):</Text>
                      <Command command={connectivity.data.coap.coap} testId="command-coap" />
                    </Stack>
                  </Tabs.Panel>
                )}
                {connectivity.data.gateway && (
                  <Tabs.Panel value="gateway" pt="sm">
                    <Stack gap="sm">
                      {Object.entries(connectivity.data.gateway).map(([topic, command]) => (
                        <Stack gap={4} key={topic}>
                          <Text size="sm">{GATEWAY_TOPICS[topic] ?? topic}</Text>
                          <Command command={command} testId={`command-gateway-${topic}`} />
                        </Stack>
                      ))}
                    </Stack>
                  </Tabs.Panel>
                )}
              </Tabs>
              <Text size="xs" c="dimmed">
                The device turns Active in the list as soon as the server hears from it; its telemetry shows on the device page.
              </Text>
              {!connectivity.data.mqtt && !connectivity.data.http && (
                <Alert color="yellow">This device has no access token, so there is no command to show.</Alert>
              )}
            </>
          )}
        </Stack>
      )}
    </Drawer>
  );
}
