/**
 * Which firmware a node boots, and when a new one is kept (SPEC §4 "Boot"): the launcher's
 * decisions, as pure functions of (record, input) → (record, action).
 *
 * The model is RAUC's and Mender's: a newly activated slot boots **on trial**. It must become
 * healthy within a bounded time (`trialMs`, counted from its first start, across restarts and
 * power cuts) and a bounded number of starts (`maxAttempts`); then it is **committed** and becomes
 * the slot a later trial falls back to. Otherwise the launcher **falls back** by itself to the last
 * committed slot, with that slot's configuration snapshot. Unlike boot counting alone, the health
 * gate decides: a daemon that starts but never becomes healthy fails its trial when the time is up
 * (the hole balena and OSTree users hit).
 *
 * Attempts are counted before each start and persisted by the caller before it starts anything,
 * so a power cut during a trial counts as a failed attempt and a slot that kills its node at once
 * cannot loop forever.
 *
 * Slot 0 is the factory firmware (the software the node was installed with): always present,
 * always committed, the last resort.
 */

/** A slot and the installation in it: a slot number reused by a later upload is another install. */
export interface SlotRef {
  readonly slot: number;
  /** Unique per installation into a slot; `factory` for slot 0. */
  readonly install: string;
}

export const FACTORY: SlotRef = { slot: 0, install: 'factory' };

/** The operator's "After reboot" choice (written by the firmware service, read at boot). */
export interface Activation {
  readonly slot: number;
  readonly install: string;
  /** New for every activation: choosing the same slot again after it failed is a new trial. */
  readonly id: string;
  /** Wall-clock ms. */
  readonly at: number;
}

export interface Trial {
  readonly target: SlotRef;
  readonly activation: string;
  /** Starts so far, counted before each start. */
  readonly attempts: number;
  /** Wall-clock ms of the first start: the trial's time runs across restarts. */
  readonly since: number;
  /** The committed slot it falls back to. */
  readonly from: SlotRef;
}

export type SlotOutcome =
  | { readonly state: 'committed'; readonly at: number }
  | { readonly state: 'failed'; readonly at: number; readonly reason: string };

export type BootEventKind = 'trial-started' | 'attempt' | 'committed' | 'fell-back' | 'not-installed';

export interface BootEvent {
  readonly at: number;
  readonly kind: BootEventKind;
  readonly slot: number;
  readonly install: string;
  readonly message: string;
}

/** `state_dir/firmware/boot.json`: written only by the launcher. */
export interface BootRecord {
  readonly version: 1;
  /** The last committed slot: what runs when no trial does, and where a failed trial falls back to. */
  readonly good: SlotRef;
  /** The committed slot before `good` (the console menu's "activate the previous firmware"). */
  readonly previous: SlotRef | null;
  /** The slot started last. */
  readonly current: SlotRef;
  readonly trial: Trial | null;
  /** The last activation id acted on: an activation becomes a trial once. */
  readonly handled: string | null;
  /** By install id. */
  readonly outcomes: Readonly<Record<string, SlotOutcome>>;
  /** Newest last, at most MAX_EVENTS. */
  readonly events: readonly BootEvent[];
}

export interface BootLimits {
  /** Starts a trial may use (RAUC's default boot attempts: 3). */
  readonly maxAttempts: number;
  /** Time from the first start by which the trial must be healthy. */
  readonly trialMs: number;
  /** Healthy only counts once the daemon has run this long: a daemon that dies soon after start is not committed. */
  readonly minUpMs: number;
}

export const MAX_EVENTS = 32;

export function freshRecord(): BootRecord {
  return { version: 1, good: FACTORY, previous: null, current: FACTORY, trial: null, handled: null, outcomes: {}, events: [] };
}

export function sameSlot(a: SlotRef, b: SlotRef): boolean {
  return a.slot === b.slot && a.install === b.install;
}

/**
 * The firmware the node ran before the one it runs now (the console menu's "activate the previous
 * firmware"): during a trial, the committed slot the trial started from; otherwise the committed
 * slot before the current one. Null when the node has committed only one firmware.
 */
