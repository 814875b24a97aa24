import type { ComponentChildren } from 'preact';
import { GqlRefusal } from '../api/graphql.js';

/** What a refusal means for the caller, by the gateway's stable error code. */
const CODE_HINTS: Record<string, string> = {
  FORBIDDEN: 'Your tier does not allow this. A department may apply for a grant; the public may ask for aggregates.',
  UNAUTHENTICATED: 'Your token or API key was not accepted: sign in again.',
  BAD_USER_INPUT: 'The request is not valid: check the fields and values.',
  NOT_FOUND: 'There is nothing by that name you may see.',
  LIMIT_EXCEEDED: 'The request is larger than the gateway allows: ask for less.',
  UNAVAILABLE: 'The gateway cannot serve this right now; try again later.',
  INTERNAL: 'The gateway failed; the operators have the details.',
};

/** A refusal explains itself: the code, the gateway's message and what it means. */
export function Refusal({ error }: { error: unknown }) {
  const code = error instanceof GqlRefusal ? error.code : 'INTERNAL';
  const message = error instanceof Error ? error.message : String(error);
  const receipts = error instanceof GqlRefusal ? error.receipts : [];
  return (
    <div class="refusal" role="alert" data-code={code}>
      <strong class="refusal-code">{code}</strong> <span class="refusal-message">{message}</span>
      <div class="refusal-hint">{CODE_HINTS[code] ?? ''}</div>
      {receipts.length > 0 && (
        <div class="muted">The refusal itself was logged: receipt {receipts.map((r) => `#${r.index}`).join(', ')}.</div>
      )}
    </div>
  );
}

export function Badge({ kind, children }: { kind: string; children: ComponentChildren }) {
  return <span class={`badge badge-${kind.replace(/[^a-z0-9-]/gi, '-').toLowerCase()}`}>{children}</span>;
}

/** Long work shows progress: a determinate bar when the amount is known, a busy line otherwise. */
export function Progress({ label, done, total }: { label: string; done?: number; total?: number }) {
  const known = done !== undefined && total !== undefined && total > 0;
  return (
    <div class="progress" role="status" aria-live="polite">
      <span>{label}</span>
      {known ? (
        <progress max={total} value={done}>
          {done}/{total}
        </progress>
      ) : (
        <progress />
      )}
      {known && (
        <span class="muted">
          {done} / {total}
        </span>
      )}
    </div>
  );
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="card" id={id}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** Starts a download of text made in the page (no request leaves the browser). */
export function downloadText(filename: string, text: string, type = 'text/plain'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A select over items with an id (datasets, units): the value is the chosen item's id. */
export function Choice<T extends { id: string }>({
  name,
  value,
  onChange,
  items,
  label,
  empty,
}: {
  name: string;
  value: string;
  onChange: (id: string) => void;
  items: readonly T[];
  label: (item: T) => ComponentChildren;
  /** An extra first option with value "" (e.g. "the whole city"). */
  empty?: string;
}) {
  return (
    <select name={name} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
      {empty !== undefined && <option value="">{empty}</option>}
      {items.map((item) => (
        <option key={item.id} value={item.id}>
          {label(item)}
        </option>
      ))}
    </select>
  );
}
