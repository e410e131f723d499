import { useCallback, useState } from 'react';
import { notifications } from '@mantine/notifications';
import { api, ApiError, errorMessage } from '../api/client';
import { parseNodeErrors, type RuleChainDto, type RuleChainMetadataDto } from './chain-api';
import { docToMetadata, type Doc } from './editor-doc';

export type NodeErrors = Map<string, { path: string; message: string }[]>;

/** The engine's message split onto the nodes it names (by index in the document as sent). */
export function nodeErrorsOf(message: string, doc: Doc): NodeErrors {
  const byKey: NodeErrors = new Map();
  for (const ne of parseNodeErrors(message)) {
    const k = ne.nodeIndex === null ? undefined : doc.nodes[ne.nodeIndex]?.key;
    if (k) byKey.set(k, [...(byKey.get(k) ?? []), { path: ne.path, message: ne.message }]);
  }
  return byKey;
}

/**
 * Saving the editor's document with the version it was read at. A refusal keeps the document as it
 * is: a 409 (saved elsewhere since) opens the conflict choice, a 400 puts the engine's errors on their
 * nodes and shows the message inline.
 */
export function useChainSave({ chainId, doc, saved, setSaved }: { chainId: string; doc: Doc; saved: { doc: Doc; version: number }; setSaved: (s: { doc: Doc; version: number }) => void }) {
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [conflict, setConflict] = useState<string | null>(null);
  const [errors, setErrors] = useState<NodeErrors>(new Map());

  const save = useCallback(
    async (version = saved.version) => {
      setSaving(true);
      try {
        const r = await api<RuleChainMetadataDto>('/api/ruleChain/metadata', { method: 'POST', body: { ruleChainId: { entityType: 'RULE_CHAIN', id: chainId }, version, ...docToMetadata(doc) } });
        setSaved({ doc, version: r.version });
        setErrors(new Map());
        setConflict(null);
        setSaveError(null);
        notifications.show({ color: 'green', message: 'Rule chain saved', autoClose: 2500 });
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) setConflict(e.message);
        else {
          setErrors(nodeErrorsOf(errorMessage(e), doc));
          // Inline, not a toast: the message stays while the user fixes what it names.
          setSaveError(errorMessage(e));
        }
      } finally {
        setSaving(false);
      }
    },
    [doc, saved.version, chainId, setSaved],
  );

  /** "Overwrite": save again over whatever version is stored now. */
  const overwrite = useCallback(async () => {
    try {
      const current = await api<RuleChainDto>(`/api/ruleChain/${chainId}`);
      await save(current.version);
    } catch (e) {
      notifications.show({ color: 'red', message: errorMessage(e) });
    }
  }, [chainId, save]);

  /** The engine refused the chain elsewhere (a test run): its errors go on the nodes too. */
  const showRefusal = useCallback((message: string) => setErrors(nodeErrorsOf(message, doc)), [doc]);

  return { save, saving, saveError, setSaveError, conflict, setConflict, errors, overwrite, showRefusal };
}