export function previousOf(record: BootRecord | null): SlotRef | null {
  if (record === null) return null;
  return record.trial !== null ? record.trial.from : record.previous;
}

export function describeSlot(ref: SlotRef): string {
  return ref.slot === 0 ? 'slot 0 (factory)' : `slot ${ref.slot}`;
}

/** What the launcher must do after a decision. */
export type BootAction =
  /** Start this slot's daemon (on trial when `trial` is set in the record). */
  | { readonly kind: 'start'; readonly slot: SlotRef; readonly trial: boolean; readonly newTrial: boolean }
  /** Stop the trial daemon if it runs, restore `from`'s configuration snapshot, start `from`. */
  | { readonly kind: 'fall-back'; readonly from: SlotRef; readonly failed: SlotRef; readonly reason: string }
  /** The trial is over, the daemon keeps running. */
  | { readonly kind: 'committed'; readonly slot: SlotRef }
  /** The daemon of a committed slot exited: the launcher exits with it (the service manager restarts it). */
  | { readonly kind: 'exit' }
  | { readonly kind: 'none' };

export interface Decision {
  readonly record: BootRecord;
  readonly action: BootAction;
  /** Lines for the node log (and, for fall-back and commit, an alert). */
  readonly log: readonly { readonly level: 'info' | 'warn' | 'error'; readonly message: string }[];
}

/**
 * At launcher start: which slot to start. `installed` says whether a slot still holds that
 * installation (a slot deleted or replaced behind the record's back is not started).
 */
export function planBoot(
  prior: BootRecord | null, activation: Activation | null, installed: (ref: SlotRef) => boolean,
  now: number, limits: BootLimits,
): Decision {
  let record = prior ?? freshRecord();
  const log: Decision['log'][number][] = [];
  if (!installed(record.good)) {
    log.push({ level: 'error', message: `the committed firmware ${describeSlot(record.good)} is no longer installed: booting the factory firmware` });
    record = { ...record, good: FACTORY, trial: record.trial !== null && sameSlot(record.trial.from, record.good) ? { ...record.trial, from: FACTORY } : record.trial };
  }
  if (activation !== null && activation.id !== record.handled) {
    const target: SlotRef = { slot: activation.slot, install: activation.install };
    record = { ...record, handled: activation.id };
    if (!installed(target)) {
      const message = `after-reboot firmware ${describeSlot(target)} is not installed (deleted or replaced): booting ${describeSlot(record.good)}`;
      log.push({ level: 'error', message });
      record = withEvent(record, { at: now, kind: 'not-installed', ...target, message });
    } else if (sameSlot(target, record.good)) {
      // Choosing the committed slot again cancels a pending trial: nothing new to prove.
      if (record.trial !== null) log.push({ level: 'info', message: `trial of ${describeSlot(record.trial.target)} cancelled: ${describeSlot(target)} chosen again` });
      record = { ...record, trial: null };
    } else {
      const message = `${describeSlot(target)} boots on trial: it must be healthy within ${Math.round(limits.trialMs / 1000)} s and ${limits.maxAttempts} start(s), or the node falls back to ${describeSlot(record.good)}`;
      log.push({ level: 'warn', message });
      // An earlier outcome of this installation (a failed trial retried) is not this trial's.
      const { [target.install]: _earlier, ...outcomes } = record.outcomes;
      record = withEvent({ ...record, outcomes, trial: { target, activation: activation.id, attempts: 0, since: now, from: record.good } }, { at: now, kind: 'trial-started', ...target, message });
      return startTrial(record, now, limits, log, true);
    }
  }
  if (record.trial !== null) {
    if (!installed(record.trial.target)) return fallBack(record, now, `${describeSlot(record.trial.target)} is no longer installed`, log);
    return startTrial(record, now, limits, log, false);
  }
  return { record: { ...record, current: record.good }, action: { kind: 'start', slot: record.good, trial: false, newTrial: false }, log };
}

