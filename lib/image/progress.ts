// Pull progress as podman draws it: one line per blob, redrawn in place. Only on a terminal:
// in a log or a pipe, progress bars are noise, so nothing is written at all. The clock is a
// parameter so tests can drive the throttle.

export interface BlobProgress {
  update(done: number): void;
  /** The blob is complete (or was already there: `note` says so). */
  done(note?: string): void;
}

export interface Progress {
  blob(digest: string, total: number): BlobProgress;
  /** Draw the final state; the cursor is left below the last line. */
  finish(): void;
}

/** What is used of a stream: tests pass a plain object. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

const BAR = 30;
const INTERVAL_MS = 100;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

interface Line {
  name: string;
  total: number;
  done: number;
  finished: boolean;
  note: string | undefined;
}

function render(l: Line): string {
  const head = `Copying blob ${l.name}`;
  if (l.finished) return `${head} ${l.note ?? 'done'}`;
  const frac = l.total > 0 ? Math.min(1, l.done / l.total) : 0;
  const filled = Math.floor(frac * BAR);
  const bar = filled >= BAR ? '='.repeat(BAR) : `${'='.repeat(filled)}>${' '.repeat(BAR - filled - 1)}`;
  return `${head} [${bar}] ${formatBytes(l.done)} / ${formatBytes(l.total)}`;
}

export function createProgress(out: ProgressStream, now: () => number = Date.now): Progress {
  const lines: Line[] = [];
  let drawn = 0;
  let last = -Infinity;
  let dirty = false;

  // Every line is drawn again, from the first: a line that wrapped would break the count of
  // lines to go up, so lines are cut to the terminal's width.
  const draw = () => {
    const width = out.columns && out.columns > 1 ? out.columns - 1 : Infinity;
    let text = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const l of lines) text += `\r\x1b[2K${render(l).slice(0, width)}\n`;
    out.write(text);
    drawn = lines.length;
    last = now();
    dirty = false;
  };
  const maybeDraw = (force: boolean) => {
    dirty = true;
    if (force || now() - last >= INTERVAL_MS) draw();
  };

  if (!out.isTTY) {
    const silent: BlobProgress = { update() {}, done() {} };
    return { blob: () => silent, finish() {} };
  }
  return {
    blob(digest, total) {
      const hex = digest.slice(digest.indexOf(':') + 1);
      const line: Line = { name: hex.slice(0, 12), total, done: 0, finished: false, note: undefined };
      lines.push(line);
      maybeDraw(true);
      return {
        update(done) {
          if (line.finished) return;
          line.done = done;
          maybeDraw(false);
        },
        done(note) {
          line.finished = true;
          line.done = line.total;
          line.note = note;
          maybeDraw(true);
        },
      };
    },
    finish() {
      if (dirty) draw();
    },
  };
}
