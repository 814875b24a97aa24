import { Readable } from 'node:stream';
import { Controller, Get, Inject, Logger, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CONFIG, type Config } from '../config/config.js';
import { ConsumersService } from '../consumers/consumers.service.js';
import { rateSubject } from '../consumers/rate-limiter.js';
import { DomainError } from '../errors/domain.error.js';
import { credentialHeaders } from '../graphql/gateway-hooks.js';
import { mapError } from '../graphql/error-formatter.js';
import { IdentityService } from '../identity/identity.service.js';
import { RequestDeadlines } from '../ops/request-deadline.js';
import { requestInfo } from '../ops/request-log.js';
import { CONTENT_TYPES, DOWNLOAD_FORMATS, citationLink, type DownloadFormat } from './download-formats.js';
import { DownloadsService } from './downloads.service.js';

const log = new Logger('Downloads');
const FILE = /^([a-z0-9][a-z0-9-]{0,62})\.(csv|geojson)$/;

/** `GET /download/<dataset>.csv` and `.geojson`: anonymous or with an API key or token. */
@Controller('download')
export class DownloadsController {
  constructor(
    @Inject(DownloadsService) private readonly downloads: DownloadsService,
    @Inject(IdentityService) private readonly identity: IdentityService,
    @Inject(ConsumersService) private readonly consumers: ConsumersService,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(RequestDeadlines) private readonly deadlines: RequestDeadlines,
  ) {}

  @Get(':file')
  async download(@Param('file') file: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const info = requestInfo(req);
    info.kind = 'download';
    const m = FILE.exec(file);
    const format = m?.[2] as DownloadFormat | undefined;
    info.operation = `download ${format && DOWNLOAD_FORMATS.includes(format) ? format : '?'}`;
    try {
      if (!m || !format) throw new DomainError('NOT_FOUND', 'No downloadable dataset with this id.');
      const dataset = m[1] as string;
      // Deciding, counting and logging race the deadline; once the body streams, bytes flow.
      const d = await this.deadlines.race(req, async () => {
        const requester = await this.identity.authenticate(credentialHeaders(req.raw.rawHeaders));
        info.requester = requester;
        const subject = await rateSubject(requester, req.ip, (id) => this.consumers.tierOfKey(id));
        return this.downloads.prepare(requester, subject, dataset, format);
      });
      info.outcome = 'ok';
      info.records = d.rows;
      await reply
        .status(200)
        .header('content-type', CONTENT_TYPES[format])
        .header('content-disposition', `attachment; filename="${m[1]}.${format}"`)
        .header('link', citationLink(d.citation, `http://${this.config.host}:${this.config.port}`))
        .header('x-citygate-receipt', `${d.receipt.index}:${d.receipt.leafHash}`)
        .header('x-citygate-records', String(d.rows))
        .send(Readable.from(d.body, { objectMode: false, highWaterMark: 64 * 1024 }));
    } catch (err) {
      const mapped = mapError(err, false);
      info.outcome = mapped.code;
      if (mapped.code === 'INTERNAL' || mapped.code === 'UNAVAILABLE') log.error(mapped.detail);
      const retry = mapped.extensions.retryAfterSeconds;
      if (typeof retry === 'number') void reply.header('retry-after', String(retry));
      await reply
        .status(httpStatus(mapped.code))
        .header('content-type', 'application/json; charset=utf-8')
        .send({ error: { code: mapped.code, message: mapped.message, ...safeExtensions(mapped.extensions) } });
    }
  }
}

function httpStatus(code: string): number {
  switch (code) {
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'RATE_LIMITED':
      return 429;
    case 'BAD_USER_INPUT':
    case 'LIMIT_EXCEEDED':
      return 400;
    case 'UNAVAILABLE':
      return 503;
    case 'DEADLINE_EXCEEDED':
      return 504;
    default:
      return 500;
  }
}

/** Extensions that are safe to send: the refusal's receipt and the rate-limit hint. */
function safeExtensions(ext: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['receipt', 'retryAfterSeconds', 'limit']) if (k in ext) out[k] = ext[k];
  return out;
}
