/**
 * The documented example configuration (docs/configuration.md) and helpers that derive invalid
 * variants of it. Support code for tests, not a test file itself.
 */
import { parse, stringify } from 'yaml';

export const CONFIG_FILE = '/etc/tandem/tandem.yaml';

export const EXAMPLE = `\
cluster:
  name: lab
  key_file: cluster.key          # relative to this file
  ha_link: ha0
  heartbeat: [ext0]              # redundant heartbeat interfaces
  timing: default                # default | fast
  port: 5405                     # UDP heartbeat port
service:
  vips:
    - { interface: ext0, address: 192.0.2.10/24 }
  on_primary: ./primary.sh
  on_secondary: ./secondary.sh
  hook_timeout_ms: 10000
sync:                            # port: TCP, the heartbeat port's number unless given
  resync_rate_mbit: 10           # full resynchronization only; 0 = unlimited
commands:
  reboot: [systemctl, reboot]
  shutdown: [systemctl, poweroff]
nodes:
  a:
    state_dir: /var/lib/tandem/a
    data_dir: /srv/tandem/a
    interfaces:
      ha0:  { address: 203.0.113.1/30 }
      ext0: { address: 192.0.2.11/24, next_hop: 192.0.2.1 }
      int0: { address: 198.51.100.11/24, next_hop: [ { address: 198.51.100.1, weight: 2 }, { address: 198.51.100.2 } ] }
  b:
    state_dir: /var/lib/tandem/b
    data_dir: /srv/tandem/b
    interfaces:
      ha0:  { address: 203.0.113.2/30 }
      ext0: { address: 192.0.2.12/24, next_hop: 192.0.2.1 }
      int0: { address: 198.51.100.12/24, next_hop: [ { address: 198.51.100.1, weight: 2 }, { address: 198.51.100.2 } ] }
`;

/** The form of issue 3, with every default left out. */
export const MINIMAL = `\
cluster:
  name: lab
  key_file: cluster.key
  ha_link: ha0
  heartbeat: [ext0]
  timing: default
service:
  vips:
    - { interface: ext0, address: 192.0.2.10/24 }
  on_primary: ./primary.sh
  on_secondary: ./secondary.sh
nodes:
  a:
    state_dir: /var/lib/tandem/a
    interfaces:
      ha0:  { address: 203.0.113.1/30 }
      ext0: { address: 192.0.2.11/24, next_hop: 192.0.2.1 }
      int0: { address: 198.51.100.11/24, next_hop: 198.51.100.1 }
  b:
    state_dir: /var/lib/tandem/b
    interfaces:
      ha0:  { address: 203.0.113.2/30 }
      ext0: { address: 192.0.2.12/24, next_hop: 192.0.2.1 }
      int0: { address: 198.51.100.12/24, next_hop: 198.51.100.1 }
`;

export const DELETE = Symbol('delete');
export type Path = readonly (string | number)[];
export type Edit = readonly [Path, unknown];

function isContainer(v: unknown): v is Record<string | number, unknown> {
  return typeof v === 'object' && v !== null;
}

/** Sets (or, with DELETE, removes) the value at `path`, creating mappings on the way. */
export function setIn(root: unknown, path: Path, value: unknown): void {
  let at: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (!isContainer(at)) throw new Error(`setIn: ${path.join('.')} crosses a scalar`);
    if (!isContainer(at[key])) at[key] = {};
    at = at[key];
  }
  const last = path[path.length - 1];
  if (last === undefined || !isContainer(at)) throw new Error(`setIn: bad path ${path.join('.')}`);
  if (value === DELETE) {
    if (Array.isArray(at) && typeof last === 'number') at.splice(last, 1);
    else Reflect.deleteProperty(at, last);
  } else {
    at[last] = value;
  }
}

/** The example with `edits` applied, as YAML text. */
export function variant(edits: readonly Edit[], base: string = EXAMPLE): string {
  const doc: unknown = parse(base);
  for (const [path, value] of edits) setIn(doc, path, value);
  return stringify(doc);
}

/** A single-node (standalone) configuration for node `name` of the example. */
export function standalone(name: 'a' | 'b'): string {
  return variant([[['nodes', name === 'a' ? 'b' : 'a'], DELETE]]);
}
