/**
 * The demo city's departments and datasets. Together they cover every classification:
 * grade general / important / core, personal none / personal / sensitive, open class unconditional / conditional / closed.
 */
import type { DatasetDef, FieldDef, OrgDef } from './catalogue.types.js';

export const DEMO_ORGS: readonly OrgDef[] = [
  { id: 'data-bureau', name: 'Municipal Data Bureau', nameZh: '市数据局', kind: 'authority' },
  { id: 'planning-bureau', name: 'Planning and Natural Resources Bureau', nameZh: '市规划资源局', kind: 'department' },
  { id: 'public-security', name: 'Public Security Bureau', nameZh: '市公安局', kind: 'department' },
  { id: 'civil-affairs', name: 'Civil Affairs Bureau', nameZh: '市民政局', kind: 'department' },
  {
    id: 'housing-construction',
    name: 'Housing and Urban-Rural Development Commission',
    nameZh: '市住房城乡建设管理委',
    kind: 'department',
  },
  { id: 'market-regulation', name: 'Market Regulation Administration', nameZh: '市市场监管局', kind: 'department' },
  { id: 'citizen-hotline', name: '12345 Citizen Service Hotline', nameZh: '12345市民服务热线', kind: 'department' },
  { id: 'transport', name: 'Transport Commission', nameZh: '市交通委', kind: 'department' },
  { id: 'water-authority', name: 'Water Authority', nameZh: '市水务局', kind: 'department' },
  { id: 'emergency-management', name: 'Emergency Management Bureau', nameZh: '市应急管理局', kind: 'department' },
];

const f = (
  name: string,
  type: FieldDef['type'],
  grade: FieldDef['grade'],
  personal: FieldDef['personal'],
  openClass: FieldDef['openClass'],
  maskKind: FieldDef['maskKind'],
  description: string,
  unit?: string,
): FieldDef => ({ name, type, grade, personal, openClass, maskKind, description, ...(unit ? { unit } : {}) });

/** A text field with a fixed code list (FieldDef.categories). */
const coded = (def: FieldDef, categories: string[]): FieldDef => ({ ...def, categories });

