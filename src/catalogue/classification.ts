/**
 * Field and dataset classification (DESIGN.md §1).
 * grade: GB/T 43697-2024; personal: PI / sensitive PI; openClass: Shanghai public-data opening class.
 */
export const GRADES = ['general', 'important', 'core'] as const;
export type Grade = (typeof GRADES)[number];

export const PERSONAL_LEVELS = ['none', 'personal', 'sensitive'] as const;
export type PersonalLevel = (typeof PERSONAL_LEVELS)[number];

export const OPEN_CLASSES = ['unconditional', 'conditional', 'closed'] as const;
export type OpenClass = (typeof OPEN_CLASSES)[number];

export const FIELD_TYPES = ['string', 'int', 'float', 'bool', 'date'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** How a field is masked when the policy says `mask`. */
export const MASK_KINDS = ['redact', 'hash', 'truncate'] as const;
export type MaskKind = (typeof MASK_KINDS)[number];

export interface Classification {
  grade: Grade;
  personal: PersonalLevel;
  openClass: OpenClass;
}

const rank = <T extends string>(order: readonly T[], v: T): number => order.indexOf(v);

/** A dataset's classification is the highest of its fields' (DESIGN.md §1). */
export function highestClassification(fields: readonly Classification[]): Classification {
  let out: Classification = { grade: 'general', personal: 'none', openClass: 'unconditional' };
  for (const f of fields) {
    out = {
      grade: rank(GRADES, f.grade) > rank(GRADES, out.grade) ? f.grade : out.grade,
      personal: rank(PERSONAL_LEVELS, f.personal) > rank(PERSONAL_LEVELS, out.personal) ? f.personal : out.personal,
      openClass: rank(OPEN_CLASSES, f.openClass) > rank(OPEN_CLASSES, out.openClass) ? f.openClass : out.openClass,
    };
  }
  return out;
}
