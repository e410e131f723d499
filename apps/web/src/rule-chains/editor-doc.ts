import { useCallback, useState } from 'react';
import type { ChainConnection, ChainNode, RuleChainMetadataDto } from './chain-api';

/**
 * The editor's document: what undo and redo step through. Nodes are keyed by their RULE_NODE id
 * (new nodes get one here, which the server keeps), links by a key of their own.
 */
export interface EdNode {
  key: string;
  node: ChainNode;
  x: number;
  y: number;
}
export interface EdLink {
  key: string;
  from: string;
  to: string;
  type: string;
}
export interface Doc {
  nodes: EdNode[];
  links: EdLink[];
  /** The node the input feeds (ThingsBoard's firstNodeIndex). */
  first: string | null;
}

export const INPUT_KEY = '__input';
const COLUMN = 260;
const ROW = 90;

export function newKey(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // Not a secure context (plain http on a LAN address): a v4-shaped id from Math.random is enough for a node id.
  const h = Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16));
  h[12] = '4';
  h[16] = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

function layoutOf(n: ChainNode): { x: number; y: number } | null {
  const info = n.additionalInfo;
  const x = info?.layoutX;
  const y = info?.layoutY;
  return typeof x === 'number' && typeof y === 'number' ? { x, y } : null;
}

/** The editor's document from the stored metadata; a chain with no positions is laid out. */
export function docFromMetadata(m: Pick<RuleChainMetadataDto, 'nodes' | 'connections' | 'firstNodeIndex'>): Doc {
  const nodes: EdNode[] = m.nodes.map((raw) => {
    const n = raw as ChainNode;
    const key = n.id?.id ?? newKey();
    const pos = layoutOf(n) ?? { x: 0, y: 0 };
    return { key, node: { ...n, id: { entityType: 'RULE_NODE', id: key } }, ...pos };
  });
  const links: EdLink[] = (m.connections as ChainConnection[])
    .filter((c) => nodes[c.fromIndex] && nodes[c.toIndex])
    .map((c) => ({ key: newKey(), from: nodes[c.fromIndex]!.key, to: nodes[c.toIndex]!.key, type: c.type }));
  const firstIndex = m.firstNodeIndex ?? (nodes.length > 0 ? 0 : null);
  const doc: Doc = { nodes, links, first: firstIndex === null ? null : (nodes[firstIndex]?.key ?? null) };
  return m.nodes.every((n) => layoutOf(n as ChainNode) === null) ? autoLayout(doc) : doc;
}

/** The metadata to save: positions written back into additionalInfo (ThingsBoard's layoutX/Y). */
export function docToMetadata(doc: Doc): { firstNodeIndex: number | null; nodes: ChainNode[]; connections: ChainConnection[] } {
  const index = new Map(doc.nodes.map((n, i) => [n.key, i]));
  return {
    firstNodeIndex: doc.first === null ? null : (index.get(doc.first) ?? null),
    nodes: doc.nodes.map((n) => ({ ...n.node, additionalInfo: { ...(n.node.additionalInfo ?? {}), layoutX: Math.round(n.x), layoutY: Math.round(n.y) } })),
    connections: doc.links.filter((l) => index.has(l.from) && index.has(l.to)).map((l) => ({ fromIndex: index.get(l.from)!, toIndex: index.get(l.to)!, type: l.type })),
  };
}

/**
 * A layered layout: each node in the column of its longest path from the first node (nodes it
 * cannot reach start their own), rows in order of discovery. Enough for chains with no positions.
 */
export function autoLayout(doc: Doc): Doc {
  const out = new Map<string, string[]>();
  for (const l of doc.links) out.set(l.from, [...(out.get(l.from) ?? []), l.to]);
  const depth = new Map<string, number>();
  const order: string[] = [];
  const roots = [...(doc.first ? [doc.first] : []), ...doc.nodes.map((n) => n.key)];
  for (const root of roots) {
    if (depth.has(root)) continue;
    depth.set(root, 0);
    order.push(root);
    const queue = [root];
    let guard = 0;
    while (queue.length > 0 && guard++ < doc.nodes.length * doc.nodes.length + 10) {
      const k = queue.shift()!;
      for (const t of out.get(k) ?? []) {
        const d = depth.get(k)! + 1;
        // Longest path, bounded by the node count so a loop cannot push forever.
        if (!depth.has(t) || (depth.get(t)! < d && d < doc.nodes.length)) {
          if (!depth.has(t)) order.push(t);
          depth.set(t, d);
          queue.push(t);
        }
      }
    }
  }
  const rows = new Map<number, number>();
  const pos = new Map<string, { x: number; y: number }>();
  for (const k of order) {
    const d = depth.get(k)!;
    const r = rows.get(d) ?? 0;
    rows.set(d, r + 1);
    pos.set(k, { x: 200 + d * COLUMN, y: 40 + r * ROW });
  }
  return { ...doc, nodes: doc.nodes.map((n) => ({ ...n, ...(pos.get(n.key) ?? { x: n.x, y: n.y }) })) };
}

