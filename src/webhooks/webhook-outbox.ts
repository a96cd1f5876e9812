import type { SqlExecutor } from '../database/sql-client';
import type { NewWebhookEvent } from './call-ended-event';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'failed'];

/** One event to one URL, as the API shows it. Times are ISO 8601. */
export interface WebhookDelivery {
  readonly id: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly callSid: string | null;
  readonly url: string;
  readonly status: DeliveryStatus;
  /** Attempts made so far (one in flight included). */
  readonly attempts: number;
  /** While pending: when the next attempt is due. Null once delivered or failed. */
  readonly nextAttemptAt: string | null;
  readonly lastAttemptAt: string | null;
  /** The HTTP status of the last answer; null when the last attempt got none. */
  readonly lastStatus: number | null;
  /** Why the last attempt did not deliver (`HTTP 503`, `timed out after 10000 ms`…); null once delivered. */
  readonly lastError: string | null;
  readonly deliveredAt: string | null;
  readonly createdAt: string;
}

/** An event with its payload and every delivery of it. */
export interface WebhookEventView {
  readonly id: string;
  readonly type: string;
  readonly callSid: string | null;
  readonly createdAt: string;
  readonly payload: unknown;
  readonly deliveries: readonly WebhookDelivery[];
}

/** A delivery taken for one attempt: no other worker takes it until the attempt is settled or its lease runs out. */
export interface ClaimedDelivery {
  readonly id: string;
  readonly eventId: string;
  readonly url: string;
  /** This attempt's number, 1 for the first. */
  readonly attempt: number;
  /** The body to send, exactly as made. */
  readonly body: string;
  /** Epoch ms. */
  readonly eventCreatedAt: number;
}

/** What an attempt came to, as recorded. */
export type Settlement =
  | { readonly status: 'delivered'; readonly httpStatus: number }
  | { readonly status: 'pending'; readonly nextAttemptAt: number; readonly httpStatus: number | null; readonly error: string }
  | { readonly status: 'failed'; readonly httpStatus: number | null; readonly error: string };

export interface DeliveryListQuery {
  readonly status?: DeliveryStatus;
  readonly callSid?: string;
  readonly limit: number;
  readonly offset: number;
}

/**
 * The webhook outbox: events, and one delivery per event and URL, in the app's database, so that
 * what is owed to a receiver outlives restarts and is shared by the instances of a fleet. All times
 * given are epoch ms of the app's clock.
 */
export abstract class WebhookOutbox {
  /**
   * Adds the event, and a pending delivery of it to each URL, due at once (or at its `notBefore`),
   * in the caller's transaction. An event already there (same id) is left as it is. True when it was new.
   */
  abstract add(tx: SqlExecutor, event: NewWebhookEvent, urls: readonly string[]): Promise<boolean>;
  /**
   * In the caller's transaction: gives an event that no attempt has been made at yet its final body
   * (`event.body`, with the same id) and makes its held deliveries due at `now`. An event already
   * tried at any URL keeps the body it was sent with: receivers see one body per event id. True
   * when the event was updated; false when it is unknown or was tried already.
   */
  abstract release(tx: SqlExecutor, event: NewWebhookEvent, now: number): Promise<boolean>;
  /**
   * Takes up to `limit` pending deliveries to these URLs that are due at `now` and not held, counts
   * an attempt on each and holds them until `now + leaseMs`, on every instance at once
   * (FOR UPDATE SKIP LOCKED): one attempt at a time per delivery. `inFlight`: deliveries the
   * caller is attempting now, never taken again by it, even once their hold has run out.
   */
  abstract claim(urls: readonly string[], now: number, limit: number, leaseMs: number, inFlight?: readonly string[]): Promise<ClaimedDelivery[]>;
  /**
   * Records what attempt `attempt` came to, at `now`, and lets the delivery go. False when the
   * delivery has moved on (this attempt's lease ran out and another attempt was made meanwhile).
   */
  abstract settle(id: string, attempt: number, outcome: Settlement, now: number): Promise<boolean>;
  /** When the earliest pending delivery to these URLs can be taken (its due time, or its lease's end); null with none. */
  abstract nextDue(urls: readonly string[]): Promise<number | null>;
  /** Newest first. */
  abstract list(query: DeliveryListQuery): Promise<{ items: WebhookDelivery[]; total: number }>;
  abstract event(id: string): Promise<WebhookEventView | undefined>;
  abstract delivery(id: string): Promise<WebhookDelivery | undefined>;
  /**
   * Makes a pending or failed delivery due at `now` (a failed one pending again); a delivered one is
   * left as it is. The delivery as it then is, or undefined when there is no such delivery.
   */
  abstract retryNow(id: string, now: number): Promise<WebhookDelivery | undefined>;
}
