import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useParams } from 'react-router';
import { ReactFlowProvider } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { ActionIcon, Alert, Anchor, Badge, Box, Button, Group, Paper, ScrollArea, Text, Title, Tooltip } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { IconArrowBackUp, IconArrowForwardUp, IconChevronLeft, IconDeviceFloppy, IconLayoutDistributeHorizontal, IconPlayerPlay } from '@tabler/icons-react';
import { api } from '../api/client';
import { ErrorState, LoadingState } from '../components/PageState';
import { chainKeys, fetchChain, fetchNodeTypes, type NodeStatsDto, type NodeTypeDescriptor, type RuleChainDto, type RuleChainMetadataDto, type TestRunResultDto } from './chain-api';
import { ChainCanvas, edgeId, type Highlight } from './ChainCanvas';
import { autoLayout, copySelection, docFromMetadata, docToMetadata, INPUT_KEY, newKey, pasteClip, removeItems, uniqueName, useHistory, type Clip, type Doc } from './editor-doc';
import { ConflictDialog, LeaveGuard } from './EditorDialogs';
import { NodeSidePanel } from './NodeSidePanel';
import { Palette } from './Palette';
import { RelationPicker, type RelationRequest } from './RelationPicker';
import { TestRunPanel } from './TestRunPanel';
import { useChainSave } from './use-chain-save';

/** The rule chain editor: loads the chain and the node catalog, then hands both to the editor. */
export default function RuleChainEditorPage() {
  const { ruleChainId = '' } = useParams();
  const qc = useQueryClient();
  const chain = useQuery({ queryKey: chainKeys.chain(ruleChainId), queryFn: () => fetchChain(ruleChainId), staleTime: Infinity, gcTime: 0 });
  const types = useQuery({ queryKey: chainKeys.nodeTypes, queryFn: fetchNodeTypes, staleTime: Infinity });
  if (chain.isPending || types.isPending) return <LoadingState label="Loading the rule chain…" />;
  if (chain.isError || types.isError) return <ErrorState error={chain.error ?? types.error} onRetry={() => void Promise.all([chain.refetch(), types.refetch()])} />;
  return (
    <ReactFlowProvider>
      <Editor
        key={`${chain.data.chain.id.id}:${chain.dataUpdatedAt}`}
        chain={chain.data.chain}
        metadata={chain.data.metadata}
        types={types.data}
        onReload={() => void qc.refetchQueries({ queryKey: chainKeys.chain(ruleChainId) })}
      />
    </ReactFlowProvider>
  );
}

const typing = (t: EventTarget | null) => t instanceof HTMLElement && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));

