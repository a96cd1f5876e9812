import { Module } from '@nestjs/common';
import { RecordingLinks } from './recording-links';
import { RecordingService } from './recording.service';

@Module({ providers: [RecordingService, RecordingLinks], exports: [RecordingService, RecordingLinks] })
export class RecordingModule {}
