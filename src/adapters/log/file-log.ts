/**
 * The node log kept on disk as well (`<state_dir>/logs/tandem.log`, mode 0600): what the support
 * bundle collects, whether the daemon runs under systemd (journald has stdout too) or not. One
 * JSON line per append (O_APPEND: lines of concurrent writers never mix); past MAX_BYTES the file
 * becomes tandem.log.1 and a new one starts, so the log never takes more than twice that.
 */
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const LOG_DIR = 'logs';
export const LOG_FILE = 'tandem.log';
export const MAX_LOG_BYTES = 4 * 1024 * 1024;

/** The log files of a node, oldest first (the ones that exist are for the caller to find). */
export function logFilesOf(stateDir: string): string[] {
  const file = join(stateDir, LOG_DIR, LOG_FILE);
  return [`${file}.1`, file];
}

/** A writer of log lines into the node's log file; a failing disk never stops the node (the line still goes to stdout). */
export function fileLog(stateDir: string, maxBytes = MAX_LOG_BYTES): (line: string) => void {
  const dir = join(stateDir, LOG_DIR);
  const file = join(dir, LOG_FILE);
  let size = -1;
  return (line) => {
    try {
      if (size < 0) {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        try { size = statSync(file).size; } catch { size = 0; }
      }
      if (size + line.length > maxBytes && size > 0) {
        renameSync(file, `${file}.1`);
        size = 0;
      }
      appendFileSync(file, line, { mode: 0o600 });
      size += Buffer.byteLength(line);
    } catch {
      size = -1;
    }
  };
}
