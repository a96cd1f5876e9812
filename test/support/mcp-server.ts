import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/**
 * A real MCP server (the SDK's McpServer over Streamable HTTP, stateless) on 127.0.0.1 with the
 * tools a plumbing business might expose: whether a ZIP code is in its service area, and the
 * next free slot, which answers only once the test calls releaseSchedule() (a hung backend).
 */
export async function startMcpServer(opts: { requiredHeader?: [string, string] } = {}) {
  const calls: Array<{ zip: string }> = [];
  const scheduleCalls: string[] = [];
  let releaseSchedule!: () => void;
  const scheduleAnswers = new Promise<void>((resolve) => (releaseSchedule = resolve));
  const http = createServer((req, res) => {
    void (async () => {
      if (opts.requiredHeader && req.headers[opts.requiredHeader[0].toLowerCase()] !== opts.requiredHeader[1]) {
        res.writeHead(401).end();
        return;
      }
      const mcp = new McpServer({ name: 'plumbing-data', version: '1.0.0' });
      mcp.registerTool(
        'lookup_service_area',
        { description: 'Whether a ZIP code is inside the service area.', inputSchema: { zip: z.string().regex(/^\d{5}$/) } },
        async ({ zip }) => {
          calls.push({ zip });
          return { content: [{ type: 'text', text: zip.startsWith('9') ? `${zip} is covered` : `${zip} is not covered` }] };
        },
      );
      mcp.registerTool(
        'next_free_slot',
        { description: 'The next free appointment slot.', inputSchema: { day: z.string() } },
        async ({ day }) => {
          scheduleCalls.push(day);
          await scheduleAnswers;
          return { content: [{ type: 'text', text: `${day} at 9:00` }] };
        },
      );
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => {
        void transport.close();
        void mcp.close();
      });
      await mcp.connect(transport);
      await transport.handleRequest(req, res, req.method === 'POST' ? await readJson(req) : undefined);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    calls,
    scheduleCalls,
    releaseSchedule,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
