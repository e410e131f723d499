import type { NodeStatsDto, NodeTypeDto, RuleChainDto, RuleChainMetadataDto, TestRunResultDto } from '@rivulet/api-types';
import { api } from '../api/client';

/** One entry of GET /api/ruleChain/nodeTypes (what NodeConfigPanel takes). */
export type NodeTypeDescriptor = NodeTypeDto;
export type { NodeStatsDto, RuleChainDto, RuleChainMetadataDto, TestRunResultDto };

export interface Page<T> {
  data: T[];
  totalPages: number;
  totalElements: number;
  hasNext: boolean;
}

/** A node as the editor keeps it: ThingsBoard's RuleNode fields the editor touches, the rest kept as is. */
export interface ChainNode {
  id?: { entityType: 'RULE_NODE'; id: string };
  type: string;
  name: string;
  configuration?: Record<string, unknown>;
  configurationVersion?: number;
  debugSettings?: { failuresEnabled?: boolean; allEnabled?: boolean; allEnabledUntil?: number } | null;
  additionalInfo?: Record<string, unknown> | null;
  [k: string]: unknown;
}
export interface ChainConnection {
  fromIndex: number;
  toIndex: number;
  type: string;
}

export const chainKeys = {
  all: ['ruleChains'] as const,
  list: (q: { page: number; textSearch: string }) => ['ruleChains', 'list', q] as const,
  chain: (id: string) => ['ruleChains', 'chain', id] as const,
  nodeTypes: ['ruleChains', 'nodeTypes'] as const,
};

export const fetchNodeTypes = () => api<NodeTypeDescriptor[]>('/api/ruleChain/nodeTypes');

/** A chain and its metadata, read together (the editor's starting point). */
export async function fetchChain(id: string): Promise<{ chain: RuleChainDto; metadata: RuleChainMetadataDto }> {
  const [chain, metadata] = await Promise.all([api<RuleChainDto>(`/api/ruleChain/${id}`), api<RuleChainMetadataDto>(`/api/ruleChain/${id}/metadata`)]);
  return { chain, metadata };
}

/** Saves a file the browser downloads. */
export function downloadJson(fileName: string, value: unknown): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export interface NodeError {
  /** The node's index in the chain, when the message names one. */
  nodeIndex: number | null;
  nodeName: string | null;
  /** The field path inside the node's configuration ('' for the node as a whole). */
  path: string;
  message: string;
}

/**
 * The engine's validation message split per node: `Invalid configuration of node 1 "Save": defaultTTL: ...`
 * or `... uses node types Rivulet does not implement: node 6 "X": unknown node type Y; node 7 "Z": ...`.
 */
export function parseNodeErrors(message: string): NodeError[] {
  const out: NodeError[] = [];
  // A node's detail runs to the next `; node N "` (the list of unknown types) or the end.
  const re = /node (\d+) "((?:[^"\\]|\\.)*)":\s*([\s\S]*?)(?=; node \d+ "|$)/g;
  for (let m = re.exec(message); m; m = re.exec(message)) {
    const detail = m[3]!.trim();
    // "field.path: message" when the detail names a field of the configuration
    const field = /^([A-Za-z_$][\w$]*(?:[.[\]\w$]*)?):\s+(.*)$/.exec(detail);
    out.push({
      nodeIndex: Number(m[1]),
      nodeName: m[2]!,
      path: field && !/^unknown node type/.test(detail) ? field[1]! : '',
      message: field && !/^unknown node type/.test(detail) ? field[2]! : detail,
    });
  }
  return out;
}
