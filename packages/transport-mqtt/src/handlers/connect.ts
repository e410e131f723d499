import { newId, type DeviceInfo } from '@rivulet/core';
import type { AuthenticateError, Client } from 'aedes';
import type { TransportContext } from '../context';
import { ProvisionSession, Session } from '../session';
import { PROVISION_USERNAME } from '../topics';

/** CONNACK return codes of MQTT 3.1.1 (table 3.1) that this transport answers. */
export const ConnackCode = {
  SERVER_UNAVAILABLE: 3,
  NOT_AUTHORIZED: 5,
} as const;

function refusal(returnCode: 3 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

interface ConnectPacketLike {
  clientId?: string;
  clean?: boolean;
  will?: unknown;
}

/**
 * The client id as CONNECT carried it: aedes replaces an empty one with a generated id before
 * authenticate, and MQTT basic credentials must be checked against what the device sent.
 */
const connectClientIds = new WeakMap<object, string>();

/**
 * Before aedes builds a session: every session is clean and has no will. Devices speak to the
 * platform, not to each other, so there is nothing a stored session or a last-will message could
 * deliver; a persistent session would also make aedes queue publishes of other clients for this one.
 * CONNACK then says "no session present" [MQTT-3.2.2-1].
 */
export function preConnect(client: object, packet: ConnectPacketLike): void {
  connectClientIds.set(client, packet.clientId ?? '');
  packet.clean = true;
  delete packet.will;
}

/**
 * The device behind CONNECT's credentials, as ThingsBoard resolves them: the user name as an
 * access token (with no password, the documented way; ThingsBoard also takes a token with a
 * password), else MQTT basic credentials (client id, user name and password validated together).
 */
export async function resolveDevice(ctx: TransportContext, clientId: string, username: string | undefined, password: string | undefined): Promise<DeviceInfo | null> {
  const { auth } = ctx;
  const basic = { ...(clientId ? { clientId } : {}), ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
  if (username && password === undefined) {
    const device = await auth.authenticateToken(username);
    if (device) return device;
  }
  if (auth.authenticateBasic) {
    const device = await auth.authenticateBasic(basic);
    if (device) return device;
  }
  if (username && password !== undefined) return auth.authenticateToken(username);
  return null;
}

// session ids travel in message metadata (client-side RPC replies find their session by it):
// the prefix keeps them apart across processes
const sessionPrefix = newId().slice(0, 8);
let sessionCounter = 0;

/** A new session id, unique in this process and across processes. */
export function nextSessionId(): string {
  return `${sessionPrefix}-${++sessionCounter}`;
}

/** Connections whose CONNECT is being authenticated, over MQTT 3.1.1 and 5 together: they count toward maxConnections. */
export interface AuthenticatingCount {
  count: number;
}

/**
 * aedes' authenticate hook. Unknown credentials: CONNACK 5 "not authorized", then aedes closes the
 * connection [MQTT-3.2.2-5]. Over the connection limit or an authenticator failure: CONNACK 3
 * "server unavailable" (the device retries later; a credential problem would make it give up).
 */
export function createAuthenticate(
  ctx: TransportContext,
  hooks: {
    isStopped(): boolean;
    open(): number;
    onSession(s: Session, client: Client): void;
    /** A provisioning connection was accepted (CONNACK follows). */
    onProvisionSession(s: ProvisionSession, client: Client): void;
    pending: AuthenticatingCount;
  },
) {
  const auth = hooks.pending;
  return function authenticate(
    client: Client,
    username: Readonly<string | undefined>,
    password: Readonly<Buffer | undefined>,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const { counters } = ctx;
    if (hooks.isStopped()) {
      counters.refusedServerUnavailable++;
      return done(refusal(ConnackCode.SERVER_UNAVAILABLE, 'server is stopping'), null);
    }
    if (hooks.open() + auth.count >= ctx.maxConnections) {
      counters.refusedServerUnavailable++;
      ctx.logger.debug({ maxConnections: ctx.maxConnections }, 'mqtt connection refused: connection limit reached');
      return done(refusal(ConnackCode.SERVER_UNAVAILABLE, 'connection limit reached'), null);
    }
    if (username === PROVISION_USERNAME) {
      // ThingsBoard's provisioning connection: no device credentials, only /provision/request
      if (!ctx.service.provisioningAvailable) {
        counters.refusedNotAuthorized++;
        ctx.logger.debug({ clientId: client.id }, 'mqtt provisioning connection refused: provisioning is not available');
        return done(refusal(ConnackCode.NOT_AUTHORIZED, 'device provisioning is not available'), null);
      }
      // the server's close after the answer: the socket ends (3.1.1 has no server DISCONNECT)
      const ps = new ProvisionSession(client, (client.conn as { remoteAddress?: string }).remoteAddress, false, () => client.close());
      ctx.provisionSessions.set(client, ps);
      hooks.onProvisionSession(ps, client);
      return done(null, true);
    }
    auth.count++;
    let pending: Promise<DeviceInfo | null>;
    try {
      const clientId = connectClientIds.get(client) ?? client.id;
      pending = resolveDevice(ctx, clientId, username === '' ? undefined : username, password === undefined ? undefined : password.toString('utf8'));
    } catch (e) {
      pending = Promise.reject(e);
    }
    pending.then(
      (device) => {
        auth.count--;
        if (!device) {
          counters.refusedNotAuthorized++;
          ctx.logger.debug({ clientId: client.id }, 'mqtt connection refused: not authorized');
          return done(refusal(ConnackCode.NOT_AUTHORIZED, 'not authorized'), null);
        }
        const session = new Session(nextSessionId(), client, device);
        ctx.sessions.set(client, session);
        hooks.onSession(session, client);
        done(null, true);
      },
      (e: unknown) => {
        auth.count--;
        counters.refusedServerUnavailable++;
        ctx.logger.error({ err: e, clientId: client.id }, 'mqtt device authentication failed');
        done(refusal(ConnackCode.SERVER_UNAVAILABLE, 'authentication failed'), null);
      },
    )
      // a throw from aedes' own continuation of the CONNECT: logged, never an unhandled rejection
      .catch((e: unknown) => ctx.logger.error({ err: e, clientId: client.id }, 'mqtt connect handling failed'));
  };
}
