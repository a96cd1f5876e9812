import { ManualClock } from '../common/clock';
import { SendBackpressure, SendVerdict } from './send-backpressure';

describe('SendBackpressure', () => {
  let clock: ManualClock;
  let guard: SendBackpressure;

  beforeEach(() => {
    clock = new ManualClock();
    guard = new SendBackpressure(1000, 5000, clock);
  });

  it('sends while the socket holds no more than the bound', () => {
    expect(guard.check(0, 20)).toBe(SendVerdict.Send);
    expect(guard.check(1000, 20)).toBe(SendVerdict.Send);
    expect(guard.droppedAudioMs).toBe(0);
    expect(guard.episodes).toBe(0);
  });

  it('drops over the bound, announcing only the first drop of an episode', () => {
    expect(guard.check(1001, 20)).toBe(SendVerdict.FirstDrop);
    expect(guard.check(5000, 20)).toBe(SendVerdict.Drop);
    expect(guard.check(1001, 20)).toBe(SendVerdict.Drop);
    expect(guard.droppedAudioMs).toBe(60);
    expect(guard.episodes).toBe(1);
  });

  it('starts a new episode after the socket has drained below the bound', () => {
    guard.check(2000, 20);
    clock.advance(4000);
    expect(guard.check(10, 20)).toBe(SendVerdict.Send);
    clock.advance(4000);
    expect(guard.check(2000, 20)).toBe(SendVerdict.FirstDrop);
    // The stall is measured from the start of this episode, not the first one.
    clock.advance(4999);
    expect(guard.check(2000, 20)).toBe(SendVerdict.Drop);
    expect(guard.episodes).toBe(2);
    expect(guard.droppedAudioMs).toBe(60);
  });

  it('reports a stall once the socket has stayed over the bound for the stall timeout', () => {
    guard.check(2000, 20);
    clock.advance(4999);
    expect(guard.check(2000, 20)).toBe(SendVerdict.Drop);
    clock.advance(1);
    expect(guard.check(2000, 20)).toBe(SendVerdict.Stalled);
  });
});
