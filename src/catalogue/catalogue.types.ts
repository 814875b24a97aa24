import type { FieldType, Grade, MaskKind, OpenClass, PersonalLevel } from './classification.js';

export type GrainKind = 'room' | 'box' | 'segment';

export interface FieldDef {
  name: string;
  type: FieldType;
  grade: Grade;
  personal: PersonalLevel;
  openClass: OpenClass;
  maskKind: MaskKind;
  unit?: string;
  description: string;
  /**
   * The values a text field takes, when they form a fixed code list (a tenure, an age band, a care level): a
   * sandbox job may key its output tables by them (docs/sandbox-jobs.md, "Declared outputs").
   */
  categories?: string[];
}

export interface DatasetDef {
  id: string;
  title: string;
  titleZh: string;
  description: string;
  ownerOrg: string;
  grainKind: GrainKind;
  /** Record table name (ds_*). */
  tableName: string;
  fields: FieldDef[];
}

export interface OrgDef {
  id: string;
  name: string;
  nameZh: string;
  kind: 'authority' | 'department';
}
