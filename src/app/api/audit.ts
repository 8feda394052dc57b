/**
 * The audit log: every change made through the API or the control socket — who, from where,
 * what, and how it ended — one JSON object per line in `<state_dir>/audit.log` (mode 0600),
 * rotated once it passes MAX_BYTES (the previous file kept as audit.log.1).
 */
import { appendFileSync, existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Caller } from './operation.js';

const MAX_BYTES = 4 * 1024 * 1024;

export interface AuditEntry {
  readonly time: string;
  readonly user: string;
  readonly role: string;
  readonly from: string;
  readonly op: string;
  readonly ok: boolean;
  readonly detail: string;
}

export class AuditLog {
  readonly file: string;
  constructor(stateDir: string, private readonly now: () => Date = () => new Date()) {
    this.file = join(stateDir, 'audit.log');
  }

  record(e: { readonly caller: Caller; readonly op: string; readonly ok: boolean; readonly detail: string }): AuditEntry {
    const entry: AuditEntry = { time: this.now().toISOString(), user: e.caller.user, role: e.caller.role, from: e.caller.from, op: e.op, ok: e.ok, detail: e.detail };
    try {
      if (existsSync(this.file) && statSync(this.file).size > MAX_BYTES) renameSync(this.file, `${this.file}.1`);
    } catch { /* rotation is best effort; the line is still written */ }
    appendFileSync(this.file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
    return entry;
  }

  /** The last `limit` entries, oldest first. */
  recent(limit: number): AuditEntry[] {
    let text = '';
    try { text = readFileSync(this.file, 'utf8'); } catch { return []; }
    const out: AuditEntry[] = [];
    for (const line of text.split('\n').slice(-limit - 1)) {
      if (line === '') continue;
      try { out.push(JSON.parse(line) as AuditEntry); } catch { /* a line cut by a crash */ }
    }
    return out.slice(-limit);
  }
}
