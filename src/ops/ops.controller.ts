import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { GatewayMetrics } from './metrics.js';
import { Readiness } from './readiness.js';

/** Probes and metrics for operators: liveness, readiness (503 with reasons) and Prometheus metrics. */
@Controller()
export class OpsController {
  constructor(
    @Inject(Readiness) private readonly readiness: Readiness,
    @Inject(GatewayMetrics) private readonly metrics: GatewayMetrics,
  ) {}

  /** The process is up and serving HTTP. */
  @Get('livez')
  livez() {
    return { status: 'ok' };
  }

  /** Ready for traffic: the store answers, migrations are applied, the log can append, not shutting down. */
  @Get('readyz')
  async readyz(@Res() reply: FastifyReply): Promise<void> {
    const r = await this.readiness.check();
    await reply.status(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', checks: r.checks });
  }

  @Get('metrics')
  async prometheus(@Res() reply: FastifyReply): Promise<void> {
    const text = await this.metrics.text();
    await reply.status(200).header('content-type', this.metrics.contentType).send(text);
  }
}
