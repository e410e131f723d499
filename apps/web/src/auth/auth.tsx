import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { TokenPair, UserDto } from '@rivulet/api-types';
import { api, clearTokens, hasSession, onSessionEnded, storeTokens } from '../api/client';
import { socket } from '../api/socket';

interface AuthState {
  user: UserDto | null;
  /** True until the stored session (if any) has been checked. */
  loading: boolean;
  /** Why the last session ended without the user signing out ("expired"), shown on sign-in. */
  endedReason: string | null;
  /** The stored session could not be checked (server unreachable): shown with a retry. */
  error: Error | null;
  retry(): void;
  signIn(username: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [signedIn, setSignedIn] = useState(hasSession());
  const [endedReason, setEndedReason] = useState<string | null>(null);
  const me = useQuery({
    queryKey: ['auth', 'user'],
    queryFn: () => api<UserDto>('/api/auth/user'),
    enabled: signedIn,
    staleTime: 5 * 60_000,
    retry: false,
  });

  useEffect(
    () =>
      onSessionEnded(() => {
        socket.reset();
        qc.clear();
        setEndedReason('Your session has expired. Please sign in again.');
        setSignedIn(false);
      }),
    [qc],
  );

  const signIn = useCallback(
    async (username: string, password: string) => {
      const pair = await api<TokenPair>('/api/auth/login', { method: 'POST', body: { username, password } });
      storeTokens(pair);
      setEndedReason(null);
      setSignedIn(true);
      await qc.invalidateQueries({ queryKey: ['auth', 'user'] });
    },
    [qc],
  );

  const signOut = useCallback(async () => {
    try {
      await api('/api/auth/logout', { method: 'POST' });
    } catch {
      /* the session may already be gone: signing out locally is what matters */
    }
    clearTokens();
    socket.reset();
    qc.clear();
    setEndedReason(null);
    setSignedIn(false);
  }, [qc]);

  const value = useMemo<AuthState>(
    () => ({
      user: signedIn ? (me.data ?? null) : null,
      loading: signedIn && me.isPending,
      endedReason,
      error: signedIn && me.isError ? me.error : null,
      retry: () => void me.refetch(),
      signIn,
      signOut,
    }),
    [signedIn, me, endedReason, signIn, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside AuthProvider');
  return ctx;
}
