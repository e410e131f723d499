import { Center } from '@mantine/core';
import { Navigate, Outlet, useLocation } from 'react-router';
import { ErrorState, LoadingState } from '../components/PageState';
import { useAuth } from './auth';

/** Signed-in routes: without a session, to sign-in with the page asked for remembered in `?next=`. */
export function RequireAuth() {
  const { user, loading, error, retry } = useAuth();
  const location = useLocation();
  if (loading) return <LoadingState label="Checking your session…" />;
  if (error && !user)
    return (
      <Center mih="60vh" p="md">
        <ErrorState title="Cannot reach the server" error={error} onRetry={retry} />
      </Center>
    );
  if (!user) {
    const next = location.pathname + location.search;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <Outlet />;
}
