import { useState, type FormEvent } from 'react';
import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { Navigate, useLocation, useSearchParams } from 'react-router';
import { errorMessage } from '../api/client';
import { useAuth } from '../auth/auth';

/** Sign-in. `?next=` is the page to return to (set when a session expired there). */
export function LoginPage() {
  const { user, signIn, endedReason } = useAuth();
  const [params] = useSearchParams();
  const location = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const next = params.get('next');
  const target = next && next.startsWith('/') && !next.startsWith('//') ? next : '/devices';
  if (user) return <Navigate to={target} replace state={{ from: location.pathname }} />;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(email.trim(), password);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Center mih="100vh" p="md">
      <Paper withBorder shadow="md" p="xl" radius="md" w={380}>
        <form onSubmit={(e) => void submit(e)}>
          <Stack>
            <Stack gap={4} align="center">
              <img src="/favicon.svg" width={40} height={40} alt="" />
              <Title order={2}>Sign in to Rivulet</Title>
            </Stack>
            {endedReason && !error && (
              <Alert color="yellow" data-testid="session-ended">
                {endedReason}
              </Alert>
            )}
            {error && (
              <Alert color="red" data-testid="login-error">
                {error}
              </Alert>
            )}
            <TextInput label="E-mail" name="username" autoComplete="username" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} autoFocus />
            <PasswordInput label="Password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
            <Button type="submit" loading={busy} fullWidth>
              Sign in
            </Button>
            <Text size="xs" c="dimmed" ta="center">
              First start? The administrator is tenant@rivulet.local; its generated password was printed once in the server's log.
            </Text>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
