import { useMemo, useState } from 'react';
import { Box, ScrollArea, Stack, Text, TextInput, Tooltip, UnstyledButton } from '@mantine/core';
import { IconSearch } from '@tabler/icons-react';
import type { NodeTypeDescriptor } from './chain-api';
import { CATEGORY_COLORS } from './RuleNode';

export const NODE_TYPE_MIME = 'application/x-rivulet-node-type';
const ORDER = ['filter', 'enrichment', 'transformation', 'action', 'external', 'flow'];

/** The node catalog by category, searchable; items are dragged onto the canvas (or double-clicked). */
export function Palette({ types, onAdd }: { types: NodeTypeDescriptor[]; onAdd: (t: NodeTypeDescriptor) => void }) {
  const [q, setQ] = useState('');
  const groups = useMemo(() => {
    const needle = q.trim().toLowerCase();
    const hit = (t: NodeTypeDescriptor) => !needle || t.name.toLowerCase().includes(needle) || t.description.toLowerCase().includes(needle) || t.type.toLowerCase().includes(needle);
    const cats = [...new Set([...ORDER, ...types.map((t) => t.category)])];
    return cats
      .map((c) => ({ category: c, items: types.filter((t) => t.category === c && hit(t)).sort((a, b) => a.name.localeCompare(b.name)) }))
      .filter((g) => g.items.length > 0);
  }, [types, q]);
  return (
    <Stack gap="xs" h="100%" data-testid="palette">
      <TextInput size="xs" placeholder="Search nodes" leftSection={<IconSearch size={14} />} value={q} onChange={(e) => setQ(e.currentTarget.value)} aria-label="Search node types" />
      <ScrollArea style={{ flex: 1 }} offsetScrollbars>
        <Stack gap="sm">
          {groups.map((g) => (
            <Box key={g.category}>
              <Text size="xs" fw={700} tt="uppercase" c="dimmed" mb={4}>
                {g.category}
              </Text>
              <Stack gap={4}>
                {g.items.map((t) => (
                  <Tooltip key={t.type} label={t.description} multiline w={260} position="right" openDelay={500}>
                    <UnstyledButton
                      draggable
                      data-testid="palette-item"
                      data-type={t.type}
                      onDragStart={(e) => {
                        e.dataTransfer.setData(NODE_TYPE_MIME, t.type);
                        e.dataTransfer.effectAllowed = 'move';
                      }}
                      onDoubleClick={() => onAdd(t)}
                      px={8}
                      py={4}
                      style={{
                        borderRadius: 4,
                        background: 'var(--mantine-color-default)',
                        border: '1px solid var(--mantine-color-default-border)',
                        borderLeft: `4px solid var(--mantine-color-${CATEGORY_COLORS[t.category] ?? 'gray'}-6)`,
                        cursor: 'grab',
                      }}
                    >
                      <Text size="xs" fw={500} truncate="end">
                        {t.name}
                      </Text>
                    </UnstyledButton>
                  </Tooltip>
                ))}
              </Stack>
            </Box>
          ))}
          {groups.length === 0 && (
            <Text size="xs" c="dimmed">
              No node type matches.
            </Text>
          )}
        </Stack>
      </ScrollArea>
    </Stack>
  );
}
