import { ErrorCode, RivuletError } from '@rivulet/core';
import type { NodeFault } from '@rivulet/rule-engine';
import { getQuickJS } from 'quickjs-emscripten';

export type ScriptErrorKind = 'syntax' | 'timeout' | 'memory' | 'stack' | 'error' | 'result' | 'crashed' | 'disabled' | 'closed';

/**
 * A script's failure. `nodeFault` tells the chain how it counts against the node: 'strike' (the
 * message hit the time limit or crashed the sandbox), 'disabled' (refused: too many strikes).
 * `disabledUntil` is set when the script is disabled (the strike that disabled it says so too).
 */
export class ScriptError extends RivuletError implements NodeFault {
  readonly kind: ScriptErrorKind;
  readonly nodeFault: 'strike' | 'disabled' | undefined;
  readonly disabledUntil: number | undefined;
  constructor(kind: ScriptErrorKind, message: string, options?: { cause?: unknown; strike?: boolean; disabledUntil?: number }) {
    super(kind === 'timeout' ? ErrorCode.TIMEOUT : kind === 'syntax' || kind === 'error' || kind === 'result' ? ErrorCode.BAD_REQUEST : ErrorCode.INTERNAL, message, options);
    this.name = 'ScriptError';
    this.kind = kind;
    this.nodeFault = kind === 'disabled' ? 'disabled' : options?.strike ? 'strike' : undefined;
    this.disabledUntil = options?.disabledUntil;
  }
}

// Syntax is checked on the main thread with a QuickJS of its own: parsing runs no user code.
const SyntaxQuickJS = await getQuickJS();

/** Throws a ScriptError('syntax') unless `function (params) { body }` parses. */
export function checkScriptSyntax(body: string, params: readonly string[], name = 'script', prelude = ''): void {
  const rt = SyntaxQuickJS.newRuntime();
  try {
    rt.setMemoryLimit(32 * 1024 * 1024);
    const deadline = Date.now() + 1000;
    rt.setInterruptHandler(() => Date.now() > deadline);
    const ctx = rt.newContext();
    try {
      // Same shape as the worker's wrapper, so a prelude that clashes with the body is caught here too.
      const r = ctx.evalCode(`(function () {\n${prelude}\nreturn (function (${params.join(', ')}) {\n${body}\n}); })`, `${name}.js`);
      if (r.error) {
        const err = ctx.dump(r.error) as { name?: string; message?: string; lineNumber?: number } | undefined;
        r.error.dispose();
        // The wrapper and prelude take the first lines of the evaluated source.
        const offset = 3 + (prelude ? prelude.split('\n').length : 1) - 1;
        const line = typeof err?.lineNumber === 'number' ? ` (line ${Math.max(1, err.lineNumber - offset)})` : '';
        throw new ScriptError('syntax', `${err?.name ?? 'SyntaxError'}: ${err?.message ?? 'invalid script'}${line}`);
      }
      r.value.dispose();
    } finally {
      ctx.dispose();
    }
  } finally {
    rt.dispose();
  }
}
