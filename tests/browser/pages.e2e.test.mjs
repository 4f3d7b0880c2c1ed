// Browser end-to-end test of the pages people expect (issue #14, point 9): the
// young person's start page links Impressum, Datenschutz, "Wer wir sind" and
// the chat rules in its footer; each link, followed at 360 × 740 through the
// real lotsed, loads a static page (web/pages/) under lotsed's
// Content-Security-Policy, with a heading, a way back to the start page, one
// script (page-exit.js) and no sideways scrolling; away from the start page (writing a
// message, waiting, chatting) the links open in a new tab so that reading them
// never leaves the conversation. Screenshots: pages-<name>-360.png.
// "Schnell weg" on a page goes to the service's configured neutral page (a
// second lotsed with --quick-exit-url), by the link and by Escape twice, and
// "back" afterwards does not lead into the service: every way between the
// start page and the pages replaces the history entry (page-exit.js).
// Real lotsed and PostgreSQL, set up by run.sh.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

import { startChildLotsed } from './child-lotsed.mjs';

const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run tests/browser/run.sh`);
    return v;
};
const URL = env('LOTSE_URL');
const SHOTS = join(env('LOTSE_ARTIFACTS'), 'screenshots');

const PAGES = [
    { href: '/pages/wer-wir-sind.html', label: 'Wer wir sind', name: 'about' },
    { href: '/pages/regeln.html', label: 'Chat-Regeln', name: 'rules' },
    { href: '/pages/datenschutz.html', label: 'Datenschutz', name: 'privacy' },
    { href: '/pages/impressum.html', label: 'Impressum', name: 'imprint' },
];

let browser;

before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
        headless: true,
        args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
});

after(async () => {
    if (browser) await browser.close();
});

/** A 360 × 740 page that collects console errors, failed requests and CSP reports. */
async function phone() {
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'de-DE' });
    const page = await context.newPage();
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('requestfailed', (r) => problems.push(`${r.url()}: ${r.failure()?.errorText}`));
    return { context, page, problems };
}

async function noSidewaysScroll(page, what) {
    const { scroll, client } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
    }));
    assert.ok(scroll <= client, `${what}: ${scroll} px wide in a ${client} px window`);
}

test('the start page\'s footer links the four pages, in German and in English', async () => {
    const { context, page } = await phone();
    await page.goto(URL + '/');
    await page.locator('#view-start').waitFor();
    const links = page.locator('footer .footer-links a');
    assert.deepEqual(await links.evaluateAll((as) => as.map((a) => a.getAttribute('href'))), PAGES.map((p) => p.href));
    assert.deepEqual((await links.allTextContents()).map((s) => s.trim()), PAGES.map((p) => p.label));
    await noSidewaysScroll(page, 'start page');
    await page.locator('footer').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'pages-start-footer-360.png') });
    await page.locator('#lang').selectOption('en');
    assert.deepEqual((await links.allTextContents()).map((s) => s.trim()),
        ['Who we are', 'Chat rules', 'Privacy', 'Legal notice']);
    await context.close();
});

for (const p of PAGES) {
    test(`footer link "${p.label}": a calm static page under the CSP with a heading and a way back`, async () => {
        const { context, page, problems } = await phone();
        await page.goto(URL + '/');
        await page.locator('#view-start').waitFor();
        const [response] = await Promise.all([
            page.waitForNavigation(),
            page.locator('footer .footer-links a', { hasText: p.label }).click(),
        ]);
        assert.equal(new globalThis.URL(page.url()).pathname, p.href);
        assert.equal(response.status(), 200);
        const csp = response.headers()['content-security-policy'] || '';
        assert.match(csp, /default-src 'self'/, `${p.href} is served with the Content-Security-Policy`);
        assert.match(csp, /frame-ancestors 'none'/);
        // the stylesheet loaded (its integrity matched) and shapes the page
        assert.equal(await page.locator('body').evaluate((b) => getComputedStyle(b).backgroundColor), 'rgb(251, 250, 247)');
        // one script: the quick exit and history of page-exit.js
        assert.deepEqual(await page.locator('script').evaluateAll((ss) => ss.map((x) => x.getAttribute('src'))),
            ['/js/page-exit.js']);
        const h1 = page.locator('main h1');
        assert.equal(await h1.count(), 1);
        assert.ok((await h1.textContent()).trim().length > 0);
        assert.equal(await page.locator('html').getAttribute('lang'), 'de');
        const back = page.locator('main a.back').first();
        assert.ok(await back.isVisible(), 'a way back is visible at the top');
        assert.equal(await back.getAttribute('href'), '/');
        await noSidewaysScroll(page, p.href);
        await page.screenshot({ path: join(SHOTS, `pages-${p.name}-360.png`), fullPage: true });
        // the other pages are reachable from here too, and the way back leads to the start
        assert.equal(await page.locator('footer .footer-links a').count(), PAGES.length);
        await Promise.all([page.waitForNavigation(), back.click()]);
        assert.equal(new globalThis.URL(page.url()).pathname, '/');
        // start → page → start replaced each other: one entry of the service
        assert.equal(await page.evaluate(() => history.length), 2, 'about:blank and the start page');
        await page.locator('#view-start').waitFor();
        assert.deepEqual(problems, [], `no errors: ${problems.join('; ')}`);
        await context.close();
    });
}

test('away from the start page the footer links open in a new tab; back at the start, in this one', async () => {
    const { context, page, problems } = await phone();
    await page.goto(URL + '/');
    await page.locator('#view-start').waitFor();
    const targets = () => page.locator('footer .footer-links a').evaluateAll((as) => as.map((a) => [a.target, a.rel]));
    assert.deepEqual(await targets(), PAGES.map(() => ['', '']));
    await page.locator('#mail-write-button').click();
    await page.locator('#view-mail-write').waitFor();
    assert.deepEqual(await targets(), PAGES.map(() => ['_blank', 'noopener noreferrer']));
    const [tab] = await Promise.all([
        context.waitForEvent('page'),
        page.locator('footer .footer-links a', { hasText: 'Datenschutz' }).click(),
    ]);
    await tab.waitForLoadState();
    assert.equal(new globalThis.URL(tab.url()).pathname, '/pages/datenschutz.html');
    assert.ok(await page.locator('#view-mail-write').isVisible(), 'the message being written stays open');
    await page.locator('#mail-write-back').click();
    await page.locator('#view-start').waitFor();
    assert.deepEqual(await targets(), PAGES.map(() => ['', '']));
    assert.deepEqual(problems, [], `no errors: ${problems.join('; ')}`);
    await context.close();
});

test('"Schnell weg" on a page: the configured neutral page, also by Escape twice; "back" leads out of the service', async () => {
    const NEUTRAL = 'https://wetter.example/';
    const other = await startChildLotsed('pages-lotsed', ['--quick-exit-url', NEUTRAL]);
    try {
        for (const how of ['link', 'escape']) {
            const { context, page, problems } = await phone();
            await context.route(`${NEUTRAL}**`, (route) => route.fulfill({ contentType: 'text/html', body: '<title>Wetter</title><p>Sonnig</p>' }));
            await page.goto(`${other.url}/`);
            await page.locator('#view-start').waitFor();
            await Promise.all([page.waitForNavigation(), page.locator('footer .footer-links a', { hasText: 'Chat-Regeln' }).click()]);
            assert.equal(new globalThis.URL(page.url()).pathname, '/pages/regeln.html');
            await page.locator('a.quick-exit[href="https://wetter.example/"]').waitFor({ state: 'attached' });
            if (how === 'link') {
                await page.locator('a.quick-exit').click();
            } else {
                await page.keyboard.press('Escape');
                await page.waitForTimeout(200);
                assert.equal(new globalThis.URL(page.url()).pathname, '/pages/regeln.html', 'Escape once stays');
                await page.keyboard.press('Escape');
            }
            await page.waitForURL(NEUTRAL);
            await page.goBack();
            assert.ok(!page.url().startsWith(other.url), `${how}: back leads to ${page.url()}, not the service`);
            assert.deepEqual(problems, [], `no errors: ${problems.join('; ')}`);
            await context.close();
        }
    } finally {
        other.proc.kill('SIGTERM');
    }
});
