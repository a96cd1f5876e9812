import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ImmediateScheduler } from '../../test/support/immediate-scheduler';
import { CallLogRepository } from '../call-log/call-record';
import { Clock, ManualClock } from '../common/clock';
import { Scheduler } from '../common/scheduler';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger, LOG_DESTINATION } from '../logging/app-logger';
import { CallMetrics } from '../metrics/call-metrics';
import { FakeHubspot } from '../../test/support/fake-hubspot';
import { CrmModule } from './crm.module';
import { CrmService } from './crm.port';
import { HubspotCrmService } from './hubspot-crm.service';
import { NoopCrmService } from './noop-crm.service';

const CALL = { callSid: 'CA1', from: '+15551234567', to: '+15557654321' };

describe('CrmModule', () => {
  let fake: FakeHubspot;
  let scheduler: ImmediateScheduler;
  let closeApp: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    fake = await FakeHubspot.start();
    scheduler = new ImmediateScheduler();
  });
  afterEach(async () => {
    await closeApp?.();
    closeApp = undefined;
    await fake.close();
  });

  async function boot(env: Record<string, string>): Promise<CrmService> {
    const config = new AppConfig(validateEnvironment({ LOG_LEVEL: 'silent', HUBSPOT_BASE_URL: fake.baseUrl, ...env }));
    // Stands in for the global config, logging, database, metrics and common modules.
    @Global()
    @Module({
      providers: [
        { provide: AppConfig, useValue: config },
        { provide: LOG_DESTINATION, useValue: { write: () => undefined } },
        AppLogger,
        { provide: CallLogRepository, useValue: { mergeCrm: async () => true } },
        { provide: Clock, useValue: new ManualClock() },
        { provide: Scheduler, useValue: scheduler },
        { provide: CallMetrics, useValue: new CallMetrics() },
      ],
      exports: [AppConfig, AppLogger, CallLogRepository, Clock, Scheduler, CallMetrics],
    })
    class GlobalsModule {}
    const moduleRef = await Test.createTestingModule({ imports: [GlobalsModule, CrmModule] }).compile();
    await moduleRef.init();
    closeApp = () => moduleRef.close();
    return moduleRef.get(CrmService);
  }

  it('provides the no-op when HubSpot is disabled, and nothing reaches HubSpot', async () => {
    const crm = await boot({ HUBSPOT_ENABLED: 'false', HUBSPOT_ACCESS_TOKEN: fake.token });
    expect(crm).toBeInstanceOf(NoopCrmService);
    crm.callStarted(CALL);
    crm.jobRequested(CALL, { problem: 'drip' });
    crm.callEnded({
      ...CALL,
      direction: 'inbound',
      startedAt: 0,
      endedAt: 1,
      durationMs: 1,
      status: 'completed',
      endReason: 'caller-hangup',
      transcript: [],
      jobRequest: undefined,
      summary: '',
      recordingUrl: undefined,
    });
    // Let any stray work get as far as the socket before looking.
    await new Promise((resolve) => setImmediate(resolve));
    expect(fake.requests).toEqual([]);
  });

  it('provides HubSpot when enabled, retrying on the global scheduler', async () => {
    const crm = await boot({ HUBSPOT_ENABLED: 'true', HUBSPOT_ACCESS_TOKEN: fake.token });
    expect(crm).toBeInstanceOf(HubspotCrmService);
    fake.failNext(1, 429, { retryAfter: 3 });
    crm.callStarted(CALL);
    const searches = await fake.waitForRequests(2, (r) => r.path === '/crm/v3/objects/contacts/search');
    expect(searches.map((r) => r.status)).toEqual([429, 200]);
    expect(scheduler.delays).toEqual([3000]);
    await (crm as HubspotCrmService).idle();
  });
});
