/**
 * Messages that leave the sandbox are one line, short, and carry no host detail: file paths, URLs and stack frames are
 * replaced, control characters dropped.
 */
const PATHS = [
  /\b(?:file|node):\/*[^\s'"`)]*/g, // file:///..., node:internal/...
  /(?:[A-Za-z]:)?(?:[\\/][\w.@+~-]+){2,}[\\/]?/g, // /a/b/c, C:\a\b
];

export function sanitiseMessage(message: unknown, max = 300): string {
  let text = typeof message === 'string' ? message : message instanceof Error ? message.message : 'unknown error';
  text = text.split(/\r?\n/, 1)[0] ?? '';
  for (const p of PATHS) text = text.replace(p, '<path>');
  text = text.replace(/\s+at\s.*$/, '');
  // eslint-disable-next-line no-control-regex
  text = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').trim();
  if (text.length > max) text = text.slice(0, max - 1) + '…';
  return text;
}
