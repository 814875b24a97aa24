export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function summarise(samplesNs: number[]): { p50us: number; p99us: number; meanUs: number; n: number } {
  const s = [...samplesNs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { p50us: percentile(s, 50) / 1000, p99us: percentile(s, 99) / 1000, meanUs: mean / 1000, n: s.length };
}

export const fmt = (v: number, digits = 1) =>
  v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
