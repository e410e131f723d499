/** Server validation errors of a node's configuration, mapped onto the form's fields. */

export interface FieldError {
  /** The field, dotted or slashed (`credentials.username`, `keys.0`, `/keys/0`); empty for the whole node. */
  path: string;
  message: string;
}

/** rjsf's ErrorSchema, structurally: nested by field, messages in `__errors`. */
export interface ErrorTree {
  __errors?: string[];
  [field: string]: ErrorTree | string[] | undefined;
}

export function splitPath(path: string): string[] {
  return path
    .replace(/\[(\d+)\]/g, '.$1')
    .split(/[./]/)
    .filter((p) => p !== '');
}

/** Errors at their fields; an error without a field sits at the root (shown above the form). */
export function toErrorTree(errors: readonly FieldError[]): ErrorTree {
  const root: ErrorTree = {};
  for (const e of errors) {
    let node = root;
    for (const part of splitPath(e.path)) {
      const next = node[part];
      if (next === undefined || Array.isArray(next)) node[part] = {};
      node = node[part] as ErrorTree;
    }
    (node.__errors ??= []).push(e.message);
  }
  return root;
}

/**
 * The node and field a save or test-run refusal names: `Invalid configuration of node 1 "Save
 * Timeseries": defaultTTL: Invalid input: ...`, a node that fails to start (a script's syntax
 * error) `Rule chain "c" failed to start: node 2 "Filter": jsScript: SyntaxError: ...`, or a bare
 * `jsScript: ...`.
 */
export function parseServerError(message: string): { nodeIndex: number | null; path: string; message: string } | null {
  const m = /^(?:Invalid configuration of |Rule chain "(?:[^"\\]|\\.)*" failed to start: )node (\d+) "(?:[^"\\]|\\.)*": (.*)$/s.exec(message);
  const rest = m ? m[2]! : message;
  const field = /^([A-Za-z_$][\w$]*(?:\.[\w$]+)*): (.+)$/s.exec(rest);
  if (!m && !field) return null;
  return { nodeIndex: m ? Number(m[1]) : null, path: field ? field[1]! : '', message: field ? field[2]! : rest };
}
