import { ManualClock } from '../common/clock';
import { CallTimeline } from './call-timeline';

describe('CallTimeline', () => {
  it('runs on the local clock until the first caller frame', () => {
    const clock = new ManualClock(1_000);
    const timeline = new CallTimeline(clock);
    clock.advance(35);
    expect(timeline.now()).toBe(35);
  });

  it('follows the Twilio media timestamps, interpolating between frames', () => {
    const clock = new ManualClock();
    const timeline = new CallTimeline(clock);
    clock.advance(100);
    expect(timeline.now()).toBe(100);
    timeline.media(60); // the stream clock is 40 ms behind that first guess
    expect(timeline.now()).toBe(100); // never backwards
    clock.advance(50);
    expect(timeline.now()).toBe(110);
    timeline.media(120);
    clock.advance(5);
    expect(timeline.now()).toBe(125);
  });

  it('ignores a late frame with an older timestamp', () => {
    const clock = new ManualClock();
    const timeline = new CallTimeline(clock);
    timeline.media(200);
    timeline.media(100);
    clock.advance(10);
    expect(timeline.now()).toBe(210);
  });
});
