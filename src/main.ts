import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { configureApp } from './bootstrap';
import { AppConfig } from './config/app-config';
import { AppLogger } from './logging/app-logger';

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule, { bufferLogs: true });
  configureApp(app);
  // SIGTERM/SIGINT run Nest's shutdown hooks: stop taking calls, drain the live ones, flush the
  // call log; then exit 0, as a finished shutdown is not a crash (re-raising the signal would give 143).
  // Only those two: Nest's default list includes SIGUSR2 and others that diagnostics use.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  const config = app.get(AppConfig);
  await app.listen(config.port, config.host);
  app.get(AppLogger).root.info(
    { port: config.port, realtimeApi: config.openai.api, model: config.openai.model, agentReady: Boolean(config.openai.apiKey) },
    'call operator listening',
  );
}

main().catch((err: unknown) => {
  // Configuration errors name the variable; print them plainly and stop.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
