// The deployment files against the code: every Kubernetes manifest parses; each Mantou config in a ConfigMap is
// valid; probes ask endpoints the admin server has, on its port; container ports and Service target ports match
// the config's listeners; the config is mounted where the args point; the worker count follows the CPU limit;
// the security context is the locked-down one, with a writable /tmp; the grace period covers the drain. And the Dockerfile's ports,
// config path, user and health check agree with the same code.

import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../../config/load-config.ts';
import type { Config } from '../../../config/schema.ts';

const root = new URL('../../../', import.meta.url);
const dir = new URL('deploy/kubernetes/', root);
const CONFIG_PATH = '/etc/mantou/mantou.yaml';
/** GET endpoints of core/admin/admin-server.ts. */
const ADMIN_GET = ['/ready', '/live', '/stats', '/config_dump'];

interface Container {
  name: string;
  image: string;
  args?: string[];
  restartPolicy?: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; valueFrom?: { resourceFieldRef?: { containerName: string; resource: string } } }[];
  readinessProbe?: { httpGet: { path: string; port: string | number } };
  livenessProbe?: { httpGet: { path: string; port: string | number } };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
  resources?: { limits?: { cpu?: string } };
}

interface Doc {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    selector?: Record<string, unknown>;
    ports?: { port: number; targetPort: string | number }[];
    template?: {
      metadata: { labels: Record<string, string> };
      spec: {
        terminationGracePeriodSeconds?: number;
        initContainers?: Container[];
        containers: Container[];
        volumes?: { name: string; configMap?: { name: string }; emptyDir?: { sizeLimit?: string } }[];
      };
    };
  };
}

const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
const docsOf = (file: string): Doc[] =>
  parseAllDocuments(readFileSync(new URL(file, dir), 'utf8')).map((d) => {
    expect(d.errors, file).toEqual([]);
    return d.toJS() as Doc;
  });

function portNumber(c: Container, port: string | number): number | undefined {
  return typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort;
}

