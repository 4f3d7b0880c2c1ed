// Browser end-to-end: a relay that drops a message and forges its ACK
// (PROTOCOL.md §3, §6). The young person's page talks through Playwright's
// WebSocket route, which drops the first DATA frame it sends and answers with
// an ACK for it in the counsellor's name (a zero tag). The page must not mark
// the message delivered, must send it again on its timer, and the counsellor
// must see it exactly once. Set up by run.sh like e2e.test.mjs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run tests/browser/run.sh`);
    return v;
};
const URL = env('LOTSE_URL');
const KIND_DATA = 1;
const KIND_ACK = 2;

let browser;
const problems = [];

before(async () => {
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

function lotsectl(...args) {
    return execFileSync(env('LOTSECTL'), ['--db', env('LOTSE_DB'), ...args], { encoding: 'utf8' });
}

async function certifiedCounsellor() {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${URL}/counsellor/`);
    await page.locator('#view-login').waitFor();
    const pk = (await page.locator('#device-pk').textContent()).trim();
    lotsectl('device-certify', '--handle', env('LOTSE_COUNSELLOR'), '--device', pk, '--orgkey', env('LOTSE_ORGKEY'));
    await page.fill('#handle', env('LOTSE_COUNSELLOR'));
    await page.fill('#password', env('LOTSE_COUNSELLOR_PASSWORD'));
    await page.click('#login-button');
    await page.locator('#view-console').waitFor();
    await page.check('#available');
    await page.locator('#status-line.on').waitFor();
    return { context, page };
}

test('a relay that drops a message and forges its ACK: not marked delivered, sent again, shown once', async () => {
    const { context: cctx, page: c } = await certifiedCounsellor();
    const yctx = await newContext();
    let dropped = 0;
    let forged = 0;
    let copies = 0;
    await yctx.routeWebSocket(/\/ws$/, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((m) => {
            if (typeof m !== 'string' && m.length > 28 && m[1] === KIND_DATA && m.readBigUInt64BE(20) === 1n) {
                copies++;
                if (dropped === 0) {
                    dropped++;
                    const ack = Buffer.alloc(44);
                    m.copy(ack, 0, 0, 28);
                    ack[1] = KIND_ACK;
                    ws.send(ack); // "delivered", says the relay; the tag is zeros
                    forged++;
                    return;
                }
            }
            server.send(m);
        });
        server.onMessage((m) => ws.send(m));
    });
    const y = await yctx.newPage();
    await y.goto(`${URL}/`);
    await y.locator('#view-start').waitFor();
    await y.check('input[name="topic"][value="family"]');
    await y.click('#start-form button[type="submit"]');
    await y.locator('#view-queue').waitFor();
    await c.click('#take');
    const tab = c.locator('#panels [role="tabpanel"]').first();
    await tab.waitFor();
    const panel = c.locator(`#panel-${await tab.getAttribute('data-sid')}`);
    await y.locator('#text:enabled').waitFor();

    await y.fill('#text', 'Nur einmal, bitte');
    await y.press('#text', 'Enter');
    const mine = y.locator('.msg.mine', { hasText: 'Nur einmal, bitte' });
    await mine.waitFor();
    await new Promise((r) => setTimeout(r, 800)); // the forged ACK has long arrived
    assert.equal(forged, 1);
    assert.equal(await mine.locator('.state.delivered').count(), 0, 'a forged ACK marked it delivered');
    // the page's resend timer (2 s) sends it again; it arrives once
    const theirs = panel.locator('.msg.theirs', { hasText: 'Nur einmal, bitte' });
    await theirs.waitFor({ timeout: 10000 });
    await mine.locator('.state.delivered').waitFor({ timeout: 10000 });
    await new Promise((r) => setTimeout(r, 2500)); // a duplicate would come behind
    assert.equal(await theirs.count(), 1);
    assert.ok(copies >= 2, 'sent again');

    await y.click('#end-chat');
    await y.click('#end-yes');
    await panel.locator('.msg.system', { hasText: 'Die junge Person hat den Chat beendet.' }).waitFor();
    await cctx.close();
    await yctx.close();
    assert.deepEqual(problems.splice(0), [], 'console errors');
});
