/**
 * What this firmware is compatible with, in one place: the configuration schema it runs (and the
 * migrations from older schemas), and the HA protocol versions it speaks. `tandem firmware build`
 * copies these into a bundle's manifest; Test compares them with the running node and its peer.
 *
 * Kept free of imports on purpose: the build reads a payload tree's own copy of this module.
 */
import type { Migration, ProtocolRange } from './firmware/types.js';

/** Schema of the configuration file this firmware reads (the file's top-level `schema`, 1 when absent). */
export const CONFIG_SCHEMA = 1;

/** From the oldest supported schema up to CONFIG_SCHEMA, one step per schema version. */
export const CONFIG_MIGRATIONS: readonly Migration[] = [];

/**
 * HA protocol versions this firmware speaks. Version 1: heartbeat wire format 1
 * (core/wire/codec.ts), sync channel 1 (adapters/sync/channel.ts), peer calls 1. Version 2 adds
 * to the same wire format the heartbeat clock exchange (`clock`, `echo`) and the next-hop
 * evidence of each interface (`suspect`, `answeredAt`, `lostSince`): a version-1 peer drops
 * these fields unread, and a node hearing none from its peer judges next hops by the version-1
 * hold rule (core/ha/node.ts). Two firmwares whose ranges overlap can run side by side in one
 * cluster (a rolling upgrade).
 */
export const HA_PROTOCOL: ProtocolRange = { min: 1, max: 2 };
