/**
 * A small arithmetic expression compiler for the math node (ThingsBoard's CUSTOM function, which
 * uses exp4j): numbers, variables, + - * / % ^ (power, right-associative), unary minus,
 * parentheses, and exp4j's functions. No eval, no property access: an expression can only compute
 * a number from its variables.
 */

const FUNCTIONS: Readonly<Record<string, { fn: (...a: number[]) => number; min: number; max: number }>> = {
  abs: { fn: Math.abs, min: 1, max: 1 },
  acos: { fn: Math.acos, min: 1, max: 1 },
  asin: { fn: Math.asin, min: 1, max: 1 },
  atan: { fn: Math.atan, min: 1, max: 1 },
  atan2: { fn: Math.atan2, min: 2, max: 2 },
  cbrt: { fn: Math.cbrt, min: 1, max: 1 },
  ceil: { fn: Math.ceil, min: 1, max: 1 },
  cos: { fn: Math.cos, min: 1, max: 1 },
  cosh: { fn: Math.cosh, min: 1, max: 1 },
  exp: { fn: Math.exp, min: 1, max: 1 },
  expm1: { fn: Math.expm1, min: 1, max: 1 },
  floor: { fn: Math.floor, min: 1, max: 1 },
  hypot: { fn: Math.hypot, min: 2, max: 2 },
  log: { fn: Math.log, min: 1, max: 1 },
  log10: { fn: Math.log10, min: 1, max: 1 },
  log1p: { fn: Math.log1p, min: 1, max: 1 },
  log2: { fn: Math.log2, min: 1, max: 1 },
  max: { fn: Math.max, min: 2, max: 16 },
  min: { fn: Math.min, min: 2, max: 16 },
  pow: { fn: Math.pow, min: 2, max: 2 },
  round: { fn: Math.round, min: 1, max: 1 },
  signum: { fn: Math.sign, min: 1, max: 1 },
  sin: { fn: Math.sin, min: 1, max: 1 },
  sinh: { fn: Math.sinh, min: 1, max: 1 },
  sqrt: { fn: Math.sqrt, min: 1, max: 1 },
  tan: { fn: Math.tan, min: 1, max: 1 },
  tanh: { fn: Math.tanh, min: 1, max: 1 },
  deg: { fn: (r: number) => (r * 180) / Math.PI, min: 1, max: 1 },
  rad: { fn: (d: number) => (d * Math.PI) / 180, min: 1, max: 1 },
};

const CONSTANTS: Readonly<Record<string, number>> = { pi: Math.PI, π: Math.PI, e: Math.E, φ: (1 + Math.sqrt(5)) / 2 };

export class ExpressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpressionError';
  }
}

type Token = { kind: 'num'; value: number; pos: number } | { kind: 'id'; value: string; pos: number } | { kind: 'op'; value: string; pos: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const num = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(src.slice(i));
    if (num) {
      out.push({ kind: 'num', value: Number(num[0]), pos: i });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_πφ][A-Za-z0-9_]*/u.exec(src.slice(i));
    if (id) {
      out.push({ kind: 'id', value: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    if ('+-*/%^(),'.includes(c)) {
      out.push({ kind: 'op', value: c, pos: i });
      i++;
      continue;
    }
    throw new ExpressionError(`Unexpected character '${c}' at ${i + 1}`);
  }
  return out;
}

type Node = (vars: ReadonlyArray<number>) => number;

const MAX_LENGTH = 1000;
const MAX_DEPTH = 64;

/**
 * Compiles `expression` over the named variables into a function of their values (in the order of
 * `variables`). Unknown names, bad syntax and wrong argument counts throw here, at compile time.
 */
export function compileExpression(expression: string, variables: readonly string[]): (values: ReadonlyArray<number>) => number {
  if (expression.length > MAX_LENGTH) throw new ExpressionError(`Expression is longer than ${MAX_LENGTH} characters`);
  const tokens = tokenize(expression);
  let p = 0;
  let depth = 0;
  const peek = () => tokens[p];
  const isOp = (v: string) => {
    const t = tokens[p];
    return t !== undefined && t.kind === 'op' && t.value === v;
  };
  const expect = (v: string) => {
    if (!isOp(v)) {
      const t = tokens[p];
      throw new ExpressionError(t ? `Expected '${v}' at ${t.pos + 1}` : `Expected '${v}' at the end`);
    }
    p++;
  };
  const enter = () => {
    if (++depth > MAX_DEPTH) throw new ExpressionError('Expression is nested too deeply');
  };

  function expr(): Node {
    enter();
    let left = term();
    while (isOp('+') || isOp('-')) {
      const op = tokens[p++]!.value;
      const l = left;
      const r = term();
      left = op === '+' ? (v) => l(v) + r(v) : (v) => l(v) - r(v);
    }
    depth--;
    return left;
  }
  function term(): Node {
    let left = unary();
    while (isOp('*') || isOp('/') || isOp('%')) {
      const op = tokens[p++]!.value;
      const l = left;
      const r = unary();
      left = op === '*' ? (v) => l(v) * r(v) : op === '/' ? (v) => l(v) / r(v) : (v) => l(v) % r(v);
    }
    return left;
  }
  function unary(): Node {
    if (isOp('-')) {
      p++;
      enter();
      const x = unary();
      depth--;
      return (v) => -x(v);
    }
    if (isOp('+')) {
      p++;
      return unary();
    }
    return power();
  }
  function power(): Node {
    const base = primary();
    if (isOp('^')) {
      p++;
      enter();
      const exp = unary();
      depth--;
      return (v) => Math.pow(base(v), exp(v));
    }
    return base;
  }
  function primary(): Node {
    const t = peek();
    if (!t) throw new ExpressionError('Unexpected end of expression');
    if (t.kind === 'num') {
      p++;
      const n = t.value;
      return () => n;
    }
    if (t.kind === 'id') {
      p++;
      if (isOp('(')) {
        const f = FUNCTIONS[t.value];
        if (!f) throw new ExpressionError(`Unknown function '${t.value}'`);
        p++;
        const args: Node[] = [];
        if (!isOp(')')) {
          args.push(expr());
          while (isOp(',')) {
            p++;
            args.push(expr());
          }
        }
        expect(')');
        if (args.length < f.min || args.length > f.max) {
          throw new ExpressionError(`Function '${t.value}' takes ${f.min === f.max ? f.min : `${f.min} to ${f.max}`} argument(s), got ${args.length}`);
        }
        const fn = f.fn;
        if (args.length === 1) {
          const a = args[0]!;
          return (v) => fn(a(v));
        }
        return (v) => fn(...args.map((a) => a(v)));
      }
      const index = variables.indexOf(t.value);
      if (index >= 0) return (v) => v[index]!;
      const c = CONSTANTS[t.value];
      if (c !== undefined) return () => c;
      throw new ExpressionError(`Unknown variable '${t.value}' (arguments: ${variables.join(', ') || 'none'})`);
    }
    if (t.value === '(') {
      p++;
      const inner = expr();
      expect(')');
      return inner;
    }
    throw new ExpressionError(`Unexpected '${t.value}' at ${t.pos + 1}`);
  }

  if (tokens.length === 0) throw new ExpressionError('Expression is empty');
  const root = expr();
  if (p < tokens.length) throw new ExpressionError(`Unexpected '${String(tokens[p]!.value)}' at ${tokens[p]!.pos + 1}`);
  return root;
}
