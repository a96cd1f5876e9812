import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Logger } from 'pino';
import { Scheduler, type ScheduledTask } from '../../common/scheduler';
import { AppConfig } from '../../config/app-config';
import type { McpServerConfig } from '../../config/env.schema';
import { AppLogger } from '../../logging/app-logger';
import type { ToolDefinition, ToolProvider } from '../tool';
import { ToolRegistry } from '../tool-registry';

const RETRY_BASE_MS = 2_000;
const RETRY_MAX_MS = 60_000;

interface ServerState {
  readonly config: McpServerConfig;
  /** Connected and offering its tools. */
  client: Client | null;
  tools: ToolDefinition[];
  failures: number;
  /** The next connection attempt, while the server is unreachable. */
  retry: ScheduledTask | null;
  /** The attempt under way, which every caller of connect() shares, and its client. */
  connecting: Promise<void> | null;
  connectingClient: Client | null;
}

/**
 * The tools of the MCP servers in MCP_SERVERS (Streamable HTTP), offered to the model as
 * `<server>__<tool>` and called through the same registry, timeout and logging as built-ins.
 * A server that cannot be reached is logged, skipped, and retried in the background with
 * exponential backoff on the app's Scheduler; one that fails mid-call is dropped from the offer
 * until it is reconnected. Shutdown cancels the retries, aborts the attempts under way and closes
 * the clients, so nothing of it outlives the app.
 */
@Injectable()
export class McpToolSource implements ToolProvider, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly servers: ServerState[];
  private readonly log: Logger;
  private stopped = false;

  constructor(
    config: AppConfig,
    registry: ToolRegistry,
    logger: AppLogger,
    private readonly scheduler: Scheduler,
  ) {
    this.log = logger.child({ component: 'mcp' });
    this.servers = config.tools.mcpServers.map((c) => ({
      config: c,
      client: null,
      tools: [],
      failures: 0,
      retry: null,
      connecting: null,
      connectingClient: null,
    }));
    registry.addProvider(this);
  }

  tools(): readonly ToolDefinition[] {
    return this.servers.flatMap((s) => s.tools);
  }

  /** Connects in the background: a slow MCP server must not hold up boot. */
  onApplicationBootstrap(): void {
    for (const server of this.servers) void this.connect(server);
  }

  /**
   * Resolves once every configured server has been tried at least once (for tests and readiness):
   * joins the attempts under way, and tries the servers waiting for a retry now.
   */
  async connectAll(): Promise<void> {
    await Promise.all(this.servers.map((s) => this.connect(s)));
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await Promise.all(
      this.servers.map(async (server) => {
        server.retry?.cancel();
        server.retry = null;
        // Closing the client aborts its requests, so an attempt under way ends now.
        await server.connectingClient?.close().catch(() => undefined);
        await server.connecting;
        // Dropped before it closes, so a call it fails does not count as the server failing.
        const client = server.client;
        server.client = null;
        server.tools = [];
        await client?.close().catch(() => undefined);
      }),
    );
  }

  /** One attempt at a time per server: concurrent callers (boot, connectAll, a failed call) share it. */
  private connect(server: ServerState): Promise<void> {
    if (this.stopped || server.client) return Promise.resolve();
    // attempt() awaits before it ends, so this assignment comes before its own reset.
    server.connecting ??= this.attempt(server);
    return server.connecting;
  }

  /**
   * Resets `connecting` in its own finally, in the same synchronous step that sets the client or
   * the retry. A reset chained on the promise would come a microtask later, and a retry run in
   * between (a ManualScheduler runs it as soon as a test has seen the log line) would join the
   * finished attempt instead of making one.
   */
  private async attempt(server: ServerState): Promise<void> {
    server.retry?.cancel();
    server.retry = null;
    const { name, url, headers } = server.config;
    const client = new Client({ name: 'call-operator', version: '1' });
    server.connectingClient = client;
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { ...headers } } }));
      const { tools } = await client.listTools();
      if (this.stopped) {
        await client.close().catch(() => undefined);
        return;
      }
      server.client = client;
      server.failures = 0;
      server.tools = tools
        .map((tool) => this.toDefinition(server, tool.name, tool.description ?? '', tool.inputSchema as Record<string, unknown>))
        .filter((t): t is ToolDefinition => t !== null);
      this.log.info({ server: name, tools: server.tools.map((t) => t.name) }, 'mcp server connected');
    } catch (err) {
      await client.close().catch(() => undefined);
      if (this.stopped) return;
      server.failures++;
      const delayMs = Math.min(RETRY_BASE_MS * 2 ** (server.failures - 1), RETRY_MAX_MS);
      this.log.warn({ server: name, err: (err as Error).message, retryInMs: delayMs }, 'mcp server unreachable; skipped for now');
      server.retry = this.scheduler.after(delayMs, () => {
        server.retry = null;
        void this.connect(server);
      });
    } finally {
      server.connecting = null;
      server.connectingClient = null;
    }
  }

  private toDefinition(server: ServerState, toolName: string, description: string, inputSchema: Record<string, unknown>): ToolDefinition | null {
    const name = `${server.config.name}__${toolName}`;
    if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name)) {
      this.log.warn({ server: server.config.name, tool: toolName.slice(0, 80) }, 'mcp tool skipped: name not usable');
      return null;
    }
    return {
      name,
      description: description.slice(0, 1000),
      parameters: inputSchema && typeof inputSchema === 'object' ? inputSchema : { type: 'object' },
      handler: async (args) => {
        const client = server.client;
        if (!client) throw new Error(`The ${server.config.name} service is not reachable right now.`);
        try {
          const result = await client.callTool({ name: toolName, arguments: args });
          return { isError: result.isError === true, content: result.content, structuredContent: result.structuredContent };
        } catch (err) {
          // The server went away: stop offering its tools and reconnect in the background. A call
          // failing on a client already replaced (several calls failed together) changes nothing.
          if (server.client === client) {
            server.client = null;
            server.tools = [];
            this.log.warn({ server: server.config.name, tool: toolName, err: (err as Error).message }, 'mcp server failed mid-call; dropped until reconnected');
            void client.close().catch(() => undefined);
            void this.connect(server);
          }
          throw err;
        }
      },
    };
  }
}
