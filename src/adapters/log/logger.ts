/**
 * Structured log: one JSON object per line on stdout (journald and `jq` read it as is).
 * Fields: time (ISO), level, node, event, msg, plus any extra fields.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: Level, event: string, msg: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogEntry { readonly time: string; readonly level: Level; readonly event: string; readonly msg: string }

export function jsonLogger(node: string, opts: { minLevel?: Level; write?: (line: string) => void; tee?: (entry: LogEntry) => void } = {}): Logger {
  const min = ORDER[opts.minLevel ?? 'info'];
  const write = opts.write ?? ((line: string) => { process.stdout.write(line); });
  return {
    log(level, event, msg, fields) {
      if (ORDER[level] < min) return;
      const time = new Date().toISOString();
      write(`${JSON.stringify({ time, level, node, event, msg, ...fields })}\n`);
      opts.tee?.({ time, level, event, msg });
    },
  };
}