function Editor({ chain, metadata, types, onReload }: { chain: RuleChainDto; metadata: RuleChainMetadataDto; types: NodeTypeDescriptor[]; onReload: () => void }) {
  const chainId = chain.id.id;
  const initial = useMemo(() => docFromMetadata(metadata), [metadata]);
  const { doc, set, undo, redo, canUndo, canRedo } = useHistory(initial);
  const [saved, setSaved] = useState<{ doc: Doc; version: number }>({ doc: initial, version: metadata.version });
  const [selNodes, setSelNodes] = useState<Set<string>>(new Set());
  const [selEdges, setSelEdges] = useState<Set<string>>(new Set());
  const [picker, setPicker] = useState<(RelationRequest & { from: string; to: string }) | null>(null);
  const [panel, setPanel] = useState<'node' | 'test'>('node');
  const [run, setRun] = useState<{ result: TestRunResultDto; keys: string[] } | null>(null);
  const clip = useRef<Clip | null>(null);
  const dragStart = useRef<Doc | null>(null);

  const typeMap = useMemo(() => new Map(types.flatMap((t) => [[t.type, t] as const, ...t.aliases.map((a) => [a, t] as const)])), [types]);
  const typeOf = useCallback((type: string) => typeMap.get(type), [typeMap]);
  const dirty = useMemo(() => JSON.stringify(docToMetadata(doc)) !== JSON.stringify(docToMetadata(saved.doc)), [doc, saved]);

  // Per-node counters of the running chain (the root one, when this process runs the engine).
  const statsQuery = useQuery({ queryKey: ['ruleChains', 'stats', chainId], queryFn: () => api<{ loaded: boolean; nodes: NodeStatsDto[] }>(`/api/ruleChain/${chainId}/stats`), refetchInterval: 5000 });
  const stats = useMemo(() => {
    const m = new Map<string, NodeStatsDto>();
    if (statsQuery.data?.loaded) for (const s of statsQuery.data.nodes) if (saved.doc.nodes[s.nodeIndex]) m.set(saved.doc.nodes[s.nodeIndex]!.key, s);
    return m;
  }, [statsQuery.data, saved.doc]);

  const highlight = useMemo<Highlight | null>(() => {
    if (!run) return null;
    const main = run.result.steps[0]?.chainId;
    const nodes = new Set<string>();
    const edges = new Set<string>();
    const errs = new Map<string, string>();
    const first = run.result.steps[0];
    if (first && run.keys[first.nodeIndex]) edges.add(edgeId(INPUT_KEY, run.keys[first.nodeIndex]!));
    for (const s of run.result.steps) {
      if (s.chainId !== main) continue;
      const k = run.keys[s.nodeIndex];
      if (!k) continue;
      nodes.add(k);
      if (s.error) errs.set(k, s.error);
      for (const o of s.outputs) for (const t of o.targets) if (run.keys[t]) edges.add(edgeId(k, run.keys[t]!));
    }
    return { nodes, edges, errors: errs };
  }, [run]);

  const select = useCallback((n: Set<string>, e: Set<string>) => {
    setSelNodes(n);
    setSelEdges(e);
  }, []);

  const onMove = useCallback(
    (positions: Map<string, { x: number; y: number }>, phase: 'drag' | 'end') => {
      if (phase === 'end') {
        const checkpoint = dragStart.current;
        dragStart.current = null;
        if (checkpoint) set((d) => ({ ...d }), { checkpoint });
        return;
      }
      set(
        (d) => {
          dragStart.current ??= d;
          return { ...d, nodes: d.nodes.map((n) => (positions.has(n.key) ? { ...n, ...positions.get(n.key)! } : n)) };
        },
        { transient: true },
      );
    },
    [set],
  );

  const addNode = useCallback(
    (t: NodeTypeDescriptor, at?: { x: number; y: number }) => {
      const key = newKey();
      set((d) => ({
        ...d,
        first: d.first ?? key,
        nodes: [
          ...d.nodes,
          {
            key,
            x: at?.x ?? 320 + d.nodes.length * 30,
            y: at?.y ?? 80 + d.nodes.length * 30,
            node: { id: { entityType: 'RULE_NODE', id: key }, type: t.type, name: uniqueName(d, t.name), configurationVersion: t.configVersion, configuration: structuredClone((t.defaultConfiguration ?? {}) as Record<string, unknown>), debugSettings: null, additionalInfo: {} },
          },
        ],
      }));
      select(new Set([key]), new Set());
      setPanel('node');
    },
    [set, select],
  );

  const onConnect = useCallback(
    (from: string, to: string) => {
      if (to === INPUT_KEY || from === to) return;
      if (from === INPUT_KEY) return set((d) => ({ ...d, first: to }));
      const src = doc.nodes.find((n) => n.key === from);
      const dst = doc.nodes.find((n) => n.key === to);
      if (!src || !dst) return;
      const t = typeOf(src.node.type);
      const current = doc.links.filter((l) => l.from === from && l.to === to).map((l) => l.type);
      setPicker({ from, to, fromName: src.node.name, toName: dst.node.name, relations: t?.relations ?? [], dynamic: t?.relationsDynamic ?? true, current });
    },
    [doc, set, typeOf],
  );

  const deleteSelection = useCallback(() => {
    if (selNodes.size === 0 && selEdges.size === 0) return;
    set((d) => {
      const links = new Set(d.links.filter((l) => selEdges.has(edgeId(l.from, l.to))).map((l) => l.key));
      const next = removeItems(d, selNodes, links);
      return d.first && selEdges.has(edgeId(INPUT_KEY, d.first)) ? { ...next, first: null } : next;
    });
    select(new Set(), new Set());
  }, [selNodes, selEdges, set, select]);

  const { save, saving, saveError, setSaveError, conflict, setConflict, errors, overwrite, showRefusal } = useChainSave({ chainId, doc, saved, setSaved });

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === 's') {
        e.preventDefault();
        void save();
        return;
      }
      if (typing(e.target)) return;
      if (mod && e.key.toLowerCase() === 'z') {
        e.preventDefault();
        if (e.shiftKey) redo();
        else undo();
      } else if (mod && e.key.toLowerCase() === 'y') {
        e.preventDefault();
        redo();
      } else if (mod && e.key.toLowerCase() === 'c') {
        if (selNodes.size > 0) clip.current = copySelection(doc, selNodes);
      } else if (mod && e.key.toLowerCase() === 'v') {
        const c = clip.current;
        if (!c || c.nodes.length === 0) return;
        const { doc: next, keys } = pasteClip(doc, c);
        set(next);
        select(new Set(keys), new Set());
        // A second paste lands further along, not on top of the first.
        clip.current = { nodes: next.nodes.filter((n) => keys.includes(n.key)), links: next.links.filter((l) => keys.includes(l.from) && keys.includes(l.to)) };
      } else if (e.key === 'Delete' || e.key === 'Backspace') {
        e.preventDefault();
        deleteSelection();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [doc, selNodes, save, undo, redo, set, select, deleteSelection]);

  const selected = selNodes.size === 1 ? doc.nodes.find((n) => selNodes.has(n.key)) : undefined;
  const savedIndex = selected && !dirty ? saved.doc.nodes.findIndex((n) => n.key === selected.key) : -1;
  const updateNode = (key: string, f: (n: Doc['nodes'][number]['node']) => Doc['nodes'][number]['node']) => set((d) => ({ ...d, nodes: d.nodes.map((n) => (n.key === key ? { ...n, node: f(n.node) } : n)) }));

  const buildChain = useCallback(
    () => ({
      ruleChain: { name: chain.name, type: 'CORE', root: false, debugMode: false, configuration: chain.configuration, additionalInfo: chain.additionalInfo },
      metadata: { ...docToMetadata(doc), ruleChainConnections: null },
    }),
    [chain, doc],
  );

  return (
    <Box style={{ display: 'flex', flexDirection: 'column', height: 'calc(100dvh - 56px - 2 * var(--mantine-spacing-md))' }}>
      <LeaveGuard dirty={dirty} />
      <Group justify="space-between" mb="xs" wrap="nowrap">
        <Group gap="xs" wrap="nowrap" style={{ minWidth: 0 }}>
          <Anchor component={Link} to="/rule-chains" aria-label="Back to rule chains">
            <IconChevronLeft size={20} />
          </Anchor>
          <Title order={3} style={{ whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis' }} data-testid="chain-title">
            {chain.name}
          </Title>
          {chain.root && (
            <Badge variant="light" color="teal">
              Root
            </Badge>
          )}
          {dirty && (
            <Badge variant="dot" color="orange" data-testid="dirty">
              Unsaved changes
            </Badge>
          )}
        </Group>
        <Group gap={6} wrap="nowrap">
          <Tooltip label="Undo (Ctrl+Z)">
            <ActionIcon variant="default" size="lg" onClick={undo} disabled={!canUndo} aria-label="Undo" data-testid="undo">
              <IconArrowBackUp size={18} />
            </ActionIcon>
          </Tooltip>
          <Tooltip label="Redo (Ctrl+Shift+Z)">
            <ActionIcon variant="default" size="lg" onClick={redo} disabled={!canRedo} aria-label="Redo" data-testid="redo">
              <IconArrowForwardUp size={18} />
            </ActionIcon>
          </Tooltip>
          <Button variant="default" leftSection={<IconLayoutDistributeHorizontal size={16} />} onClick={() => set((d) => autoLayout(d))} data-testid="auto-layout">
            Layout
          </Button>
          <Button variant={panel === 'test' ? 'filled' : 'default'} color={panel === 'test' ? 'green' : undefined} leftSection={<IconPlayerPlay size={16} />} onClick={() => setPanel(panel === 'test' ? 'node' : 'test')} data-testid="open-test-run">
            Test run
          </Button>
          <Button leftSection={<IconDeviceFloppy size={16} />} onClick={() => void save()} loading={saving} disabled={!dirty} data-testid="save-chain">
            Save
          </Button>
        </Group>
      </Group>
      {saveError && (
        <Alert color="red" title="Not saved" withCloseButton onClose={() => setSaveError(null)} mb="xs" py={6} data-testid="save-error">
          <Text size="sm">{saveError}</Text>
        </Alert>
      )}
      <Box style={{ flex: 1, display: 'flex', gap: 'var(--mantine-spacing-xs)', minHeight: 0 }}>
        <Paper withBorder p="xs" w={190} style={{ flexShrink: 0, display: 'flex', flexDirection: 'column' }}>
          <Palette types={types} onAdd={(t) => addNode(t)} />
        </Paper>
        <Paper withBorder style={{ flex: 1, minWidth: 0, overflow: 'hidden' }} data-testid="canvas">
          <ChainCanvas
            doc={doc}
            typeOf={typeOf}
            selectedNodes={selNodes}
            selectedEdges={selEdges}
            onSelect={select}
            onMove={onMove}
            onConnect={onConnect}
            onEditLink={onConnect}
            onDropType={(type, at) => {
              const t = typeOf(type);
              if (t) addNode(t, at);
            }}
            errors={errors}
            stats={stats}
            highlight={highlight}
            fitKey={panel}
          />
        </Paper>
        {(panel === 'test' || selected) && (
          <Paper withBorder p="sm" w={300} style={{ flexShrink: 0, display: 'flex', flexDirection: 'column', minHeight: 0 }}>
            <ScrollArea style={{ flex: 1 }} offsetScrollbars>
              {panel === 'test' ? (
                <TestRunPanel buildChain={buildChain} result={run?.result ?? null} onResult={(r) => setRun(r ? { result: r, keys: doc.nodes.map((n) => n.key) } : null)} onRefused={showRefusal} />
              ) : selected ? (
                <NodeSidePanel
                  key={selected.key}
                  node={selected.node}
                  nodeType={typeOf(selected.node.type)}
                  errors={errors.get(selected.key) ?? []}
                  chainId={chainId}
                  savedIndex={savedIndex >= 0 ? savedIndex : null}
                  onRename={(name) => updateNode(selected.key, (n) => ({ ...n, name }))}
                  onConfigure={(configuration) => updateNode(selected.key, (n) => ({ ...n, configuration }))}
                  onDebug={(debugSettings) => {
                    // Applied on the server in place: not an edit, so neither dirty nor an undo step.
                    const patch = (d: Doc): Doc => ({ ...d, nodes: d.nodes.map((n) => (n.key === selected.key ? { ...n, node: { ...n.node, debugSettings } } : n)) });
                    set(patch, { transient: true });
                    setSaved((s) => ({ ...s, doc: patch(s.doc) }));
                  }}
                />
              ) : null}
            </ScrollArea>
          </Paper>
        )}
      </Box>
      <RelationPicker
        request={picker}
        onCancel={() => setPicker(null)}
        onConfirm={(labels) => {
          const p = picker;
          setPicker(null);
          if (!p) return;
          set((d) => ({ ...d, links: [...d.links.filter((l) => !(l.from === p.from && l.to === p.to)), ...labels.map((type) => ({ key: newKey(), from: p.from, to: p.to, type }))] }));
        }}
      />
      <ConflictDialog opened={conflict !== null} message={conflict ?? ''} onClose={() => setConflict(null)} onReload={onReload} onOverwrite={() => void overwrite()} />
    </Box>
  );
}
