import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { MqttTransport } from '@rivulet/transport-mqtt';
import { WebSocketServer, createWebSocketStream } from 'ws';

/** The path MQTT over WebSocket is served on (the HTTP port), as browser MQTT clients expect it. */
export const MQTT_WS_PATH = '/mqtt';

/**
 * MQTT over WebSocket: upgrades to /mqtt become ordinary connections of the MQTT transport (same
 * authentication, limits and topics). Subprotocol "mqtt" (MQTT 3.1.1 or 5: the transport tells them apart by the CONNECT) or "mqttv3.1".
 */
export function createMqttWebSocket(mqtt: MqttTransport, options: { maxPayloadBytes: number }) {
  const wss = new WebSocketServer({
    noServer: true,
    // a frame carries at most one packet from common clients; room for the topic and headers
    maxPayload: options.maxPayloadBytes + 8192,
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
  });
  return {
    /** Takes upgrades to /mqtt; false for any other path. */
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
      const url = req.url ?? '';
      const path = url.includes('?') ? url.slice(0, url.indexOf('?')) : url;
      if (path !== MQTT_WS_PATH) return false;
      // the client's address travels with the stream: provisioning is limited per source address
      wss.handleUpgrade(req, socket, head, (ws) => mqtt.handleConnection(Object.assign(createWebSocketStream(ws), { remoteAddress: req.socket.remoteAddress })));
      return true;
    },
    close(): void {
      wss.close();
    },
  };
}
