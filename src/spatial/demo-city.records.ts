/**
 * Plausible, correlated record values for the demo datasets (DEMO_DATASETS), one function per dataset.
 * Every value is drawn from the caller's seeded Rng, so records are as deterministic as the city.
 */
import type { Density } from './demo-city.layout.js';
import type { Rng } from './demo-city.prng.js';

export type RecordValue = string | number | boolean | null;
export interface RecordRow {
  id: string;
  grain_id: string;
  [field: string]: RecordValue;
}

/** Reference date of the demo data: readings are for October 2026, the data is current to mid-November 2026. */
export const ENERGY_MONTH = '2026-10';
const TODAY = Date.UTC(2026, 10, 15) / 86_400_000;
const DAY0 = Date.UTC(1980, 0, 1) / 86_400_000;
const DAYS: string[] = [];
for (let d = DAY0; d <= TODAY; d++) DAYS.push(new Date(d * 86_400_000).toISOString().slice(0, 10));

/** ISO date `YYYY-MM-DD` of `daysAgo` days before the reference date. */
export function isoDaysAgo(daysAgo: number): string {
  return DAYS[Math.max(0, DAYS.length - 1 - Math.floor(daysAgo))]!;
}

/** Days between an ISO date and the reference date. */
export function daysBeforeToday(iso: string): number {
  return TODAY - Date.parse(iso) / 86_400_000;
}

const YEAR = 365.25;

// Frequent surnames first (picked with a skew toward the head of the list).
const SURNAMES =
  '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤';
const GIVEN_YOUNG = [
  '伟',
  '芳',
  '娜',
  '敏',
  '静',
  '磊',
  '洋',
  '勇',
  '杰',
  '婷',
  '涛',
  '超',
  '浩',
  '宇',
  '欣怡',
  '佳琪',
  '子涵',
  '俊杰',
  '晓东',
  '思远',
  '雨萱',
  '志强',
  '海燕',
  '丽华',
  '建军',
  '文博',
  '嘉怡',
  '一鸣',
  '天宇',
  '梓轩',
];
const GIVEN_OLD = [
  '秀英',
  '桂英',
  '玉兰',
  '建国',
  '国华',
  '德明',
  '凤英',
  '淑珍',
  '秀珍',
  '志明',
  '家宝',
  '惠芬',
  '根宝',
  '美娟',
  '金妹',
  '阿娣',
  '永康',
  '雪芳',
  '福根',
  '宝珍',
];

export function personName(rng: Rng, old = false): string {
  const i = Math.floor(SURNAMES.length * rng.next() ** 2);
  return SURNAMES[i]! + rng.pick(old ? GIVEN_OLD : GIVEN_YOUNG);
}

/** Mobile number, `1xx-xxxx-xxxx`. */
export function phoneNumber(rng: Rng): string {
  return `1${rng.pick(['3', '5', '7', '8', '9'])}${rng.digits(1)}-${rng.digits(4)}-${rng.digits(4)}`;
}

const round1 = (v: number) => Math.round(v * 10) / 10;
const round3 = (v: number) => Math.round(v * 1000) / 1000;
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

// --- rooms -----------------------------------------------------------------------------------------------------

export interface RoomContext {
  grainId: string;
  subtype: 'residential' | 'commercial' | 'office';
  area: number;
  density: Density;
  districtCode: string;
}

export interface ResidentsFacts {
  residents: number;
  elderly: boolean;
}

export function residentsRecord(rng: Rng, room: RoomContext, elderCount: number): RecordRow {
  const elderly = elderCount > 0;
  const mean = clamp(room.area / 22, 1, 6);
  const count = elderly ? elderCount : clamp(Math.round(mean + rng.normal() * 0.9), 1, 8);
  const pRented = { core: 0.38, urban: 0.32, suburban: 0.24, rural: 0.12 }[room.density] + (room.area < 45 ? 0.15 : 0);
  const rented = !elderly && rng.chance(pRented);
  const daysAgo = elderly ? rng.range(10, 40) * YEAR : rented ? rng.next() ** 2 * 8 * YEAR : rng.range(1, 34) * YEAR;
  return {
    id: `${room.grainId}#1`,
    grain_id: room.grainId,
    resident_count: count,
    household_head: personName(rng, elderly),
    tenure: rented ? 'rented' : 'owner-occupied',
    registered_since: isoDaysAgo(daysAgo),
  };
}

