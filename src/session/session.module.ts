import { Module } from '@nestjs/common';
import { SessionJanitor } from './session-janitor';
import { InMemorySessionStore, SessionStore } from './session-store';

@Module({
  providers: [
    { provide: SessionStore, useClass: InMemorySessionStore },
    SessionJanitor,
  ],
  exports: [SessionStore, SessionJanitor],
})
export class SessionModule {}
