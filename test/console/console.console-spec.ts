/**
 * The web console end to end: Debian's chromium, driven by playwright-core, walks each persona's main path
 * against a real test gateway listening on loopback. Every step saves a screenshot under
 * .test-artifacts/console/. Every page must load nothing from outside the gateway's origin, break no
 * Content-Security-Policy rule, and show no value the caller's tier forbids.
 *
 * Fixture for the sandbox job walk (as test/e2e/jobs.e2e-spec.ts does): the demo city at test scale spreads about
 * one elderly record per community, so the spec adds 25, 18, 30 and 4 records to four communities of one
 * subdistrict, straight into the store; some cells then pass the threshold and the cell of 4 does not.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { uploadKeyBundle } from '../../src/cli/he.commands.js';
import { encryptColumn } from '../../src/encrypted/column-codec.js';
import { BFV_PARAMS, createHeContext } from '../../src/encrypted/he-params.js';
import { bundleToJson } from '../../src/encrypted/key-bundle-json.js';
import { generateOwnerKeys } from '../../src/encrypted/keys.js';
import { loadSeal } from '../../src/encrypted/seal-runtime.js';
import { verifyBundle, type ReceiptBundle } from '../../src/ledger/verifier.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const ARTIFACTS = path.resolve('.test-artifacts/console');
const CHROMIUM = process.env.CITYGATE_CHROMIUM ?? '/usr/bin/chromium';
// A loaded test machine gets a generous request deadline: the owner's page starts a SEAL worker thread on its
// first encrypted aggregate, and that is not what these tests are about.
const JOB_ENV = {
  CITYGATE_SANDBOX_WORKERS: '1',
  CITYGATE_JOB_POLL_MS: '50',
  CITYGATE_JOB_DUMMY_ROWS: '3000',
  CITYGATE_REQUEST_TIMEOUT_MS: '120000',
};
const JOB_STATUS = `query($id: ID!) { job(id: $id) { status } }`;
const SUBMIT_JOB = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { id } }`;

/** Elderly people living alone in the four fixture communities: each record placed in its community's row. */
const perCommunity = (communities: string[]) => `export function run(input) {
  const keep = new Set(${JSON.stringify(communities)});
  const rows = [];
  for (const c of input.columns.community_id) rows.push([keep.has(c) ? c : null]);
  return { tables: [{ name: 'elderly_by_community', columns: ['community_id'], rows }] };
}`;
/** Its declared table: the four communities, with the gateway's Total. */
const perCommunityOutputs = (communities: string[]) => [
  { name: 'elderly_by_community', keys: [{ column: 'community_id', values: communities }], sums: [] },
];

/** Behaves on dummy data; on real data it smuggles record ids and care levels into the keys: refused. */
const RAW_RECORDS = `export function run(input) {
  const { record_id, care_level } = input.columns;
  const real = !record_id[0]?.startsWith('dummy:');
  return { tables: [{ name: 'by_care', columns: ['care'], rows: care_level.map((c, i) => [real ? record_id[i] + '=' + c : c]) }] };
}`;
const RAW_OUTPUTS = JSON.stringify([{ name: 'by_care', keys: [{ column: 'care', field: 'care_level' }] }]);

const RECORDS = `query($dataset: ID!, $fields: [String!]!, $purpose: Purpose) {
  records(dataset: $dataset, fields: $fields, purpose: $purpose, first: 200) { items { values { field value } } } }`;