const AGE_BANDS = [
  ['65-74', 45],
  ['75-84', 38],
  ['85+', 17],
] as const;
const CARE_BY_BAND: Record<string, readonly (readonly [number, number])[]> = {
  '65-74': [
    [0, 45],
    [1, 28],
    [2, 15],
    [3, 7],
    [4, 3],
    [5, 1.5],
    [6, 0.5],
  ],
  '75-84': [
    [0, 22],
    [1, 26],
    [2, 22],
    [3, 14],
    [4, 9],
    [5, 5],
    [6, 2],
  ],
  '85+': [
    [0, 6],
    [1, 12],
    [2, 18],
    [3, 20],
    [4, 20],
    [5, 15],
    [6, 9],
  ],
};

export function elderlyRecord(rng: Rng, room: RoomContext, elderCount: number): RecordRow {
  const band = rng.weighted(AGE_BANDS);
  const care = rng.weighted(CARE_BY_BAND[band]!);
  const maxGap = care >= 4 ? 14 : care >= 2 ? 45 : 120;
  return {
    id: `${room.grainId}#1`,
    grain_id: room.grainId,
    elder_count: elderCount,
    age_band: band,
    care_level: String(care),
    last_visit: isoDaysAgo(rng.range(0, maxGap)),
  };
}

const INDUSTRIES = [
  { industry: '餐饮业', suffix: '餐饮管理', weight: 30, kwhPerM2: [18, 35], gas: [150, 700] },
  { industry: '零售业', suffix: '商贸', weight: 28, kwhPerM2: [8, 16], gas: [0, 5] },
  { industry: '居民服务业', suffix: '美容美发', weight: 14, kwhPerM2: [8, 14], gas: [0, 15] },
  { industry: '医药零售', suffix: '大药房', weight: 8, kwhPerM2: [9, 15], gas: [0, 3] },
  { industry: '教育', suffix: '教育科技', weight: 8, kwhPerM2: [6, 11], gas: [0, 3] },
  { industry: '商务服务业', suffix: '企业管理咨询', weight: 12, kwhPerM2: [6, 10], gas: [0, 2] },
] as const;
export type Industry = (typeof INDUSTRIES)[number];
const INDUSTRY_WEIGHTS = INDUSTRIES.map((x) => [x, x.weight] as const);
const BRAND = [
  '恒丰',
  '金桥',
  '新华',
  '东方',
  '申江',
  '浦江',
  '华亭',
  '宏达',
  '瑞祥',
  '和平',
  '永和',
  '丰源',
  '嘉禾',
  '明珠',
  '同福',
  '春申',
  '海纳',
  '锦绣',
  '福润',
  '安泰',
];

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2];

/** A well-formed unified social credit code (GB 32100-2015) with an organisation code (GB 11714) inside. */
export function creditCode(rng: Rng, districtCode: string): string {
  let org = '';
  let sum = 0;
  for (let i = 0; i < 8; i++) {
    const v = i === 0 ? rng.int(5, 9) : rng.int(0, 9);
    org += String(v);
    sum += v * ORG_WEIGHTS[i]!;
  }
  const c9 = 11 - (sum % 11);
  org += c9 === 10 ? 'X' : c9 === 11 ? '0' : String(c9);
  const body = `91${districtCode}${org}`;
  let s = 0;
  for (let i = 0; i < 17; i++) s += USCC_CHARS.indexOf(body[i]!) * USCC_WEIGHTS[i]!;
  return body + USCC_CHARS[(31 - (s % 31)) % 31];
}

export function pickIndustry(rng: Rng): Industry {
  return rng.weighted(INDUSTRY_WEIGHTS);
}

export function businessRecord(rng: Rng, room: RoomContext, industry: Industry): RecordRow {
  return {
    id: `${room.grainId}#1`,
    grain_id: room.grainId,
    business_name: `上海${rng.pick(BRAND)}${industry.suffix}有限公司`,
    licence_no: creditCode(rng, room.districtCode),
    industry: industry.industry,
    registered_capital: round1(Math.exp(rng.range(Math.log(10), Math.log(2000)))),
    legal_representative: personName(rng),
  };
}

