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

/** A histogram's count and sum of observations, read through prom-client; undefined when there is no such metric. */
export async function histogramValue(registry: Registry, name: string): Promise<{ count: number; sum: number } | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return undefined;
  // A histogram's values name their series (_bucket, _sum, _count); prom-client's types leave that out.
  const values = (await metric.get()).values as Array<{ value: number; metricName?: string }>;
  const of = (suffix: string) => values.find((v) => v.metricName === `${name}_${suffix}`)?.value ?? 0;
  return { count: of('count'), sum: of('sum') };
}
