import type { TimingProfileName } from '../core/timing.js';

/**
 * The loaded configuration: validated, defaults applied, every path absolute (relative paths in
 * the file are resolved against the directory of the configuration file).
 */
export interface TandemConfig {
  /** Absolute path of the configuration file. */
  readonly file: string;
  readonly cluster: ClusterConfig;
  readonly service: ServiceConfig;
  readonly sync: SyncConfig;
  readonly commands: CommandsConfig;
  readonly firmware: FirmwareConfig;
  readonly api: ApiConfig;
  readonly alerts: AlertsConfig;
  readonly license: LicenseConfig;
  readonly support: SupportConfig;
  /** By node name, in the order of the file. One entry (standalone) or two (a cluster). */
  readonly nodes: Readonly<Record<string, NodeConfig>>;
}

export interface ClusterConfig {
  readonly name: string;
  /** Absolute path of the shared heartbeat key; read it with `readClusterKey`. */
  readonly keyFile: string;
  /** Interface name of the HA link (heartbeats and data sync). */
  readonly haLink: string;
  /** Redundant heartbeat interfaces (heartbeats only), without the HA link. */
  readonly heartbeat: readonly string[];
  readonly timing: TimingProfileName;
  /** UDP port of the heartbeats, on every path. */
  readonly port: number;
}

/** Data replication between the nodes (SPEC §3), over the HA link. */
export interface SyncConfig {
  /** TCP port on the HA link address of each node. */
  readonly port: number;
  /** Full (re)synchronization rate limit, bytes per second; 0 = unlimited. */
  readonly resyncRateBytesPerSec: number;
}

export interface VipConfig {
  readonly interface: string;
  /** Dotted IPv4 address, without the prefix length. */
  readonly address: string;
  readonly prefix: number;
}

export interface ServiceConfig {
  readonly vips: readonly VipConfig[];
  /** Absolute path of the hook run on becoming primary, or null. Not checked for existence. */
  readonly onPrimary: string | null;
  /** Absolute path of the hook run on yielding, or null. Not checked for existence. */
  readonly onSecondary: string | null;
  readonly hookTimeoutMs: number;
}

export interface CommandsConfig {
  /** argv (no shell). A program given with a `/` but not absolute is resolved like the other paths. */
  readonly reboot: readonly string[];
  readonly shutdown: readonly string[];
}

/** Alert webhooks (SPEC §5): each POSTed every alert, signed with its secret. */
export interface AlertsConfig {
  readonly webhooks: readonly { readonly url: string; readonly secretFile: string }[];
}

/** Support (SPEC §5): core files and the support bundle. */
export interface SupportConfig {
  /** Absolute path of the directory core files are collected in; null: `<state_dir>/cores` of each node (coreDirOf). */
  readonly coreDir: string | null;
}

/** The HTTPS API and web console of each node (SPEC §6). */
export interface ApiConfig {
  /** Null: the API is off ("off" in the file). */
  readonly listen: { readonly host: string; readonly port: number } | null;
  /** Absolute paths of the operator's certificate and key, or null for a self-signed pair. */
  readonly certFile: string | null;
  readonly keyFile: string | null;
}

/** Firmware (SPEC §4): whose bundles are trusted, and the trial boot's limits. */
export interface FirmwareConfig {
  /** Each an inline PEM public key or the absolute path of a PEM file; read with `readTrustedKeys`. */
  readonly trustedKeys: readonly string[];
  readonly trialTimeoutS: number;
  readonly trialAttempts: number;
}

/** Licenses (SPEC §5): whose signature a license must carry, and when its end is warned about. */
export interface LicenseConfig {
  /** Each an inline PEM public key or the absolute path of a PEM file (Ed25519, like firmware keys). */
  readonly vendorKeys: readonly string[];
  readonly warnDays: number;
}

export interface NextHopConfig {
  /** Dotted IPv4 address. */
  readonly address: string;
  /** Positive integer, 1 unless given. */
  readonly weight: number;
}

export interface InterfaceConfig {
  /** This node's address on the interface (dotted IPv4, configured by the OS, not by Tandem). */
  readonly address: string;
  readonly prefix: number;
  /** Monitored next hops, in the order of the file; empty when none is monitored. */
  readonly nextHops: readonly NextHopConfig[];
}

export interface NodeConfig {
  readonly name: string;
  readonly stateDir: string;
  readonly dataDir: string | null;
  /** By interface name, in the order of the file. */
  readonly interfaces: Readonly<Record<string, InterfaceConfig>>;
}

/** One refused value: the configuration file, the dotted field path and a plain reason. */
export interface ConfigError {
  readonly file: string;
  /**
   * Dotted path of the offending key, list positions in brackets:
   * `nodes.a.interfaces.ext0.next_hop`, `service.vips[1].address`. A YAML syntax error names its
   * place (`line 3, column 5`); an error about the whole file has an empty field.
   */
  readonly field: string;
  readonly reason: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: TandemConfig }
  | { readonly ok: false; readonly errors: readonly ConfigError[] };

/** `"<file>: <field>: <reason>"` (`"<file>: <reason>"` when the error concerns the whole file). */
export function formatConfigError(e: ConfigError): string {
  return e.field === '' ? `${e.file}: ${e.reason}` : `${e.file}: ${e.field}: ${e.reason}`;
}
