import { Button } from '@mantine/core';
import { Link } from 'react-router';
import { EmptyState } from '../components/PageState';

export function NotFoundPage() {
  return (
    <EmptyState
      title="Page not found"
      action={
        <Button component={Link} to="/devices" variant="light">
          Go to devices
        </Button>
      }
    >
      There is nothing at this address.
    </EmptyState>
  );
}