/** What the launcher observed while the daemon runs. */
export type BootInput =
  /** The daemon's health (see `healthOf`), polled while on trial. */
  | { readonly kind: 'health'; readonly at: number; readonly healthy: boolean; readonly detail: string; readonly upMs: number }
  /** Periodic, while on trial: the time limit is checked. */
  | { readonly kind: 'tick'; readonly at: number; readonly detail: string }
  /** The daemon exited on its own (not because the launcher is stopping). */
  | { readonly kind: 'exited'; readonly at: number; readonly how: string }
  /** The slot cannot be started at all (its configuration cannot be prepared): no attempt can succeed. */
  | { readonly kind: 'unbootable'; readonly at: number; readonly reason: string };

export function stepBoot(record: BootRecord, input: BootInput, limits: BootLimits): Decision {
  const trial = record.trial;
  if (trial === null) {
    if (input.kind === 'unbootable') return { record, action: { kind: 'exit' }, log: [{ level: 'error', message: `firmware ${describeSlot(record.current)} cannot start: ${input.reason}` }] };
    if (input.kind !== 'exited') return { record, action: { kind: 'none' }, log: [] };
    return { record, action: { kind: 'exit' }, log: [{ level: 'error', message: `firmware ${describeSlot(record.current)} daemon ${input.how}` }] };
  }
  switch (input.kind) {
    case 'health': {
      if (input.healthy && input.upMs >= limits.minUpMs) return commit(record, trial, input.at);
      return overdue(record, trial, input.at, limits, input.detail) ?? { record, action: { kind: 'none' }, log: [] };
    }
    case 'tick':
      return overdue(record, trial, input.at, limits, input.detail) ?? { record, action: { kind: 'none' }, log: [] };
    case 'unbootable':
      return fallBack(record, input.at, input.reason, []);
    case 'exited': {
      const log: Decision['log'][number][] = [{ level: 'error', message: `trial of ${describeSlot(trial.target)}: the daemon ${input.how} (start ${trial.attempts} of ${limits.maxAttempts})` }];
      return startTrial(record, input.at, limits, log, false, `its daemon ${input.how}`);
    }
  }
}

/** Starts the trial slot once more, unless its attempts or its time are used up. */
function startTrial(
  record: BootRecord, now: number, limits: BootLimits, log: Decision['log'][number][], newTrial: boolean, lastFailure?: string,
): Decision {
  const trial = record.trial;
  if (trial === null) throw new Error('startTrial without a trial');
  if (trial.attempts >= limits.maxAttempts) {
    return fallBack(record, now, `not healthy after ${trial.attempts} start(s)${lastFailure === undefined ? '' : ` (last: ${lastFailure})`}`, log);
  }
  if (now - trial.since > limits.trialMs) {
    return fallBack(record, now, `not healthy within ${Math.round(limits.trialMs / 1000)} s${lastFailure === undefined ? '' : ` (last: ${lastFailure})`}`, log);
  }
  const next: Trial = { ...trial, attempts: trial.attempts + 1 };
  const message = `starting ${describeSlot(trial.target)} on trial (start ${next.attempts} of ${limits.maxAttempts})`;
  return {
    record: withEvent({ ...record, trial: next, current: trial.target }, { at: now, kind: 'attempt', ...trial.target, message }),
    action: { kind: 'start', slot: trial.target, trial: true, newTrial },
    log: [...log, { level: 'info', message }],
  };
}

function overdue(record: BootRecord, trial: Trial, now: number, limits: BootLimits, detail: string): Decision | null {
  if (now - trial.since <= limits.trialMs) return null;
  return fallBack(record, now, `not healthy within ${Math.round(limits.trialMs / 1000)} s (${detail})`, []);
}

