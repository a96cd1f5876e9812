import { Inject, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import serveStatic from 'serve-static';
import { CallLogModule } from '../call-log/call-log.module';
import { AppLogger } from '../logging/app-logger';
import { SecurityModule } from '../security/security.module';
import { SessionModule } from '../session/session.module';
import { CONSOLE_PATH, findConsoleDir, setConsoleHeaders } from './console-files';
import { LiveCallsEventsController } from './live-calls-events.controller';
import { LiveCallsFeed } from './live-calls-feed';

const CONSOLE_DIR = Symbol('CONSOLE_DIR');

/**
 * The business's console: the single-page app built into dist/console, served at /console (it
 * signs in with API_TOKEN and calls the API like any client), and the live calls as server-sent
 * events for it. Without a build the API still serves, and a warning at boot says how to build it.
 */
@Module({})
export class ConsoleModule implements OnModuleInit {
  constructor(
    @Inject(CONSOLE_DIR) private readonly dir: string | null,
    private readonly adapter: HttpAdapterHost,
    private readonly logger: AppLogger,
  ) {}

  static register(dir: string | null = findConsoleDir()): DynamicModule {
    return {
      module: ConsoleModule,
      imports: [CallLogModule, SecurityModule, SessionModule],
      controllers: [LiveCallsEventsController],
      providers: [LiveCallsFeed, { provide: CONSOLE_DIR, useValue: dir }],
    };
  }

  /** At init, when the HTTP server exists (also in tests, whose module is compiled before it). */
  onModuleInit(): void {
    if (this.dir === null) {
      this.logger.root.warn('the console is not built (no dist/console): `npm run build` makes it, served at /console');
      return;
    }
    // The routes are hash fragments (#/calls/CA…): only real files are served, anything else is a 404.
    this.adapter.httpAdapter.use(CONSOLE_PATH, serveStatic(this.dir, { index: ['index.html'], setHeaders: setConsoleHeaders }));
  }
}
