import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Logger } from 'pino';
import { AppConfig } from '../../config/app-config';
import type { McpServerConfig } from '../../config/env.schema';
import { AppLogger } from '../../logging/app-logger';
import type { ToolDefinition, ToolProvider } from '../tool';
import { ToolRegistry } from '../tool-registry';

const RETRY_BASE_MS = 2_000;
const RETRY_MAX_MS = 60_000;

interface ServerState {
  readonly config: McpServerConfig;
  client: Client | null;
  tools: ToolDefinition[];
  failures: number;
  retry: NodeJS.Timeout | null;
}

/**
 * The tools of the MCP servers in MCP_SERVERS (Streamable HTTP), offered to the model as
 * `<server>__<tool>` and called through the same registry, timeout and logging as built-ins.
 * A server that cannot be reached is logged, skipped, and retried in the background; one that
 * fails mid-call is dropped from the offer until it is reconnected.
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
  ) {
    this.log = logger.child({ component: 'mcp' });
    this.servers = config.tools.mcpServers.map((c) => ({ config: c, client: null, tools: [], failures: 0, retry: null }));
    registry.addProvider(this);
  }

  tools(): readonly ToolDefinition[] {
    return this.servers.flatMap((s) => s.tools);
  }

  /** Connects in the background: a slow MCP server must not hold up boot. */
  onApplicationBootstrap(): void {
    for (const server of this.servers) void this.connect(server);
  }

  /** Resolves once every configured server has been tried at least once (for tests and readiness). */
  async connectAll(): Promise<void> {
    await Promise.all(this.servers.filter((s) => !s.client).map((s) => this.connect(s)));
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const server of this.servers) {
      if (server.retry) clearTimeout(server.retry);
      await server.client?.close().catch(() => undefined);
      server.client = null;
    }
  }

  private async connect(server: ServerState): Promise<void> {
    if (this.stopped || server.client) return;
    const { name, url, headers } = server.config;
    const client = new Client({ name: 'call-operator', version: '1' });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { ...headers } } }));
      const { tools } = await client.listTools();
      server.client = client;
      server.failures = 0;
      server.tools = tools
        .map((tool) => this.toDefinition(server, tool.name, tool.description ?? '', tool.inputSchema as Record<string, unknown>))
        .filter((t): t is ToolDefinition => t !== null);
      this.log.info({ server: name, tools: server.tools.map((t) => t.name) }, 'mcp server connected');
    } catch (err) {
      await client.close().catch(() => undefined);
      server.failures++;
      const delayMs = Math.min(RETRY_BASE_MS * 2 ** (server.failures - 1), RETRY_MAX_MS);
      this.log.warn({ server: name, err: (err as Error).message, retryInMs: delayMs }, 'mcp server unreachable; skipped for now');
      if (!this.stopped) {
        server.retry = setTimeout(() => {
          server.retry = null;
          void this.connect(server);
        }, delayMs);
        server.retry.unref();
      }
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
          // The server went away: stop offering its tools and reconnect in the background.
          server.client = null;
          server.tools = [];
          void client.close().catch(() => undefined);
          void this.connect(server);
          throw err;
        }
      },
    };
  }
}