/** Where the input node sits: left of the first node. */
export function inputPosition(doc: Doc): { x: number; y: number } {
  const first = doc.nodes.find((n) => n.key === doc.first);
  if (first) return { x: first.x - 160, y: first.y + 8 };
  const minX = doc.nodes.reduce((m, n) => Math.min(m, n.x), 320);
  return { x: minX - 160, y: 80 };
}

export interface Clip {
  nodes: EdNode[];
  links: EdLink[];
}

/** The selected nodes and the links among them (and selected links between kept nodes). */
export function copySelection(doc: Doc, selected: ReadonlySet<string>): Clip {
  const nodes = doc.nodes.filter((n) => selected.has(n.key));
  const keys = new Set(nodes.map((n) => n.key));
  return { nodes, links: doc.links.filter((l) => keys.has(l.from) && keys.has(l.to)) };
}

/** Pastes a clip with new ids, offset so it does not hide the original; returns the new keys. */
export function pasteClip(doc: Doc, clip: Clip, offset = 40): { doc: Doc; keys: string[] } {
  const rename = new Map(clip.nodes.map((n) => [n.key, newKey()]));
  const names = new Set(doc.nodes.map((n) => n.node.name));
  const nodes = clip.nodes.map((n) => {
    const key = rename.get(n.key)!;
    let name = n.node.name;
    for (let i = 2; names.has(name); i++) name = `${n.node.name} (${i})`;
    names.add(name);
    return { key, x: n.x + offset, y: n.y + offset, node: { ...structuredClone(n.node), id: { entityType: 'RULE_NODE' as const, id: key }, name, debugSettings: null } };
  });
  const links = clip.links.map((l) => ({ key: newKey(), from: rename.get(l.from)!, to: rename.get(l.to)!, type: l.type }));
  return { doc: { ...doc, nodes: [...doc.nodes, ...nodes], links: [...doc.links, ...links] }, keys: nodes.map((n) => n.key) };
}

/** Removes nodes (with their links) and links. */
export function removeItems(doc: Doc, nodeKeys: ReadonlySet<string>, linkKeys: ReadonlySet<string>): Doc {
  return {
    nodes: doc.nodes.filter((n) => !nodeKeys.has(n.key)),
    links: doc.links.filter((l) => !linkKeys.has(l.key) && !nodeKeys.has(l.from) && !nodeKeys.has(l.to)),
    first: doc.first && nodeKeys.has(doc.first) ? null : doc.first,
  };
}

/** A name not yet used in the chain. */
export function uniqueName(doc: Doc, base: string): string {
  const names = new Set(doc.nodes.map((n) => n.node.name));
  if (!names.has(base)) return base;
  for (let i = 2; ; i++) if (!names.has(`${base} ${i}`)) return `${base} ${i}`;
}

/** Undo / redo over immutable documents. `transient` replaces the present (a drag in progress). */
export function useHistory(initial: Doc) {
  const [state, setState] = useState<{ past: Doc[]; present: Doc; future: Doc[] }>({ past: [], present: initial, future: [] });
  const set = useCallback((update: Doc | ((d: Doc) => Doc), opts: { transient?: boolean; checkpoint?: Doc } = {}) => {
    setState((s) => {
      const next = typeof update === 'function' ? update(s.present) : update;
      if (next === s.present) return s;
      if (opts.transient) return { ...s, present: next };
      return { past: [...s.past, opts.checkpoint ?? s.present].slice(-200), present: next, future: [] };
    });
  }, []);
  const undo = useCallback(() => setState((s) => (s.past.length === 0 ? s : { past: s.past.slice(0, -1), present: s.past[s.past.length - 1]!, future: [s.present, ...s.future] })), []);
  const redo = useCallback(() => setState((s) => (s.future.length === 0 ? s : { past: [...s.past, s.present], present: s.future[0]!, future: s.future.slice(1) })), []);
  const reset = useCallback((d: Doc) => setState({ past: [], present: d, future: [] }), []);
  return { doc: state.present, set, undo, redo, reset, canUndo: state.past.length > 0, canRedo: state.future.length > 0 };
}
