import { Global, Module } from '@nestjs/common';
import { AppLogger, NestLogger } from './app-logger';

@Global()
@Module({ providers: [AppLogger, NestLogger], exports: [AppLogger, NestLogger] })
export class LoggingModule {}
