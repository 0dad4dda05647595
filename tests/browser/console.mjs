// pactum's console in a real browser: Debian's chromium, driven by
// playwright-core (never a downloaded browser), every page measured by
// axe-core (WCAG 2.1 A and AA: no serious or critical violation) and kept as a
// screenshot.
//
//   node console.mjs   (tests/api/browser.rs starts pactum and the OpenID
//                       provider and passes what this needs in the environment)
//
// PACTUM_URL     pactum, in-process, under a manual clock
// OIDC_ISSUER    the OpenID provider (accounts sam, carol, olga, audrey)
// SHIFTER_TOKEN  a pactum token of a shifter of compute (the API's side of the story)
// CUSTOMER_TOKEN a pactum token of a customer of acme
// ADMIN_TOKEN    a pactum token of an admin (moves the manual clock)
// ARTIFACTS      where screenshots go
// CHROMIUM       the browser (default /usr/bin/chromium)

import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const base = process.env.PACTUM_URL;
const issuer = process.env.OIDC_ISSUER;
const artifacts = process.env.ARTIFACTS;
mkdirSync(artifacts, { recursive: true });

function fail(message) {
  console.error(`FAILED: ${message}`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) fail(message);
}

async function api(method, path, token, body) {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  check(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

let shots = 0;
const audited = [];

// Measures the page with axe-core (evaluated through the DevTools protocol:
// the page's own Content-Security-Policy stays as it is) and keeps a screenshot.
async function audit(page, name) {
  shots += 1;
  await page.screenshot({ path: `${artifacts}/${String(shots).padStart(2, '0')}-${name}.png`, fullPage: true });
  const results = await page.evaluate(async (source) => {
    if (!window.axe) {
      // eslint-disable-next-line no-eval
      (0, eval)(source);
    }
    return window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
  }, axeSource);
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(
    bad.length === 0,
    `${name} (${page.url()}): ${bad.map((v) => `${v.id}: ${v.help} ${v.nodes.map((n) => n.target).join(' ')}`).join('; ')}`,
  );
  // Usable at 390 px wide: nothing wider than the screen but tables, which
  // scroll inside their own box.
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const [overflow, wide] = await page.evaluate(() => [
    document.documentElement.scrollWidth,
    Array.from(document.querySelectorAll('body *'))
      .filter((e) => e.getBoundingClientRect().right > 391 && !(e.parentElement && e.parentElement.closest('.table')))
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className}`),
  ]);
  await page.setViewportSize(size);
  check(overflow <= 390, `${name} fits 390 px (it is ${overflow} px wide: ${wide.join(', ')})`);
  audited.push(name);
}

// Signs `account` in through the provider's own login page.
async function signIn(page, account) {
  await page.goto(`${base}/login`);
  check(page.url().startsWith(issuer), `sign-in goes to the provider: ${page.url()}`);
  await page.fill('input[name=login]', account);
  await page.fill('input[name=password]', 'any');
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  await audit(page, `${account}-home`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

try {
  // --- the pages before signing in: home, the token form
  const visitor = await (await browser.newContext()).newPage();
  await visitor.goto(`${base}/`);
  await audit(visitor, 'visitor-home');
  await visitor.goto(`${base}/login/token`);
  await audit(visitor, 'visitor-token-form');

  // --- a shifter finds a new order at the top of the queue, without reloading
  const shifter = await (await browser.newContext()).newPage();
  await signIn(shifter, 'sam');
  await shifter.click('nav >> text=Orders');
  await shifter.waitForURL(`${base}/ui/orders`);
  await audit(shifter, 'shifter-queue');
  const title = `Browser order ${Date.now()}`;
  const order = await api('POST', '/v1/orders', process.env.CUSTOMER_TOKEN, {
    service: 'cloud-compute',
    title,
    parameters: {
      cpu_cores: 4, ram_per_core_gb: 2, local_disk_gb: 40, vm_instances: 2,
      access_type: 'opportunistic', start_date: '2027-01-04', duration_days: 30,
    },
  });
  const firstRow = shifter.locator('#queue tr').first();
  await firstRow.locator(`text=${title}`).waitFor({ timeout: 15000 });
  check(shifter.url() === `${base}/ui/orders`, 'no reload, no navigation');

  // --- writes an internal comment, and approves by keyboard alone
  await firstRow.locator(`text=${title}`).click();
  await shifter.waitForURL(`${base}/ui/orders/${order.id}`);
  await audit(shifter, 'shifter-order');
  await shifter.fill('#comment', 'Quota is tight this month; checking with the site.');
  await shifter.check('input[name=visibility][value=internal]');
  await Promise.all([shifter.waitForNavigation(), shifter.click('button[value=comment]')]);
  check(await shifter.locator('.timeline li.internal').count() === 1, 'the internal comment is marked');
  await shifter.focus('#approve-note');
  await shifter.keyboard.type('Looks fine');
  await shifter.keyboard.press('Tab');
  const focused = await shifter.evaluate(() => document.activeElement && document.activeElement.value);
  check(focused === 'approve', `Tab reaches the Approve button (focused: ${focused})`);
  await Promise.all([shifter.waitForNavigation(), shifter.keyboard.press('Enter')]);
  check((await shifter.locator('.facts .status').first().textContent()) === 'approved', 'approved');
  await audit(shifter, 'shifter-approved');

  // --- a customer makes a typed mistake, sees it at its field, then orders
  const customerContext = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const customer = await customerContext.newPage();
  await signIn(customer, 'carol');
  await customer.click('nav >> text=Order a service');
  await audit(customer, 'customer-services');
  await customer.click('a[href="/ui/services/cloud-compute/order"]');
  await audit(customer, 'customer-form');
  const wide = await customer.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 390, `the form fits 390 px (${wide} px wide)`);
  await customer.fill('#title', 'Carol\'s lab');
  await customer.fill('#p-cpu_cores', '5000');
  await customer.fill('#p-ram_per_core_gb', '2');
  await customer.fill('#p-local_disk_gb', '40');
  await customer.fill('#p-vm_instances', '2');
  await customer.selectOption('#p-access_type', 'guaranteed');
  await customer.fill('#p-start_date', '2027-02-01');
  await customer.fill('#p-duration_days', '60');
  await Promise.all([customer.waitForNavigation(), customer.click('button[type=submit]:has-text("Submit the order")')]);
  await customer.locator('#e-cpu_cores').waitFor();
  check((await customer.getAttribute('#p-cpu_cores', 'aria-invalid')) === 'true', 'the field says it is invalid');
  await audit(customer, 'customer-form-error');
  await customer.fill('#p-cpu_cores', '8');
  await Promise.all([customer.waitForURL(/\/ui\/orders\/[0-9a-f-]+$/), customer.click('button[type=submit]:has-text("Submit the order")')]);
  const carolsOrder = customer.url().split('/').pop();
  await audit(customer, 'customer-order');

  // Staff approve and activate it (over the API); later the customer downloads the SLA.
  await api('POST', `/v1/orders/${carolsOrder}/approve`, process.env.SHIFTER_TOKEN, {});
  await api('POST', `/v1/orders/${carolsOrder}/activate`, process.env.SHIFTER_TOKEN, {});
  await customer.click('nav >> text=Agreements');
  await audit(customer, 'customer-agreements');
  const [download] = await Promise.all([
    customer.waitForEvent('download'),
    customer.click('a:has-text("PDF")'),
  ]);
  const path = `${artifacts}/sla.pdf`;
  await download.saveAs(path);
  check(readFileSync(path).subarray(0, 5).toString() === '%PDF-', 'the SLA is a PDF');
  // Its service levels, a page of tables.
  await customer.click('a:has-text("Service levels of")');
  await audit(customer, 'customer-service-levels');
  check((await customer.textContent('h1')).startsWith('Service levels of'), 'the service levels page');

  // --- an hour later, a provider marks its step done
  const approvedAt = (await api('GET', `/v1/orders/${order.id}`, process.env.SHIFTER_TOKEN)).updated_at;
  await api('POST', '/v1/admin/clock', process.env.ADMIN_TOKEN, { advance: 'PT1H' });
  await api('POST', `/v1/orders/${order.id}/provisioning`, process.env.SHIFTER_TOKEN, {
    steps: [{ provider: 'cesnet-mcc', action: 'Create the project' }],
  });
  const provider = await (await browser.newContext()).newPage();
  await signIn(provider, 'olga');
  await provider.goto(`${base}/ui/orders/${order.id}`);
  await audit(provider, 'provider-order');
  await provider.fill('#note-1', 'Project created');
  await Promise.all([provider.waitForNavigation(), provider.click('button[value=step_done]')]);
  check((await provider.locator('.list .status').first().textContent()) === 'done', 'the step is done');
  await audit(provider, 'provider-done');
  await provider.click('nav >> text=Steps');
  check(await provider.locator('text=Create the project').count() === 1, 'its steps list it');
  await audit(provider, 'provider-steps');
  await provider.goto(`${base}/ui/orders/no-such-order`);
  await audit(provider, 'not-found');

  // --- a day later, an auditor opens the order as it was yesterday, approved
  // and not yet provisioned
  const yesterday = approvedAt;
  await api('POST', '/v1/admin/clock', process.env.ADMIN_TOKEN, { advance: 'PT24H' });
  const auditor = await (await browser.newContext()).newPage();
  await signIn(auditor, 'audrey');
  await auditor.goto(`${base}/ui/orders/${order.id}`);
  await auditor.fill('#as_of', yesterday);
  await Promise.all([auditor.waitForNavigation(), auditor.click('form.inline button:has-text("Show")')]);
  check((await auditor.locator('.note').first().textContent()).includes('As it was at'), 'the page says when');
  check(await auditor.locator('button[value=approve]').count() === 0, 'no forms in the past');
  check((await auditor.locator('.facts .status').first().textContent()) === 'approved', 'as it was');
  check(await auditor.locator('text=Create the project').count() === 0, 'no step planned yet');
  await audit(auditor, 'auditor-as-of');
  await auditor.click('nav >> text=Log');
  check(await auditor.locator('text=OrderApproved').count() > 0, 'the log shows the approval');
  await audit(auditor, 'auditor-log');
  await auditor.click('nav >> text=Reports');
  await auditor.fill('#from', '2026-01-01');
  await Promise.all([auditor.waitForNavigation(), auditor.click('form.filters button')]);
  check(await auditor.locator('svg.chart').count() === 1, 'the report has its chart');
  await audit(auditor, 'auditor-report');
  await auditor.click('nav >> text=Verify');
  await Promise.all([auditor.waitForNavigation(), auditor.click('button:has-text("Verify now")')]);
  check(await auditor.locator('text=every chain intact').count() === 1, 'the log verifies');
  await audit(auditor, 'auditor-verify');

  // --- an admin makes someone a shifter of storage
  const admin = await (await browser.newContext()).newPage();
  await signIn(admin, 'ada');
  await admin.click('nav >> text=Administration');
  await audit(admin, 'admin');
  await admin.fill('#add-group-storage', 'nina@egi.eu');
  await Promise.all([admin.waitForNavigation(), admin.click('#add-group-storage ~ button')]);
  check(await admin.locator('text=nina@egi.eu').count() > 0, 'nina is a member now');
  await audit(admin, 'admin-member-added');
  await admin.click('a[href="/ui/admin/edit/service/cloud-compute"]');
  await audit(admin, 'admin-editor');

  console.log(`ok: ${audited.length} pages measured by axe-core, screenshots in ${artifacts}`);
} finally {
  await browser.close();
}
