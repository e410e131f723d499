import { useEffect, useRef, useState } from 'react';
import { socket, type SocketState, type SubscriptionSpec, type WsData } from './socket';

/**
 * Subscribes while the component is mounted (and while `spec` is not null); `onData` gets every
 * update. The spec is compared by value, so an inline object does not resubscribe each render.
 */
export function useSubscription(spec: SubscriptionSpec | null, onData: (data: WsData) => void, onError?: (message: string) => void): void {
  const handlers = useRef({ onData, onError });
  handlers.current = { onData, onError };
  const key = spec ? JSON.stringify(spec) : null;
  useEffect(() => {
    if (!key) return;
    return socket.subscribe(
      JSON.parse(key) as SubscriptionSpec,
      (d) => handlers.current.onData(d),
      (m) => handlers.current.onError?.(m),
    );
  }, [key]);
}

/** The connection's state, for a "live" / "reconnecting" indicator. */
export function useSocketState(): SocketState {
  const [state, setState] = useState<SocketState>(socket.state);
  useEffect(() => socket.onState(setState), []);
  return state;
}
