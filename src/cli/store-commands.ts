/**
 * The provenance store commands: `store init`, `store tables`, `store export`. They parse and print;
 * the work is in src/store/. A new `store` subcommand is one more `storeSub(...)` below: it gets
 * `--store`, and {@link withStore} opens and closes the store around its action.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { ContainerspecError, UsageError } from '../errors/index.js';
import type { StoreBackend } from '../store/types.js';
import { json, out, table } from './output.js';

/** Flags every store subcommand takes. */
export interface StoreFlags {
  store?: string;
}

const STORE_OPTION_HELP = 'the store: a SQLite file path, or postgres://user@host[:port]/db (default $CONTAINERSPEC_STORE, else $XDG_DATA_HOME/containerspec/provenance.db)';

const STORE_HELP = `
Where the store is: --store PATH (a SQLite file) or --store postgres://user[:password]@host[:port]/db,
else $CONTAINERSPEC_STORE, else $XDG_DATA_HOME/containerspec/provenance.db (~/.local/share/...).
SQLite's locking is unreliable on NFS and Lustre (where home directories usually are): there, use
PostgreSQL or a SQLite file on a local disk. A password in a URL is never printed or stored.
`;

/**
 * Open the store the flags name, run `fn`, close it. `create`: make what is missing (file, tables);
 * without it a SQLite file must already exist.
 */
export async function withStore<T>(o: StoreFlags, create: boolean, fn: (store: StoreBackend) => Promise<T>): Promise<T> {
  const { openStore } = await import('../store/open.js');
  const store = await openStore(o.store, { create });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Add the `store` command group to the program. */
export function addStoreCommands(cmd: Command): void {
  const store = cmd
    .command('store')
    .description('the provenance store: run-specs, runs and the hosts they ran on (SQLite or PostgreSQL; DSI-style tables)')
    .addHelpText('after', STORE_HELP);
  const storeSub = (name: string, description: string, examples: string) =>
    store.command(name).description(description).option('--store <path|url>', STORE_OPTION_HELP).addHelpText('after', `${STORE_HELP}\nExamples:\n${examples}`);

  storeSub(
    'init',
    'create the store and its tables (Consumer, Producer, SystemKernel), or add the columns and indexes an older store lacks',
    `  containerspec store init
  containerspec store init --store /local/scratch/$USER/provenance.db
  containerspec store init --store postgres://prov@db.lab:5432/provenance
  CONTAINERSPEC_STORE=postgres://prov@db.lab/provenance containerspec store init
`,
  )
    .option('--json', 'print the tables as JSON')
    .action(async (o: StoreFlags & { json?: boolean }) => {
      await withStore(o, true, async (s) => {
        const tables = await s.tables();
        if (o.json) return out(json(tablesJson(s, tables)));
        out(`${s.location} (${s.kind}): ${tables.map((t) => `${t.name} (${t.rows} rows)`).join(', ')}\n`);
      });
    });

  storeSub(
    'tables',
    'list the tables, their typed columns and row counts',
    `  containerspec store tables
  containerspec store tables --store postgres://prov@db.lab/provenance --json
`,
  )
    .option('--json', 'print JSON: { store: { kind, location }, tables: [{ name, rows, columns: [{ name, type, sqlType }] }] }')
    .action(async (o: StoreFlags & { json?: boolean }) => {
      await withStore(o, false, async (s) => {
        const tables = await s.tables();
        if (o.json) return out(json(tablesJson(s, tables)));
        out(`${s.location} (${s.kind})\n`);
        if (!tables.length) return out('no tables (create them with "containerspec store init")\n');
        for (const t of tables) {
          out(`\n${t.name}: ${t.rows} row${t.rows === 1 ? '' : 's'}\n`);
          out(table(t.columns.map((c) => [c.name, c.type, c.sqlType === c.type ? '' : c.sqlType]), '  '));
        }
      });
    });

  storeSub(
    'export',
    'write every row as JSON lines ({"table": ..., columns...}; BLOBs as {"$base64": ...}) for DSI or pandas',
    `  containerspec store export > provenance.jsonl
  containerspec store export --table Producer -o runs.jsonl
  python3 -c 'import pandas as pd; print(pd.read_json("provenance.jsonl", lines=True))'
`,
  )
    .option('--table <name>', 'only this table')
    .option('-o, --output <file>', 'write to FILE (written to a temporary file, then renamed) instead of stdout')
    .action(async (o: StoreFlags & { table?: string; output?: string }) => {
      const { exportJsonLines } = await import('../store/export.js');
      await withStore(o, false, async (s) => {
        const opts = o.table !== undefined ? { table: o.table } : {};
        if (o.output === undefined) {
          const buf = chunker((chunk) => out(chunk));
          await exportJsonLines(s, (line) => buf.push(line), opts);
          buf.flush();
          return;
        }
        const file = o.output;
        const { tempNameFor } = await import('../cache/atomic.js');
        const tmp = tempNameFor(file);
        let fd: number;
        try {
          fd = openSync(tmp, 'wx', 0o644);
        } catch (e) {
          throw new UsageError(`-o ${file}: cannot write there (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
        }
        let n: number;
        try {
          const buf = chunker((chunk) => writeAll(fd, chunk));
          n = await exportJsonLines(s, (line) => buf.push(line), opts);
          buf.flush();
          closeSync(fd);
          renameSync(tmp, file);
        } catch (e) {
          try {
            closeSync(fd);
          } catch {
            /* closed already */
          }
          rmSync(tmp, { force: true });
          // A file system error writing or renaming (disk full, directory gone) is the user's to fix.
          if (!(e instanceof ContainerspecError) && typeof (e as NodeJS.ErrnoException).code === 'string') {
            throw new UsageError(`-o ${file}: cannot write there (${(e as NodeJS.ErrnoException).code})`, { cause: e });
          }
          throw e;
        }
        out(`wrote ${n} row${n === 1 ? '' : 's'} from ${s.location} to ${file}\n`);
      });
    });
}

/** The `--json` shape of `store tables` and `store init`. */
function tablesJson(s: StoreBackend, tables: Awaited<ReturnType<StoreBackend['tables']>>) {
  return { store: { kind: s.kind, location: s.location }, tables };
}

/** Collect small strings into ~64 KiB writes. */
function chunker(write: (chunk: string) => void): { push(s: string): void; flush(): void } {
  let parts: string[] = [];
  let size = 0;
  const flush = () => {
    if (parts.length) write(parts.join(''));
    parts = [];
    size = 0;
  };
  return {
    push(s: string) {
      parts.push(s);
      size += s.length;
      if (size >= 64 * 1024) flush();
    },
    flush,
  };
}

function writeAll(fd: number, s: string): void {
  const b = Buffer.from(s);
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off);
}
