/**
 * Turns job code into a function body for the prelude. Plain scripts pass unchanged; ES module syntax and TypeScript go
 * through `typescript`'s transpileModule (CommonJS output, no type check), loaded on first use. User code therefore
 * never runs as a module: all of it runs inside the driver's try/catch, so no object it throws is copied to the host.
 */
import { createRequire } from 'node:module';
import type * as TS from 'typescript';

export type Prepared = { ok: true; source: string; ms: number } | { ok: false; message: string; ms: number };

const MODULE_SYNTAX = /\b(?:import|export)\b/;
const CACHE_SIZE = 64;
const cache = new Map<string, Prepared>();
let ts: typeof TS | undefined;

function typescript(): typeof TS {
  ts ??= createRequire(import.meta.url)('typescript') as typeof TS;
  return ts;
}

export function prepareSource(code: string, language: 'js' | 'ts'): Prepared {
  if (language === 'js' && !MODULE_SYNTAX.test(code)) return { ok: true, source: code, ms: 0 };
  const key = `${language}:${code}`;
  const hit = cache.get(key);
  if (hit !== undefined) return { ...hit, ms: 0 };
  const started = performance.now();
  let t: typeof TS;
  try {
    t = typescript();
  } catch {
    return { ok: false, message: 'module syntax and TypeScript need the typescript package in the worker', ms: 0 };
  }
  let out: TS.TranspileOutput;
  try {
    out = t.transpileModule(code, {
      fileName: language === 'ts' ? 'job.ts' : 'job.js',
      reportDiagnostics: true,
      compilerOptions: {
        module: t.ModuleKind.CommonJS,
        target: t.ScriptTarget.ES2024,
        sourceMap: false,
        inlineSourceMap: false,
      },
    });
  } catch {
    // e.g. the parser's stack overflows on absurdly nested code: the job's fault, not the worker's
    return {
      ok: false,
      message: 'the code could not be transpiled (too deeply nested?)',
      ms: performance.now() - started,
    };
  }
  const errors = (out.diagnostics ?? []).filter((d) => d.category === t.DiagnosticCategory.Error);
  const first = errors[0];
  const result: Prepared =
    first === undefined
      ? { ok: true, source: out.outputText, ms: performance.now() - started }
      : {
          ok: false,
          message: `SyntaxError: ${t.flattenDiagnosticMessageText(first.messageText, ' ').slice(0, 300)}${
            first.file !== undefined && first.start !== undefined
              ? ` (line ${first.file.getLineAndCharacterOfPosition(first.start).line + 1})`
              : ''
          }`,
          ms: performance.now() - started,
        };
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(key, result);
  return result;
}
