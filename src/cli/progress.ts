/**
 * Progress of long work on a terminal: layers and bytes of the image being read, on one stderr line
 * redrawn at most ten times a second and cleared at the end. Nothing at all when stderr is not a
 * terminal (a pipe, a file, a scheduler's log) or with --quiet.
 */
import type { ProgressEvent } from '../inspect.js';
import { sizeText } from './output.js';

/** A progress display: feed it events, end it before printing results. */
export interface Progress {
  readonly on: ((e: ProgressEvent) => void) | undefined;
  /** A one-line note (a retry), shown on its own line on a terminal. */
  note(text: string): void;
  end(): void;
}

const NONE: Progress = { on: undefined, note: () => {}, end: () => {} };

/** A progress display on `stream` (stderr) when it is a terminal and `quiet` is not set. */
export function progress(quiet: boolean | undefined, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (quiet || !stream.isTTY) return NONE;
  let ref = '';
  let layers = 0;
  let total: number | null = null;
  let bytes = 0;
  let done = 0;
  let cached = 0;
  let last = 0;
  let shown = false;
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const size = total !== null ? `${sizeText(bytes)} / ${sizeText(total)}` : sizeText(bytes);
    const line = `layers ${done}/${layers}${cached ? ` (${cached} cached)` : ''}, ${size}  ${ref}`;
    const width = stream.columns && stream.columns > 20 ? stream.columns - 1 : 79;
    stream.write(`\r\x1b[K${line.slice(0, width)}`);
    shown = true;
  };
  const clear = () => {
    if (shown) stream.write('\r\x1b[K');
    shown = false;
  };
  return {
    on(e: ProgressEvent) {
      if (e.kind === 'image') {
        ref = e.ref;
        layers = e.layers;
        total = e.bytes;
        bytes = 0;
        done = 0;
        cached = 0;
        draw(true);
      } else if (e.kind === 'bytes') {
        bytes += e.bytes;
        draw();
      } else if (e.kind === 'layer') {
        done++;
        if (e.how === 'cached') cached++;
        draw(true);
      } else {
        clear();
        stream.write(`${e.ref}: facts from the attached artifact ${e.artifact} (no layer read)\n`);
      }
    },
    note(text: string) {
      clear();
      stream.write(`${text}\n`);
    },
    end: clear,
  };
}
