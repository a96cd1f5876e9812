import { useEffect, useRef, useState } from 'preact/hooks';
import type { RefObject } from 'preact';
import { request } from '../api';
import { duration } from '../format';
import { decodeWav, peaks, toPcmWav, type Recording } from '../recording';

const CALLER_COLOUR = '#1d5fa8';
const AGENT_COLOUR = '#a34a00';
const CURSOR_COLOUR = '#b00020';

function draw(canvas: HTMLCanvasElement, recording: Recording, positionMs: number): void {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.clearRect(0, 0, width, height);
  const lane = height / 2;
  recording.channels.forEach((samples, channel) => {
    const { min, max } = peaks(samples, width);
    const middle = lane * channel + lane / 2;
    ctx.fillStyle = channel === 0 ? CALLER_COLOUR : AGENT_COLOUR;
    for (let x = 0; x < width; x++) {
      const top = middle - max[x] * (lane / 2 - 2);
      const bottom = middle - min[x] * (lane / 2 - 2);
      ctx.fillRect(x, top, 1, Math.max(1, bottom - top));
    }
  });
  ctx.fillStyle = '#d0d4da';
  ctx.fillRect(0, lane, width, 1);
  const x = recording.durationMs > 0 ? Math.round((positionMs / recording.durationMs) * width) : 0;
  ctx.fillStyle = CURSOR_COLOUR;
  ctx.fillRect(Math.min(width - 2, x), 0, 2 * ratio, height);
}

/**
 * The call's recording: fetched with the token, drawn as a stereo waveform (caller above, agent
 * below) with the play position, and played from a PCM copy. Reports the position as it plays.
 */
export function Player({ callSid, audio, onPosition }: { callSid: string; audio: RefObject<HTMLAudioElement | null>; onPosition: (ms: number) => void }) {
  const [recording, setRecording] = useState<Recording | null>(null);
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [position, setPosition] = useState(0);
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    const abort = new AbortController();
    let made: string | null = null;
    request(`/api/calls/${callSid}/recording`, { signal: abort.signal })
      .then((res) => res.arrayBuffer())
      .then((bytes) => {
        const decoded = decodeWav(bytes);
        made = URL.createObjectURL(toPcmWav(decoded));
        setRecording(decoded);
        setUrl(made);
      })
      .catch((err: unknown) => {
        if (!abort.signal.aborted) setError(err instanceof Error ? err.message : String(err));
      });
    return () => {
      abort.abort();
      if (made) URL.revokeObjectURL(made);
    };
  }, [callSid]);

  // While playing, follow the audio every frame; timeupdate alone comes only a few times a second.
  useEffect(() => {
    const el = audio.current;
    if (!el || !url) return;
    let frame = 0;
    const update = () => {
      const ms = el.currentTime * 1000;
      setPosition(ms);
      onPosition(ms);
    };
    const loop = () => {
      update();
      frame = requestAnimationFrame(loop);
    };
    const play = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(loop);
    };
    const stop = () => {
      cancelAnimationFrame(frame);
      update();
    };
    el.addEventListener('play', play);
    el.addEventListener('pause', stop);
    el.addEventListener('ended', stop);
    el.addEventListener('seeked', update);
    el.addEventListener('timeupdate', update);
    return () => {
      cancelAnimationFrame(frame);
      el.removeEventListener('play', play);
      el.removeEventListener('pause', stop);
      el.removeEventListener('ended', stop);
      el.removeEventListener('seeked', update);
      el.removeEventListener('timeupdate', update);
    };
  }, [audio, url, onPosition]);

  useEffect(() => {
    const el = canvas.current;
    if (!el || !recording) return;
    draw(el, recording, position);
  }, [recording, position]);

  useEffect(() => {
    const el = canvas.current;
    if (!el || !recording) return;
    const observer = new ResizeObserver(() => draw(el, recording, audio.current ? audio.current.currentTime * 1000 : 0));
    observer.observe(el);
    return () => observer.disconnect();
  }, [recording, audio]);

  if (error) return <p class="muted">No recording: {error}</p>;
  if (!recording || !url) return <p class="muted">Loading the recording…</p>;
  const seek = (e: MouseEvent) => {
    const el = audio.current;
    const target = e.currentTarget as HTMLCanvasElement;
    if (!el) return;
    const share = (e.clientX - target.getBoundingClientRect().left) / target.clientWidth;
    el.currentTime = Math.max(0, Math.min(1, share)) * (recording.durationMs / 1000);
  };
  return (
    <div class="player">
      <div class="lanes" aria-hidden="true">
        <span class="caller">Caller</span>
        <span class="agent">Agent</span>
      </div>
      <canvas
        ref={canvas}
        class="waveform"
        data-testid="waveform"
        role="img"
        aria-label={`Waveform of the recording, ${duration(recording.durationMs)} long: caller above, agent below`}
        onClick={seek}
      />
      <audio ref={audio} src={url} controls preload="auto" data-testid="audio" aria-label="Call recording" />
    </div>
  );
}
