import { createServer, connect, type Server, type Socket } from 'node:net';

/** A TCP proxy in front of PostgreSQL that can make its open connections go silent. */
export interface TcpProxy {
  /** The upstream URL with host and port replaced by the proxy's. */
  readonly url: string;
  /**
   * What a NAT or conntrack drop, or a failover behind a virtual IP, does to a connection: every
   * connection open now stops carrying bytes either way, but neither end sees it closed (no FIN,
   * no RST), as a half-open TCP connection. New connections go through as before.
   */
  blackholeOpenConnections(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(upstreamUrl: string): Promise<TcpProxy> {
  const upstream = new URL(upstreamUrl);
  const pairs = new Set<{ client: Socket; server: Socket; silent: boolean }>();
  const server: Server = createServer((client) => {
    const pair = {
      client,
      server: connect(Number(upstream.port), upstream.hostname),
      silent: false,
    };
    pairs.add(pair);
    // Forward by hand so that a silenced pair can swallow what arrives.
    client.on('data', (chunk) => {
      if (!pair.silent) pair.server.write(chunk);
    });
    pair.server.on('data', (chunk) => {
      if (!pair.silent) client.write(chunk);
    });
    const close = () => {
      if (pair.silent) return; // a half-open connection does not learn that the other end left
      pairs.delete(pair);
      client.destroy();
      pair.server.destroy();
    };
    client.on('close', close);
    pair.server.on('close', close);
    client.on('error', () => undefined);
    pair.server.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('the proxy has no port');
  const url = new URL(upstreamUrl);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);
  return {
    url: url.toString(),
    blackholeOpenConnections: () => {
      let count = 0;
      for (const pair of pairs) {
        if (!pair.silent) count += 1;
        pair.silent = true;
      }
      return count;
    },
    close: async () => {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.server.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
