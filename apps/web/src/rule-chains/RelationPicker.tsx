import { useState } from 'react';
import { Button, Chip, Group, Modal, Stack, Text, TextInput } from '@mantine/core';

export interface RelationRequest {
  fromName: string;
  toName: string;
  /** What the source node declares; Failure is always possible. */
  relations: string[];
  /** The node routes by relations of its own (a switch): custom labels allowed. */
  dynamic: boolean;
  /** Labels the link has now (editing an existing link). */
  current: string[];
}

/** Picks the relation labels of a link from those the source node declares (custom ones where it allows). */
export function RelationPicker({ request, onCancel, onConfirm }: { request: RelationRequest | null; onCancel: () => void; onConfirm: (labels: string[]) => void }) {
  const [picked, setPicked] = useState<string[]>([]);
  const [custom, setCustom] = useState('');
  const [shownFor, setShownFor] = useState<RelationRequest | null>(null);
  if (request !== shownFor) {
    setShownFor(request);
    setPicked(request?.current ?? (request && request.relations.length === 1 ? [request.relations[0]!] : []));
    setCustom('');
  }
  const options = request ? [...new Set([...request.relations, 'Failure', ...request.current])] : [];
  const labels = [...picked, ...(custom.trim() ? [custom.trim()] : [])];
  return (
    <Modal opened={request !== null} onClose={onCancel} title="Link relation" size="md">
      {request && (
        <Stack>
          <Text size="sm">
            Messages leaving <b>{request.fromName}</b> by these relations go to <b>{request.toName}</b>:
          </Text>
          <Chip.Group multiple value={picked} onChange={setPicked}>
            <Group gap={6} data-testid="relation-options">
              {options.map((r) => (
                <Chip key={r} value={r} size="sm" data-testid="relation-option" data-relation={r}>
                  {r}
                </Chip>
              ))}
            </Group>
          </Chip.Group>
          {request.dynamic && (
            <TextInput label="Custom relation" description="This node routes by relations of its own (a script's or a switch's result)" value={custom} onChange={(e) => setCustom(e.currentTarget.value)} data-testid="relation-custom" />
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onCancel}>
              Cancel
            </Button>
            <Button disabled={labels.length === 0} onClick={() => onConfirm([...new Set(labels)])} data-testid="relation-confirm">
              {request.current.length > 0 ? 'Update link' : 'Add link'}
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}
