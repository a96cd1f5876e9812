import { Global, Module } from '@nestjs/common';
import { ConfigModule, registerAs } from '@nestjs/config';
import { AppConfig } from './app-config';
import { validateEnvironment } from './env.schema';

// Runs after ConfigModule has merged .env into process.env; throws (stopping boot) on a bad value.
const appConfig = registerAs('app', () => new AppConfig(validateEnvironment(process.env)));

/** Loads .env when present, validates the environment once, and provides the typed AppConfig everywhere. */
@Global()
@Module({
  imports: [ConfigModule.forRoot({ load: [appConfig], cache: true })],
  providers: [{ provide: AppConfig, inject: [appConfig.KEY], useFactory: (config: AppConfig) => config }],
  exports: [AppConfig],
})
export class AppConfigModule {}
