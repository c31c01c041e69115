/**
 * The bytes of one blob as they arrive over answers: socket chunks gathered into chunks of about
 * `size` bytes, the position reached (where a Range request resumes), and the bytes to skip when a
 * server answers a Range request with the whole blob. Shared by the main-thread stream (client.ts)
 * and the blob worker (blob-worker.ts), which differ only in how a gathered chunk is handed on.
 */
export class Gatherer {
  /** Bytes of the blob received so far (kept or handed on). */
  offset = 0;
  private skip = 0;
  private parts: Buffer[] = [];
  private held = 0;

  constructor(
    private readonly size: number,
    /** Called with the parts of each gathered chunk (at least `size` bytes, or the rest at the end) and their length. */
    private readonly emit: (parts: Buffer[], length: number) => void,
  ) {}

  /** A new answer begins: a full one (200) repeats what already arrived, which is skipped. */
  restart(full: boolean): void {
    this.skip = full ? this.offset : 0;
  }

  /** A socket chunk arrived. */
  add(c: Buffer): void {
    let chunk = c;
    if (this.skip > 0) {
      if (chunk.length <= this.skip) {
        this.skip -= chunk.length;
        return;
      }
      chunk = chunk.subarray(this.skip);
      this.skip = 0;
    }
    this.offset += chunk.length;
    this.parts.push(chunk);
    this.held += chunk.length;
    if (this.held >= this.size) this.flush();
  }

  /** Hand on what is held (at the end of the blob). */
  flush(): void {
    if (this.held === 0) return;
    const parts = this.parts;
    const length = this.held;
    this.parts = [];
    this.held = 0;
    this.emit(parts, length);
  }
}
