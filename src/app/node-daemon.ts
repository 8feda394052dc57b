/**
 * `tandem node --config FILE --node NAME`: the composition root of the node daemon. It wires the
 * pure HA core to the adapters — UDP heartbeats, in-process ICMP probes, VIPs on a lease, hooks,
 * the state directory, the control socket — and carries out the core's effects in order.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { hmacSha256, randomBootId } from '../adapters/crypto/hmac.js';
import { CONTROL_SOCKET, type ActionReply, type ControlAction } from '../adapters/control/protocol.js';
import { runHook } from '../adapters/hooks/run-hook.js';
import { openIcmpProber, type IcmpProber } from '../adapters/icmp/prober.js';
import { fileLog } from '../adapters/log/file-log.js';
import { jsonLogger, type Logger } from '../adapters/log/logger.js';
import { openVipManager, type VipManager } from '../adapters/net/vips.js';
import { ensureDir, readJson, writeJsonAtomic } from '../adapters/state/store.js';
import { openHeartbeatTransport, type HeartbeatTransport } from '../adapters/udp/heartbeats.js';
import { SyncService } from './sync/service.js';
import { SupportService } from './support/service.js';
import { FirmwareDir } from '../adapters/firmware/slots.js';
import { startControlSocket } from './api/control-socket.js';
import { OPERATIONS } from './api/operations.js';
import type { NodeApp } from './node-app.js';
import { AuditLog } from './api/audit.js';
import { Auth } from './api/auth.js';
import { EventHub } from './api/events.js';
import { startHttpsApi } from './api/https.js';
import { UserStore } from './api/users.js';
import { loadOrCreateCertificate } from '../adapters/tls/certificate.js';
import { INSTALL_ROOT, installedVersion } from './firmware/installation.js';
import type { FastifyInstance } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import { peerCall, peerCallServer, type PeerLink } from './peer/calls.js';
import { viewOf, writeChange } from './config-edit.js';
import { OpError, refuse } from './api/operation.js';
import { announceFallback, bootView, identityOf, runningFirmware } from './firmware/identity.js';
import { FirmwareService } from './firmware/service.js';
import { ConfigBackupService } from './backup/service.js';
import { LicenseService } from './license/service.js';
import { ClusterUpgrade } from './firmware/cluster-upgrade.js';
import { AlertService, type AlertLevel } from './monitor/alerts.js';
import { NodeMetrics } from './monitor/metrics.js';
import { SystemMonitor, type HookName } from './monitor/monitor.js';
import { availableParallelism } from 'node:os';
import { installReplicatedConfig, publishConfig, REPLICATED_CONFIG } from './sync/config-follow.js';
import { syncRoots } from './sync/roots.js';
import { coreDirOf } from '../config/core.js';
import { formatConfigError, loadConfig, readClusterKey, toCoreConfig, type TandemConfig } from '../config/load.js';
import { initNode, step, type Capabilities } from '../core/ha/node.js';
import { describeNode } from '../core/ha/status.js';
import type { Effect, Input, NodeState, OperatorAction, Persisted } from '../core/ha/types.js';
import type { Instant } from '../core/time.js';
import type { LogLevel } from '../core/ha/types.js';
import type { SyncState } from '../core/sync/state.js';

const SYNC_ALERT_LEVEL: Readonly<Record<SyncState, AlertLevel>> = { UpToDate: 'info', Syncing: 'info', Outdated: 'warn', Diverged: 'error' };
/** The core logs at debug too; an alert is at least info. */
const alertLevel = (l: LogLevel): AlertLevel => (l === 'debug' ? 'info' : l);

const HA_STATE_FILE = 'ha-state.json';
/** After SIGTERM, the handover gets this long before the process exits anyway. */
const STOP_DEADLINE_MS = 5000;

export interface DaemonOptions {
  readonly configFile: string;
  readonly nodeName: string;
}

/** Reads both clocks at once: monotonic for timers, wall for the heartbeat replay window. */
function instant(): Instant {
  return { now: performance.now(), wall: Date.now() };
}

export class ConfigRefused extends Error {}

