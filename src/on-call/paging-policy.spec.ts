import fc from 'fast-check';
import { decide, type EscalationState, type PageState } from './paging-policy';
import type { OnCallPerson } from './rota';

const person = (id: string): OnCallPerson => ({ id, name: id, mobile: '+15551230000' });
const people = [person('alice'), person('bob'), person('owner')];
const ACK = 5 * 60_000;
const T0 = Date.UTC(2026, 0, 15, 7);

const sent = (step: number, sentAt: number, answer: PageState['answer'] = null): PageState => ({ step, status: 'sent', sentAt, answer });
const state = (pages: PageState[], over: Partial<EscalationState> = {}): EscalationState => ({ people, status: 'paging', pages, ...over });

describe('decide', () => {
  it('pages the first person when nothing has been sent', () => {
    expect(decide(state([]), T0, ACK)).toEqual({ kind: 'page', step: 0 });
  });

  it('gives up at once on an empty list', () => {
    expect(decide(state([], { people: [] }), T0, ACK)).toEqual({ kind: 'give-up' });
  });

  it('waits for an answer until the ack timeout, then pages the next person', () => {
    const pages = [sent(0, T0)];
    expect(decide(state(pages), T0, ACK)).toEqual({ kind: 'wait', step: 1, until: T0 + ACK });
    expect(decide(state(pages), T0 + ACK - 1, ACK)).toEqual({ kind: 'wait', step: 1, until: T0 + ACK });
    expect(decide(state(pages), T0 + ACK, ACK)).toEqual({ kind: 'page', step: 1 });
  });

  it('counts from the latest page, whatever order the pages come in', () => {
    const pages = [sent(1, T0 + ACK + 2_000), sent(0, T0)];
    expect(decide(state(pages), T0 + ACK + 3_000, ACK)).toEqual({ kind: 'wait', step: 2, until: T0 + 2 * ACK + 2_000 });
    expect(decide(state(pages), T0 + 2 * ACK + 2_000, ACK)).toEqual({ kind: 'page', step: 2 });
  });

  it('gives up once the last person has had their time', () => {
    const pages = [sent(0, T0), sent(1, T0 + ACK), sent(2, T0 + 2 * ACK)];
    expect(decide(state(pages), T0 + 3 * ACK - 1, ACK)).toEqual({ kind: 'wait', step: 3, until: T0 + 3 * ACK });
    expect(decide(state(pages), T0 + 3 * ACK, ACK)).toEqual({ kind: 'give-up' });
  });

  it('stops once anyone has accepted, even an earlier person after the escalation moved on', () => {
    expect(decide(state([sent(0, T0, 'accepted')]), T0 + 10 * ACK, ACK)).toEqual({ kind: 'done' });
    expect(decide(state([sent(0, T0, 'accepted'), sent(1, T0 + ACK)]), T0 + 10 * ACK, ACK)).toEqual({ kind: 'done' });
    expect(decide(state([sent(0, T0)], { status: 'acknowledged' }), T0 + 10 * ACK, ACK)).toEqual({ kind: 'done' });
  });

  it('does nothing more once it has given up', () => {
    expect(decide(state([sent(0, T0)], { status: 'unacknowledged' }), T0 + 10 * ACK, ACK)).toEqual({ kind: 'done' });
  });

  it('moves on at once from a page Twilio refused, or one its person declined', () => {
    expect(decide(state([{ step: 0, status: 'failed', sentAt: null, answer: null }]), T0, ACK)).toEqual({ kind: 'page', step: 1 });
    expect(decide(state([sent(0, T0, 'declined')]), T0 + 1_000, ACK)).toEqual({ kind: 'page', step: 1 });
    expect(decide(state([sent(0, T0), sent(1, T0 + ACK), { step: 2, status: 'failed', sentAt: null, answer: null }]), T0 + ACK + 5, ACK)).toEqual({ kind: 'give-up' });
  });

  it('leaves a page being sent to the worker sending it', () => {
    expect(decide(state([sent(0, T0), { step: 1, status: 'sending', sentAt: null, answer: null }]), T0 + 2 * ACK, ACK)).toEqual({ kind: 'sending', step: 1 });
  });

  it('never pages anyone twice, nor skips anyone, nor pages past the list, nor goes on after an acceptance', () => {
    // A random run: at random times the worker acts on the decision (a page is sent, refused or
    // declined, or someone accepts); whatever happens, the steps paged are 0, 1, 2… in order.
    const event = fc.record({ dt: fc.integer({ min: 0, max: 2 * ACK }), outcome: fc.constantFrom('sent', 'failed', 'declined', 'accepted', 'silent') });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(event, { maxLength: 20 }), (n, events) => {
        const list = Array.from({ length: n }, (_, i) => person(`p${i}`));
        const pages: PageState[] = [];
        let now = T0;
        let accepted = false;
        let gaveUp = false;
        for (const e of events) {
          now += e.dt;
          const action = decide({ people: list, status: gaveUp ? 'unacknowledged' : 'paging', pages }, now, ACK);
          if (action.kind === 'give-up') gaveUp = true;
          if (action.kind === 'done') expect(accepted || gaveUp).toBe(true);
          if (action.kind === 'wait') expect(action.until).toBeGreaterThan(now);
          if (action.kind !== 'page') continue;
          expect(accepted || gaveUp).toBe(false);
          expect(action.step).toBe(pages.length);
          expect(action.step).toBeLessThan(n);
          if (pages.length > 0) {
            const last = pages[pages.length - 1];
            expect(last.status === 'failed' || last.answer === 'declined' || now >= (last.sentAt ?? 0) + ACK).toBe(true);
          }
          const failed = e.outcome === 'failed';
          const answer = e.outcome === 'accepted' || e.outcome === 'declined' ? e.outcome : null;
          pages.push({ step: action.step, status: failed ? 'failed' : 'sent', sentAt: failed ? null : now, answer });
          if (answer === 'accepted') accepted = true;
        }
      }),
    );
  });
});
