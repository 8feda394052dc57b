/**
 * Heartbeat transport: one UDP socket per heartbeat path, bound to this node's address on that
 * interface, sending to the peer's address on the same segment, so each copy leaves and arrives
 * on its own link. The only module that imports node:dgram.
 */
import { createSocket, type Socket } from 'node:dgram';

export interface HeartbeatPath {
  readonly name: string;
  readonly localAddress: string;
  readonly peerAddress: string;
}

export interface HeartbeatTransport {
  send(path: string, bytes: Uint8Array): void;
  close(): void;
}

export async function openHeartbeatTransport(
  paths: readonly HeartbeatPath[],
  port: number,
  onDatagram: (path: string, bytes: Uint8Array) => void,
  onError: (path: string, err: Error) => void,
): Promise<HeartbeatTransport> {
  const sockets = new Map<string, { socket: Socket; path: HeartbeatPath }>();
  for (const path of paths) {
    const socket = createSocket({ type: 'udp4', reuseAddr: false });
    // Every datagram goes to the core, whoever sent it: a source address proves nothing, the
    // MAC does, and the core counts each rejected packet by reason.
    socket.on('message', (msg) => {
      onDatagram(path.name, new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
    });
    socket.on('error', (err) => { onError(path.name, err); });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, path.localAddress, () => { socket.off('error', reject); resolve(); });
    });
    sockets.set(path.name, { socket, path });
  }
  return {
    send(pathName, bytes) {
      const entry = sockets.get(pathName);
      if (entry === undefined) return;
      // A path that is down fails here (ENETUNREACH…): that is what liveness is for, not an error.
      entry.socket.send(bytes, port, entry.path.peerAddress, () => undefined);
    },
    close() {
      for (const { socket } of sockets.values()) socket.close();
      sockets.clear();
    },
  };
}
