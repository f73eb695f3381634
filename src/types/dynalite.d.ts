// dynalite 4 ships JSDoc only: no .d.ts, and there is no @types/dynalite.
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** LevelDB directory; in-memory when omitted. One process per path. */
    path?: string;
    ssl?: boolean;
    verbose?: boolean;
    debug?: boolean;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
  }

  function dynalite(options?: DynaliteOptions): Server;
  export = dynalite;
}
