import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from 'react';
import { Background, Controls, MarkerType, MiniMap, Panel, ReactFlow, useNodesInitialized, useReactFlow, type Connection, type Edge, type EdgeChange, type NodeChange } from '@xyflow/react';
import { Text, useComputedColorScheme } from '@mantine/core';
import type { NodeStatsDto, NodeTypeDescriptor } from './chain-api';
import { INPUT_KEY, inputPosition, type Doc } from './editor-doc';
import { NODE_TYPE_MIME } from './Palette';
import { nodeTypes, type InputFlowNode, type RuleFlowNode } from './RuleNode';

export interface Highlight {
  nodes: ReadonlySet<string>;
  /** Edge ids (`from>to`) a test-run message travelled. */
  edges: ReadonlySet<string>;
  errors: ReadonlyMap<string, string>;
}

export const edgeId = (from: string, to: string) => `${from}>${to}`;

/** The React Flow canvas over the editor's document: it reports intents, the page changes the document. */
export function ChainCanvas(props: {
  doc: Doc;
  typeOf: (type: string) => NodeTypeDescriptor | undefined;
  selectedNodes: ReadonlySet<string>;
  selectedEdges: ReadonlySet<string>;
  onSelect: (nodes: Set<string>, edges: Set<string>) => void;
  /** A node moved: `transient` while dragging, then once more at the drop with the pre-drag document. */
  onMove: (positions: Map<string, { x: number; y: number }>, phase: 'drag' | 'end') => void;
  onConnect: (from: string, to: string) => void;
  onEditLink: (from: string, to: string) => void;
  onDropType: (type: string, at: { x: number; y: number }) => void;
  errors: ReadonlyMap<string, { path: string; message: string }[]>;
  stats: ReadonlyMap<string, NodeStatsDto>;
  highlight: Highlight | null;
  /** Fit the view again when this changes (the canvas got narrower or wider). */
  fitKey: string;
}) {
  const { doc, typeOf, selectedNodes, selectedEdges, onSelect, onMove, errors, stats, highlight } = props;
  const scheme = useComputedColorScheme('light');
  const flow = useReactFlow();
  const [measured, setMeasured] = useState<Record<string, { width: number; height: number }>>({});
  const dragging = useRef(false);
  // Fit once every node has its measured size (fitting before would use guessed sizes).
  const initialized = useNodesInitialized();
  const fitted = useRef(false);
  useEffect(() => {
    if (!initialized || fitted.current) return;
    fitted.current = true;
    void flow.fitView({ padding: 0.1, maxZoom: 1 });
  }, [initialized, flow]);
  const lastFitKey = useRef(props.fitKey);
  useEffect(() => {
    if (lastFitKey.current === props.fitKey) return;
    lastFitKey.current = props.fitKey;
    // After the side panel has taken (or given back) its room.
    const t = setTimeout(() => void flow.fitView({ padding: 0.1, maxZoom: 1, duration: 200 }), 50);
    return () => clearTimeout(t);
  }, [props.fitKey, flow]);

  const nodes = useMemo<(RuleFlowNode | InputFlowNode)[]>(() => {
    const input: InputFlowNode = { id: INPUT_KEY, type: 'chainInput', position: inputPosition(doc), data: {}, draggable: false, deletable: false, selected: selectedNodes.has(INPUT_KEY), ...(measured[INPUT_KEY] ? { measured: measured[INPUT_KEY] } : {}) };
    return [
      input,
      ...doc.nodes.map((n): RuleFlowNode => {
        const t = typeOf(n.node.type);
        return {
          id: n.key,
          type: 'rule',
          position: { x: n.x, y: n.y },
          selected: selectedNodes.has(n.key),
          ...(measured[n.key] ? { measured: measured[n.key] } : {}),
          data: {
            name: n.node.name,
            typeName: t?.name ?? `Unknown: ${n.node.type.split('.').pop()}`,
            category: t?.category ?? 'unknown',
            errors: (errors.get(n.key) ?? []).map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)),
            stats: stats.get(n.key) ?? null,
            debugUntil: n.node.debugSettings?.allEnabledUntil ?? 0,
            visited: highlight?.nodes.has(n.key) ?? false,
            runError: highlight?.errors.get(n.key) ?? null,
          },
        };
      }),
    ];
  }, [doc, typeOf, selectedNodes, measured, errors, stats, highlight]);

  const edges = useMemo<Edge[]>(() => {
    const pairs = new Map<string, { from: string; to: string; types: string[] }>();
    for (const l of doc.links) {
      const id = edgeId(l.from, l.to);
      const p = pairs.get(id) ?? { from: l.from, to: l.to, types: [] };
      p.types.push(l.type);
      pairs.set(id, p);
    }
    const style = (id: string) => (highlight?.edges.has(id) ? { stroke: 'var(--mantine-color-green-6)', strokeWidth: 3 } : undefined);
    const list: Edge[] = [...pairs.entries()].map(([id, p]) => ({
      id,
      source: p.from,
      target: p.to,
      label: p.types.join(' / '),
      selected: selectedEdges.has(id),
      animated: highlight?.edges.has(id) ?? false,
      markerEnd: { type: MarkerType.ArrowClosed },
      labelBgPadding: [4, 2] as [number, number],
      labelBgStyle: { fill: scheme === 'dark' ? '#25262b' : '#ffffff' },
      labelStyle: { fill: scheme === 'dark' ? '#c1c2c5' : '#343a40', fontSize: 11 },
      ...(style(id) ? { style: style(id) } : {}),
    }));
    if (doc.first) {
      const id = edgeId(INPUT_KEY, doc.first);
      list.push({ id, source: INPUT_KEY, target: doc.first, selected: selectedEdges.has(id), markerEnd: { type: MarkerType.ArrowClosed }, animated: highlight?.edges.has(id) ?? false, ...(style(id) ? { style: style(id) } : {}) });
    }
    return list;
  }, [doc, selectedEdges, highlight, scheme]);

  const onNodesChange = useCallback(
    (changes: NodeChange[]) => {
      const dims: Record<string, { width: number; height: number }> = {};
      const moved = new Map<string, { x: number; y: number }>();
      let sel: Set<string> | null = null;
      for (const c of changes) {
        if (c.type === 'dimensions' && c.dimensions) dims[c.id] = c.dimensions;
        else if (c.type === 'position' && c.position && c.id !== INPUT_KEY) moved.set(c.id, c.position);
        else if (c.type === 'select') {
          sel ??= new Set(selectedNodes);
          if (c.selected) sel.add(c.id);
          else sel.delete(c.id);
        }
      }
      if (Object.keys(dims).length > 0) setMeasured((m) => ({ ...m, ...dims }));
      if (moved.size > 0) {
        dragging.current = true;
        onMove(moved, 'drag');
      }
      if (sel) onSelect(sel, new Set(selectedEdges));
    },
    [onMove, onSelect, selectedNodes, selectedEdges],
  );

  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      let sel: Set<string> | null = null;
      for (const c of changes) {
        if (c.type === 'select') {
          sel ??= new Set(selectedEdges);
          if (c.selected) sel.add(c.id);
          else sel.delete(c.id);
        }
      }
      if (sel) onSelect(new Set(selectedNodes), sel);
    },
    [onSelect, selectedNodes, selectedEdges],
  );

  const onDrop = useCallback(
    (e: DragEvent) => {
      const type = e.dataTransfer.getData(NODE_TYPE_MIME);
      if (!type) return;
      e.preventDefault();
      props.onDropType(type, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
    },
    [flow, props],
  );

  return (
    <ReactFlow
      nodes={nodes}
      edges={edges}
      nodeTypes={nodeTypes}
      onNodesChange={onNodesChange}
      onEdgesChange={onEdgesChange}
      onNodeDragStop={() => {
        if (dragging.current) onMove(new Map(), 'end');
        dragging.current = false;
      }}
      onConnect={(c: Connection) => props.onConnect(c.source, c.target)}
      onEdgeDoubleClick={(_, e) => props.onEditLink(e.source, e.target)}
      onDragOver={(e) => {
        e.preventDefault();
        e.dataTransfer.dropEffect = 'move';
      }}
      onDrop={onDrop}
      deleteKeyCode={null}
      multiSelectionKeyCode={['Meta', 'Control', 'Shift']}
      colorMode={scheme}
      minZoom={0.1}
      proOptions={{ hideAttribution: true }}
    >
      <Background gap={20} />
      {selectedNodes.size === 0 && (
        <Panel position="top-left">
          <Text size="xs" c="dimmed" data-testid="panel-hint" maw={520}>
            {doc.nodes.length === 0
              ? 'Drag node types from the left onto the canvas, then drag from a node’s right handle to another node’s left handle to link them.'
              : 'Select a node to configure it · Delete removes · Ctrl+C / Ctrl+V copy · Ctrl+Z / Ctrl+Shift+Z undo, redo · double-click a link to change its relations'}
          </Text>
        </Panel>
      )}
      <MiniMap pannable zoomable ariaLabel="Mini map" />
      <Controls />
    </ReactFlow>
  );
}
