/**
 * Every device PUBLISH is re-addressed here before aedes routes it: nothing subscribes to this
 * topic, so aedes' own delivery after the hook would reach no one (devices never receive each
 * other's messages, whatever topic they pick, and a publish costs no fan-out); the transport ends
 * packets on this topic at the broker's publish instead of routing them (skipDiscardedRouting in
 * mqtt-transport.ts). authorizeForward drops client-originated packets as a second line.
 */
export const DISCARD_TOPIC = '$rivulet/discard';

/**
 * A publish refused with an MQTT 5 PUBACK reason code (MQTT 5: table 3-4). On MQTT 3.1.1, like any
 * error given to aedes, it closes the connection without PUBACK.
 */
export class PublishRefusedError extends Error {
  constructor(
    message: string,
    readonly reasonCode: number,
  ) {
    super(message);
    this.name = 'PublishRefusedError';
  }
}

/** Refused by the message rate limit (further ahead than the wait bound): MQTT 5 counts these to close a flooding device. */
export class RateLimitRefusedError extends PublishRefusedError {
  constructor(message: string) {
    super(message, 0x97);
    this.name = 'RateLimitRefusedError';
  }
}

/** MQTT 5 PUBACK reason codes this transport answers. */
export const PubackCode = {
  SUCCESS: 0x00,
  UNSPECIFIED_ERROR: 0x80,
  IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
  NOT_AUTHORIZED: 0x87,
  TOPIC_NAME_INVALID: 0x90,
  QUOTA_EXCEEDED: 0x97,
  PAYLOAD_FORMAT_INVALID: 0x99,
} as const;

/** A held publish whose connection closed meanwhile: not produced (the device has no PUBACK and sends it again). */
export class SessionClosedError extends Error {
  constructor() {
    super('the connection closed while the publish was held by the rate limit');
    this.name = 'SessionClosedError';
  }
}