function loadOrThrow(file: string, node: string): TandemConfig {
  const loaded = loadConfig(file);
  if (!loaded.ok) throw new ConfigRefused(loaded.errors.map(formatConfigError).join('\n'));
  if (!(node in loaded.config.nodes)) {
    throw new ConfigRefused(`${file}: nodes: node ${node} is not in the configuration (known: ${Object.keys(loaded.config.nodes).join(', ')})`);
  }
  return loaded.config;
}

export async function runNodeDaemon(opts: DaemonOptions): Promise<void> {
  let config = loadOrThrow(opts.configFile, opts.nodeName);
  // The HTTPS API (started once the application layer is wired, below) and its restarts in order.
  let api: FastifyInstance | null = null;
  let apiRestart: Promise<void> = Promise.resolve();
  /** The text `config` was loaded from. */
  let loadedText = readFileSync(opts.configFile, 'utf8');
  const key = readClusterKey(config);
  if (!key.ok) throw new ConfigRefused(formatConfigError(key.error));
  const caps: Capabilities = { mac: hmacSha256(key.key) };
  const self = config.nodes[opts.nodeName];
  if (self === undefined) throw new ConfigRefused(`node ${opts.nodeName} is not in the configuration`);
  // Live events for the web console: the status when it changes, and every log line.
  const events = new EventHub();
  ensureDir(self.stateDir);
  // Every line to stdout (journald) and to <state_dir>/logs/tandem.log (the support bundle reads it).
  const logFile = fileLog(self.stateDir);
  const log: Logger = jsonLogger(opts.nodeName, {
    write: (line) => { process.stdout.write(line); logFile(line); },
    tee: (e) => { if (events.subscribers > 0) events.publish({ type: 'log', data: e }); },
  });
  const stateFile = join(self.stateDir, HA_STATE_FILE);
  const firmwareDir = new FirmwareDir(self.stateDir);
  const firmware = runningFirmware(firmwareDir);
  // Every HA, sync, firmware, upgrade and license event an operator must know of: log, recent list, webhooks, console.
  const alerts = new AlertService({
    stateDir: self.stateDir, cluster: config.cluster.name, node: opts.nodeName, config: () => config.alerts,
    log: (level, message) => { log.log(level, 'alert', message); },
    onAlert: (a) => {
      metrics.alertRaised(a.source, a.level);
      if (events.subscribers > 0) events.publish({ type: 'alert', data: a });
    },
  });
  const metrics = new NodeMetrics(() => app.status(), () => performance.now());
  const monitor = new SystemMonitor({ status: () => app.status(), alerts, cores: availableParallelism(), warnings: () => license.licenseWarnings(Date.now()) });

  const core = toCoreConfig(config, opts.nodeName);
  // Twice the dead interval, in whole seconds (the kernel's unit): long enough that a busy moment never
  // lets the address lapse, short enough that a killed daemon's node stops answering soon after
  // the peer has taken over.
  const vipLeaseSeconds = Math.max(1, Math.ceil((2 * core.timing.peerDeadAfterMs) / 1000));
  const vips: VipManager = openVipManager({
    vips: config.service.vips,
    leaseSeconds: vipLeaseSeconds,
    onError: (m) => { log.log('warn', 'vip', m); },
  });
  // A daemon that crashed may have left its VIPs behind: never answer for the service address
  // before the core has decided this node is the primary.
  vips.release();

  let state: NodeState | null = null;
  let stopping = false;
  /** Steps the core with one input and carries out its effects; returns them (for the operator). */
  const feed = (input: Input): readonly Effect[] => {
    if (state === null) return [];
    const before = state;
    const r = step(state, input, caps);
    state = r.state;
    execute(r.effects);
    sync.observe(r.state);
    // A role change reaches the console at once, not at the next status poll.
    if (before.role !== r.state.role) metrics.roleChanged(r.state.role);
    if (before.role !== r.state.role || before.serving !== r.state.serving) queueMicrotask(pushStatus);
    return r.effects;
  };
  let pushStatus = (): void => { /* set once the application layer exists */ };

  const peerName = Object.keys(config.nodes).find((n) => n !== opts.nodeName);
  const peer = peerName === undefined ? undefined : config.nodes[peerName];
  const haLink = config.cluster.haLink;
  const roots = syncRoots(self);
  const configRoot = roots.get('config') ?? join(self.stateDir, 'store', 'config');
  // Data replication on the HA link (SPEC §3): its engine's state is the HA core's veto.
  let lastSyncState: SyncState | null = null;
  const sync = await SyncService.start({
    cluster: config.cluster.name, node: opts.nodeName, peer: peerName ?? null,
    stateDir: self.stateDir, roots, key: key.key,
    selfAddress: self.interfaces[haLink]?.address ?? '0.0.0.0',
    peerAddress: peer?.interfaces[haLink]?.address ?? null,
    port: config.sync.port, rateBytesPerSec: config.sync.resyncRateBytesPerSec,
    keepaliveMs: core.timing.heartbeatIntervalMs, deadAfterMs: core.timing.peerDeadAfterMs,
    // The session goes silent when the peer does: its death is declared within the dead interval
    // of the drop, plus a few heartbeats of slack for a loaded machine.
    graceMs: core.timing.peerDeadAfterMs + 4 * core.timing.heartbeatIntervalMs,
    now: () => performance.now(),
    log: (level, event, message) => { log.log(level, event, message); },
    // Reported after the HA step that caused it has finished (never re-entering the core).
    peerCalls: peerCallServer<NodeApp>({
      cluster: config.cluster.name, peer: peerName ?? null, peerAddress: peer?.interfaces[haLink]?.address ?? null,
      app: () => app, operations: OPERATIONS, log: (m) => { log.log('warn', 'peer', m); },
    }),
    report: (syncState, ifPeerLost, adopt) => {
      // A change of the data's state is an alert; the state it started in is not.
      if (lastSyncState !== null && syncState !== lastSyncState) {
        const message = `data ${lastSyncState} → ${syncState}`;
        setImmediate(() => { alerts.raise('sync', 'sync-state', SYNC_ALERT_LEVEL[syncState], message); });
      }
      lastSyncState = syncState;
      queueMicrotask(() => { feed({ kind: 'sync', at: instant(), state: syncState, ifPeerLost, adopt }); });
    },
    // Stepped at once, inside the poll phase that read the write's event: ticks and heartbeats
    // of this turn wait for the check phase (below), so none is decided before the write.
    unreplicatedWrite: () => { feed({ kind: 'unreplicated-write', at: instant() }); },
    replicationConfirmed: (lagMs) => { metrics.replicationConfirmed(lagMs); },
    onReplicated: (root, path) => {
      if (root === 'config' && path === REPLICATED_CONFIG) followConfig();
      // A bundle uploaded on the primary: this node installs it into a slot of its own.
      if (root === 'firmware' && path.endsWith('.tfw')) void firmwareService.installFromStore();
    },
  });

  /** On the primary: the running configuration goes into the replicated `config` root. */
  function publish(): void {
    try {
      if (publishConfig(opts.configFile, configRoot)) log.log('info', 'config', 'configuration published for the secondary');
    } catch (err) {
      log.log('error', 'config', `cannot publish the configuration: ${(err as Error).message}`);
    }
  }
  /** On the secondary: a configuration replicated from the primary is checked, installed and applied. */
  function followConfig(): void {
    try {
      const r = installReplicatedConfig(opts.configFile, configRoot, opts.nodeName);
      if (r.kind === 'refused') log.log('error', 'config', `configuration from the primary refused, the running one stays: ${r.errors}`);
      // Unchanged on disk but not what runs: the file was shared with the primary (a lab) or edited meanwhile.
      if (r.kind === 'unchanged' && readFileSync(opts.configFile, 'utf8') !== loadedText) { reload(); return; }
      if (r.kind !== 'installed') return;
      log.log('warn', 'config', `configuration from the primary installed in ${opts.configFile}; applying it`);
      reload();
    } catch (err) {
      log.log('error', 'config', `cannot install the configuration from the primary: ${(err as Error).message}`);
    }
  }
  const license = new LicenseService({
    store: roots.get('license') ?? join(self.stateDir, 'store', 'license'), config: () => config,
    role: () => state?.role ?? null,
    log: (level, message) => { log.log(level, 'license', message); },
  });
  // The license's warnings (expiry ahead, expired, no longer valid) are alerts, each once per daemon run.
  const licenseWarned = new Set<string>();
  const checkLicense = (): void => {
    for (const w of license.licenseWarnings(Date.now())) {
      if (!licenseWarned.has(w)) { licenseWarned.add(w); alerts.raise('license', 'license-warning', 'warn', w); }
    }
  };
  checkLicense();
  const licenseTimer = setInterval(checkLicense, LICENSE_CHECK_MS);
  licenseTimer.unref();
  const firmwareService = new FirmwareService({
    license: (target) => license.checkFor(target),
    nodeName: opts.nodeName, stateDir: self.stateDir, configFile: opts.configFile, config: () => config,
    dir: firmwareDir, store: roots.get('firmware') ?? join(self.stateDir, 'store', 'firmware'), running: firmware,
    status: () => app.status(),
    issues: () => monitor.issues(),
    coreFiles: (): number | null => support.cores.count(),
    log: (level, message) => { log.log(level, 'firmware', message); },
  });
  // Bundles the primary replicated while this node was down, or an upload a power cut interrupted.
  void firmwareService.installFromStore();
  announceFallback(firmwareDir, (m) => { alerts.raise('firmware', 'firmware-fallback', 'error', m); });
  const paths = core.heartbeatPaths.map((name) => ({
    name,
    localAddress: self.interfaces[name]?.address ?? '',
    peerAddress: peer?.interfaces[name]?.address ?? '',
  })).filter((p) => p.peerAddress !== '');
  const transport: HeartbeatTransport = await openHeartbeatTransport(
    paths, config.cluster.port,
    // Deferred to the check phase: a write of the service read in the same poll (its inotify
    // event) is stepped first, so a heartbeat that makes this primary yield cannot come before
    // the write that must start a new generation (DRBD's rule, SyncService.guardWrites).
    (path, bytes) => { setImmediate(() => { feed({ kind: 'datagram', at: instant(), path, bytes }); }); },
    (path, err) => { log.log('warn', 'heartbeat', `heartbeat socket on ${path}: ${err.message}`); },
  );
  const prober: IcmpProber = openIcmpProber({
    onReply: (reply) => {
      metrics.probeReplied(reply.interface, reply.address, reply.seq);
      feed({ kind: 'probe-reply', at: instant(), ...reply });
    },
    onError: (err) => { log.log('debug', 'probe', err.message); },
  });

  const hook = (script: string | null, name: HookName, role: string): void => {
    if (script === null) return;
    monitor.hookStarted(name, script);
    runHook(script, [role, opts.nodeName], config.service.hookTimeoutMs, (level, msg) => { log.log(level, 'hook', msg); },
      (ok, detail) => { monitor.hookFinished(name, script, ok, detail); });
  };
  const command = (argv: readonly string[], what: string): void => {
    const [cmd, ...args] = argv;
    if (cmd === undefined) return;
    log.log('warn', what, `running: ${argv.join(' ')}`);
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', (err) => { log.log('error', what, `${argv.join(' ')}: ${err.message}`); });
    child.unref();
  };

  function execute(effects: readonly Effect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'send': transport.send(e.path, e.bytes); break;
        case 'probe':
          prober.send(e.interface, e.address, e.seq);
          metrics.probeSent(e.interface, e.address, e.seq);
          break;
        case 'acquire-service':
          vips.acquire();
          hook(config.service.onPrimary, 'on_primary', 'primary');
          publish();
          break;
        case 'release-service':
          vips.release();
          hook(config.service.onSecondary, 'on_secondary', 'secondary');
          break;
        case 'announce': vips.announce(); break;
        case 'persist': writeJsonAtomic(stateFile, e.persisted); break;
        case 'log': log.log(e.level, e.event, e.message); break;
        // The core has logged it already (its own log effect): the alert goes to the list and the
        // webhooks once this step is done — its files are written with fsync, never inside the HA step.
        case 'alert': setImmediate(() => { alerts.raise('ha', e.event, alertLevel(e.level), e.message, { logged: true }); }); break;
        case 'reboot-node': command(config.commands.reboot, 'reboot'); break;
        case 'shutdown-node': command(config.commands.shutdown, 'shutdown'); break;
        case 'stop-process': shutdown(0); break;
        case 'preserve-diverged-data': sync.preserveDiverged(e.generation); break;
        case 'full-resync': sync.fullResync(); break;
      }
    }
  }

  const started = initNode(core, {
    at: instant(),
    bootId: randomBootId(),
    freshUuid: randomUUID(),
    persisted: (readJson(stateFile) as Persisted | undefined) ?? null,
    sync: sync.state,
    firmware: identityOf(firmware),
  });
  state = started.state;
  execute(started.effects);
  sync.observe(started.state);
  // Deferred like the heartbeats: after a freeze the overdue timer runs before the poll that reads
  // the writes made meanwhile; the tick (its heartbeat) must not be decided before them.
  const ticker = setInterval(() => { setImmediate(() => { feed({ kind: 'tick', at: instant() }); }); }, core.timing.tickMs);

  const peerLink: PeerLink | null = peer === undefined || peerName === undefined ? null : {
    host: peer.interfaces[haLink]?.address ?? '', port: config.sync.port, localAddress: self.interfaces[haLink]?.address ?? '0.0.0.0',
    key: key.key, cluster: config.cluster.name, node: opts.nodeName,
  };
  const upgrade = new ClusterUpgrade({
    node: opts.nodeName, peerName: peerName ?? null, dir: firmwareDir, firmware: firmwareService, running: firmware,
    config: () => config, status: () => app.status(), peer: peerLink,
    operate: (a) => app.act(a),
    log: (level, message) => { log.log(level, 'upgrade', message); },
    alert: (level, event, message) => { alerts.raise('upgrade', event, level, message); },
  });
  const users = new UserStore(configRoot);
  const backup = new ConfigBackupService({
    nodeName: opts.nodeName, stateDir: self.stateDir, configFile: opts.configFile, config: () => config,
    configRoot, licenseRoot: roots.get('license') ?? join(self.stateDir, 'store', 'license'),
    firmwareVersion: firmware.version, role: () => state?.role ?? null, frozen: () => upgrade.frozen(),
    // Applied like any configuration change (reload, published for the secondary).
    apply: () => Promise.resolve(reload()),
    log: (level, message) => { log.log(level, 'config', message); },
  });
  const audit = new AuditLog(self.stateDir);
  const support: SupportService = new SupportService({
    nodeName: opts.nodeName, stateDir: self.stateDir, configFile: opts.configFile, config: () => config,
    coreDir: () => coreDirOf(config, opts.nodeName), status: () => app.status(), firmware: firmwareService, users, audit,
    recentAlerts: () => alerts.recent(200),
    licenseRoot: roots.get('license') ?? null,
  });
  const recordAudit = (e: Parameters<AuditLog['record']>[0]): void => {
    const entry = audit.record(e);
    log.log(entry.ok ? 'info' : 'warn', 'audit', `${entry.user} from ${entry.from}: ${entry.op} ${entry.ok ? 'done' : `refused: ${entry.detail}`}`);
  };
  const app: NodeApp = {
    settings: {
      view: () => viewOf(config, opts.nodeName),
      change: (change) => {
        const frozen = upgrade.frozen();
        if (frozen !== null && !change.dry_run) return Promise.resolve({ ok: false, errors: [], messages: [frozen] });
        if (state?.role === 'secondary' && !change.dry_run) {
          return Promise.resolve({ ok: false, errors: [], messages: ['this node is the secondary: change the configuration on the primary (it follows the primary)'] });
        }
        const r = writeChange(opts.configFile, opts.nodeName, change);
        if (!r.changed) return Promise.resolve({ ok: r.ok, errors: r.errors, messages: r.messages });
        const applied = reload();
        return Promise.resolve({
          ok: applied.ok, errors: [],
          messages: [...r.messages, ...applied.messages,
            ...(change.next_hops === undefined && change.heartbeat === undefined && change.resync_rate_mbit === undefined ? []
              : ['applied live: the next hops are monitored as changed now, and the other node follows through data sync (the appliance needs Reboot Cluster here, Tandem does not)']),
            // The heartbeat sockets and the replication channel are bound once, at the daemon's start.
            ...(change.addresses ?? []).map((a) => `info: this node's address on ${a.interface} is now ${a.address} in the configuration: it takes effect when the nodes restart (tandem cluster reboot); the interface itself must carry it`)],
        });
      },
    },
    peer: peerLink === null ? null : async (method, path) => {
      const r = await peerCall(peerLink, method, path, { timeoutMs: 5000 });
      if (r.status >= 400) throw new OpError(r.status, (r.body as { messages?: string[] }).messages ?? [`the other node answered ${String(r.status)}`]);
      return r.body;
    },
    takeoverOther: async (force) => {
      if (peerLink === null || peerName === undefined) return refuse(404, 'no other node is configured');
      const r = await peerCall(peerLink, 'POST', '/action', { body: { type: 'takeover', force }, timeoutMs: 5000 })
        .catch((err: unknown) => refuse(502, `${peerName}: not reachable over the HA link (${(err as Error).message})`));
      if (r.status >= 400) throw new OpError(r.status, (r.body as { messages?: string[] }).messages ?? [`${peerName} answered ${String(r.status)}`]);
      const reply = r.body as ActionReply;
      return { ok: reply.ok, messages: reply.messages.map((m) => `${peerName}: ${m}`) };
    },
    firmware: firmwareService,
    upgrade,
    users,
    audit,
    alerts,
    monitor: () => { const s = app.status(); return s === null ? null : monitor.view(s); },
    metrics: () => metrics.text(),
    backup,
    license,
    support,
    status: () => {
      if (state === null) return null;
      const s = describeNode(state, performance.now());
      return { ...s, sync: { ...s.sync, ...sync.status() }, firmware: bootView(firmwareDir, firmware) };
    },
    act: async (a) => {
      if (a.type === 'reload') {
        const frozen = upgrade.frozen();
        return frozen === null ? reload() : { ok: false, messages: [`error: ${frozen}; the running configuration stays`] };
      }
      if (a.type === 'barrier') {
        const began = performance.now();
        const r = await sync.barrier(a.timeout_ms);
        metrics.barrierDone(r.ok, performance.now() - began);
        return { ok: r.ok, messages: [r.ok ? `info: ${r.message}` : `error: ${r.message}`] };
      }
      return operate(a);
    },
  };
  const control = await startControlSocket(join(self.stateDir, CONTROL_SOCKET), app, OPERATIONS, recordAudit);
  api = await startApi(config, self, app, events, recordAudit, log);
  /**
   * Moves the HTTPS API to the configuration's address. Not awaited by the request that changed
   * it: closing waits for the requests in flight — that one among them — so its reply is sent
   * on the old address first (open event streams are ended, see https.ts).
   */
  function restartApi(): void {
    const node = config.nodes[opts.nodeName];
    if (node === undefined) return; // a configuration without this node is refused before this
    apiRestart = apiRestart.then(async () => {
      await api?.close();
      api = await startApi(config, node, app, events, recordAudit, log);
    });
  }
  // An import left unconfirmed before a restart rolls back when its time is up.
  backup.resume();
  pushStatus = () => { if (events.subscribers > 0) events.statusNow(app.status()); };
  const statusEvents = setInterval(pushStatus, STATUS_EVENT_MS);
  // A cluster upgrade this node was running before it rebooted (into the new firmware) goes on.
  upgrade.resume();

  /** What the node said while carrying out an operator's request: its log lines. */
  const said = (effects: readonly Effect[]): string[] =>
    effects.flatMap((e) => (e.kind === 'log' ? [`${e.level}: ${e.message}`] : []));

  function operate(a: Exclude<ControlAction, { type: 'reload' | 'barrier' }>): ActionReply {
    try {
      const action: OperatorAction = a.type === 'convert-to-cluster' ? { type: a.type, config: reloadConfig() } : a;
      return { ok: true, messages: said(feed({ kind: 'operator', at: instant(), action })) };
    } catch (err) {
      return { ok: false, messages: [`error: ${(err as Error).message}`] };
    }
  }
  function reloadConfig(): ReturnType<typeof toCoreConfig> {
    const text = readFileSync(opts.configFile, 'utf8');
    const next = loadOrThrow(opts.configFile, opts.nodeName);
    loadedText = text;
    const core = toCoreConfig(next, opts.nodeName);
    config = next;
    return core;
  }
  /** Re-reads the configuration and applies it live; a refused file leaves the running one. */
  function reload(): ActionReply {
    try {
      const apiBefore = JSON.stringify(config.api);
      const next = reloadConfig();
      const messages = [...said(feed({ kind: 'config', at: instant(), config: next })), 'info: configuration reloaded'];
      sync.setResyncRate(config.sync.resyncRateBytesPerSec);
      if (JSON.stringify(config.api) !== apiBefore) {
        restartApi();
        const listen = config.api.listen;
        messages.push(`info: the HTTPS API restarts on ${listen === null ? 'nothing (api.listen: off)' : `${listen.host}:${String(listen.port)}`} once this reply is sent`);
      }
      if (state?.role === 'primary') publish();
      return { ok: true, messages };
    } catch (err) {
      log.log('error', 'config', `reload refused: ${(err as Error).message}`);
      return { ok: false, messages: [`error: configuration refused, the running one stays: ${(err as Error).message}`] };
    }
  }

  function shutdown(code: number): void {
    clearInterval(ticker);
    vips.release();
    vips.close();
    transport.close();
    prober.close();
    void control.close();
    void api?.close();
    backup.close();
    clearInterval(statusEvents);
    void sync.close();
    alerts.close();
    clearInterval(licenseTimer);
    state = null;
    log.log('info', 'exit', 'stopped');
    // Let the `ip` batch flush its last command.
    setTimeout(() => { process.exit(code); }, 50);
  }

  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.log('info', 'signal', `${signal}: handing over if primary, then stopping`);
    feed({ kind: 'operator', at: instant(), action: { type: 'stop' } });
    setTimeout(() => { shutdown(0); }, STOP_DEADLINE_MS).unref();
  };
  process.on('SIGTERM', () => { stop('SIGTERM'); });
  process.on('SIGINT', () => { stop('SIGINT'); });
  process.on('SIGHUP', () => { reload(); });
  watchLauncher(() => {
    log.log('error', 'exit', 'the launcher is gone: stopping at once');
    shutdown(1);
  });
  log.log('info', 'ready', `node ${opts.nodeName} running firmware ${firmware.version} (${firmware.type}, slot ${String(firmware.ref.slot)}; timing ${core.timing.name}, VIP lease ${String(vipLeaseSeconds)} s)`);
}

