import { Module } from '@nestjs/common';
import { RealtimeConnector } from './realtime-client';

@Module({ providers: [RealtimeConnector], exports: [RealtimeConnector] })
export class RealtimeModule {}