describe('the web console, persona by persona', () => {
  let t: TestGateway;
  let origin: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const outside: string[] = [];
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  /** Values of residents-per-room only the owner may see (household heads' names). */
  let secretNames: string[] = [];
  let communities: string[] = [];
  let step = 0;

  const shot = async (name: string) => {
    step++;
    await page.screenshot({
      path: path.join(ARTIFACTS, `${String(step).padStart(2, '0')}-${name}.png`),
      fullPage: true,
    });
  };
  const bodyText = () => page.locator('body').innerText();
  const assertNoSecret = async (where: string) => {
    const text = await bodyText();
    const html = await page.content();
    for (const name of secretNames) {
      assert.ok(!text.includes(name) && !html.includes(name), `${where}: a household head's name is on the page`);
    }
  };

  /** The page's CSP forbids evaluated strings, so poll an input's value from outside. */
  const waitForValue = async (selector: string) => {
    for (let i = 0; i < 100; i++) {
      if ((await page.inputValue(selector)).length > 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`${selector} stayed empty`);
  };

  /** Opens a fresh tab (own session storage) and signs in with a credential, or as the public. */
  const signIn = async (credential: string | null) => {
    await context?.close();
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('request', (r) => {
      const u = r.url();
      if (!(u.startsWith(origin + '/') || u.startsWith(`blob:${origin}/`) || u.startsWith('data:'))) outside.push(u);
    });
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${origin}/console/`);
    if (credential) {
      await page.fill('#credential', credential);
      await page.click('button[type=submit]');
    } else {
      await page.click('text=Continue as the public');
    }
    await page.waitForSelector('[data-testid=whoami]');
  };

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    t = await startTestGateway({ rooms: 3000, env: JOB_ENV });
    await t.app.listen(0, '127.0.0.1');
    const addr = t.app.getHttpServer().address();
    assert.ok(addr && typeof addr === 'object');
    origin = `http://127.0.0.1:${addr.port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // WebGL for MapLibre through software rendering; no sandbox when CI runs as root.
      args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--no-sandbox'],
    });
    const owner = await t.token('public-security', ['owner']);
    const r = await t.gql(RECORDS, { dataset: 'residents-per-room', fields: ['household_head'] }, { token: owner });
    const items = (r.body.data!.records as { items: { values: { value: string }[] }[] }).items;
    secretNames = items.map((i) => i.values[0]!.value).filter((v) => typeof v === 'string' && v.length >= 2);
    assert.ok(secretNames.length > 50, 'the owner sees household heads (the values the others must not see)');

    // The elderly fixture: a subdistrict without elderly records, four of its communities get 25, 18, 30 and 4.
    const picked = await t.gw.db.query<{ subdistrict_id: string; cs: string[] }>(
      `select subdistrict_id, array_agg(distinct community_id order by community_id) as cs from grains
       where kind = 'room' and subdistrict_id not in
         (select g.subdistrict_id from ds_elderly_living_alone r join grains g on g.id = r.grain_id)
       group by subdistrict_id having count(distinct community_id) >= 4 order by subdistrict_id limit 1`,
    );
    communities = picked[0]!.cs.slice(0, 4);
    for (const [i, c] of communities.entries()) {
      const room = await t.gw.db.query<{ id: string }>(
        `select id from grains where kind = 'room' and community_id = $1 limit 1`,
        [c],
      );
      for (let k = 0; k < [25, 18, 30, 4][i]!; k++) {
        await t.gw.db.query(
          `insert into ds_elderly_living_alone (id, grain_id, elder_count, age_band, care_level, last_visit)
           values ($1, $2, 1, '75-84', '2', current_date)`,
          [`${room[0]!.id}#fx${k}`, room[0]!.id],
        );
      }
    }
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await t?.close();
  });

  it('serves the console with a strict Content-Security-Policy', async () => {
    const res = await fetch(`${origin}/console/`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /connect-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /https?:\/\//, 'no external reference');
  });

  it('a bad credential is refused at sign-in, and the refusal says why', async () => {
    await signIn(null);
    await page.click('text=Sign out');
    const forged = (await t.token('data-bureau', ['auditor'])).replace(/\.[^.]+$/, '.AAAA');
    await page.fill('#credential', forged);
    await page.click('button[type=submit]');
    await page.waitForSelector('.refusal[data-code=UNAUTHENTICATED]');
    assert.match(await page.locator('.refusal').innerText(), /sign in again/);
    assert.equal(await page.locator('[data-testid=whoami]').count(), 0, 'not signed in');
    await shot('sign-in-refused');
  });

  it('public: the catalogue, a dataset on the map and a choropleth with suppressed cells', async () => {
    await signIn(null);
    await page.waitForSelector('[data-dataset=residents-per-room]');
    const card = page.locator('[data-dataset=residents-per-room]');
    assert.match(await card.innerText(), /conditional/);
    assert.match(
      await card.locator('[data-testid=access]').innerText(),
      /tier public.*records no.*aggregates yes \(k ≥ 10\)/s,
    );
    await shot('public-catalogue');

    await page.click('[data-nav=map]');
    await page.waitForSelector('[data-testid=map][data-map-state=drawn]', { timeout: 30_000 });
    assert.ok(await page.locator('[data-testid=map] canvas.maplibregl-canvas').count(), 'MapLibre drew a canvas');
    const status = await page.locator('[data-testid=map-status]').innerText();
    assert.match(status, /16 district outlines/);
    assert.match(status, /records of public-facilities, geometry generalised to H3 cells/);
    assert.ok(Number(await page.locator('[data-testid=map]').getAttribute('data-records')) > 0);
    await page.waitForSelector('[data-testid=legend]');
    await shot('public-map-districts');

    await page.selectOption('select[name=level]', 'community');
    await page.waitForSelector('[data-testid=cells] tr[data-suppressed=true]', { timeout: 30_000 });
    await page.waitForSelector('[data-testid=map][data-map-state=drawn]', { timeout: 30_000 });
    const legend = await page.locator('[data-testid=legend]').innerText();
    assert.match(legend, /suppressed \(fewer than 10\)/);
    const suppressedRow = await page.locator('[data-testid=cells] tr[data-suppressed=true]').first().innerText();
    assert.match(suppressedRow, /suppressed/);
    assert.doesNotMatch(suppressedRow, /\t0$/, 'a suppressed cell is not shown as zero');
    await shot('public-choropleth-communities');

    await page.goto(`${origin}/console/#/records?dataset=residents-per-room`);
    await page.check('input[name=field-household_head]');
    await page.click('text=Run the query');
    await page.waitForSelector('.refusal[data-code=FORBIDDEN]');
    await shot('public-refused');
    await assertNoSecret('public');
  });

  it('public: a CSV download has its header on line 1 and its citation shown; a conditional dataset is refused, explained', async () => {
    await signIn(null);
    const card = page.locator('[data-dataset=public-facilities]');
    await card.waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      card.locator('button[name=download-csv]').click(),
    ]);
    const file = path.join(ARTIFACTS, 'public-facilities.csv');
    await download.saveAs(file);
    assert.equal(download.suggestedFilename(), 'public-facilities.csv');
    const [header] = fs.readFileSync(file, 'utf8').split('\r\n');
    assert.match(header!, /^id,/);
    const shown = await card.locator('[data-testid=citation] q').innerText();
    assert.match(
      shown,
      /^Source: .*via CityGate open data; downloaded \d{4}-\d{2}-\d{2}\.$/,
      "the Link header's citation",
    );
    await shot('public-download-citation');

    const closed = page.locator('[data-dataset=residents-per-room]');
    await closed.locator('button[name=download-csv]').click();
    await closed.locator('.refusal[data-code=NOT_FOUND]').waitFor();
    assert.match(await closed.locator('[data-testid=download-refusal-hint]').innerText(), /Only unconditional/);
    await shot('public-download-refused');
    await assertNoSecret('public download');
  });

  it('department: granted records with the masks shown as masks, and a refusal explained', async () => {
    await signIn(await t.token('planning-bureau', ['analyst']));
    assert.match(await page.locator('[data-testid=whoami]').innerText(), /analyst@planning-bureau/);
    assert.ok(await page.locator('[data-nav=grants]').count(), 'a department may apply for grants');
    assert.ok(await page.locator('[data-nav=jobs]').count(), 'a department may submit sandbox jobs');
    await page.click('[data-nav=records]');
    await page.selectOption('select[name=dataset]', 'residents-per-room');
    await page.selectOption('select[name=purpose]', 'urban_planning');
    await page.check('input[name=field-resident_count]');
    await page.check('input[name=field-tenure]');
    await page.click('text=Run the query');
    await page.waitForSelector('[data-testid=records-result]');
    const result = await page.locator('[data-testid=records-result]').innerText();
    assert.match(result, /masked: truncated/);
    assert.match(result, /masked: redacted/);
    await shot('department-masked-records');
    await assertNoSecret('department');

    await page.check('input[name=field-household_head]');
    await page.click('text=Run the query');
    await page.waitForSelector('.refusal[data-code=FORBIDDEN]');
    const refusal = await page.locator('.refusal').innerText();
    assert.match(refusal, /FORBIDDEN/);
    assert.match(refusal, /grant/i);
    assert.match(refusal, /refusal itself was logged/);
    await shot('department-refusal');
    await assertNoSecret('department refusal');
  });

  it('owner: who used their data, when and why', async () => {
    await signIn(await t.token('public-security', ['owner']));
    // The rows come from one owner-scoped datasetUsage query, not from walking the log receipt by receipt.
    const asked: string[] = [];
    const onRequest = (r: { method(): string; postData(): string | null }) => {
      if (r.method() === 'POST') asked.push(r.postData() ?? '');
    };
    page.on('request', onRequest);
    await page.click('[data-nav=usage]');
    await page.waitForSelector('[data-testid=usage] tr[data-sub="analyst@planning-bureau"]', { timeout: 30_000 });
    page.off('request', onRequest);
    const rows = await page.locator('[data-testid=usage] tbody').innerText();
    assert.match(rows, /urban-planning/);
    assert.match(rows, /residents-per-room/);
    assert.match(rows, /refused · FORBIDDEN/);
    assert.ok(asked.some((b) => b.includes('datasetUsage')));
    assert.ok(!asked.some((b) => b.includes('receiptBundle')), 'no per-entry receipt scan');
    await shot('owner-usage');
    // Only refusals, through the same query's filter.
    await page.selectOption('select[name=released]', 'false');
    await page.click('button[name=show-usage]');
    await page
      .locator('[data-testid=usage] tbody tr', { hasText: 'released ·' })
      .first()
      .waitFor({ state: 'detached' });
    assert.match(await page.locator('[data-testid=usage] tbody').innerText(), /refused · FORBIDDEN/);
  });

  it('grants: a department applies, the owner approves narrower, the department reads exactly the grant', async () => {
    const DS = 'building-energy';
    const DISTRICT = 'district:310101';
    const rows = await t.gw.db.query<{ s: string }>(
      `select g.subdistrict_id as s from ds_building_energy e join grains g on g.id = e.grain_id
       where g.district_id = $1 group by g.subdistrict_id order by count(*) desc limit 1`,
      [DISTRICT],
    );
    const subdistrict = rows[0]!.s;
    const analyst = await t.token('transport', ['analyst'], { sub: 'li.analyst@transport' });

    await signIn(analyst);
    await page.click('[data-nav=grants]');
    await page.waitForSelector(`select[name=apply-dataset] option[value=${DS}]`, { state: 'attached' });
    await page.selectOption('select[name=apply-dataset]', DS);
    await page.selectOption('select[name=apply-purpose]', 'urban_planning');
    await page.selectOption('select[name=apply-district]', DISTRICT);
    for (const f of ['electricity_kwh', 'gas_m3', 'meter_id']) await page.check(`input[name=apply-field-${f}]`);
    await page.fill('input[name=apply-days]', '30');
    await page.fill('input[name=apply-legal-basis]', 'Shanghai Public Data Regulation, art. 32');
    await page.fill('input[name=apply-contact]', 'li.transport@example.gov.cn');
    await page.click('form[data-testid=apply] button[type=submit]');
    await page.waitForSelector('[data-testid=applied]');
    await page.waitForSelector('[data-testid=followed][data-status=pending]');
    assert.match(await page.locator('[data-testid=applications]').innerText(), /building-energy.*pending/s);
    await shot('department-grant-applied');

    // The owner sees it, narrows it to one field and one subdistrict, and approves.
    await signIn(await t.token('housing-construction', ['owner'], { sub: 'zhang.owner@housing' }));
    await page.click('[data-nav=review]');
    const decide = page.locator('.decide').first();
    await decide.waitFor();
    assert.match(await decide.innerText(), /transport.*building-energy.*urban_planning/s);
    await decide.locator('input[name=grant-field-gas_m3]').uncheck();
    await decide.locator('input[name=grant-field-meter_id]').uncheck();
    await decide.locator(`select[name=grant-extent] option[value="${subdistrict}"]`).waitFor({ state: 'attached' });
    await decide.locator('select[name=grant-extent]').selectOption(subdistrict);
    await decide.locator('input[name=decision-reason]').fill('electricity only, one subdistrict for the pilot');
    await shot('owner-grant-narrowing');
    await decide.locator('button[name=approve]').click();
    await page.waitForSelector('[data-testid=decided] tr[data-status=approved]');
    const given = await page.locator('[data-testid=given]').innerText();
    assert.match(given, /transport\tbuilding-energy\telectricity_kwh\turban_planning/);
    assert.ok(given.includes(subdistrict));
    await shot('owner-grant-approved');

    // The department follows its application to the grant and queries exactly the granted field.
    await signIn(analyst);
    await page.click('[data-nav=grants]');
    await page.waitForSelector('[data-testid=applications] tr[data-status=approved]');
    await page.click('[data-testid=applications] tr[data-status=approved] button:text("Follow")');
    await page.waitForSelector('[data-testid=followed][data-status=approved] [data-testid=granted]');
    const granted = await page.locator('[data-testid=granted]').innerText();
    assert.match(granted, /active/);
    assert.match(granted, /electricity_kwh/);
    assert.doesNotMatch(granted, /gas_m3|meter_id/);
    assert.match(granted, /narrower than applied for/);
    assert.match(await page.locator('[data-testid=followed]').innerText(), /electricity only, one subdistrict/);
    await shot('department-grant-followed');
    await page.click('[data-testid=granted] [data-testid=query-grant]');
    await page.waitForSelector('input[name=field-electricity_kwh]:checked');
    assert.equal(await page.inputValue('select[name=purpose]'), 'urban_planning');
    assert.equal(await page.inputValue('select[name=within]'), subdistrict);
    await page.click('text=Run the query');
    await page.waitForSelector('[data-testid=records-result]');
    const heads = await page.locator('[data-testid=records-result] thead th').allInnerTexts();
    assert.deepEqual(heads.slice(2), ['electricity_kwh'], 'exactly the granted field');
    const expected = await t.gw.db.query<{ n: number }>(
      `select count(*)::int as n from ds_building_energy e join grains g on g.id = e.grain_id where g.subdistrict_id = $1`,
      [subdistrict],
    );
    assert.equal(
      await page.locator('[data-testid=records-result] tbody tr').count(),
      Math.min(expected[0]!.n, 50),
      'the records of the granted subdistrict',
    );
    await shot('department-granted-records');
    await page.check('input[name=field-gas_m3]');
    await page.click('text=Run the query');
    await page.waitForSelector('.refusal[data-code=FORBIDDEN]');
    await shot('department-ungranted-field-refused');
    await assertNoSecret('department grants');

    // The owner revokes the grant with a reason.
    await signIn(await t.token('housing-construction', ['owner'], { sub: 'zhang.owner@housing' }));
    await page.click('[data-nav=review]');
    // The demo's own grant to planning-bureau is listed too: pick transport's.
    const row = page.locator('[data-testid=given] tr[data-state=active]', { hasText: 'transport' });
    const grantId = await row.getAttribute('data-grant');
    await row.locator('input[name=revoke-reason]').fill('pilot ended');
    await row.locator('button[name=revoke]').click();
    await page.waitForSelector(`[data-testid=given] tr[data-grant="${grantId}"][data-state=revoked]`);
    assert.match(await page.locator(`[data-testid=given] tr[data-grant="${grantId}"]`).innerText(), /pilot ended/);
    assert.equal(
      await page.locator('[data-testid=given] tr[data-grant=grant-planning-energy]').getAttribute('data-state'),
      'active',
      'the other grant stands',
    );
    await shot('owner-grant-revoked');
  });

  it('jobs: dummy data first, then real data with suppressed cells; keys smuggled on real data refused', async () => {
    await signIn(await t.token('emergency-management', ['analyst']));
    await page.click('[data-nav=jobs]');
    await page.waitForSelector('input[name=job-field-care_level]:checked');
    assert.ok(await page.locator('button[name=run-real]').isDisabled(), 'real runs open after a dummy run');
    await page.fill('#job-outputs', JSON.stringify(perCommunityOutputs(communities)));
    await page.fill('#job-code', perCommunity(communities));
    await page.click('button[name=run-dummy]');
    await page.waitForSelector('.job[data-run-on=DUMMY][data-status=SUCCEEDED]', { timeout: 60_000 });
    const dummy = page.locator('.job[data-run-on=DUMMY] .output-table');
    assert.equal(await dummy.getAttribute('data-dummy'), 'true');
    assert.match(await dummy.innerText(), /DUMMY DATA: synthetic values/);
    await shot('department-job-dummy');

    await page.click('button[name=run-real]');
    await page.waitForSelector('.job[data-run-on=REAL][data-status=SUCCEEDED]', { timeout: 60_000 });
    const real = page.locator('.job[data-run-on=REAL] .output-table');
    assert.equal(await real.getAttribute('data-dummy'), 'false');
    assert.match(await real.innerText(), /released after disclosure control/);
    const cells = await real.locator('tbody tr').allInnerTexts();
    const byKey = new Map(cells.map((r) => r.split('\t') as [string, string]));
    const [c1, c2, c3, c4] = communities;
    assert.deepEqual([byKey.get(c1!), byKey.get(c3!), byKey.get('Total')], ['25', '30', '77']);
    assert.match(byKey.get(c4!)!, /suppressed: threshold/, 'the cell of 4 is shown as suppressed');
    assert.match(byKey.get(c2!)!, /suppressed: secondary/, 'its complement too');
    assert.match(await real.locator('[data-testid=suppression-note]').innerText(), /2 cells suppressed/);
    assert.match(await page.locator('.job[data-run-on=REAL]').innerText(), /Receipt #\d+/);
    await shot('department-job-real-suppressed');

    await page.fill('#job-outputs', RAW_OUTPUTS);
    await page.fill('#job-code', RAW_RECORDS);
    await page.click('button[name=run-dummy]');
    await page.waitForSelector('.job[data-run-on=DUMMY][data-status=SUCCEEDED]', { timeout: 60_000 });
    await page.click('button[name=run-real]');
    await page.waitForSelector('.job[data-run-on=REAL][data-status=REFUSED]', { timeout: 60_000 });
    const refusal = await page.locator('[data-testid=job-refusal]').innerText();
    // On real data the submitter sees one outcome, whatever the sandbox did; the owner sees the rule.
    assert.match(refusal, /REFUSED · not-released/);
    assert.match(refusal, /Nothing was released/);
    assert.doesNotMatch(refusal, /key-domain/);
    assert.equal(await page.locator('.job[data-run-on=REAL] .output-table').count(), 0, 'nothing released');
    await shot('department-job-refused');
    await assertNoSecret('department jobs');
  });

  it('owner review: a release waits, the owner’s own job is refused review, another is released', async () => {
    const analyst = await t.token('emergency-management', ['analyst']);
    const ownerA = await t.token('civil-affairs', ['owner'], { sub: 'owner-a@civil-affairs' });
    const settle = async (id: string, token: string) => {
      for (let i = 0; i < 600; i++) {
        const r = await t.gql(JOB_STATUS, { id }, { token });
        const status = (r.body.data!.job as { status: string }).status;
        if (!['QUEUED', 'RUNNING'].includes(status)) return status;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`job ${id} did not settle`);
    };
    const submit = async (token: string, purpose: string | null) => {
      const r = await t.gql(
        SUBMIT_JOB,
        {
          input: {
            datasetId: 'elderly-living-alone',
            fields: ['care_level'],
            purpose,
            code: perCommunity(communities),
            outputs: perCommunityOutputs(communities),
            runOn: 'REAL',
          },
        },
        { token },
      );
      assert.equal(r.body.errors, undefined, r.raw.slice(0, 300));
      return (r.body.data!.submitJob as { id: string }).id;
    };

    await signIn(ownerA);
    await page.click('[data-nav=review]');
    const rule = page.locator('.review-rule[data-dataset=elderly-living-alone]');
    // The page shows the gateway's current setting (Dataset.jobReviewRequired), not only the last change made there.
    await page.waitForSelector('.review-rule[data-dataset=elderly-living-alone][data-required=false]');
    await rule.locator('button[name=require-review]').click();
    await page.waitForSelector('.review-rule[data-dataset=elderly-living-alone][data-required=true]');

    const theirs = await submit(analyst, 'emergency_response');
    const mine = await submit(ownerA, null);
    assert.equal(await settle(theirs, analyst), 'AWAITING_REVIEW');
    assert.equal(await settle(mine, ownerA), 'AWAITING_REVIEW');
    await page.reload();
    await page.waitForSelector(`.review-job[data-job="${theirs}"]`);
    await page.waitForSelector('.review-rule[data-dataset=elderly-living-alone][data-required=true]');
    assert.match(await page.locator(`.review-job[data-job="${theirs}"]`).innerText(), /suppressed: threshold/);
    await shot('owner-releases-waiting');

    const own = page.locator(`.review-job[data-job="${mine}"]`);
    await own.locator('input[name=review-reason]').fill('my own job');
    await own.locator('button[name=release]').click();
    await own.locator('.refusal[data-code=FORBIDDEN]').waitFor();
    assert.match(await own.locator('.refusal').innerText(), /submitted/);
    await shot('owner-own-job-refused');

    const other = page.locator(`.review-job[data-job="${theirs}"]`);
    await other.locator('input[name=review-reason]').fill('aggregates only, checked');
    await other.locator('button[name=release]').click();
    await page.waitForSelector(`.review-job[data-job="${theirs}"]`, { state: 'detached' });
    await rule.locator('button[name=stop-review]').click();
    await page.waitForSelector('.review-rule[data-dataset=elderly-living-alone][data-required=false]');
    await shot('owner-release-approved');

    await signIn(analyst);
    await page.click('[data-nav=jobs]');
    await page.click(`[data-testid=jobs] tr[data-job="${theirs}"] button`);
    await page.waitForSelector(`.job[data-job="${theirs}"][data-status=SUCCEEDED] .output-table`);
    assert.match(
      await page.locator(`.job[data-job="${theirs}"]`).innerText(),
      /Released after review by owner-a@civil-affairs: aggregates only, checked/,
    );
    await shot('department-job-released-after-review');
  });

  it('owner: approves one encrypted computation, refuses another, sets and revokes a standing rule', async () => {
    // A real encrypted column (BFV) of building-energy, uploaded as the owner's tools do.
    const owner = await t.token('housing-construction', ['owner'], { sub: 'zhang.owner@housing' });
    const planner = await t.token('planning-bureau', ['analyst']);
    const ownerGql = async (q: string, v: Record<string, unknown>) => {
      const r = await t.gql(q, v, { token: owner });
      assert.equal(r.body.errors, undefined, r.raw.slice(0, 300));
      return r.body.data!;
    };
    const ctx = createHeContext(await loadSeal(), BFV_PARAMS);
    try {
      const keys = generateOwnerKeys(ctx);
      await uploadKeyBundle(ownerGql, 'building-energy', 'electricity_kwh', bundleToJson(keys.public));
      const rows = await t.gw.db.query<{ id: string; v: number }>(
        'select id, round(electricity_kwh)::int as v from ds_building_energy order by id',
      );
      const up = await encryptColumn(
        ctx,
        keys.public,
        rows.map((r) => Number(r.v)),
        { maxAbs: 1_000_000 },
      );
      await ownerGql(
        `mutation($l: String!, $ids: [String!]!) { beginEncryptedColumn(dataset: "building-energy", column: "electricity_kwh", layout: $l, recordIds: $ids) { total } }`,
        { l: JSON.stringify(up.layout), ids: rows.map((r) => r.id) },
      );
      for (const [i, ct] of up.ciphertexts.entries()) {
        await ownerGql(
          `mutation($i: Int!, $c: String!) { uploadCiphertextChunk(dataset: "building-energy", column: "electricity_kwh", index: $i, ciphertext: $c) { received } }`,
          { i, c: Buffer.from(ct).toString('base64') },
        );
      }
    } finally {
      ctx.delete();
    }
    const compute = async (groupBy: string | null) => {
      const r = await t.gql(
        `query($g: String) { encryptedAggregate(dataset: "building-energy", column: "electricity_kwh", kind: "sum", groupBy: $g, purpose: "urban-planning") { computationId approval } }`,
        { g: groupBy },
        { token: planner },
      );
      assert.equal(r.body.errors, undefined, r.raw.slice(0, 300));
      return r.body.data!.encryptedAggregate as { computationId: string; approval: string };
    };
    const a = await compute(null);
    const b = await compute('community');
    assert.deepEqual([a.approval, b.approval], ['pending', 'pending']);

    await signIn(owner);
    await page.click('[data-nav=encrypted]');
    const first = page.locator(`.decide[data-computation="${a.computationId}"]`);
    await first.waitFor();
    assert.match(await first.innerText(), /planning-bureau[\s\S]*urban-planning/);
    await shot('owner-encrypted-pending');
    await first.locator('button[name=approve-computation]').click();
    await first.waitFor({ state: 'detached' });
    const second = page.locator(`.decide[data-computation="${b.computationId}"]`);
    assert.ok(await second.locator('button[name=refuse-computation]').isDisabled(), 'a refusal needs a reason');
    await second.locator('input[name=encrypted-reason]').fill('cells too small for this study');
    await second.locator('button[name=refuse-computation]').click();
    await second.waitFor({ state: 'detached' });
    await page.waitForSelector(
      `[data-testid=encrypted-decided] tr[data-computation="${a.computationId}"][data-status=approved]`,
    );
    await page.waitForSelector(
      `[data-testid=encrypted-decided] tr[data-computation="${b.computationId}"][data-status=refused]`,
    );
    await shot('owner-encrypted-decided');

    // A standing rule for the planners' sums: their next ungrouped sum is approved as it is logged.
    await page.selectOption('select[name=rule-column]', 'building-energy.electricity_kwh');
    await page.fill('input[name=rule-orgs]', 'planning-bureau');
    await page.fill('input[name=rule-kinds]', 'sum');
    await page.fill('input[name=rule-min-units]', '10');
    await page.click('button[name=set-rule]');
    const ruleRow = page.locator('[data-testid=encrypted-rules] tbody tr').first();
    await ruleRow.waitFor();
    assert.match(await ruleRow.innerText(), /planning-bureau/);
    assert.equal((await compute(null)).approval, 'approved');
    await shot('owner-encrypted-rule');
    await ruleRow.locator('input[name=rule-revoke-reason]').fill('study over');
    await ruleRow.locator('button[name=revoke-rule]').click();
    await ruleRow.waitFor({ state: 'detached' });
    assert.equal((await compute(null)).approval, 'pending');
  });

  it('auditor: trail search, a flag, CSV export, a receipt verified and a tampered one failing', async () => {
    // Repeated refusals to flag.
    const transport = await t.token('transport', ['analyst'], { sub: 'prober@transport' });
    for (let i = 0; i < 6; i++)
      await t.gql(RECORDS, { dataset: 'building-energy', fields: ['meter_id'] }, { token: transport });

    await signIn(await t.token('data-bureau', ['auditor']));
    await page.click('[data-nav=audit]');
    await page.fill('input[name=org]', 'planning-bureau');
    await page.click('button:text("Search")');
    await page.waitForSelector('[data-testid=trail] tr[data-index]');
    const trail = await page.locator('[data-testid=trail] tbody').innerText();
    assert.match(trail, /analyst@planning-bureau/);
    assert.doesNotMatch(trail, /prober@transport/);
    await shot('auditor-trail');

    await page.click('text=Show flags');
    await page.waitForSelector('[data-testid=flags] tr[data-kind=repeated-refusals]');
    assert.match(await page.locator('[data-testid=flags]').innerText(), /prober@transport/);
    await shot('auditor-flags');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Export CSV')]);
    const file = path.join(ARTIFACTS, 'audit-trail.csv');
    await download.saveAs(file);
    const csv = fs.readFileSync(file, 'utf8');
    assert.match(download.suggestedFilename(), /^audit-trail-.*\.csv$/);
    assert.ok(csv.split('\n').length > 2 && csv.includes('planning-bureau'));
    assert.ok(!csv.includes('prober@transport'), 'the export honours the filter');

    await page.fill('input[name=report-dataset]', 'residents-per-room');
    await page.click('button:text("Report")');
    await page.waitForSelector('[data-testid=report]');
    assert.match(await page.locator('[data-testid=report]').innerText(), /planning-bureau\turban-planning\treleased/);
    const touched = await t.gql(
      '{ records(dataset: "residents-per-room", fields: ["tenure"], purpose: urban_planning, first: 1) { items { grainId } } }',
      {},
      { token: await t.token('planning-bureau', ['analyst'], { sub: 'toucher@planning-bureau' }) },
    );
    const grain = (touched.body.data!.records as { items: { grainId: string }[] }).items[0]!.grainId;
    await page.fill('input[name=grain]', grain);
    await page.click('button:text("Look up")');
    await page.waitForSelector('[data-testid=grain]');
    assert.match(await page.locator('[data-testid=grain]').innerText(), /toucher@planning-bureau/);
    await shot('auditor-report-and-grain');

    const index = await page.locator('[data-testid=trail] tr[data-index]').first().getAttribute('data-index');
    await page.click(`[data-testid=trail] tr[data-index="${index}"] a`);
    await waitForValue('#bundle');
    await waitForValue('#pem');
    await page.click('text=Verify in the browser');
    await page.waitForSelector('[data-testid=verdict]');
    assert.equal(await page.locator('[data-testid=verdict]').getAttribute('data-ok'), 'true');
    assert.equal(await page.locator('.step[data-status=pass]').count(), 6);
    await shot('auditor-receipt-verified');

    // The same bundle, tampered three ways: each fails at its own step, as the server's verifier does.
    const original = await page.inputValue('#bundle');
    const pem = await page.inputValue('#pem');
    assert.ok(verifyBundle(JSON.parse(original) as ReceiptBundle, pem).ok, 'the server agrees it verifies');
    const tamper = (f: (b: ReceiptBundle) => void) => {
      const b = JSON.parse(original) as ReceiptBundle;
      f(b);
      return b;
    };
    const cases: { name: string; bundle: ReceiptBundle; failsAt: string }[] = [
      { name: 'record', bundle: tamper((b) => (b.record.requester.sub = 'someone-else')), failsAt: 'leaf-hash' },
      {
        name: 'root',
        bundle: tamper(
          (b) => (b.treeHead.rootHash = b.treeHead.rootHash.replace(/^./, (c) => (c === '0' ? '1' : '0'))),
        ),
        failsAt: 'tree-head',
      },
      {
        name: 'proof',
        bundle: tamper((b) => (b.proof.hashes[0] = b.proof.hashes[0]!.replace(/^./, (c) => (c === '0' ? '1' : '0')))),
        failsAt: 'inclusion',
      },
    ];
    for (const c of cases) {
      await page.fill('#bundle', JSON.stringify(c.bundle, null, 2));
      await page.click('text=Verify in the browser');
      await page.waitForSelector(`[data-testid=verdict][data-ok=false][data-failed-at=${c.failsAt}]`);
      const server = verifyBundle(c.bundle, pem);
      assert.equal(server.ok, false, `the server's verifier also refuses the tampered ${c.name}`);
      const detail = await page.locator(`.step[data-step=${c.failsAt}] .muted`).innerText();
      assert.equal(detail, server.reason, `same reason as the server for the tampered ${c.name}`);
      await shot(`auditor-tampered-${c.name}`);
    }
    await assertNoSecret('auditor');
  });

  it('left the gateway for nothing and broke no CSP rule', () => {
    assert.deepEqual(outside, [], 'no request left the gateway origin');
    assert.deepEqual(cspViolations, [], 'no Content-Security-Policy violation');
    assert.deepEqual(pageErrors, [], 'no uncaught page error');
  });
});

describe('a gateway whose console was not built', () => {
  it('says how to build it, under the same policy, and still serves GraphQL', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'citygate-no-console-'));
    const t = await startTestGateway({ env: { CITYGATE_CONSOLE_DIR: empty, CITYGATE_DEMO: 'false' } });
    try {
      const fastify = t.app.getHttpAdapter().getInstance();
      const page = await fastify.inject({ method: 'GET', url: '/console/' });
      assert.equal(page.statusCode, 503);
      assert.match(page.body, /npm run console:build/);
      assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
      const bare = await fastify.inject({ method: 'GET', url: '/console' });
      assert.equal(bare.statusCode, 301);
      assert.equal(bare.headers.location, '/console/');
      const me = await t.gql('{ me { via } }');
      assert.equal((me.body.data!.me as { via: string }).via, 'anonymous');
    } finally {
      await t.close();
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