export function energyRecord(rng: Rng, room: RoomContext, residents: number, industry: Industry | null): RecordRow {
  let kwh: number;
  let gas: number;
  if (room.subtype === 'residential') {
    const occupancy = residents === 0 ? rng.range(0.05, 0.25) : 0.55 + 0.18 * residents;
    kwh = room.area * rng.range(2.2, 4.2) * occupancy;
    gas = residents === 0 ? rng.range(0, 2) : residents * rng.range(4, 9);
  } else if (room.subtype === 'office') {
    kwh = room.area * rng.range(7, 13);
    gas = 0;
  } else {
    const ind = industry ?? INDUSTRIES[1];
    kwh = room.area * rng.range(ind.kwhPerM2[0], ind.kwhPerM2[1]);
    gas = rng.range(ind.gas[0], ind.gas[1]);
  }
  return {
    id: `${room.grainId}#1`,
    grain_id: room.grainId,
    month: ENERGY_MONTH,
    electricity_kwh: round1(kwh),
    gas_m3: round1(gas),
    meter_id: `SH${room.districtCode.slice(4)}${rng.digits(10)}`,
  };
}

// --- boxes -----------------------------------------------------------------------------------------------------

export interface BoxContext {
  grainId: string;
  subtype: 'plaza' | 'street-canyon' | 'park-cell';
  /** Short community name, e.g. 云南中路. */
  place: string;
}

const COMPLAINTS: Record<BoxContext['subtype'], readonly (readonly [string, readonly string[]])[]> = {
  plaza: [
    ['噪声扰民', ['广场舞音响声音过大，影响居民休息', '夜间有人在广场聚集喧哗']],
    ['占道经营', ['广场上有流动摊贩占道经营', '商户在广场堆放杂物经营']],
    ['环境卫生', ['广场垃圾桶满溢无人清理', '广场地面有大量油污']],
    ['公共设施损坏', ['广场座椅损坏，存在安全隐患', '广场照明灯不亮']],
  ],
  'street-canyon': [
    ['违章停车', ['车辆长期占用人行道停放', '路口有车辆违停影响通行']],
    ['道路破损', ['路面出现坑洞，雨天积水', '人行道地砖松动']],
    ['路灯故障', ['路灯连续多日不亮', '路灯白天常亮']],
    ['噪声扰民', ['夜间施工噪音扰民', '商铺外放音乐声音过大']],
  ],
  'park-cell': [
    ['绿化养护', ['树木枝叶过密遮挡窗户，请求修剪', '草坪枯黄无人养护']],
    ['公共设施损坏', ['健身器材损坏', '园内步道破损']],
    ['宠物管理', ['有人遛狗不牵绳', '园内宠物粪便无人清理']],
    ['环境卫生', ['河道边垃圾堆积', '公厕卫生状况差']],
  ],
};

export function complaintRecord(rng: Rng, box: BoxContext, n: number): RecordRow {
  const [category, texts] = rng.pick(COMPLAINTS[box.subtype]);
  const daysAgo = rng.next() ** 1.5 * 318;
  const status =
    daysAgo < 7
      ? rng.weighted([
          ['open', 60],
          ['in-progress', 40],
        ] as const)
      : daysAgo < 30
        ? rng.weighted([
            ['in-progress', 50],
            ['closed', 50],
          ] as const)
        : rng.weighted([
            ['in-progress', 8],
            ['closed', 92],
          ] as const);
  const caller = personName(rng);
  const title = rng.chance(0.5) ? '先生' : '女士';
  return {
    id: `${box.grainId}#${n}`,
    grain_id: box.grainId,
    category,
    received_on: isoDaysAgo(daysAgo),
    status,
    caller_phone: phoneNumber(rng),
    description: `${caller[0]}${title}反映：${box.place}附近${rng.pick(texts)}。`,
  };
}

const FACILITIES: Record<BoxContext['subtype'], readonly (readonly [string, number])[]> = {
  plaza: [
    ['clinic', 18],
    ['school', 14],
    ['market', 18],
    ['library', 10],
    ['elderly-care', 22],
    ['community-centre', 18],
  ],
  'street-canyon': [
    ['market', 60],
    ['clinic', 25],
    ['elderly-care', 15],
  ],
  'park-cell': [
    ['park', 55],
    ['sports-ground', 30],
    ['elderly-care', 15],
  ],
};
const FACILITY_INFO: Record<string, { zh: string; capacity: Span; hours: string }> = {
  clinic: { zh: '社区卫生服务站', capacity: [60, 300], hours: '08:00-17:00' },
  school: { zh: '小学', capacity: [300, 1800], hours: '07:30-17:00' },
  market: { zh: '菜市场', capacity: [500, 3000], hours: '06:00-19:00' },
  library: { zh: '社区图书馆', capacity: [80, 600], hours: '09:00-20:00' },
  'elderly-care': { zh: '长者照护之家', capacity: [20, 80], hours: '00:00-24:00' },
  'community-centre': { zh: '党群服务中心', capacity: [100, 500], hours: '09:00-21:00' },
  park: { zh: '口袋公园', capacity: [800, 8000], hours: '05:00-22:00' },
  'sports-ground': { zh: '市民健身中心', capacity: [150, 1500], hours: '06:00-21:00' },
};
type Span = readonly [number, number];