describe.each(files)('deploy/kubernetes/%s', (file) => {
  const docs = docsOf(file);
  const configMaps = new Map(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata.name, d]));
  const deployments = docs.filter((d) => d.kind === 'Deployment');

  it('has a Deployment running Mantou and a ConfigMap with a valid config for it', () => {
    expect(deployments.length).toBeGreaterThan(0);
    for (const cm of configMaps.values()) {
      const text = cm.data?.['mantou.yaml'];
      expect(text, cm.metadata.name).toBeDefined();
      parseConfig(text as string, `${file}:${cm.metadata.name}`, { MANTOU_WORKERS: '2' });
    }
  });

  for (const d of deployments) {
    const pod = d.spec?.template?.spec;
    const all = [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])];
    const mantou = all.find((c) => c.image.startsWith('mantou:')) as Container;
    const volume = pod?.volumes?.find((v) => mantou?.volumeMounts?.some((m) => m.name === v.name && m.mountPath === '/etc/mantou'));
    const config = (): Config => parseConfig(configMaps.get(volume?.configMap?.name ?? '')?.data?.['mantou.yaml'] ?? '', file, { MANTOU_WORKERS: '2' });

    it(`${d.metadata.name}: mounts its ConfigMap at /etc/mantou and runs the config there`, () => {
      expect(mantou).toBeDefined();
      expect(volume?.configMap?.name).toBeDefined();
      expect(configMaps.has(volume?.configMap?.name as string)).toBe(true);
      expect(mantou.args).toEqual(['run', '-c', CONFIG_PATH]);
      if (pod?.initContainers?.includes(mantou)) expect(mantou.restartPolicy, 'a native sidecar').toBe('Always');
    });

    it(`${d.metadata.name}: probes ask the admin port for /ready and /live`, () => {
      const adminPort = config().admin?.port ?? 9901;
      expect(config().admin?.address).toBe('0.0.0.0');
      expect(mantou.readinessProbe?.httpGet.path).toBe('/ready');
      expect(mantou.livenessProbe?.httpGet.path).toBe('/live');
      for (const probe of [mantou.readinessProbe, mantou.livenessProbe]) {
        expect(ADMIN_GET).toContain(probe?.httpGet.path);
        expect(portNumber(mantou, probe?.httpGet.port as string)).toBe(adminPort);
      }
    });

    it(`${d.metadata.name}: exposes every listener not bound to loopback, and Services target those ports`, () => {
      const c = config();
      const exposed = c.listeners.filter((l) => !(l.address ?? '0.0.0.0').startsWith('127.')).map((l) => Number(l.port));
      const containerPorts = (mantou.ports ?? []).map((p) => p.containerPort);
      for (const port of exposed) expect(containerPorts).toContain(port);
      const podPorts = all.flatMap((x) => x.ports ?? []);
      for (const svc of docs.filter((x) => x.kind === 'Service')) {
        for (const p of svc.spec?.ports ?? []) {
          const target = typeof p.targetPort === 'number' ? p.targetPort : podPorts.find((q) => q.name === p.targetPort)?.containerPort;
          expect(target, `${svc.metadata.name}:${p.port}`).toBeDefined();
          expect(exposed).toContain(target);
        }
      }
    });

    it(`${d.metadata.name}: derives the worker count from its CPU limit`, () => {
      const env = mantou.env?.find((e) => e.name === 'MANTOU_WORKERS');
      expect(env?.valueFrom?.resourceFieldRef).toMatchObject({ containerName: mantou.name, resource: 'limits.cpu' });
      expect(mantou.resources?.limits?.cpu).toBeDefined();
      expect(configMaps.get(volume?.configMap?.name ?? '')?.data?.['mantou.yaml']).toMatch(/^workers: \$\{MANTOU_WORKERS/m);
    });

    it(`${d.metadata.name}: runs non-root, read-only, with no capabilities`, () => {
      expect(mantou.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 10001,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
    });

    it(`${d.metadata.name}: has a writable /tmp on its read-only root, for request body spill files`, () => {
      const tmp = mantou.volumeMounts?.find((m) => m.mountPath === '/tmp');
      const volumes = d.spec?.template?.spec.volumes ?? [];
      expect(volumes.find((v) => v.name === tmp?.name)).toHaveProperty('emptyDir');
    });

    it(`${d.metadata.name}: gives the drain (delay + timeout) time to finish before the kill, and watches its config`, () => {
      const c = config();
      const drainMs = (c.drain?.delayMs ?? 0) + (c.drain?.timeoutMs ?? 30_000);
      expect((pod?.terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThan(drainMs);
      expect(c.watchConfig).toBe(true);
    });
  }
});

describe('Dockerfile', () => {
  const text = readFileSync(new URL('Dockerfile', root), 'utf8');
  const image = parseConfig(readFileSync(new URL('config/container.yaml', root), 'utf8'), 'container.yaml', {});

  it('exposes the baked config’s edge and admin ports and puts that config where CMD points', () => {
    const exposed = (/^EXPOSE (.+)$/m.exec(text)?.[1] ?? '').split(/\s+/).map(Number);
    const publicPorts = image.listeners.filter((l) => l.address === '0.0.0.0').map((l) => Number(l.port));
    expect(exposed.sort()).toEqual([...publicPorts, image.admin?.port ?? 9901].sort());
    expect(text).toContain(`COPY config/container.yaml ${CONFIG_PATH}`);
    expect(text).toMatch(new RegExp(`^CMD \\["run", "-c", "${CONFIG_PATH}"\\]$`, 'm'));
  });

  it('runs as the non-root user the manifests expect, under tini, with the healthcheck verb', () => {
    expect(text).toMatch(/^USER 10001:10001$/m);
    expect(text).toMatch(/^ENTRYPOINT \["tini", "--", "node", "--no-memory-reducer", "--single-threaded-gc", "\/opt\/mantou\/bin\/mantou.js"\]$/m);
    expect(text).toMatch(/^HEALTHCHECK .*CMD \["mantou", "healthcheck", "-c", "\/etc\/mantou\/mantou.yaml"\]$/m);
    expect(text).toMatch(/^RUN ln -s \/opt\/mantou\/bin\/mantou.js \/usr\/local\/bin\/mantou$/m);
    expect(text).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(text).toMatch(/^ARG BASE=node:22-bookworm-slim$/m);
    expect(text).toMatch(/npm ci --omit=dev/);
  });
});
