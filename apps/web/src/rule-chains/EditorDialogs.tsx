import { useEffect } from 'react';
import { useBlocker } from 'react-router';
import { Button, Group, Modal, Stack, Text } from '@mantine/core';

/** Warns before unsaved changes are lost: a reload or tab close (beforeunload) and in-app navigation (router blocker). */
export function LeaveGuard({ dirty }: { dirty: boolean }) {
  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);
  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirty && currentLocation.pathname !== nextLocation.pathname);
  return (
    <Modal opened={blocker.state === 'blocked'} onClose={() => blocker.reset?.()} title="Leave without saving?">
      <Stack>
        <Text size="sm">This rule chain has unsaved changes. They are lost if you leave.</Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => blocker.reset?.()} data-testid="leave-stay">
            Stay
          </Button>
          <Button color="red" onClick={() => blocker.proceed?.()} data-testid="leave-discard">
            Discard and leave
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

/** A save refused with 409: another tab or user saved the chain since it was opened here. */
export function ConflictDialog({ opened, message, onClose, onReload, onOverwrite }: { opened: boolean; message: string; onClose: () => void; onReload: () => void; onOverwrite: () => void }) {
  return (
    <Modal opened={opened} onClose={onClose} title="This chain was changed elsewhere" data-testid="conflict-dialog">
      <Stack>
        <Text size="sm" data-testid="conflict-message">
          This chain was changed elsewhere: reload it (your changes here are lost) or overwrite the other changes with yours.
        </Text>
        <Text size="xs" c="dimmed">
          Server: {message}
        </Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button variant="light" onClick={onReload} data-testid="conflict-reload">
            Reload
          </Button>
          <Button color="red" onClick={onOverwrite} data-testid="conflict-overwrite">
            Overwrite
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
