import { useState } from 'react';
import { Alert, Badge, Button, Card, Code, Group, NumberInput, ScrollArea, SegmentedControl, Stack, Text, TextInput, Textarea, Title, UnstyledButton } from '@mantine/core';
import { IconClockExclamation, IconSend } from '@tabler/icons-react';
import type { Json } from '@rivulet/api-types';
import { ApiError, errorMessage } from '../../api/client';
import { parseJson } from './attribute-value';
import { sendRpc } from './device-api';

export interface RpcCall {
  at: number;
  method: string;
  params: string;
  twoWay: boolean;
  timeout: number;
  ms: number;
  outcome: { kind: 'reply'; body: Json | undefined } | { kind: 'timeout'; message: string } | { kind: 'error'; status: number | null; message: string };
}

const HISTORY_MAX = 20;
const historyKey = (deviceId: string) => `rivulet.rpc.${deviceId}`;

function loadHistory(deviceId: string): RpcCall[] {
  try {
    return JSON.parse(sessionStorage.getItem(historyKey(deviceId)) ?? '[]') as RpcCall[];
  } catch {
    return [];
  }
}

/** Sends an RPC to the device: method, JSON params, one-way or two-way, timeout; the outcome and this session's calls. */
export function RpcConsole({ deviceId }: { deviceId: string }) {
  const [method, setMethod] = useState('');
  const [params, setParams] = useState('{}');
  const [twoWay, setTwoWay] = useState(true);
  const [timeout, setTimeoutMs] = useState<number>(10_000);
  const [sending, setSending] = useState(false);
  const [history, setHistory] = useState<RpcCall[]>(() => loadHistory(deviceId));
  const [touched, setTouched] = useState(false);

  const parsed = parseJson(params);
  const methodError = method.trim() === '' ? 'Enter a method' : null;
  const timeoutError = !Number.isFinite(timeout) || timeout < 100 ? 'At least 100 ms' : timeout > 600_000 ? 'At most 600000 ms' : null;
  const last = history[0];

  const send = async () => {
    setTouched(true);
    if (methodError || !parsed.ok || timeoutError) return;
    setSending(true);
    const t0 = performance.now();
    let outcome: RpcCall['outcome'];
    try {
      outcome = { kind: 'reply', body: await sendRpc(deviceId, twoWay, { method: method.trim(), params: parsed.value, timeout }) };
    } catch (e) {
      outcome = e instanceof ApiError && e.status === 504 ? { kind: 'timeout', message: e.message } : { kind: 'error', status: e instanceof ApiError ? e.status : null, message: errorMessage(e) };
    }
    const call: RpcCall = { at: Date.now(), method: method.trim(), params, twoWay, timeout, ms: Math.round(performance.now() - t0), outcome };
    const next = [call, ...history].slice(0, HISTORY_MAX);
    setHistory(next);
    sessionStorage.setItem(historyKey(deviceId), JSON.stringify(next));
    setSending(false);
  };

  const reuse = (c: RpcCall) => {
    setMethod(c.method);
    setParams(c.params);
    setTwoWay(c.twoWay);
    setTimeoutMs(c.timeout);
  };

  return (
    <Card withBorder padding="md" h="100%" data-testid="rpc-console">
      <Title order={4} mb="xs">
        RPC console
      </Title>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <Stack gap="sm">
          <Group grow align="flex-start">
            <TextInput label="Method" placeholder="setValve" value={method} onChange={(e) => setMethod(e.currentTarget.value)} error={touched && methodError} data-testid="rpc-method" />
            <NumberInput label="Timeout (ms)" min={100} max={600_000} step={1000} value={timeout} onChange={(v) => setTimeoutMs(typeof v === 'number' ? v : Number(v))} error={timeoutError} data-testid="rpc-timeout" />
          </Group>
          <Textarea label="Params (JSON)" autosize minRows={3} maxRows={10} styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }} value={params} onChange={(e) => setParams(e.currentTarget.value)} error={parsed.ok ? null : parsed.error} data-testid="rpc-params" />
          <Group justify="space-between">
            <SegmentedControl
              value={twoWay ? 'two' : 'one'}
              onChange={(v) => setTwoWay(v === 'two')}
              data={[
                { value: 'two', label: 'Two-way (wait for reply)' },
                { value: 'one', label: 'One-way' },
              ]}
              data-testid="rpc-mode"
            />
            <Button type="submit" leftSection={<IconSend size={16} />} loading={sending} disabled={!parsed.ok} data-testid="rpc-send">
              Send
            </Button>
          </Group>
          {last && <Outcome call={last} />}
          {history.length > 0 && (
            <div>
              <Text size="sm" fw={600} mb={4}>
                This session's calls
              </Text>
              <ScrollArea.Autosize mah={180}>
                <Stack gap={2} data-testid="rpc-history">
                  {history.map((c) => (
                    <UnstyledButton key={c.at} onClick={() => reuse(c)} title="Use again" px={4} py={2} style={{ borderRadius: 4 }}>
                      <Group gap="xs" wrap="nowrap">
                        <OutcomeBadge call={c} />
                        <Text size="xs" ff="monospace" truncate="end" style={{ flex: 1 }}>
                          {c.method}({c.params.replace(/\s+/g, ' ')})
                        </Text>
                        <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                          {new Date(c.at).toLocaleTimeString()} · {c.ms} ms
                        </Text>
                      </Group>
                    </UnstyledButton>
                  ))}
                </Stack>
              </ScrollArea.Autosize>
            </div>
          )}
        </Stack>
      </form>
    </Card>
  );
}

function OutcomeBadge({ call }: { call: RpcCall }) {
  const o = call.outcome;
  const [color, label] = o.kind === 'reply' ? ['green', call.twoWay ? 'reply' : 'sent'] : o.kind === 'timeout' ? ['orange', 'timeout'] : ['red', `error${o.status ? ` ${o.status}` : ''}`];
  return (
    <Badge size="xs" color={color} variant="light" w={70}>
      {label}
    </Badge>
  );
}

function Outcome({ call }: { call: RpcCall }) {
  const o = call.outcome;
  if (o.kind === 'timeout') {
    return (
      <Alert color="orange" icon={<IconClockExclamation />} title={`Timed out (504) after ${call.ms} ms`} data-testid="rpc-outcome" data-outcome="timeout">
        {o.message}
      </Alert>
    );
  }
  if (o.kind === 'error') {
    return (
      <Alert color="red" title={`Failed${o.status ? ` (${o.status})` : ''}`} data-testid="rpc-outcome" data-outcome="error">
        {o.message}
      </Alert>
    );
  }
  return (
    <Alert color="green" title={call.twoWay ? `Reply from the device in ${call.ms} ms` : `Delivered to the device in ${call.ms} ms`} data-testid="rpc-outcome" data-outcome="reply">
      {call.twoWay && (
        <Code block data-testid="rpc-reply">
          {o.body === undefined ? '(empty reply)' : JSON.stringify(o.body, null, 2)}
        </Code>
      )}
    </Alert>
  );
}
