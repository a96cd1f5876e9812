import { dateTime, label } from '../format';
import type { CallRecord, OutboundRequest } from '../types';

type Tone = 'good' | 'pending' | 'bad' | 'plain';

/** What has been done about a call since: pages, a warm transfer, the CRM, the confirmation text, a callback. */
export function followUpOf(call: CallRecord, callbacks: readonly OutboundRequest[] = []): Array<{ text: string; tone: Tone }> {
  const out: Array<{ text: string; tone: Tone }> = [];
  const { paging, warmTransfer, smsConfirmation, onCall } = call.details;
  if (onCall && !onCall.alerted) out.push({ text: onCall.reason === 'nobody_on_call' ? 'Not paged: nobody on call' : 'Not paged: paging is not set up', tone: 'bad' });
  if (paging) {
    const taker = paging.pages.find((p) => p.answer === 'accepted')?.personName ?? paging.ackedBy;
    if (paging.status === 'acknowledged') out.push({ text: `Taken by ${taker ?? 'on call'}${paging.ackedVia ? ` (${paging.ackedVia})` : ''}`, tone: 'good' });
    else if (paging.status === 'paging') out.push({ text: `Paging on call (${paging.pages.length} sent)`, tone: 'pending' });
    else out.push({ text: 'Nobody on call took it', tone: 'bad' });
  }
  if (warmTransfer) out.push({ text: `Warm transfer ${label(warmTransfer.status)}`, tone: warmTransfer.status === 'bridged' ? 'good' : 'plain' });
  const crm = call.crm?.jobRequest;
  if (crm?.status === 'synced') out.push({ text: 'In the CRM', tone: 'good' });
  else if (crm?.status === 'failed') out.push({ text: 'CRM sync failed', tone: 'bad' });
  if (smsConfirmation) {
    const tone: Tone = smsConfirmation.status === 'sent' ? 'good' : smsConfirmation.status === 'failed' ? 'bad' : 'plain';
    out.push({ text: `Confirmation text ${smsConfirmation.status}${smsConfirmation.reason ? ` (${label(smsConfirmation.reason)})` : ''}`, tone });
  }
  for (const cb of callbacks) out.push({ text: `Callback ${cb.status}`, tone: cb.status === 'completed' ? 'good' : cb.status === 'queued' || cb.status === 'dialing' ? 'pending' : 'plain' });
  return out;
}

export function FollowUpBadges({ call, callbacks }: { call: CallRecord; callbacks?: readonly OutboundRequest[] }) {
  const items = followUpOf(call, callbacks);
  if (items.length === 0) return <span class="muted">Nothing yet</span>;
  return (
    <ul class="tags">
      {items.map((i) => (
        <li key={i.text} class={`tag ${i.tone}`}>
          {i.text}
        </li>
      ))}
    </ul>
  );
}

/** The call's follow-up in full: each page and answer, the transfer, the CRM, the text, the operators' commands. */
export function FollowUp({ call }: { call: CallRecord }) {
  const { paging, warmTransfer, smsConfirmation, operatorCommands } = call.details;
  const crm = Object.entries(call.crm ?? {});
  return (
    <>
      <FollowUpBadges call={call} />
      {paging && (
        <>
          <h3>Pages sent</h3>
          <ol class="plain">
            {paging.pages.map((p) => (
              <li key={p.step}>
                {p.personName} ({p.to}): {p.status}
                {p.sentAt && ` ${dateTime(p.sentAt)}`}
                {p.error && <span class="error"> {p.error}</span>}
                {p.answer && ` — answered ${p.answer} ${dateTime(p.answeredAt)}`}
              </li>
            ))}
          </ol>
        </>
      )}
      {warmTransfer && (
        <>
          <h3>Warm transfer</h3>
          <p>
            To {warmTransfer.to} ({warmTransfer.personId}): {label(warmTransfer.status)} {dateTime(warmTransfer.startedAt)}
            {warmTransfer.error && <span class="error"> {warmTransfer.error}</span>}
          </p>
        </>
      )}
      {smsConfirmation && (
        <>
          <h3>Confirmation text</h3>
          <p>
            {smsConfirmation.status}, reference {smsConfirmation.reference}
            {smsConfirmation.reason && ` (${label(smsConfirmation.reason)})`}, {dateTime(smsConfirmation.at)}
          </p>
        </>
      )}
      <h3>CRM</h3>
      {crm.length === 0 ? (
        <p class="muted">Not sent to a CRM.</p>
      ) : (
        <ul class="plain">
          {crm.map(([what, state]) => (
            <li key={what}>
              {label(what)}: {state.status ?? '—'} {state.at && dateTime(state.at)}
              {state.error && <span class="error"> {state.error}</span>}
            </li>
          ))}
        </ul>
      )}
      {operatorCommands && operatorCommands.length > 0 && (
        <>
          <h3>Operators' commands</h3>
          <ul class="plain">
            {operatorCommands.map((c, i) => (
              <li key={i}>
                {label(c.action)} <span class="muted">{dateTime(new Date(c.at).toISOString())}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}
