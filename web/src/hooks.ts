/** Data the pages share: the status of the node shown (this one live, the other one polled). */
import { get } from './api.js';
import { useConsole } from './context.js';
import { usePoll } from './live.js';
import type { Status } from './types.js';

/** How often the other node's status is asked for (over the HA link) while it is shown. */
export const PEER_POLL_MS = 1000;

export function useSideStatus(): { status: Status | null; error: unknown; live: boolean } {
  const { live, side } = useConsole();
  const peer = usePoll(() => (side === 'other' ? get<Status>('/api/peer/status') : Promise.resolve(null)), side === 'other' ? PEER_POLL_MS : 0, [side]);
  if (side === 'this') return { status: live.status, error: null, live: true };
  return { status: peer.data, error: peer.error, live: false };
}
