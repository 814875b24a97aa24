/**
 * Progress reporting for long jobs (seeding the demo city): a cli-progress bar on stderr when it is a terminal,
 * otherwise a plain line about every 10 % (logs, CI).
 */
import cliProgress from 'cli-progress';

export interface Progress {
  phase: string;
  done: number;
  total: number;
}

/** An onProgress callback that draws `label` progress per phase on stderr. */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): (p: Progress) => void {
  return stream.isTTY ? ttyBar(label, stream) : lineReporter(label, stream);
}

function ttyBar(label: string, stream: NodeJS.WriteStream): (p: Progress) => void {
  let bar: cliProgress.SingleBar | null = null;
  let phase = '';
  return (p) => {
    if (p.phase !== phase) {
      bar?.stop();
      phase = p.phase;
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${label} ${p.phase} [{bar}] {percentage}% {value}/{total} ({eta_formatted} left)`,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(p.total, p.done);
    } else {
      bar?.update(p.done);
    }
    if (p.done >= p.total) {
      bar?.stop();
      bar = null;
    }
  };
}

function lineReporter(label: string, stream: NodeJS.WriteStream): (p: Progress) => void {
  let phase = '';
  let nextTenth = 0;
  const started = Date.now();
  return (p) => {
    if (p.phase !== phase) {
      phase = p.phase;
      nextTenth = 0;
    }
    const tenth = p.total > 0 ? Math.floor((p.done / p.total) * 10) : 10;
    if (tenth < nextTenth) return;
    nextTenth = tenth + 1;
    const pct = p.total > 0 ? Math.round((p.done / p.total) * 100) : 100;
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    stream.write(`${label} ${p.phase}: ${pct}% (${p.done}/${p.total}, ${secs} s)\n`);
  };
}