export const DEMO_DATASETS: readonly DatasetDef[] = [
  {
    id: 'residents-per-room',
    title: 'Residents per room',
    titleZh: '实有人口（按间）',
    description: 'Registered residents of each residential room, with the household head.',
    ownerOrg: 'public-security',
    grainKind: 'room',
    tableName: 'ds_residents_per_room',
    fields: [
      f(
        'resident_count',
        'int',
        'important',
        'personal',
        'conditional',
        'truncate',
        'Residents registered in the room',
        'persons',
      ),
      f('household_head', 'string', 'general', 'personal', 'conditional', 'hash', 'Name of the household head'),
      coded(f('tenure', 'string', 'general', 'personal', 'conditional', 'redact', 'owner-occupied or rented'), [
        'owner-occupied',
        'rented',
      ]),
      f('registered_since', 'date', 'general', 'personal', 'conditional', 'truncate', 'Date the household registered'),
    ],
  },
  {
    id: 'elderly-living-alone',
    title: 'Elderly people living alone',
    titleZh: '独居老人',
    description: 'Rooms where a person aged 65 or over lives alone, with their care level.',
    ownerOrg: 'civil-affairs',
    grainKind: 'room',
    tableName: 'ds_elderly_living_alone',
    fields: [
      f(
        'elder_count',
        'int',
        'important',
        'sensitive',
        'closed',
        'redact',
        'Elderly people living alone in the room',
        'persons',
      ),
      coded(f('age_band', 'string', 'important', 'sensitive', 'closed', 'redact', 'Age band (65-74, 75-84, 85+)'), [
        '65-74',
        '75-84',
        '85+',
      ]),
      coded(f('care_level', 'string', 'important', 'sensitive', 'closed', 'redact', 'Assessed care level (0-6)'), [
        '0',
        '1',
        '2',
        '3',
        '4',
        '5',
        '6',
      ]),
      f('last_visit', 'date', 'general', 'sensitive', 'closed', 'truncate', 'Date of the last welfare visit'),
    ],
  },
  {
    id: 'building-energy',
    title: 'Building energy use',
    titleZh: '建筑能耗',
    description: 'Monthly electricity and gas use per room.',
    ownerOrg: 'housing-construction',
    grainKind: 'room',
    tableName: 'ds_building_energy',
    fields: [
      f('month', 'string', 'general', 'none', 'unconditional', 'redact', 'Month of the reading (YYYY-MM)'),
      f(
        'electricity_kwh',
        'float',
        'important',
        'none',
        'conditional',
        'redact',
        'Electricity used in the month',
        'kWh',
      ),
      f('gas_m3', 'float', 'important', 'none', 'conditional', 'redact', 'Gas used in the month', 'm3'),
      f('meter_id', 'string', 'important', 'none', 'conditional', 'hash', 'Utility meter identifier'),
    ],
  },
  {
    id: 'business-licences',
    title: 'Business licences',
    titleZh: '营业执照',
    description: 'Registered businesses by the room they occupy.',
    ownerOrg: 'market-regulation',
    grainKind: 'room',
    tableName: 'ds_business_licences',
    fields: [
      f('business_name', 'string', 'general', 'none', 'unconditional', 'redact', 'Registered name'),
      f('licence_no', 'string', 'general', 'none', 'unconditional', 'redact', 'Unified social credit code'),
      f('industry', 'string', 'general', 'none', 'unconditional', 'redact', 'Industry category'),
      f('registered_capital', 'float', 'general', 'none', 'unconditional', 'redact', 'Registered capital', '10k CNY'),
      f(
        'legal_representative',
        'string',
        'general',
        'personal',
        'unconditional',
        'hash',
        'Name of the legal representative',
      ),
    ],
  },
  {
    id: 'hotline-complaints',
    title: '12345 hotline complaints',
    titleZh: '12345热线工单',
    description: 'Citizen complaints received by the 12345 hotline, located at a box of open space.',
    ownerOrg: 'citizen-hotline',
    grainKind: 'box',
    tableName: 'ds_hotline_complaints',
    fields: [
      f('category', 'string', 'general', 'none', 'unconditional', 'redact', 'Complaint category'),
      f('received_on', 'date', 'general', 'none', 'unconditional', 'redact', 'Date received'),
      coded(f('status', 'string', 'general', 'none', 'unconditional', 'redact', 'open, in-progress or closed'), [
        'open',
        'in-progress',
        'closed',
      ]),
      f('caller_phone', 'string', 'important', 'personal', 'conditional', 'truncate', 'Phone number of the caller'),
      f('description', 'string', 'general', 'personal', 'conditional', 'redact', 'Free-text description'),
    ],
  },
  {
    id: 'road-condition',
    title: 'Road segment condition',
    titleZh: '道路路段状况',
    description: 'Pavement condition of each road segment.',
    ownerOrg: 'transport',
    grainKind: 'segment',
    tableName: 'ds_road_condition',
    fields: [
      f('surface', 'string', 'general', 'none', 'unconditional', 'redact', 'Surface material'),
      f('pci', 'int', 'general', 'none', 'unconditional', 'redact', 'Pavement condition index (0-100)'),
      f('lanes', 'int', 'general', 'none', 'unconditional', 'redact', 'Number of lanes'),
      f('last_inspected', 'date', 'general', 'none', 'unconditional', 'redact', 'Date of the last inspection'),
    ],
  },
  {
    id: 'drain-condition',
    title: 'Drain and water-main segment condition',
    titleZh: '排水与供水管段状况',
    description: 'Material, size and condition of drain and water-main segments.',
    ownerOrg: 'water-authority',
    grainKind: 'segment',
    tableName: 'ds_drain_condition',
    fields: [
      f('material', 'string', 'general', 'none', 'unconditional', 'redact', 'Pipe material'),
      f('diameter_mm', 'int', 'general', 'none', 'unconditional', 'redact', 'Nominal diameter', 'mm'),
      f('condition_grade', 'int', 'important', 'none', 'conditional', 'redact', 'Condition grade (1 good - 5 failed)'),
      f('blockage_risk', 'float', 'important', 'none', 'conditional', 'redact', 'Modelled blockage risk (0-1)'),
    ],
  },
  {
    id: 'critical-water-network',
    title: 'Critical water network',
    titleZh: '供水关键管网',
    description: 'Operating pressure and valve control codes of the trunk water mains.',
    ownerOrg: 'water-authority',
    grainKind: 'segment',
    tableName: 'ds_critical_water_network',
    fields: [
      f('pipe_material', 'string', 'important', 'none', 'closed', 'redact', 'Pipe material'),
      f('pressure_mpa', 'float', 'core', 'none', 'closed', 'redact', 'Operating pressure', 'MPa'),
      f('valve_control_code', 'string', 'core', 'none', 'closed', 'redact', 'Remote valve control code'),
    ],
  },
  {
    id: 'public-facilities',
    title: '15-minute life circle public facilities',
    titleZh: '15分钟生活圈公共服务设施',
    description: 'Clinics, schools, markets, parks and elderly-care stations by the box they stand in.',
    ownerOrg: 'planning-bureau',
    grainKind: 'box',
    tableName: 'ds_public_facilities',
    fields: [
      f('facility_type', 'string', 'general', 'none', 'unconditional', 'redact', 'Type of facility'),
      f('name', 'string', 'general', 'none', 'unconditional', 'redact', 'Facility name'),
      f('capacity', 'int', 'general', 'none', 'unconditional', 'redact', 'Capacity (places, beds or visitors per day)'),
      f('opening_hours', 'string', 'general', 'none', 'unconditional', 'redact', 'Opening hours'),
    ],
  },
];

/** Grants seeded with the demo city (the grants workflow replaces these). Extents are hierarchy unit ids. */
export interface DemoGrantDef {
  id: string;
  org: string;
  datasetId: string;
  fields: string[];
  purpose: 'urban-planning' | 'emergency-response' | 'public-service' | 'research' | 'statistics';
  /** District codes resolved to unit ids at seed time: `district:<code>`. Empty = whole city. */
  extent: string[];
  approvedBy: string;
  days: number;
}

export const DEMO_GRANTS: readonly DemoGrantDef[] = [
  {
    id: 'grant-planning-energy',
    org: 'planning-bureau',
    datasetId: 'building-energy',
    fields: ['electricity_kwh', 'gas_m3'],
    purpose: 'urban-planning',
    extent: ['district:310101'],
    approvedBy: 'housing-construction',
    days: 365,
  },
  {
    id: 'grant-planning-residents',
    org: 'planning-bureau',
    datasetId: 'residents-per-room',
    fields: ['resident_count', 'tenure'],
    purpose: 'urban-planning',
    extent: ['district:310101'],
    approvedBy: 'public-security',
    days: 365,
  },
  {
    id: 'grant-emergency-elderly',
    org: 'emergency-management',
    datasetId: 'elderly-living-alone',
    fields: ['elder_count', 'age_band', 'care_level'],
    purpose: 'emergency-response',
    extent: [],
    approvedBy: 'civil-affairs',
    days: 180,
  },
  {
    id: 'grant-hotline-drains',
    org: 'citizen-hotline',
    datasetId: 'drain-condition',
    fields: ['condition_grade', 'blockage_risk'],
    purpose: 'public-service',
    extent: [],
    approvedBy: 'water-authority',
    days: 365,
  },
];
