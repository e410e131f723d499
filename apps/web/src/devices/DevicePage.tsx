import { Title } from '@mantine/core';
import { EmptyState } from '../components/PageState';

// Not built yet: replaced by its page (web app issues #10 / #13).
export default function DevicePage() {
  return (
    <>
      <Title order={2} mb="md">DevicePage</Title>
      <EmptyState title="Not built yet">This page is being built.</EmptyState>
    </>
  );
}
