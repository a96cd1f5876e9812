import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CallLogRepository } from '../call-log/call-record';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger, LOG_DESTINATION } from '../logging/app-logger';
import { FakeHubspot } from '../../test/support/fake-hubspot';
import { CrmModule } from './crm.module';
import { CrmService } from './crm.port';
import { HubspotCrmService } from './hubspot-crm.service';
import { NoopCrmService } from './noop-crm.service';

const CALL = { callSid: 'CA1', from: '+15551234567', to: '+15557654321' };

describe('CrmModule', () => {
  let fake: FakeHubspot;
  let closeApp: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    fake = await FakeHubspot.start();
  });
  afterEach(async () => {
    await closeApp?.();
    closeApp = undefined;
    await fake.close();
  });

  async function boot(env: Record<string, string>): Promise<CrmService> {
    const config = new AppConfig(validateEnvironment({ LOG_LEVEL: 'silent', HUBSPOT_BASE_URL: fake.baseUrl, ...env }));
    // Stands in for the global config, logging and database modules.
    @Global()
    @Module({
      providers: [
        { provide: AppConfig, useValue: config },
        { provide: LOG_DESTINATION, useValue: { write: () => undefined } },
        AppLogger,
        { provide: CallLogRepository, useValue: { mergeCrm: async () => true } },
      ],
      exports: [AppConfig, AppLogger, CallLogRepository],
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

  it('provides HubSpot when enabled', async () => {
    const crm = await boot({ HUBSPOT_ENABLED: 'true', HUBSPOT_ACCESS_TOKEN: fake.token });
    expect(crm).toBeInstanceOf(HubspotCrmService);
    crm.callStarted(CALL);
    const [search] = await fake.waitForRequests(1);
    expect(search.path).toBe('/crm/v3/objects/contacts/search');
    await (crm as HubspotCrmService).idle();
  });
});
