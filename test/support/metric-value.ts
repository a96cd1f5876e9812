import type { Registry } from 'prom-client';

/**
 * One series' value, read through prom-client itself: the metric `name` with exactly `labels`;
 * undefined when there is no such series.
 */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return undefined;
  const wanted = Object.entries(labels);
  const { values } = await metric.get();
  return values.find((v) => Object.keys(v.labels).length === wanted.length && wanted.every(([k, x]) => v.labels[k] === x))?.value;
}
