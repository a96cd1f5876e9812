import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { LogCapture } from '../../../test/support/log-capture';
import { TEST_DEFAULTS } from '../../../test/support/test-env';
import { deferred, type Deferred } from '../../../test/support/wait';
import { testToolContext } from '../../../test/support/tool-context';
import { ManualClock } from '../../common/clock';
import { ManualScheduler } from '../../common/scheduler';
import { AppConfig } from '../../config/app-config';
import { validateEnvironment } from '../../config/env.schema';
import { AppLogger } from '../../logging/app-logger';
import { ToolRegistry } from '../tool-registry';
import { McpToolSource } from './mcp-tool-source';

const ctx = testToolContext();

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/**
 * A real MCP server (the SDK's McpServer over Streamable HTTP, stateless) on one address of
 * 127.0.0.1 that the test takes down and brings back: while `down`, every request's connection is
 * dropped, as when the server is unreachable; while `hanging`, requests are never answered.
 */
async function startSwitchableMcpServer() {
  const state = {
    down: false,
    hanging: false,
    /** The JSON-RPC method of every POST received, whatever its fate. */
    methods: [] as string[],
    calls: [] as string[],
    /** Resolved at the next request received while hanging. */
    hung: null as Deferred<void> | null,
  };
  const http = createServer((req, res) => {
    void (async () => {
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      if (req.method === 'POST') state.methods.push(String((body as { method?: unknown } | undefined)?.method));
      if (state.down) {
        req.socket.destroy();
        return;
      }
      if (state.hanging) {
        state.hung?.resolve();
        return;
      }
      // No standalone event stream: the client carries on without one.
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      const mcp = new McpServer({ name: 'plumbing-data', version: '1.0.0' });
      mcp.registerTool(
        'lookup_service_area',
        { description: 'Whether a ZIP code is inside the service area.', inputSchema: { zip: z.string().regex(/^\d{5}$/) } },
        async ({ zip }) => {
          state.calls.push(zip);
          return { content: [{ type: 'text', text: `${zip} is covered` }] };
        },
      );
      // Too long once prefixed with the server's name: the model could not call it.
      mcp.registerTool('x'.repeat(60), { description: 'unusable name' }, async () => ({ content: [] }));
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => {
        void transport.close();
        void mcp.close();
      });
      await mcp.connect(transport);
      await transport.handleRequest(req, res, body);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    state,
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

const UNREACHABLE = 'mcp server unreachable; skipped for now';
const CONNECTED = 'mcp server connected';

describe('McpToolSource', () => {
  let server: Awaited<ReturnType<typeof startSwitchableMcpServer>>;
  let scheduler: ManualScheduler;
  let logs: LogCapture;
  let registry: ToolRegistry;
  let source: McpToolSource;

  beforeEach(async () => {
    server = await startSwitchableMcpServer();
    const clock = new ManualClock();
    scheduler = new ManualScheduler(clock);
    logs = new LogCapture();
    const config = new AppConfig(
      validateEnvironment({ ...TEST_DEFAULTS, LOG_LEVEL: 'debug', MCP_SERVERS: JSON.stringify([{ name: 'plumbing', url: server.url }]) }),
    );
    registry = new ToolRegistry(clock, scheduler, 5_000);
    source = new McpToolSource(config, registry, new AppLogger(config, logs), scheduler);
  });

  afterEach(async () => {
    await source.onApplicationShutdown();
    await server.close();
  });

  const offered = () => registry.available(ctx.profile).map((t) => t.name);
  const lookup = (zip: string) => registry.run('plumbing__lookup_service_area', JSON.stringify({ zip }), ctx);

  it('offers the tools as <server>__<tool> once connected, calls them through the registry, and skips names the model could not call', async () => {
    await source.connectAll();
    expect(logs.find(CONNECTED)).toMatchObject({ component: 'mcp', server: 'plumbing', tools: ['plumbing__lookup_service_area'] });
    expect(logs.find('mcp tool skipped: name not usable')).toMatchObject({ server: 'plumbing', tool: 'x'.repeat(60) });
    expect(offered()).toEqual(['plumbing__lookup_service_area']);
    const [tool] = registry.available(ctx.profile);
    expect(tool).toMatchObject({ description: 'Whether a ZIP code is inside the service area.', parameters: { properties: { zip: { type: 'string' } } } });

    const outcome = await lookup('94110');
    expect(outcome).toMatchObject({ ok: true });
    expect(JSON.parse(outcome.output)).toMatchObject({ isError: false, content: [{ type: 'text', text: '94110 is covered' }] });
    expect(server.state.calls).toEqual(['94110']);
    expect(scheduler.pending).toBe(0);
  });

  it('logs an unreachable server, skips it, and retries it on the scheduler with backoff capped at a minute', async () => {
    server.state.down = true;
    source.onApplicationBootstrap();
    await logs.waitFor(UNREACHABLE, { server: 'plumbing', retryInMs: 2_000 });
    expect(offered()).toEqual([]);
    expect(server.state.methods).toEqual(['initialize']);
    expect(scheduler.pending).toBe(1);

    const delays = [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000];
    for (let failures = 1; failures < delays.length; failures++) {
      scheduler.advance(delays[failures - 1] - 1);
      expect(scheduler.pending).toBe(1);
      scheduler.advance(1);
      // The retry is under way; the next is set once it has failed.
      expect(scheduler.pending).toBe(0);
      await logs.waitForCount(UNREACHABLE, { server: 'plumbing' }, failures + 1);
      expect(scheduler.pending).toBe(1);
    }
    expect(logs.all(UNREACHABLE).map((l) => l.retryInMs)).toEqual(delays);
    expect(server.state.methods).toEqual(delays.map(() => 'initialize'));
    expect(offered()).toEqual([]);

    server.state.down = false;
    scheduler.advance(60_000);
    await logs.waitFor(CONNECTED, { server: 'plumbing' });
    expect(offered()).toEqual(['plumbing__lookup_service_area']);
    expect(scheduler.pending).toBe(0);
    expect((await lookup('94110')).ok).toBe(true);
  });

  it('drops a server that fails mid-call from the offer, and offers it again once reconnected', async () => {
    await source.connectAll();
    expect(offered()).toEqual(['plumbing__lookup_service_area']);

    server.state.down = true;
    const failed = await lookup('94110');
    expect(failed).toMatchObject({ ok: false, error: 'failed' });
    expect(offered()).toEqual([]);
    expect(logs.find('mcp server failed mid-call; dropped until reconnected')).toMatchObject({ server: 'plumbing', tool: 'lookup_service_area' });

    // Reconnected at once; still down, so retried from the first backoff step.
    await logs.waitFor(UNREACHABLE, { server: 'plumbing', retryInMs: 2_000 });
    expect(offered()).toEqual([]);
    expect(await lookup('94110')).toMatchObject({ ok: false, error: 'unknown_tool' });

    server.state.down = false;
    scheduler.advance(2_000);
    await logs.waitForCount(CONNECTED, { server: 'plumbing' }, 2);
    expect(offered()).toEqual(['plumbing__lookup_service_area']);
    expect(await lookup('94111')).toMatchObject({ ok: true });
    expect(server.state.calls).toEqual(['94111']);
    expect(scheduler.pending).toBe(0);
  });

  it('makes one attempt at a time: boot and connectAll() share it', async () => {
    source.onApplicationBootstrap();
    await source.connectAll();
    expect(server.state.methods.filter((m) => m === 'initialize')).toHaveLength(1);
    expect(logs.all(CONNECTED)).toHaveLength(1);
  });

  it('connectAll() tries a server waiting for its retry now, and leaves one retry set', async () => {
    server.state.down = true;
    await source.connectAll();
    expect(scheduler.pending).toBe(1);
    await source.connectAll();
    expect(logs.all(UNREACHABLE).map((l) => l.retryInMs)).toEqual([2_000, 4_000]);
    expect(scheduler.pending).toBe(1);
  });

  it('on shutdown cancels the retry and offers nothing more', async () => {
    await source.connectAll();
    server.state.down = true;
    await lookup('94110');
    await logs.waitFor(UNREACHABLE, { server: 'plumbing' });
    expect(scheduler.pending).toBe(1);

    await source.onApplicationShutdown();
    expect(scheduler.pending).toBe(0);
    scheduler.advance(120_000);
    expect(logs.all(UNREACHABLE)).toHaveLength(1);
    expect(offered()).toEqual([]);
  });

  it('on shutdown aborts an attempt under way and schedules no retry', async () => {
    server.state.hanging = true;
    server.state.hung = deferred();
    source.onApplicationBootstrap();
    await server.state.hung.promise;

    await source.onApplicationShutdown();
    expect(scheduler.pending).toBe(0);
    expect(logs.all(UNREACHABLE)).toEqual([]);
    expect(logs.all(CONNECTED)).toEqual([]);
    expect(offered()).toEqual([]);
  });
});
