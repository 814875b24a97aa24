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
