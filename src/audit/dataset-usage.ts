import { badInput, forbidden, notFound } from '../errors/domain.error.js';
import type { Requester } from '../identity/requester.js';

/** The catalogue as the usage view needs it: which datasets exist and who owns them. */
export interface OwnedDatasets {
  list(): readonly { id: string; ownerOrg: string }[];
  get(id: string): { id: string; ownerOrg: string } | undefined;
}

const NOT_YOURS = 'Dataset usage is for the owning department and auditors.';

/**
 * The datasets whose usage the caller may read: an auditor any (all when none is named), an owner those of its
 * organisation. Another organisation's dataset and a dataset that does not exist get the same FORBIDDEN, so an
 * owner cannot probe the trail of others; only auditors are told NOT_FOUND.
 */
export function usageScope(r: Requester, catalogue: OwnedDatasets, dataset: string | null): string[] | null {
  if (r.via !== 'jwt') throw forbidden(NOT_YOURS);
  if (r.roles.includes('auditor')) {
    if (dataset === null) return null;
    if (!catalogue.get(dataset)) throw notFound('No such dataset.');
    return [dataset];
  }
  if (!r.roles.includes('owner') || r.org === null) throw forbidden(NOT_YOURS);
  if (dataset !== null) {
    if (catalogue.get(dataset)?.ownerOrg !== r.org) throw forbidden(NOT_YOURS);
    return [dataset];
  }
  return catalogue
    .list()
    .filter((d) => d.ownerOrg === r.org)
    .map((d) => d.id);
}

/** The dataset named by the argument or by the filter; both must agree when both are given. */
export function namedDataset(arg: string | null, inFilter: string | null | undefined): string | null {
  if (arg && inFilter && arg !== inFilter) throw badInput('dataset and filter.dataset name different datasets.');
  return arg || inFilter || null;
}
