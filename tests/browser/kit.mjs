// kit.mjs — what the browser tests share: the run's environment (run.sh), one
// headless Chromium, contexts whose pages report their errors, lotsectl and
// psql on the run's database, and the two people most tests need: a counsellor
// on a device lotsectl certified, logged in and available, and a young person
// waiting in a topic.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run tests/browser/run.sh`);
    return v;
};

export const LAPTOP = Object.freeze({ width: 1280, height: 800 });
export const PHONE = Object.freeze({ width: 360, height: 740 });

/** tests/artifacts/screenshots, made if missing. */
export function shotsDir() {
    const dir = join(env('LOTSE_ARTIFACTS'), 'screenshots');
    mkdirSync(dir, { recursive: true });
    return dir;
}

/** Debian's Chromium, headless, without the calls home. */
export function launch() {
    return chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
        headless: true,
        args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
}

/** A German context (options: viewport, timezoneId, …) whose pages push console
 * errors and uncaught exceptions onto problems. */
export async function newContext(browser, problems, options = {}) {
    const context = await browser.newContext({ locale: 'de-DE', ...options });
    context.on('page', (page) => {
        page.on('console', (m) => {
            if (m.type() === 'error') problems.push(`${page.url()}: console: ${m.text()}`);
        });
        page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
    });
    return context;
}

/** lotsectl on the run's database; input goes to its stdin. */
export function lotsectl(args, input) {
    return execFileSync(env('LOTSECTL'), ['--db', env('LOTSE_DB'), ...args], { encoding: 'utf8', input });
}

/** One psql statement on the run's database; its unaligned output, trimmed. */
export function psql(sql) {
    return execFileSync('psql', [env('LOTSE_DB'), '-XAtqc', sql], { encoding: 'utf8' }).trim();
}

/** A console page in context: this device certified for handle, logged in,
 * available (for capacity chats when given). */
export async function certifiedCounsellor(context, handle, password, capacity = 0) {
    const page = await context.newPage();
    await page.goto(`${env('LOTSE_URL')}/counsellor/`);
    await page.locator('#view-login').waitFor();
    const pk = (await page.locator('#device-pk').textContent()).trim();
    lotsectl(['device-certify', '--handle', handle, '--device', pk, '--orgkey', env('LOTSE_ORGKEY')]);
    await page.fill('#handle', handle);
    await page.fill('#password', password);
    await page.click('#login-button');
    await page.locator('#view-console').waitFor();
    if (capacity) await page.selectOption('#capacity', String(capacity));
    await page.check('#available');
    await page.locator('#status-line.on').waitFor();
    return page;
}

/** A young person's page in context, waiting in topic. */
export async function youngWaiting(context, topic) {
    const page = await context.newPage();
    await page.goto(`${env('LOTSE_URL')}/`);
    await page.locator('#view-start').waitFor();
    await page.check(`input[name="topic"][value="${topic}"]`);
    await page.click('#start-form button[type="submit"]');
    await page.locator('#view-queue').waitFor();
    return page;
}

/** The console c takes the next chat; resolves to that chat's panel once the
 * young person's page y can write. */
export async function takeNext(c, y) {
    const before = await c.locator('#panels [role="tabpanel"]').count();
    await c.click('#take');
    const tab = c.locator('#panels [role="tabpanel"]').nth(before);
    await tab.waitFor();
    const sid = await tab.getAttribute('data-sid');
    await y.locator('#text:enabled').waitFor();
    return c.locator(`#panel-${sid}`);
}

/** The young person's page y sends text. */
export async function youngSays(y, text) {
    await y.fill('#text', text);
    await y.press('#text', 'Enter');
}

/** The counsellor sends text from a chat's panel. */
export async function counsellorSays(panel, text) {
    await panel.locator('textarea').fill(text);
    await panel.locator('button[type="submit"]', { hasText: 'Senden' }).click();
}
