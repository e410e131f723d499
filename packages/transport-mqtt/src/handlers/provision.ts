import { BadRequestError, type ProvisionResponse } from '@rivulet/core';
import { FeatureUnavailableError, ProvisionRateLimitError } from '@rivulet/transport-service';
import type { PublishPacket } from 'aedes';
import { BadInput, noop, type BadInputReporter, type TransportContext } from '../context';
import type { ProvisionSession } from '../session';
import { Topic } from '../topics';
import { DISCARD_TOPIC as DISCARD, PubackCode, PublishRefusedError } from './publish-errors';

/**
 * A PUBLISH of a provisioning connection (ThingsBoard's MqttTransportHandler.processProvisionSessionMsg):
 * `/provision/request` with `{"deviceName":..,"provisionDeviceKey":..,"provisionDeviceSecret":..}`
 * goes to the provisioning service through the transport service (which limits requests per source
 * address), and its answer is published on `/provision/response`. Any other topic is refused (3.1.1:
 * the connection closes, as ThingsBoard's; MQTT 5: PUBACK 0x87). Too many requests from the address:
 * the answer is `{"status":"FAILURE","errorMsg":"Too many provisioning requests..."}` (MQTT 5: PUBACK 0x97 too).
 * Once an answer went out the server closes the connection provisionCloseAfterMs later (60 s, ThingsBoard's).
 */
export function handleProvisionPublish(
  ctx: TransportContext,
  reportBadInput: BadInputReporter,
  ps: ProvisionSession,
  packet: PublishPacket,
  done: (error?: Error | null) => void,
): void {
  const topic = packet.topic;
  packet.topic = DISCARD;
  packet.retain = false;
  ctx.counters.publishes++;
  if (topic !== Topic.PROVISION_REQUEST) {
    reportBadInput(undefined, BadInput.UNKNOWN_TOPIC, { topic, remoteAddress: ps.remoteAddress, note: 'a provisioning connection may only publish to /provision/request' });
    return done(new PublishRefusedError(`a provisioning connection may only publish to ${Topic.PROVISION_REQUEST}`, PubackCode.NOT_AUTHORIZED));
  }
  const service = ctx.service;
  ctx.counters.provisionRequests++;
  const payload = packet.payload;
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  const correlationData = ps.v5 ? (packet as { properties?: { correlationData?: Buffer } }).properties?.correlationData : undefined;
  service.provision(text, 'MQTT', ps.remoteAddress).then(
    (response) => {
      answer(ctx, ps, response, correlationData);
      done(null);
    },
    (e: unknown) => {
      if (e instanceof ProvisionRateLimitError) {
        answer(ctx, ps, { status: 'FAILURE', errorMsg: e.message }, correlationData);
        return done(ps.v5 ? new PublishRefusedError(e.message, PubackCode.QUOTA_EXCEEDED) : null);
      }
      if (e instanceof BadRequestError) {
        reportBadInput(undefined, BadInput.MALFORMED_PAYLOAD, { topic, remoteAddress: ps.remoteAddress, error: e.message });
        return done(e);
      }
      if (e instanceof FeatureUnavailableError) return done(new PublishRefusedError(e.message, PubackCode.IMPLEMENTATION_SPECIFIC_ERROR));
      ctx.logger.error({ err: e, remoteAddress: ps.remoteAddress }, 'mqtt provisioning request failed');
      done(e instanceof Error ? e : new Error(String(e)));
    },
  ).catch((e: unknown) => ctx.logger.error({ err: e }, 'mqtt provisioning acknowledgement failed'));
}

/**
 * The answer on /provision/response, whether or not the client subscribed (ThingsBoard sends it
 * either way); then the connection's close is scheduled (ThingsBoard's DeviceProvisionCallback.onSuccess).
 */
function answer(ctx: TransportContext, ps: ProvisionSession, response: ProvisionResponse, correlationData: Buffer | undefined): void {
  if (!ps.open) return;
  if (ps.closeAfter(ctx.provisionCloseAfterMs)) ctx.counters.provisionClosing++;
  ps.client.publish(
    {
      cmd: 'publish',
      topic: Topic.PROVISION_RESPONSE,
      payload: Buffer.from(JSON.stringify(response), 'utf8'),
      qos: ps.qos1 ? 1 : 0,
      retain: false,
      dup: false,
      ...(correlationData ? { properties: { correlationData } } : {}),
    },
    noop,
  );
}

