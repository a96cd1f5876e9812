import { Module } from '@nestjs/common';
import { InMemorySessionStore, SessionStore } from './session-store';

@Module({
  providers: [{ provide: SessionStore, useClass: InMemorySessionStore }],
  exports: [SessionStore],
})
export class SessionModule {}
