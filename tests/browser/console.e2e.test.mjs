// Browser end-to-end: the counsellor console with four chats at 1280 × 800
// (issue 14, points 3, 5 and 6). Its own counsellor ("cleo", capacity 4,
// made here with lotsectl) so the other files' counsellors keep theirs.
// Set up by run.sh like e2e.test.mjs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run tests/browser/run.sh`);
    return v;
};
const URL = env('LOTSE_URL');
const SHOTS = join(env('LOTSE_ARTIFACTS'), 'screenshots');
const CLEO = 'cleo';
const CLEO_PASSWORD = 'cleo-test-password';
// the screenshots' name: LOTSE_SHOT_TAG=before on the old client
const TAG = process.env.LOTSE_SHOT_TAG || 'after';

let browser;
const problems = [];

function lotsectl(args, input) {
    return execFileSync(env('LOTSECTL'), ['--db', env('LOTSE_DB'), ...args], { encoding: 'utf8', input });
}

before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    lotsectl(['account-add', '--handle', CLEO, '--role', 'counsellor', '--name', 'Cleo', '--topics',
        'family,school,friends,prison,other', '--capacity', '4', '--password-stdin', '--pwhash-cost', 'min',
        '--insecure-for-tests'], `${CLEO_PASSWORD}\n`);
    browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
        headless: true,
        args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
});

after(async () => {
    if (browser) await browser.close();
});

async function newContext() {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'de-DE' });
    context.on('page', (page) => {
        page.on('console', (m) => {
            if (m.type() === 'error') problems.push(`${page.url()}: console: ${m.text()}`);
        });
        page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
    });
    return context;
}

function assertNoProblems() {
    const found = problems.splice(0);
    assert.deepEqual(found, [], 'console errors');
}

/** Cleo's console: device certified, logged in, available for `capacity` chats. */
async function counsellor(capacity = 4) {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${URL}/counsellor/`);
    await page.locator('#view-login').waitFor();
    const pk = (await page.locator('#device-pk').textContent()).trim();
    lotsectl(['device-certify', '--handle', CLEO, '--device', pk, '--orgkey', env('LOTSE_ORGKEY')]);
    await page.fill('#handle', CLEO);
    await page.fill('#password', CLEO_PASSWORD);
    await page.click('#login-button');
    await page.locator('#view-console').waitFor();
    await page.selectOption('#capacity', String(capacity));
    await page.check('#available');
    await page.locator('#status-line.on').waitFor();
    return { context, page };
}

/** A young person who chose a topic and waits. */
async function young(topic) {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${URL}/`);
    await page.locator('#view-start').waitFor();
    await page.check(`input[name="topic"][value="${topic}"]`);
    await page.click('#start-form button[type="submit"]');
    await page.locator('#view-queue').waitFor();
    return { context, page };
}

/** The counsellor takes the next chat; returns its panel and the young person's page once both can write. */
async function take(c, y) {
    const before = await c.locator('#panels [role="tabpanel"]').count();
    await c.click('#take');
    const panel = c.locator('#panels [role="tabpanel"]').nth(before);
    await panel.waitFor();
    const sid = await panel.getAttribute('data-sid');
    await y.locator('#text:enabled').waitFor();
    return c.locator(`#panel-${sid}`);
}

async function youngSays(y, text) {
    await y.fill('#text', text);
    await y.press('#text', 'Enter');
}

async function counsellorSays(panel, text) {
    await panel.locator('textarea').fill(text);
    await panel.locator('button[type="submit"]', { hasText: 'Senden' }).click();
}

test('four chats at 1280 × 800: a conversation to read in each', async () => {
    const { context: cctx, page: c } = await counsellor(4);
    const youngs = [];
    const panels = [];
    for (const topic of ['family', 'family', 'school', 'friends']) {
        const y = await young(topic);
        youngs.push(y);
        panels.push(await take(c, y.page));
    }
    for (let i = 0; i < 4; i++) {
        await c.locator(`#tab-${await panels[i].getAttribute('data-sid')}`).click();
        await youngSays(youngs[i].page, `Hallo, ich bin Nummer ${i + 1}.`);
        await panels[i].locator('.msg.theirs', { hasText: `Nummer ${i + 1}` }).waitFor();
        await counsellorSays(panels[i], `Hallo Nummer ${i + 1}, schön, dass du schreibst.`);
        await youngs[i].page.locator('.msg.theirs', { hasText: `Hallo Nummer ${i + 1}` }).waitFor();
    }
    await c.locator('#tabs [role="tab"]').first().click();
    await c.screenshot({ path: join(SHOTS, `console-${TAG}-four-chats-1280.png`) });
    await c.screenshot({ path: join(SHOTS, `console-${TAG}-four-chats-full-1280.png`), fullPage: true });
    for (const y of youngs) await y.context.close();
    await cctx.close();
    assertNoProblems();
});
