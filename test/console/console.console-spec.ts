/**
 * The web console end to end: Debian's chromium, driven by playwright-core, walks each persona's main path
 * against a real test gateway listening on loopback. Every step saves a screenshot under
 * .test-artifacts/console/. Every page must load nothing from outside the gateway's origin, break no
 * Content-Security-Policy rule, and show no value the caller's tier forbids.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { verifyBundle, type ReceiptBundle } from '../../src/ledger/verifier.js';
import { startTestGateway, type TestGateway } from '../support/test-gateway.js';

const ARTIFACTS = path.resolve('.test-artifacts/console');
const CHROMIUM = process.env.CITYGATE_CHROMIUM ?? '/usr/bin/chromium';
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
    t = await startTestGateway({ rooms: 3000 });
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

  it('department: granted records with the masks shown as masks, and a refusal explained', async () => {
    await signIn(await t.token('planning-bureau', ['analyst']));
    assert.match(await page.locator('[data-testid=whoami]').innerText(), /analyst@planning-bureau/);
    assert.ok(await page.locator('[data-nav=grants]').count(), 'the marked place for grant applications is there');
    assert.ok(await page.locator('[data-nav=jobs]').count(), 'the marked place for sandbox jobs is there');
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

    await page.click('[data-nav=grants]');
    assert.match(await page.locator('[data-testid=placeholder]').innerText(), /not available on this gateway yet/);
  });

  it('owner: who used their data, when and why', async () => {
    await signIn(await t.token('public-security', ['owner']));
    await page.click('[data-nav=usage]');
    await page.click('text=Scan the log');
    await page.waitForSelector('[data-testid=usage] tr[data-sub="analyst@planning-bureau"]', { timeout: 30_000 });
    const rows = await page.locator('[data-testid=usage] tbody').innerText();
    assert.match(rows, /urban-planning/);
    assert.match(rows, /residents-per-room/);
    assert.match(rows, /refused · FORBIDDEN/);
    await shot('owner-usage');

    await page.click('[data-nav=review]');
    assert.match(await page.locator('[data-testid=placeholder]').innerText(), /not available on this gateway yet/);
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
