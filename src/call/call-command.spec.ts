import { readCallCommand } from './call-command';

describe('readCallCommand', () => {
  it('reads each command as another instance sends it', () => {
    expect(readCallCommand({ action: 'hangup', extra: 1 })).toEqual({ action: 'hangup' });
    expect(readCallCommand({ action: 'transfer' })).toEqual({ action: 'transfer' });
    expect(readCallCommand({ action: 'transfer', to: '+15552223333' })).toEqual({ action: 'transfer', to: '+15552223333' });
    expect(readCallCommand({ action: 'say', text: 'hi', mode: 'sentence' })).toEqual({ action: 'say', text: 'hi', mode: 'sentence' });
    expect(readCallCommand({ action: 'say', text: 'ask', mode: 'instruction' })).toEqual({ action: 'say', text: 'ask', mode: 'instruction' });
    expect(readCallCommand({ action: 'warm-transfer', transfer: 'abc', event: 'digits', value: '1', x: 2 })).toEqual({ action: 'warm-transfer', transfer: 'abc', event: 'digits', value: '1' });
  });

  it('refuses anything else', () => {
    for (const bad of [null, 'hangup', 42, {}, { action: 'explode' }, { action: 'transfer', to: 5 }, { action: 'say', text: 'hi' }, { action: 'say', mode: 'sentence' }, { action: 'say', text: 1, mode: 'sentence' },
      { action: 'warm-transfer', transfer: 'abc', event: 'dance', value: '' },
      { action: 'warm-transfer', event: 'whisper', value: '' },
      { action: 'warm-transfer', transfer: 'abc', event: 'status' },
    ]) {
      expect(readCallCommand(bad)).toBeNull();
    }
  });
});