/** How often the license's warnings are looked at (they move by days). */
const LICENSE_CHECK_MS = 3600_000;

/** How often the status is compared for the console's live updates (a takeover shows within this). */
const STATUS_EVENT_MS = 100;

/** The HTTPS API and web console, unless `api.listen: off`; a failure to start it is logged, the node runs on. */
async function startApi(
  config: TandemConfig, self: TandemConfig['nodes'][string], app: NodeApp, events: EventHub,
  audit: (e: Parameters<AuditLog['record']>[0]) => void, log: Logger,
): Promise<FastifyInstance | null> {
  const listen = config.api.listen;
  if (listen === null) return null;
  try {
    const certificate = loadOrCreateCertificate({
      stateDir: self.stateDir, node: self.name, addresses: Object.values(self.interfaces).map((i) => i.address),
      certFile: config.api.certFile, keyFile: config.api.keyFile,
    });
    const webRoot = join(INSTALL_ROOT, 'web', 'dist');
    const server = await startHttpsApi({
      app, operations: OPERATIONS, auth: new Auth(app.users), events, certificate, host: listen.host, port: listen.port,
      webRoot: existsSync(join(webRoot, 'index.html')) ? webRoot : null, version: installedVersion(), audit,
      status: () => app.status(), metrics: () => app.metrics(),
    });
    log.log('info', 'api', `HTTPS API and web console on https://${listen.host}:${String(listen.port)}/ (certificate ${certificate.selfSigned ? 'self-signed' : 'configured'}, SHA-256 ${certificate.fingerprint})`);
    if (app.users.count() === 0) log.log('warn', 'api', 'no user can sign in yet: tandem user add NAME --role admin');
    return server;
  } catch (err) {
    log.log('error', 'api', `the HTTPS API could not start: ${(err as Error).message}`);
    return null;
  }
}

/** How often a daemon started by the launcher checks that its launcher still lives. */
const LAUNCHER_CHECK_MS = 250;

/**
 * A backstop for the launcher's PR_SET_PDEATHSIG: a daemon whose launcher died (re-parented)
 * stops, so a node never runs a daemon that nothing supervises.
 */
function watchLauncher(onGone: () => void): void {
  const pid = Number(process.env.TANDEM_LAUNCHER_PID);
  if (!Number.isInteger(pid) || pid <= 0) return;
  setInterval(() => { if (process.ppid !== pid) onGone(); }, LAUNCHER_CHECK_MS).unref();
}