function fallBack(record: BootRecord, now: number, reason: string, log: Decision['log'][number][]): Decision {
  const trial = record.trial;
  if (trial === null) throw new Error('fallBack without a trial');
  const message = `firmware ${describeSlot(trial.target)} failed its trial: ${reason}; falling back to ${describeSlot(trial.from)} and its configuration`;
  const failed: SlotOutcome = { state: 'failed', at: now, reason };
  return {
    record: withEvent(
      { ...record, good: trial.from, current: trial.from, trial: null, outcomes: { ...record.outcomes, [trial.target.install]: failed } },
      { at: now, kind: 'fell-back', ...trial.target, message },
    ),
    action: { kind: 'fall-back', from: trial.from, failed: trial.target, reason },
    log: [...log, { level: 'error', message }],
  };
}

function commit(record: BootRecord, trial: Trial, now: number): Decision {
  const message = `firmware ${describeSlot(trial.target)} is healthy: committed (the fallback is now this slot; ${describeSlot(trial.from)} is the previous one)`;
  return {
    record: withEvent(
      { ...record, good: trial.target, previous: trial.from, current: trial.target, trial: null, outcomes: { ...record.outcomes, [trial.target.install]: { state: 'committed', at: now } } },
      { at: now, kind: 'committed', ...trial.target, message },
    ),
    action: { kind: 'committed', slot: trial.target },
    log: [{ level: 'info', message }],
  };
}

function withEvent(record: BootRecord, event: BootEvent): BootRecord {
  return { ...record, events: [...record.events, event].slice(-MAX_EVENTS) };
}

/** The part of `tandem status --json` the health gate reads (stable across firmware versions). */
export interface HealthView {
  readonly cluster?: { readonly status?: string };
  readonly other_node?: { readonly reachable?: boolean } | null;
  readonly sync?: { readonly state?: string };
}

/**
 * Healthy: the daemon answers its control socket (it loaded and validated its configuration
 * to get there) and, when the node is in a cluster, the peer has rejoined (cluster status `HA`)
 * and this node's data are `UpToDate`. A standalone node is healthy once it answers.
 */
export function healthOf(status: HealthView | null): { readonly healthy: boolean; readonly detail: string } {
  if (status === null) return { healthy: false, detail: 'the daemon does not answer its control socket' };
  const cluster = status.cluster?.status;
  if (cluster === 'Standalone') return { healthy: true, detail: 'standalone, answering' };
  if (cluster !== 'HA') return { healthy: false, detail: `cluster ${cluster ?? 'unknown'}: the peer has not rejoined` };
  if (status.other_node?.reachable !== true) return { healthy: false, detail: 'the peer is not reachable' };
  const sync = status.sync?.state;
  if (sync !== 'UpToDate') return { healthy: false, detail: `data ${sync ?? 'unknown'}, not UpToDate` };
  return { healthy: true, detail: 'peer rejoined, data UpToDate' };
}

/** What the launcher does with the configuration file before it starts a slot. */
export type ConfigStep =
  | { readonly kind: 'as-is' }
  /** The slot's own code migrates the file forward (its migrations, its validation). */
  | { readonly kind: 'migrate'; readonly from: number; readonly to: number }
  /** The file is newer than the slot reads: put back the configuration this slot last ran with. */
  | { readonly kind: 'restore-snapshot'; readonly then: 'as-is' | 'migrate' }
  | { readonly kind: 'refuse'; readonly reason: string };

/**
 * `fileSchema`: the configuration file's schema now; `slotSchema`: the schema the slot's firmware
 * reads; `snapshotSchema`: the schema of the snapshot kept from when the node last left this
 * slot, or null without one.
 */
export function configStepFor(fileSchema: number, slotSchema: number, snapshotSchema: number | null): ConfigStep {
  if (fileSchema === slotSchema) return { kind: 'as-is' };
  if (fileSchema < slotSchema) return { kind: 'migrate', from: fileSchema, to: slotSchema };
  if (snapshotSchema !== null && snapshotSchema <= slotSchema) {
    return { kind: 'restore-snapshot', then: snapshotSchema === slotSchema ? 'as-is' : 'migrate' };
  }
  return {
    kind: 'refuse',
    reason: `the configuration is at schema ${fileSchema}, newer than the schema ${slotSchema} this firmware reads, and no configuration snapshot of this firmware is kept`,
  };
}
