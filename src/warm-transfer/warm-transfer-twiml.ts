import twilio from 'twilio';

export const WARM_TRANSFER_PATHS = {
  whisper: '/twilio/warm-transfer/whisper',
  answer: '/twilio/warm-transfer/answer',
  status: '/twilio/warm-transfer/status',
} as const;

export const TRANSFER_PARAM = 'transfer';
/** The call the transfer is for: the instance holding it holds the transfer. */
export const CALL_PARAM = 'call';

/** What the on-call leg hears when the caller is no longer waiting. */
export const NOT_WAITING = 'This caller is no longer waiting. Goodbye.';

/** Seconds the whisper waits for a key after it has been said. */
export const WHISPER_GATHER_SECONDS = 8;

/** The conference both legs join. */
export function conferenceName(transferId: string): string {
  return `transfer-${transferId}`;
}

/** A webhook URL of the transfer under PUBLIC_BASE_URL (Twilio signs it with its query). */
export function transferUrl(publicBaseUrl: string, path: string, callSid: string, transferId: string): string {
  return `${publicBaseUrl}${path}?${CALL_PARAM}=${encodeURIComponent(callSid)}&${TRANSFER_PARAM}=${encodeURIComponent(transferId)}`;
}

/** What the on-call person hears on answering: the summary, then press 1 to take the call. */
export function whisperTwiml(publicBaseUrl: string, callSid: string, transferId: string, whisper: string): string {
  const response = new twilio.twiml.VoiceResponse();
  const gather = response.gather({ numDigits: 1, action: transferUrl(publicBaseUrl, WARM_TRANSFER_PATHS.answer, callSid, transferId), method: 'POST', timeout: WHISPER_GATHER_SECONDS });
  gather.say(`${whisper} Press 1 to take the call, 2 to decline.`);
  response.say('No answer received. Goodbye.');
  response.hangup();
  return response.toString();
}

/** Joins a leg to the transfer's conference; it ends when either leaves. */
export function conferenceTwiml(transferId: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.dial().conference({ endConferenceOnExit: true, beep: 'false' }, conferenceName(transferId));
  return response.toString();
}

/** Says a sentence to the on-call leg and hangs up. */
export function goodbyeTwiml(text: string): string {
  const response = new twilio.twiml.VoiceResponse();
  response.say(text);
  response.hangup();
  return response.toString();
}
