import { HttpException, NotFoundException } from '@nestjs/common';
import type { Response } from 'express';

/**
 * Sends a recording's WAV file with Range support (Express's sendFile): 206 for a range, 416 for a
 * range past the end, 404 when the file has gone.
 */
export function sendRecording(res: Response, path: string): Promise<void> {
  // private: a shared cache must not keep a caller's voice, nor serve it after a link is revoked.
  const headers = { 'Content-Type': 'audio/wav', 'Cache-Control': 'private, no-store' };
  return new Promise<void>((resolve, reject) =>
    res.sendFile(path, { headers, cacheControl: false, acceptRanges: true }, (err?: Error & { status?: number }) => {
      if (!err) resolve();
      else if (res.headersSent) resolve(); // the client went away mid-download
      // A range past the end: 416, with the Content-Range sendFile has already set.
      else if (err.status === 416) reject(new HttpException('The range is not within the recording.', 416));
      else reject(new NotFoundException('The recording file is missing.'));
    }),
  );
}
