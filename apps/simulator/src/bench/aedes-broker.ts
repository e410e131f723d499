/**
 * The ceiling of the MQTT layer: a bare aedes broker that accepts any client and acknowledges
 * every publish, doing nothing else. Run as its own process so its CPU and memory can be read.
 * Prints `aedes listening on <port>` on stdout.
 */
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';

async function main(): Promise<void> {
  const broker = new Aedes();
  await broker.listen();
  const server = createServer((socket) => {
    socket.setNoDelay(true); // as Rivulet's transport does
    broker.handle(socket);
  });
  server.maxConnections = 100_000;
  await new Promise<void>((r) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', r));
  process.stdout.write(`aedes listening on ${(server.address() as AddressInfo).port}\n`);
  const stop = () => broker.close(() => server.close(() => process.exit(0)));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
