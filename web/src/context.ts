/** What every page gets from the frame: the session, the live status, which node is shown. */
import { createContext, useContext } from 'react';
import type { Live } from './live.js';
import type { Session } from './types.js';

export type Side = 'this' | 'other';

export interface Console {
  readonly session: Session;
  readonly live: Live;
  /** Viewers read everything and change nothing. */
  readonly readOnly: boolean;
  readonly side: Side;
  readonly setSide: (s: Side) => void;
}

export const ConsoleContext = createContext<Console | null>(null);

export function useConsole(): Console {
  const c = useContext(ConsoleContext);
  if (c === null) throw new Error('useConsole outside the console frame');
  return c;
}
