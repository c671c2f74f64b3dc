/** `bij operator`: the operator in a cluster, with leader election, metrics and clean shutdown. */
import { hostname } from 'node:os';
import type { S3Settings } from '../../../core/src/contract/job-spec.js';
import { Controller } from '../kube/controller.js';
import { ScheduleController } from '../kube/schedule-controller.js';
import { loadKubeConfig, makeClients } from '../kube/clients.js';
import { LeaderElector } from '../kube/leader.js';
import type { Logger } from '../log.js';
import { OperatorMetrics } from '../metrics.js';
import { serveMetrics } from '../serve.js';
import { openStorage } from '../../../core/src/storage/index.js';
import { commitStepHook } from '../commit/step-hook.js';
import { bestEffort, errorText } from '../../../core/src/contract/index.js';

export interface OperatorOptions {
  kubeconfig?: string;
  namespace?: string;
  metricsPort: number;
  leaseNamespace: string;
  leaseName: string;
  leaderElect: boolean;
  workers: number;
  /** Where /metrics listens (default all interfaces). */
  metricsHost?: string;
  /** Tuning, mostly for tests (defaults are the production values). */
  resyncMs?: number;
  retryBackoffMs?: number;
  progressPollMs?: number;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Worker policy (reconciler/worker-policy.ts). */
  allowedImagePrefixes?: string[];
  allowedServiceAccounts?: string[];
  /** commander's --no-secret-env: false refuses Secrets in worker env. */
  secretEnv?: boolean;
}

export async function operatorCommand(opts: OperatorOptions, log: Logger): Promise<void> {
  const clients = makeClients(loadKubeConfig(opts.kubeconfig));
  const metrics = new OperatorMetrics({ defaultMetrics: true });
  const identity = process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
  const backoff = opts.retryBackoffMs !== undefined ? { baseMs: opts.retryBackoffMs, maxMs: opts.retryBackoffMs * 30 } : undefined;
  const controller = new Controller({
    clients, namespace: opts.namespace, log, metrics, identity, workers: opts.workers,
    openStorage: (s3: S3Settings) => openStorage({ s3 }),
    resyncMs: opts.resyncMs,
    reconcileOptions: {
      ...(backoff ? { backoff } : {}),
      ...(opts.progressPollMs !== undefined ? { progressPollMs: opts.progressPollMs } : {}),
      policy: { allowedImagePrefixes: opts.allowedImagePrefixes, allowedServiceAccounts: opts.allowedServiceAccounts, allowSecretEnv: opts.secretEnv !== false },
    },
    commitAfterStep: commitStepHook(),
  });
  // BatchInferenceSchedules, beside the jobs: the same leader runs both.
  const schedules = new ScheduleController({ clients, namespace: opts.namespace, log, identity, resyncMs: opts.resyncMs });
  let leading = false;
  const server = await serveMetrics(metrics.registry, opts.metricsPort, () => leading || !opts.leaderElect, opts.metricsHost);
  const address = server.address();
  if (address && typeof address === 'object') log.info({ port: address.port }, 'serving metrics');
  const startLeading = () => {
    leading = true;
    metrics.leader.set(1);
    Promise.all([controller.start(), schedules.start()]).catch((err: unknown) => {
      log.error({ err: String(err) }, 'controller failed to start');
      process.exit(1);
    });
  };
  const elector = opts.leaderElect
    ? new LeaderElector(clients, {
      namespace: opts.leaseNamespace, name: opts.leaseName, identity, log,
      leaseDurationMs: opts.leaseDurationMs, renewDeadlineMs: opts.renewDeadlineMs, retryPeriodMs: opts.retryPeriodMs,
    }, {
      onStartedLeading: startLeading,
      onStoppedLeading: () => {
        // Like controller-runtime: a replica that lost the lease exits and is restarted as a candidate,
        // so it can never act on a stale belief that it still leads.
        metrics.leader.set(0);
        log.error('lost the leader lease; exiting');
        process.exit(1);
      },
    })
    : undefined;
  if (elector) elector.start();
  else startLeading();
  log.info({ identity, namespace: opts.namespace ?? '(all)', leaderElect: opts.leaderElect }, 'operator started');

  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down');
      void (async () => {
        await Promise.all([
          bestEffort(controller.stop(), (err) => log.warn({ err: errorText(err) }, 'the job controller did not stop cleanly')),
          bestEffort(schedules.stop(), (err) => log.warn({ err: errorText(err) }, 'the schedule controller did not stop cleanly')),
        ]);
        await bestEffort(elector?.stop(), (err) => log.warn({ err: errorText(err) }, 'could not release the leader lease; the next leader waits for it to expire'));
        server.close();
        resolve();
      })();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}
