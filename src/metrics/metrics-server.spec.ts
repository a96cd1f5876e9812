import { LogCapture } from '../../test/support/log-capture';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/env.schema';
import { AppLogger } from '../logging/app-logger';
import { CallMetrics } from './call-metrics';
import { MetricsServer } from './metrics-server';

function server(env: Record<string, string>): { server: MetricsServer; metrics: CallMetrics } {
  const config = new AppConfig(validateEnvironment({ HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env }));
  const metrics = new CallMetrics();
  return { server: new MetricsServer(metrics, config, new AppLogger(config, new LogCapture())), metrics };
}

describe('MetricsServer', () => {
  it('serves only GET /metrics on METRICS_PORT, and stops listening at shutdown', async () => {
    const { server: s, metrics } = server({ METRICS_PORT: '0' });
    await s.onApplicationBootstrap();
    try {
      metrics.bargeIn();
      const url = `http://127.0.0.1:${s.port}`;
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.text()).toContain('call_operator_barge_ins_total 1\n');
      expect((await fetch(`${url}/metrics?x=1`)).status).toBe(200);
      expect((await fetch(`${url}/`)).status).toBe(404);
      expect((await fetch(`${url}/health`)).status).toBe(404);
      expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      const port = s.port;
      await s.onApplicationShutdown();
      await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    }
  });

  it('listens on nothing without METRICS_PORT: /metrics is on the main port then', async () => {
    const { server: s } = server({});
    await s.onApplicationBootstrap();
    expect(s.port).toBeNull();
    await s.onApplicationShutdown();
  });
});
