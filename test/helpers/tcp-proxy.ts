import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy the test controls, between the app and its database: a network partition on
 * demand, with the real driver and the real engine on either side (nothing mocked).
 *
 * - `cut()`: every open connection is destroyed and the port stops listening, so new
 *   connections are refused (what a client sees when the database host is down).
 * - `blackhole()`: connections stay open and new ones are accepted, but no byte goes through in
 *   either direction (what a client sees when packets are dropped).
 * - `dropMessages(marker)`: the app's messages containing `marker` are swallowed; all else flows.
 * - `restore()`: connections go through again, on the same port.
 */
export interface TcpProxy {
  /** The loopback port the proxy listens on. */
  readonly port: number;
  /** `mongodb://127.0.0.1:{port}/?directConnection=true` plus any extra query options. */
  mongodbUri(extra?: string): string;
  /** Connections accepted so far (to prove the app really goes through the proxy). */
  readonly accepted: number;
  cut(): Promise<void>;
  /**
   * Cuts (as `cut()`) the moment the app sends a message containing `marker` (e.g.
   * "commitTransaction"), before that message reaches the database.
   */
  cutOnMessage(marker: string): Promise<void>;
  blackhole(): void;
  /**
   * From now on a message from the app containing `marker` (e.g. "createIndexes") never reaches
   * the database, and the connection stays open: the app waits for a reply that never comes
   * (a database that stopped answering on one connection), while others still work.
   */
  dropMessages(marker: string): void;
  /** Messages dropped so far by dropMessages. */
  readonly dropped: number;
  restore(): Promise<void>;
  close(): Promise<void>;
}

type Mode = 'open' | 'blackhole' | 'cut';

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let mode: Mode = 'open';
  let accepted = 0;
  let port = 0;
  let cutMarker: { text: string; done: () => void } | undefined;
  let cutNow: () => Promise<void> = async () => undefined;
  let dropMarker: string | undefined;
  let dropped = 0;

  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };

  const onConnection = (client: Socket): void => {
    if (mode === 'cut') {
      client.destroy();
      return;
    }
    accepted++;
    track(client);
    if (mode === 'blackhole') {
      // Accept and hold: nothing is forwarded, nothing is answered.
      client.pause();
      return;
    }
    const upstream = createConnection({ host: target.host, port: target.port });
    track(upstream);
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (mode === 'open' && !to.destroyed) {
          to.write(chunk);
        }
      });
      from.on('close', () => to.destroy());
    };
    client.on('data', (chunk: Buffer) => {
      if (cutMarker && mode === 'open' && chunk.includes(cutMarker.text)) {
        const { done } = cutMarker;
        cutMarker = undefined;
        void cutNow().then(done);
      }
    });
    client.on('data', (chunk: Buffer) => {
      if (mode === 'open' && !upstream.destroyed) {
        if (dropMarker !== undefined && chunk.includes(dropMarker)) {
          dropped++;
        } else {
          upstream.write(chunk);
        }
      }
    });
    client.on('close', () => upstream.destroy());
    forward(upstream, client);
  };

  let server: Server = createServer(onConnection);
  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  const stopListening = (): Promise<void> => new Promise((resolve) => server.close(() => resolve()));
  const destroyAll = (): void => {
    for (const socket of sockets) {
      socket.destroy();
    }
    sockets.clear();
  };

  await listen();

  const cut = async (): Promise<void> => {
    if (mode === 'cut') {
      return;
    }
    mode = 'cut';
    destroyAll();
    await stopListening();
  };
  cutNow = cut;

  return {
    get port() {
      return port;
    },
    get accepted() {
      return accepted;
    },
    get dropped() {
      return dropped;
    },
    mongodbUri(extra = '') {
      return `mongodb://127.0.0.1:${port}/?directConnection=true${extra ? `&${extra}` : ''}`;
    },
    cut,
    cutOnMessage(marker: string) {
      return new Promise<void>((resolve) => {
        cutMarker = { text: marker, done: resolve };
      });
    },
    blackhole() {
      mode = 'blackhole';
    },
    dropMessages(marker: string) {
      dropMarker = marker;
    },
    async restore() {
      if (mode === 'cut') {
        server = createServer(onConnection);
        await listen();
      } else {
        // Connections held during a blackhole carry half-sent commands: drop them, as a real
        // network would once its timeouts fire.
        destroyAll();
      }
      mode = 'open';
      dropMarker = undefined;
    },
    async close() {
      destroyAll();
      if (mode !== 'cut') {
        mode = 'cut';
        await stopListening();
      }
    },
  };
}

/** Host and port of a `mongodb://host:port/...` URI. */
export function hostPort(uri: string): { host: string; port: number } {
  const url = new URL(uri);
  return { host: url.hostname, port: Number(url.port || 27017) };
}
