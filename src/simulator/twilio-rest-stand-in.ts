/**
 * A local stand-in for the parts of Twilio's REST API a call uses (TWILIO_API_BASE_URL points at
 * it): texts sent (Messages.json: pages, confirmations) and live-call updates (Calls/{sid}.json:
 * hang-ups and transfers). It records them, and hands each live-call update to the simulator,
 * which ends the call's stream as Twilio would.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../common/clock';

export interface SentMessage {
  readonly sid: string;
  readonly to: string;
  readonly from: string;
  readonly body: string;
}

export interface CallUpdate {
  readonly callSid: string;
  /** Status=completed: a hang-up. */
  readonly status: string | null;
  /** New TwiML: a transfer (<Dial>) or a last <Say>. */
  readonly twiml: string | null;
}

const CALL_PATH = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Calls\/(CA[0-9a-fA-F]{32})\.json$/;
const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Messages\.json$/;

function rfc2822(epochMs: number): string {
  return new Date(epochMs).toUTCString().replace('GMT', '+0000');
}

export class TwilioRestStandIn {
  readonly messages: SentMessage[] = [];
  readonly callUpdates: CallUpdate[] = [];
  /** Told of every live-call update, after it is answered. */
  onCallUpdate: (update: CallUpdate) => void = () => undefined;

  private constructor(
    private readonly server: Server,
    private readonly accountSid: string,
    private readonly authToken: string,
    private readonly clock: Clock,
  ) {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.handle(req, res));
  }

  static async start(accountSid: string, authToken: string, clock: Clock): Promise<TwilioRestStandIn> {
    const server = createServer();
    const standIn = new TwilioRestStandIn(server, accountSid, authToken, clock);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return standIn;
  }

  /** What to set as the service's TWILIO_API_BASE_URL. */
  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const send = (status: number, body: object): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const path = (req.url ?? '/').split('?')[0];
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      if (!this.authorized(req.headers.authorization)) {
        send(401, { code: 20003, message: 'Authenticate', status: 401 });
        return;
      }
      const message = req.method === 'POST' ? MESSAGES_PATH.exec(path) : null;
      if (message) {
        const sent: SentMessage = { sid: `SM${randomBytes(16).toString('hex')}`, to: form.To ?? '', from: form.From ?? '', body: form.Body ?? '' };
        this.messages.push(sent);
        send(201, { ...sent, account_sid: this.accountSid, status: 'queued', direction: 'outbound-api', num_segments: '1', num_media: '0', api_version: '2010-04-01', date_created: rfc2822(this.clock.epochMs()), date_updated: rfc2822(this.clock.epochMs()), uri: `${path.slice(0, -5)}/${sent.sid}.json` });
        return;
      }
      const call = req.method === 'POST' ? CALL_PATH.exec(path) : null;
      if (call) {
        const update: CallUpdate = { callSid: call[2], status: form.Status ?? null, twiml: form.Twiml ?? null };
        this.callUpdates.push(update);
        send(200, {
          sid: update.callSid,
          account_sid: this.accountSid,
          status: update.status ?? 'in-progress',
          direction: 'inbound',
          api_version: '2010-04-01',
          date_created: rfc2822(this.clock.epochMs()),
          date_updated: rfc2822(this.clock.epochMs()),
          uri: path,
        });
        this.onCallUpdate(update);
        return;
      }
      send(404, { code: 20404, message: `The requested resource ${path} was not found`, status: 404 });
    });
  }

  private authorized(header: string | undefined): boolean {
    if (!header?.startsWith('Basic ')) return false;
    return Buffer.from(header.slice(6), 'base64').toString('utf8') === `${this.accountSid}:${this.authToken}`;
  }
}
