import { Global, Module } from '@nestjs/common';
import { AppLogger, LOG_DESTINATION, NestLogger } from './app-logger';

@Global()
@Module({
  // null: stdout. Tests override the destination to read the log lines.
  providers: [{ provide: LOG_DESTINATION, useValue: null }, AppLogger, NestLogger],
  exports: [AppLogger, NestLogger],
})
export class LoggingModule {}
