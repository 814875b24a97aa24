import { Controller, Get, Header, Inject } from '@nestjs/common';
import { CatalogueService } from './catalogue/catalogue.service.js';
import { dcatCatalogue } from './catalogue/dcat.js';
import { CONFIG, type Config } from './config/config.js';

/** The organisation that runs the gateway and so publishes its catalogue. */
const CATALOGUE_PUBLISHER = 'data-bureau';

/** Plain HTTP endpoints: health and the DCAT export of the open catalogue (metadata only). */
@Controller()
export class HttpController {
  constructor(
    @Inject(CatalogueService) private readonly catalogue: CatalogueService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  @Get('healthz')
  health() {
    return { status: 'ok' };
  }

  @Get('catalogue/dcat.jsonld')
  @Header('content-type', 'application/ld+json; charset=utf-8')
  dcat() {
    const base = `http://${this.config.host}:${this.config.port}`;
    const name = (id: string) => this.catalogue.org(id)?.name ?? id;
    return dcatCatalogue(this.catalogue.list(), base, name, {
      id: CATALOGUE_PUBLISHER,
      name: name(CATALOGUE_PUBLISHER),
    });
  }
}
