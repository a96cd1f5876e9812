import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { getMetadataStorage } from 'class-validator';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler, type IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IMetricSpec } from 'kubernetes-models/autoscaling/v2/MetricSpec';
import { Ingress, type IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, type IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { PersistentVolumeClaim, type IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { Secret, type ISecret } from 'kubernetes-models/v1/Secret';
import { Service, type IService } from 'kubernetes-models/v1/Service';
import semver from 'semver';
import { parse as parseToml } from 'smol-toml';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { GOODBYE_MAX_MS, HANGUP_MAX_MS } from '../src/call/call';
import { CallsController } from '../src/call-log/calls.controller';
import { RecordingLinksController } from '../src/call-log/recording-links.controller';
import { EnvironmentVariables, validateEnvironment } from '../src/config/env.schema';
import { CONSOLE_PATH } from '../src/console/console-files';
import { LiveCallsEventsController } from '../src/console/live-calls-events.controller';
import { HealthController } from '../src/health/health.controller';
import { CallMetrics } from '../src/metrics/call-metrics';
import { MetricsController } from '../src/metrics/metrics.controller';
import { VoiceController } from '../src/phone-line/voice.controller';
import { SUMMARY_SHUTDOWN_WAIT_MS } from '../src/summary/call-summaries';
import { STREAM_PATH } from '../src/twilio/twiml.builder';

/**
 * The deployment files (deploy/kubernetes/, fly.toml, the Dockerfile, .ci/run) against the
 * Kubernetes API schemas and against the app itself: its routes, its configuration schema and its
 * shutdown budget. A manifest that kubectl would refuse, or that disagrees with the code, fails here.
 */

const ROOT = join(__dirname, '..');
const K8S_DIR = join(ROOT, 'deploy', 'kubernetes');
const read = (...path: string[]): string => readFileSync(join(ROOT, ...path), 'utf8');

// ---- Validation against the Kubernetes API schemas ---------------------------------------------

interface Validatable {
  readonly prototype: { validate(): void };
}

/** Every kind the manifests may use, by apiVersion and kind; anything else is an error. */
const MODELS: Record<string, Validatable> = {
  'apps/v1 Deployment': Deployment,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1 Ingress': Ingress,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'v1 ConfigMap': ConfigMap,
  'v1 PersistentVolumeClaim': PersistentVolumeClaim,
  'v1 Secret': Secret,
  'v1 Service': Service,
};

/** A copy of `value` whose objects strike their own fields off `unread` as they are read. */
function trackReads(value: unknown, path: string, unread: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((item, i) => trackReads(item, `${path}[${i}]`, unread));
  if (value === null || typeof value !== 'object') return value;
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    unread.add(`${path}.${key}`);
    copy[key] = trackReads(field, `${path}.${key}`, unread);
  }
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === 'string') unread.delete(`${path}.${key}`);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

/**
 * What is wrong with one object by the schema of its kind (kubernetes-models: the Kubernetes
 * OpenAPI schemas compiled with AJV). Those schemas allow fields they do not define, where the API
 * server refuses them (kubectl's default strict field validation), so a misspelt field would pass:
 * a field the schema's validator never read is reported as unknown too.
 */
function schemaProblems(object: unknown): string[] {
  const { apiVersion, kind } = (object ?? {}) as { apiVersion?: unknown; kind?: unknown };
  const model = MODELS[`${String(apiVersion)} ${String(kind)}`];
  if (!model) return [`no schema for apiVersion ${String(apiVersion)}, kind ${String(kind)}`];
  const unread = new Set<string>();
  try {
    model.prototype.validate.call(trackReads(object, '', unread));
  } catch (err) {
    return [(err as Error).message];
  }
  // Under an unknown field nothing is read: report the outermost one.
  const outermost = [...unread].filter((path) => ![...unread].some((other) => path.startsWith(`${other}.`) || path.startsWith(`${other}[`)));
  return outermost.map((path) => `unknown field ${path.slice(1)}`);
}

interface Manifest {
  readonly file: string;
  readonly object: { apiVersion: string; kind: string };
}

/** Every document of every YAML file there, parsed strictly (duplicate keys are errors). */
function loadManifests(): Manifest[] {
  const manifests: Manifest[] = [];
  for (const file of readdirSync(K8S_DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8'))) {
      const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
      if (problems.length > 0) throw new Error(`${file}: ${problems.join('; ')}`);
      manifests.push({ file, object: doc.toJS() as Manifest['object'] });
    }
  }
  return manifests;
}

const KUSTOMIZATION = 'kustomization.yaml';
const manifests = loadManifests();
const objects = manifests.filter((m) => m.file !== KUSTOMIZATION);

function the<T>(kind: string): T {
  const found = objects.filter((m) => m.object.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} in deploy/kubernetes, found ${found.length}`);
  return found[0].object as T;
}

// ---- What the app says ----------------------------------------------------------------------

type Controller = abstract new (...args: never[]) => object;

/** The full path of a controller's handler, as Nest routes it. */
function routeOf(controller: Controller, handler: string): string {
  const fn = (controller.prototype as Record<string, unknown>)[handler] as object;
  const prefix = Reflect.getMetadata(PATH_METADATA, controller) as string;
  const path = Reflect.getMetadata(PATH_METADATA, fn) as string;
  return posix.join('/', prefix, path).replace(/\/$/, '') || '/';
}

/** Every route of a controller. */
function routesOf(controller: Controller): string[] {
  return Object.getOwnPropertyNames(controller.prototype)
    .filter((name) => name !== 'constructor')
    .filter((name) => Reflect.hasMetadata(METHOD_METADATA, (controller.prototype as Record<string, object>)[name]))
    .map((name) => routeOf(controller, name));
}

const LIVENESS = routeOf(HealthController, 'live');
const READINESS = routeOf(HealthController, 'ready');
const METRICS = routeOf(MetricsController, 'scrape');
/** What Twilio, the CRM's recording links, API clients and the console's users call from outside. */
const PUBLIC_ROUTES = [
  ...routesOf(VoiceController),
  STREAM_PATH,
  ...routesOf(CallsController),
  ...routesOf(LiveCallsEventsController),
  ...routesOf(RecordingLinksController),
  CONSOLE_PATH,
];

const ENV_NAMES = new Set(getMetadataStorage().getTargetValidationMetadatas(EnvironmentVariables, '', true, false).map((m) => m.propertyName));
const DEFAULTS = validateEnvironment({});

/**
 * What shutdown may take after the drain: each call still going says goodbye (GOODBYE_MAX_MS) and
 * is hung up (HANGUP_MAX_MS), the summaries still being made get SUMMARY_SHUTDOWN_WAIT_MS, then
 * call records are flushed (5 s) and recordings closed. The README tells operators the same margin.
 */
const AFTER_DRAIN_SECONDS = 30;

/** Where the image runs the app (relative DATA_DIR and RECORDINGS_DIR are taken from here). */
const WORKDIR = /^WORKDIR\s+(\S+)$/m.exec(read('Dockerfile'))?.[1] ?? '';

/** Whether `path` is `prefix` or below it, by whole segments: Ingress Prefix matching, and mount points. */
const underPrefix = (path: string, prefix: string): boolean => prefix === '/' || path === prefix || path.startsWith(`${prefix.replace(/\/$/, '')}/`);

const duration = (value: string | number): number => (typeof value === 'number' ? value : Number(/^(\d+)s$/.exec(value)?.[1] ?? NaN));

// ---- The specs ------------------------------------------------------------------------------

describe('the schema check', () => {
  const deployment = (): any => JSON.parse(JSON.stringify(the<IDeployment>('Deployment')));

  it('reports a misspelt field, a wrong type, a missing required field and an unknown kind', () => {
    const misspelt = deployment();
    misspelt.spec.template.spec.containers[0].livenesProbe = misspelt.spec.template.spec.containers[0].livenessProbe;
    expect(schemaProblems(misspelt)).toEqual(['unknown field spec.template.spec.containers[0].livenesProbe']);
    misspelt.spce = misspelt.spec;
    expect(schemaProblems(misspelt)).toEqual(['unknown field spec.template.spec.containers[0].livenesProbe', 'unknown field spce']);

    const wrongType = deployment();
    wrongType.spec.replicas = 'two';
    expect(schemaProblems(wrongType).join()).toMatch(/replicas.*integer/);

    const unnamed = deployment();
    delete unnamed.spec.template.spec.containers[0].name;
    expect(schemaProblems(unnamed).join()).toMatch(/name/);

    expect(schemaProblems({ apiVersion: 'extensions/v1beta1', kind: 'Ingress' })).toEqual(['no schema for apiVersion extensions/v1beta1, kind Ingress']);
  });
});

describe('deploy/kubernetes', () => {
  const deployment = the<IDeployment>('Deployment');
  const pod = deployment.spec!.template.spec!;
  const container = pod.containers.find((c) => c.name === 'call-operator') as IContainer;
  const configMap = the<IConfigMap>('ConfigMap');
  const secret = the<ISecret>('Secret');
  const service = the<IService>('Service');
  const ingress = the<IIngress>('Ingress');
  const hpa = the<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler');
  const pdb = the<IPodDisruptionBudget>('PodDisruptionBudget');
  const pvc = the<IPersistentVolumeClaim>('PersistentVolumeClaim');
  const podLabels = deployment.spec!.template.metadata!.labels!;
  const selects = (selector: Record<string, string> | undefined): boolean =>
    selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => podLabels[k] === v);

  /** The pod's configuration as the app validates it at boot. */
  const env = validateEnvironment({
    ...configMap.data,
    ...secret.stringData,
    ...Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? 'call-operator-7d9f8b6c5-x2x4q'])),
  });
  const port = container.ports!.find((p) => p.name === 'http')!;

  it('has one of each object it needs, and every object valid by the Kubernetes API schemas', () => {
    expect(objects.map((m) => m.object.kind).sort()).toEqual(
      ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Ingress', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'Secret', 'Service'],
    );
    const problems = objects.flatMap((m) => schemaProblems(m.object).map((p) => `${m.file} ${m.object.kind}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('applies every manifest through kustomization.yaml except the Secret example, with the image the Deployment names', () => {
    const kustomization = parseYaml(readFileSync(join(K8S_DIR, KUSTOMIZATION), 'utf8')) as { resources: string[]; images: { name: string }[] };
    const files = [...new Set(objects.map((m) => m.file))].filter((f) => f !== 'secret.example.yaml').sort();
    expect([...kustomization.resources].sort()).toEqual(files);
    expect(kustomization.images.map((i) => i.name)).toEqual([container.image]);
  });

  it('sets only variables the app reads, to values it accepts at boot', () => {
    const names = [...Object.keys(configMap.data ?? {}), ...Object.keys(secret.stringData ?? {}), ...(container.env ?? []).map((e) => e.name)];
    expect(names.filter((n) => !ENV_NAMES.has(n))).toEqual([]);
    expect(env.NODE_ENV).toBe('production');
  });

  it('gives several replicas what several instances need: one database, one Redis, shared secrets', () => {
    expect(Math.min(deployment.spec!.replicas ?? 1, hpa.spec!.minReplicas ?? 1)).toBeGreaterThan(1);
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'STREAM_TOKEN_SECRET', 'RECORDING_LINK_SECRET']) expect(secret.stringData).toHaveProperty(name);
    // Each pod names itself in the sessions they share.
    expect(container.env).toContainEqual({ name: 'INSTANCE_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(container.envFrom).toEqual([{ configMapRef: { name: configMap.metadata!.name } }, { secretRef: { name: secret.metadata!.name } }]);
  });

  it("listens on the app's port and probes its liveness and readiness routes", () => {
    expect(port.containerPort).toBe(env.PORT);
    const probed = (probe: IProbe | undefined): [string | undefined, unknown] => [probe?.httpGet?.path, probe?.httpGet?.port];
    expect(probed(container.livenessProbe)).toEqual([LIVENESS, 'http']);
    expect(probed(container.startupProbe)).toEqual([LIVENESS, 'http']);
    expect(probed(container.readinessProbe)).toEqual([READINESS, 'http']);
    const annotations = deployment.spec!.template.metadata!.annotations!;
    expect([annotations['prometheus.io/port'], annotations['prometheus.io/path']]).toEqual([String(env.PORT), METRICS]);
  });

  it('lets a pod drain its calls: the grace period covers the preStop pause, the drain and what follows it', () => {
    const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(preStop).toBeGreaterThan(0);
    expect(GOODBYE_MAX_MS + HANGUP_MAX_MS + SUMMARY_SHUTDOWN_WAIT_MS).toBeLessThan(AFTER_DRAIN_SECONDS * 1000);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStop + env.DRAIN_TIMEOUT_SECONDS + AFTER_DRAIN_SECONDS);
    // New pods are ready before old ones start draining.
    expect(deployment.spec!.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
  });

  it('runs as the image\'s non-root user on a read-only root, with the directories the app writes mounted', () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(read('Dockerfile')).toMatch(/^USER node$/m);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const mounts = (container.volumeMounts ?? []).map((m) => m.mountPath);
    const dataDir = posix.resolve(WORKDIR, env.DATA_DIR);
    const recordingsDir = posix.resolve(WORKDIR, env.RECORDINGS_DIR ?? posix.join(env.DATA_DIR, 'recordings'));
    for (const dir of [dataDir, recordingsDir, '/tmp']) expect(mounts.filter((m) => underPrefix(dir, m))).not.toEqual([]);
    // The recordings are on the volume every pod shares.
    const recordingsVolume = container.volumeMounts!.find((m) => underPrefix(recordingsDir, m.mountPath))!.name;
    expect(pod.volumes!.find((v) => v.name === recordingsVolume)?.persistentVolumeClaim?.claimName).toBe(pvc.metadata!.name);
    expect(pvc.spec!.accessModes).toEqual(['ReadWriteMany']);
  });

  it('asks for resources, and limits memory', () => {
    expect(container.resources?.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources?.limits?.memory).toEqual(expect.any(String));
  });

  it('routes the Service, the PodDisruptionBudget and the autoscaler to the Deployment', () => {
    expect(selects(service.spec!.selector)).toBe(true);
    expect(service.spec!.ports!.map((p) => p.targetPort)).toEqual([port.name]);
    expect(selects(pdb.spec!.selector!.matchLabels)).toBe(true);
    expect(hpa.spec!.scaleTargetRef).toEqual({ apiVersion: deployment.apiVersion, kind: deployment.kind, name: deployment.metadata!.name });
  });

  it('exposes the public routes over TLS on the host of PUBLIC_BASE_URL, and not /health, /ready or /metrics', () => {
    const host = new URL(env.PUBLIC_BASE_URL!).host;
    expect(env.PUBLIC_BASE_URL).toMatch(/^https:/);
    expect(ingress.spec!.rules!.map((r) => r.host)).toEqual([host]);
    expect(ingress.spec!.tls).toEqual([{ hosts: [host], secretName: expect.any(String) }]);
    const paths = ingress.spec!.rules![0].http!.paths;
    for (const p of paths) expect([p.pathType, p.backend.service]).toEqual(['Prefix', { name: service.metadata!.name, port: { name: service.spec!.ports![0].name } }]);
    const prefixes = paths.map((p) => p.path!);
    expect(PUBLIC_ROUTES.filter((route) => !prefixes.some((prefix) => underPrefix(route, prefix)))).toEqual([]);
    expect([LIVENESS, READINESS, METRICS].filter((route) => prefixes.some((prefix) => underPrefix(route, prefix)))).toEqual([]);
  });

  it('keeps a call\'s WebSocket open through ingress-nginx for an hour', () => {
    const annotations = ingress.metadata!.annotations!;
    for (const name of ['proxy-read-timeout', 'proxy-send-timeout']) {
      expect(Number(annotations[`nginx.ingress.kubernetes.io/${name}`])).toBeGreaterThanOrEqual(3600);
    }
  });

  it('scales on CPU, and its commented alternative on active calls is a valid metric the app exports', () => {
    expect(hpa.spec!.metrics!.map((m) => m.resource?.name)).toEqual(['cpu']);
    // The commented block, uncommented, in place of the CPU metric.
    const lines = readFileSync(join(K8S_DIR, 'hpa.yaml'), 'utf8').split('\n');
    const start = lines.findIndex((l) => /^\s*# - type: Pods$/.test(l));
    const block = lines.slice(start).filter((_, i, all) => all.slice(0, i + 1).every((l) => /^\s*#/.test(l)));
    const alternative = parseYaml(block.map((l) => l.replace(/^(\s*)# /, '$1')).join('\n')) as IMetricSpec[];
    expect(schemaProblems({ ...hpa, spec: { ...hpa.spec, metrics: alternative } })).toEqual([]);

    const [metric] = alternative;
    expect(new CallMetrics().registry.getSingleMetric(metric.pods!.metric.name)).toBeDefined();
    expect(Number(metric.pods!.target.averageValue)).toBeLessThan(env.MAX_CONCURRENT_CALLS);
  });
});

describe('fly.toml', () => {
  interface FlyCheck {
    readonly type?: string;
    readonly port?: number;
    readonly path?: string;
  }
  interface FlyConfig {
    readonly app: string;
    readonly kill_signal: string;
    readonly kill_timeout: number | string;
    readonly env: Record<string, string>;
    readonly mounts: { destination: string };
    readonly http_service: { internal_port: number; concurrency: { hard_limit: number }; checks: FlyCheck[] };
    readonly checks: Record<string, FlyCheck>;
  }
  const fly = parseToml(read('fly.toml')) as unknown as FlyConfig;
  const env = validateEnvironment(fly.env);

  it('sets only variables the app reads, to values it accepts, with PUBLIC_BASE_URL on the app\'s fly.dev host', () => {
    expect(Object.keys(fly.env).filter((n) => !ENV_NAMES.has(n))).toEqual([]);
    expect(env.PUBLIC_BASE_URL).toBe(`https://${fly.app}.fly.dev`);
  });

  it("serves on the app's port and routes on readiness; checks liveness", () => {
    expect(fly.http_service.internal_port).toBe(env.PORT);
    expect(fly.http_service.checks.map((c) => c.path)).toEqual([READINESS]);
    expect(Object.values(fly.checks).map((c) => [c.type, c.port, c.path])).toEqual([['http', env.PORT, LIVENESS]]);
  });

  it('gives the machine time to drain (a signal the app drains on, within Fly\'s 300 s limit)', () => {
    expect(['SIGTERM', 'SIGINT']).toContain(fly.kill_signal);
    const kill = duration(fly.kill_timeout);
    expect(kill).toBeGreaterThanOrEqual(env.DRAIN_TIMEOUT_SECONDS + AFTER_DRAIN_SECONDS);
    expect(kill).toBeLessThanOrEqual(300);
  });

  it('lets the app, not the proxy, turn calls away; keeps DATA_DIR on the volume', () => {
    expect(fly.http_service.concurrency.hard_limit).toBeGreaterThan(env.MAX_CONCURRENT_CALLS);
    expect(underPrefix(posix.resolve(WORKDIR, env.DATA_DIR), fly.mounts.destination)).toBe(true);
  });
});

describe('Dockerfile and .ci/run', () => {
  const dockerfile = read('Dockerfile');
  const nodeVersion = /^ARG NODE_VERSION=(\S+)$/m.exec(dockerfile)?.[1];
  const manifest = JSON.parse(read('package.json')) as { engines: { node: string } };

  it('build and run on the Node release CI tests, which package.json supports', () => {
    expect(nodeVersion).toBeDefined();
    expect(/^NODE_24=(\S+)$/m.exec(read('.ci', 'run'))?.[1]).toBe(nodeVersion);
    expect(semver.satisfies(nodeVersion!, manifest.engines.node)).toBe(true);
    const stages = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(stages).toEqual(['node:${NODE_VERSION}-bookworm-slim', 'node:${NODE_VERSION}-bookworm-slim']);
  });

  it("listen on the app's default port and check its liveness route", () => {
    expect(dockerfile).toMatch(new RegExp(`PORT=${DEFAULTS.PORT}\\b`));
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${DEFAULTS.PORT}$`, 'm'));
    expect(/^HEALTHCHECK[\s\S]*?^\s*CMD (.*)$/m.exec(dockerfile)?.[1]).toContain(`'${LIVENESS}'`);
  });
});
