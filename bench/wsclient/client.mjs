// The WebSocket load client of bench/ws.py (Node.js + the `ws` package), one process on
// one core. bench/ws.py starts it; every mode prints one JSON object per line on stdout.
//
//   node client.mjs check --url ws://127.0.0.1:PORT/ [--deflate]
//       one connection: a text and a binary message must come back unchanged, with their
//       type; prints the extensions the server accepted.
//   node client.mjs echo --url URL [--connections 64] [--window 1] [--size 64]
//                        [--warmup 1] [--duration 5] [--deflate]
//       every connection keeps `window` text messages of `size` bytes in flight: each echo
//       that comes back (checked byte for byte) sends the next one. Counts the echoes of
//       the `duration` seconds after the warm-up, and their round-trip times.
//   node client.mjs hold --url URL --connections N [--addresses 127.0.0.1,...]
//                        [--concurrency 200] [--deflate]
//       opens N connections (source addresses taken in turn: one address has about 28k
//       ephemeral ports), sends one message on each and waits for its echo, prints
//       {"ready": N, ...}, then holds them all, silent, until stdin ends or SIGTERM.
//   node client.mjs serve --port PORT
//       a reference echo server (the `ws` package's server, its defaults), to measure how
//       fast this client can go against a server that costs little.
//
// --deflate offers permessage-deflate as browsers do ("permessage-deflate;
// client_max_window_bits"); without it nothing is offered.

import { parseArgs } from "node:util";
import { WebSocket, WebSocketServer } from "ws";

const { positionals, values: opts } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: "string" },
    deflate: { type: "boolean", default: false },
    connections: { type: "string", default: "64" },
    window: { type: "string", default: "1" },
    size: { type: "string", default: "64" },
    warmup: { type: "string", default: "1" },
    duration: { type: "string", default: "5" },
    addresses: { type: "string", default: "" },
    concurrency: { type: "string", default: "200" },
    port: { type: "string" },
  },
});

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(message) {
  emit({ error: message });
  process.exit(1);
}

function connect(url, deflate, localAddress) {
  const options = { perMessageDeflate: deflate, handshakeTimeout: 30000 };
  if (localAddress) options.localAddress = localAddress;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once("open", () => {
      ws.removeListener("error", reject);
      resolve(ws);
    });
    ws.once("error", reject);
  });
}

function nextMessage(ws, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no echo within 10 s")), timeoutMs);
    ws.once("message", (data, isBinary) => {
      clearTimeout(timer);
      resolve({ data, isBinary });
    });
  });
}

function payload(size) {
  // Printable ASCII, the same bytes every time: a text message whose echo can be
  // compared byte for byte.
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = 0x61 + (i % 26);
  return buf;
}

async function check() {
  const ws = await connect(opts.url, opts.deflate);
  const text = "typhoon check \u00e9\u00e8 \u2603";
  const binary = Buffer.from([0, 1, 2, 0xfe, 0xff]);
  ws.send(text);
  const first = await nextMessage(ws);
  if (first.isBinary || first.data.toString("utf8") !== text) fail("the text message came back changed");
  ws.send(binary);
  const second = await nextMessage(ws);
  if (!second.isBinary || !Buffer.from(second.data).equals(binary)) {
    fail("the binary message came back changed");
  }
  emit({ ok: true, extensions: ws.extensions });
  ws.close(1000);
  setTimeout(() => process.exit(0), 200);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function echo() {
  const connections = Number(opts.connections);
  const window = Number(opts.window);
  const message = payload(Number(opts.size));
  const expected = Buffer.from(message); // a pristine copy: what every echo must equal
  const sockets = await Promise.all(
    Array.from({ length: connections }, () => connect(opts.url, opts.deflate)),
  );
  let measuring = false;
  let stopped = false;
  let echoes = 0; // in the measured seconds
  let total = 0; // from the first send on
  let mismatches = 0;
  let closed = 0;
  let latencies = new Float64Array(1 << 20);
  let samples = 0;
  const send = (ws, sentAt) => {
    sentAt.push(performance.now());
    ws.send(message, { binary: false });
  };
  for (const ws of sockets) {
    const sentAt = []; // FIFO of send times: echoes come back in order on a connection
    ws.on("message", (data, isBinary) => {
      const now = performance.now();
      const started = sentAt.shift();
      total++;
      if (isBinary || !expected.equals(data)) mismatches++;
      if (measuring) {
        echoes++;
        if (samples === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[samples++] = now - started;
      }
      if (!stopped) send(ws, sentAt);
    });
    ws.on("close", () => {
      if (!stopped) closed++;
    });
    ws.on("error", () => {});
    for (let i = 0; i < window; i++) send(ws, sentAt);
  }
  await sleep(Number(opts.warmup) * 1000);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  measuring = true;
  await sleep(Number(opts.duration) * 1000);
  measuring = false;
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  stopped = true;
  const sorted = latencies.subarray(0, samples).sort();
  emit({
    messages: echoes,
    messages_total: total,
    seconds,
    messages_per_s: echoes / seconds,
    client_cpu_s: (cpu.user + cpu.system) / 1e6,
    p50_ms: percentile(sorted, 50),
    p99_ms: percentile(sorted, 99),
    mismatches,
    closed_early: closed,
    extensions: sockets[0].extensions,
  });
  for (const ws of sockets) ws.terminate();
  setTimeout(() => process.exit(0), 100);
}

async function hold() {
  const total = Number(opts.connections);
  const addresses = opts.addresses ? opts.addresses.split(",") : [""];
  const concurrency = Number(opts.concurrency);
  const message = payload(64);
  const sockets = [];
  const extensions = {};
  let closedEarly = 0;
  let holding = false;
  const started = performance.now();
  let next = 0;
  async function opener() {
    while (next < total) {
      const index = next++;
      const ws = await connect(opts.url, opts.deflate, addresses[index % addresses.length]);
      ws.on("error", () => {});
      ws.on("close", () => {
        if (holding) closedEarly++;
      });
      const reply = nextMessage(ws, 30000);
      ws.send(message, { binary: false });
      const { data, isBinary } = await reply;
      if (isBinary || !message.equals(data)) throw new Error("an echo came back changed");
      extensions[ws.extensions] = (extensions[ws.extensions] ?? 0) + 1;
      sockets.push(ws);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, opener));
  holding = true;
  emit({ ready: sockets.length, seconds: (performance.now() - started) / 1000, extensions });
  const finish = () => {
    holding = false;
    emit({ closed_early: closedEarly });
    // A reset rather than a FIN: no TIME_WAIT left on the client's ports, which the next
    // measurement needs (a source address has about 28k of them).
    for (const ws of sockets) ws._socket?.resetAndDestroy();
    process.exit(0);
  };
  process.on("SIGTERM", finish);
  process.stdin.on("end", finish);
  process.stdin.resume();
}

function serve() {
  const server = new WebSocketServer({ host: "127.0.0.1", port: Number(opts.port) });
  server.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on("error", () => {});
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main().catch((err) => fail(String(err && err.message ? err.message : err)));

async function main() {
  const mode = positionals[0];
  if (mode === "serve") return serve();
  if (!opts.url) fail("--url is required");
  if (mode === "check") return check();
  if (mode === "echo") return echo();
  if (mode === "hold") return hold();
  fail(`unknown mode ${mode}: check, echo, hold or serve`);
}
