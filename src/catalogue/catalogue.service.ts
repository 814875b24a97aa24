import type { Db } from '../store/db.port.js';
import type { Grade, MaskKind, OpenClass, PersonalLevel, FieldType } from './classification.js';
import type { DatasetDef, FieldDef, GrainKind } from './catalogue.types.js';

export interface Dataset extends DatasetDef {
  grade: Grade;
  personal: PersonalLevel;
  openClass: OpenClass;
  updatedAt: Date;
}

interface DatasetRow {
  id: string;
  title: string;
  title_zh: string;
  description: string;
  owner_org: string;
  grain_kind: GrainKind;
  table_name: string;
  grade: Grade;
  personal: PersonalLevel;
  open_class: OpenClass;
  updated_at: Date | string;
}
interface FieldRow {
  dataset_id: string;
  name: string;
  type: FieldType;
  grade: Grade;
  personal: PersonalLevel;
  open_class: OpenClass;
  mask_kind: MaskKind;
  unit: string | null;
  description: string;
  categories: string[] | null;
}

/**
 * The catalogue of datasets and their classified fields, read from the store and held in memory
 * (it changes rarely; `reload` after a change). `version` changes on every reload that sees a change,
 * so memoised decisions keyed on it are invalidated.
 */
export class CatalogueService {
  private datasets = new Map<string, Dataset>();
  private orgs = new Map<string, { id: string; name: string; nameZh: string }>();
  version = 0;

  constructor(private readonly db: Db) {}

  async reload(): Promise<void> {
    const ds = await this.db.query<DatasetRow>('select * from catalogue_datasets order by id');
    const fs = await this.db.query<FieldRow>('select * from catalogue_fields order by dataset_id, ordinal');
    const orgs = await this.db.query<{ id: string; name: string; name_zh: string }>('select * from orgs order by id');
    const next = new Map<string, Dataset>();
    for (const r of ds) {
      next.set(r.id, {
        id: r.id,
        title: r.title,
        titleZh: r.title_zh,
        description: r.description,
        ownerOrg: r.owner_org,
        grainKind: r.grain_kind,
        tableName: r.table_name,
        grade: r.grade,
        personal: r.personal,
        openClass: r.open_class,
        updatedAt: new Date(r.updated_at),
        fields: [],
      });
    }
    for (const r of fs) {
      const field: FieldDef = {
        name: r.name,
        type: r.type,
        grade: r.grade,
        personal: r.personal,
        openClass: r.open_class,
        maskKind: r.mask_kind,
        description: r.description,
        ...(r.unit ? { unit: r.unit } : {}),
        ...(Array.isArray(r.categories) && r.categories.length > 0 ? { categories: r.categories } : {}),
      };
      next.get(r.dataset_id)?.fields.push(field);
    }
    this.datasets = next;
    this.orgs = new Map(orgs.map((o) => [o.id, { id: o.id, name: o.name, nameZh: o.name_zh }]));
    this.version += 1;
  }

  list(): Dataset[] {
    return [...this.datasets.values()];
  }

  get(id: string): Dataset | undefined {
    return this.datasets.get(id);
  }

  field(dataset: Dataset, name: string): FieldDef | undefined {
    return dataset.fields.find((f) => f.name === name);
  }

  org(id: string) {
    return this.orgs.get(id);
  }

  orgExists(id: string): boolean {
    return this.orgs.has(id);
  }
}
