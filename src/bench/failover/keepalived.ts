/**
 * keepalived in the lab, configured the way its users commonly run it for "fail over when my
 * uplink dies": VRRPv2 multicast adverts on the service interface (ext0, 224.0.0.18), the VIP on
 * that interface, a `vrrp_script` pinging the next hop every second (fall 2, rise 2, no weight:
 * a failing script puts the instance in FAULT), advert_int 1, priorities 100/90, preemption on
 * (keepalived's default). Each node gets its own config and pid files in the lab directory, and
 * runs in the foreground as the lab's node process (`nodeCommand`), so its log is `<dir>/<node>.log`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeName } from '../../lab/topology.js';

export const KEEPALIVED = '/usr/sbin/keepalived';

/** Priorities: a is the preferred master. */
const PRIORITY: Readonly<Record<NodeName, number>> = { a: 100, b: 90 };

export function keepalivedConfPath(dir: string, node: NodeName): string {
  return join(dir, `keepalived-${node}.conf`);
}

/**
 * The lab's node command for keepalived: foreground (-n), log to the console (-l, i.e. the lab's
 * `<node>.log`) with detail (-D), no syslog (-G), per-node config and pid files.
 */
export const KEEPALIVED_COMMAND: readonly string[] = [
  KEEPALIVED, '-n', '-l', '-D', '-G',
  '-f', '{dir}/keepalived-{node}.conf',
  '-p', '{dir}/keepalived-{node}.pid',
  '-r', '{dir}/keepalived-{node}-vrrp.pid',
  '-c', '{dir}/keepalived-{node}-checkers.pid',
];

export interface KeepalivedParams {
  readonly node: NodeName;
  readonly labId: string;
  readonly vipCidr: string;
  readonly nextHop: string;
  /** ping's absolute path (enable_script_security wants one it can check). */
  readonly ping: string;
}

export function keepalivedConf(p: KeepalivedParams): string {
  return `! keepalived for the Tandem failover benchmark (lab ${p.labId}, node ${p.node}),
! written by src/bench/failover/keepalived.ts: the common "track the uplink with ping" setup.
global_defs {
    router_id tdm_${p.labId}_${p.node}
    enable_script_security
    script_user root
}

vrrp_script chk_next_hop {
    script "${p.ping} -c1 -W1 -I ext0 ${p.nextHop}"
    interval 1
    fall 2
    rise 2
}

vrrp_instance VI_1 {
    state ${p.node === 'a' ? 'MASTER' : 'BACKUP'}
    interface ext0
    virtual_router_id 51
    priority ${PRIORITY[p.node]}
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass tdmbench
    }
    virtual_ipaddress {
        ${p.vipCidr} dev ext0
    }
    track_script {
        chk_next_hop
    }
}
`;
}

export function writeKeepalivedConf(dir: string, p: KeepalivedParams): void {
  writeFileSync(keepalivedConfPath(dir, p.node), keepalivedConf(p), { mode: 0o644 });
}

export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

/** The last "(VI_1) Entering X STATE" in the log after byte `from`, or INIT. */
export function vrrpState(log: string, from: number): VrrpState {
  let text: string;
  try {
    text = readFileSync(log, 'utf8').slice(from);
  } catch {
    return 'INIT';
  }
  let state: VrrpState = 'INIT';
  for (const m of text.matchAll(/\(VI_1\) Entering (BACKUP|MASTER|FAULT) STATE/g)) state = m[1] as VrrpState;
  return state;
}

/** The version line of the installed keepalived (e.g. "Keepalived v2.2.7 (01/16,2022)"). */
export function keepalivedVersion(output: string): string {
  return output.split('\n').find((l) => /keepalived v/i.test(l))?.trim() ?? 'unknown';
}