export function facilityRecord(rng: Rng, box: BoxContext): RecordRow {
  const type = rng.weighted(FACILITIES[box.subtype]);
  const info = FACILITY_INFO[type]!;
  return {
    id: `${box.grainId}#1`,
    grain_id: box.grainId,
    facility_type: type,
    name: `${box.place}${info.zh}`,
    capacity: Math.round(rng.range(info.capacity[0], info.capacity[1]) / 10) * 10,
    opening_hours: info.hours,
  };
}

// --- segments --------------------------------------------------------------------------------------------------

export interface SegmentContext {
  grainId: string;
  subtype: 'road' | 'water-main' | 'drain';
  districtCode: string;
}

export function roadRecord(rng: Rng, seg: SegmentContext, density: Density): RecordRow {
  const surface =
    density === 'core'
      ? rng.weighted([
          ['asphalt', 60],
          ['concrete', 15],
          ['paving-stones', 25],
        ] as const)
      : rng.weighted([
          ['asphalt', 72],
          ['concrete', 23],
          ['paving-stones', 5],
        ] as const);
  const daysAgo = rng.range(0, 3 * YEAR);
  const base = { asphalt: 86, concrete: 80, 'paving-stones': 74 }[surface];
  const pci = Math.round(clamp(base - (daysAgo / 30) * 0.45 + rng.normal() * 8, 5, 100));
  const lanes = rng.weighted([
    [1, 18],
    [2, 45],
    [4, 24],
    [6, 10],
    [8, 3],
  ] as const);
  return { id: `${seg.grainId}#1`, grain_id: seg.grainId, surface, pci, lanes, last_inspected: isoDaysAgo(daysAgo) };
}

export interface PipeFacts {
  material: string;
  diameter: number;
}

const PIPE_MATERIALS = {
  drain: [
    ['concrete', 45, 2.6],
    ['HDPE', 25, 1.6],
    ['PVC', 15, 1.9],
    ['brick', 10, 3.8],
    ['vitrified-clay', 5, 3.2],
  ],
  'water-main': [
    ['ductile-iron', 45, 1.9],
    ['PE', 25, 1.5],
    ['steel', 15, 2.4],
    ['cast-iron', 15, 3.6],
  ],
} as const;
const DIAMETERS = {
  drain: [300, 400, 500, 600, 800, 1000, 1200],
  'water-main': [100, 150, 200, 300, 400, 500, 600],
} as const;

/** drain-condition for drains and water mains; returns the pipe facts the critical-network record reuses. */
export function pipeRecord(
  rng: Rng,
  seg: SegmentContext & { subtype: 'drain' | 'water-main' },
): { row: RecordRow; pipe: PipeFacts } {
  const [material, , meanGrade] = rng.weighted(PIPE_MATERIALS[seg.subtype].map((m) => [m, m[1]] as const));
  const diameter = rng.pick(DIAMETERS[seg.subtype]);
  const grade = Math.round(clamp(meanGrade + rng.normal() * 0.8, 1, 5));
  const risk =
    seg.subtype === 'drain'
      ? clamp(0.04 + 0.16 * (grade - 1) + (600 - diameter) / 3000 + rng.normal() * 0.05, 0, 1)
      : clamp(0.01 + 0.02 * (grade - 1) + rng.next() * 0.04, 0, 1);
  return {
    row: {
      id: `${seg.grainId}#1`,
      grain_id: seg.grainId,
      material,
      diameter_mm: diameter,
      condition_grade: grade,
      blockage_risk: round3(risk),
    },
    pipe: { material, diameter },
  };
}

export function criticalWaterRecord(rng: Rng, seg: SegmentContext, pipe: PipeFacts): RecordRow {
  const hex = (rng.uint32() >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return {
    id: `${seg.grainId}#1`,
    grain_id: seg.grainId,
    pipe_material: pipe.material,
    pressure_mpa: round3(0.22 + pipe.diameter / 3000 + rng.range(0, 0.06)),
    valve_control_code: `VCC-${seg.districtCode}-${hex}`,
  };
}
