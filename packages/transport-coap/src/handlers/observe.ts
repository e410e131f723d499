import { ObserveWriteStream, type IncomingMessage } from 'coap';
import { deviceAnswerText, type DeviceInfo } from '@rivulet/core';
import { endpointOf, type CoapResponse } from '../coap-endpoint';
import { Code } from '../coap-message';
import { JSON_FORMAT, accept, internalError, reject, type CoapContext } from '../context';
import type { ObserveKind, Observation } from '../observe-registry';
import { readAttributes } from './device-api';
import { failPendingRpc } from './rpc';

// ---- observations (RFC 7641): shared-attribute updates and RPC commands ---------------------------

function observationKey(req: IncomingMessage): string {
  return `${endpointOf(req.rsinfo)}|${(req._packet.token ?? Buffer.alloc(0)).toString('hex')}`;
}

/**
 * Registers an observation and answers the registration with `first` (code and payload).
 * Notifications arriving before that answer went out are held and sent after it, so the first
 * message the device gets is the registration answer.
 */
async function observe(
  ctx: CoapContext,
  req: IncomingMessage,
  res: CoapResponse,
  device: DeviceInfo,
  kind: ObserveKind,
  first: () => Promise<{ code: Code; payload: string } | undefined>,
): Promise<void> {
  if (!(res instanceof ObserveWriteStream)) return internalError(ctx, res, new Error('observe request without an observe stream'), 'coap observe failed');
  const stream = res;
  const { registry, counters } = ctx;
  const key = observationKey(req);
  if (!registry.hasRoomFor(key)) {
    return reject(ctx, res, 'unavailable', Code.SERVICE_UNAVAILABLE, 'Service unavailable: too many observations on this server', { 'Max-Age': 60 });
  }
  let ready = false;
  const held: string[] = [];
  const write = (payload: string, code: Code = Code.CONTENT): void => {
    if (stream.writableEnded || stream.destroyed) return;
    stream.statusCode = code;
    stream.write(Buffer.from(payload, 'utf8'));
  };
  const obs: Observation = {
    key,
    device,
    kind,
    send(payload) {
      counters.notifications++;
      if (ready) write(payload);
      else held.push(payload);
    },
    close(final) {
      if (stream.writableEnded) return;
      if (final !== undefined && ready) {
        // a non-2.xx notification, without the Observe option, ends the observation at the
        // client (RFC 7641 §3.2); the stream is left as it is, ending it would send once more
        stream.statusCode = final.code;
        stream.setOption('Observe', []);
        stream._doSend(Buffer.from(final.message, 'utf8'));
        return;
      }
      // ending after a notification sends nothing more; the client notices on its next one
      stream.end();
    },
  };
  registry.add(obs);
  // A RST to a notification ends the stream (coap-endpoint): the device rejected it and will not
  // answer what it was sent. Our own close() (cancel, replace, evict) unregisters first.
  stream.once('finish', () => {
    if (registry.remove(obs) && kind === 'rpc' && registry.forDevice(device.deviceId, 'rpc').length === 0) {
      failPendingRpc(ctx, device.deviceId, 'The device cancelled its RPC subscription before replying');
    }
  });
  const answer = await first();
  if (answer === undefined) {
    // refused after all (first() answered): nothing to observe
    registry.remove(obs);
    return;
  }
  stream.setOption('Content-Format', JSON_FORMAT);
  counters.acceptedRequests++;
  write(answer.payload, answer.code);
  ready = true;
  for (const p of held.splice(0)) write(p);
}

/** `GET /attributes` with Observe=0: shared-attribute updates (downlink.ts). */
export async function observeAttributes(ctx: CoapContext, req: IncomingMessage, res: CoapResponse, device: DeviceInfo): Promise<void> {
  // the registration answer carries the current shared attributes, as an update would
  await observe(ctx, req, res, device, 'attributes', async () => {
    const attrs = await readAttributes(ctx, res, device, {});
    return attrs === undefined ? undefined : { code: Code.CONTENT, payload: deviceAnswerText(attrs.shared ?? {}, attrs.doubles) };
  });
}

/** `GET /rpc` with Observe=0: server-side RPC commands (downlink.ts). */
export async function observeRpc(ctx: CoapContext, req: IncomingMessage, res: CoapResponse, device: DeviceInfo): Promise<void> {
  // ThingsBoard answers an RPC subscription 2.03 Valid, without a payload
  await observe(ctx, req, res, device, 'rpc', async () => ({ code: Code.VALID, payload: '' }));
}

/** `GET` with Observe=1: deregistration. */
export async function cancelObservation(ctx: CoapContext, req: IncomingMessage, res: CoapResponse, device: DeviceInfo): Promise<void> {
  const { registry } = ctx;
  const obs = registry.get(observationKey(req));
  if (obs !== undefined && obs.device.deviceId === device.deviceId) {
    registry.remove(obs);
    obs.close();
  }
  // ThingsBoard answers a deregistration 2.02 Deleted, known or not
  accept(ctx, res, Code.DELETED);
}
