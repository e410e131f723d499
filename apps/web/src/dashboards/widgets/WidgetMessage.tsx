import type { ReactNode } from 'react';
import { Center, Loader, Text } from '@mantine/core';
import { errorMessage } from '../../api/client';

/** A widget's own loading / empty / error line, centred in its cell. */
export function WidgetMessage({ kind, children }: { kind: 'loading' | 'empty' | 'error'; children?: ReactNode }) {
  return (
    <Center h="100%" p="sm" data-testid={`widget-${kind}`}>
      {kind === 'loading' ? (
        <Loader size="sm" />
      ) : (
        <Text size="sm" c={kind === 'error' ? 'red' : 'dimmed'} ta="center">
          {children}
        </Text>
      )}
    </Center>
  );
}

export function widgetError(e: unknown): ReactNode {
  return <WidgetMessage kind="error">{errorMessage(e)}</WidgetMessage>;
}
