// Browser end-to-end: the young person's start page on a 360 × 740 phone
// (issue #14, points 4 and 8), against a real lotsed on the run's database
// whose chat is closed now: the opening hours in words and the next opening
// in the service's time zone (Europe/Berlin) on a device set to another zone
// (Pacific/Auckland), in German and in English; the quick exit to the
// configured neutral page, by the button and by Escape pressed twice, leaving
// no entry of the service behind to go back to; the hint on private windows.
// And the queue (point 1) on the run's open lotsed: with nobody there for the
// topic the page says so, with the phone numbers and writing, and no place
// or estimate; when a counsellor serving it logs in, the place comes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

import { startChildLotsed } from './child-lotsed.mjs';

const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run tests/browser/run.sh`);
    return v;
};
const HERE = dirname(fileURLToPath(import.meta.url));
const SHOTS = join(env('LOTSE_ARTIFACTS'), 'screenshots');
const PHONE = { width: 360, height: 740 };
const NEUTRAL = 'https://wetter.example/';
const DAY_IDS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const DAYS_DE = ['Montag', 'Dienstag', 'Mittwoch', 'Donnerstag', 'Freitag', 'Samstag', 'Sonntag'];
const DAYS_EN = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

// Open on the three days after tomorrow (Berlin) from 14 to 20 h and on the
// fourth from 10 to 14 h: closed now and tomorrow, whenever the test runs.
const berlinToday = DAYS_EN.indexOf(new Date().toLocaleString('en-GB', { timeZone: 'Europe/Berlin', weekday: 'long' }));
const openDays = [2, 3, 4, 5].map((k) => (berlinToday + k) % 7);
const HOURS = `${openDays.slice(0, 3).map((d) => `${DAY_IDS[d]} 14:00-20:00`).join(', ')}, ${DAY_IDS[openDays[3]]} 10:00-14:00`;

let browser;
let lotsed; // {proc, url}

function startLotsed() {
    return startChildLotsed('start-lotsed', ['--opening-hours', HOURS, '--timezone', 'Europe/Berlin', '--quick-exit-url', NEUTRAL]);
}

before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
        headless: true,
        args: ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    lotsed = await startLotsed();
});

after(async () => {
    if (browser) await browser.close();
    if (lotsed) lotsed.proc.kill('SIGTERM');
});

/** A phone far from Berlin; the neutral page answered here (no network in tests). */
async function phone() {
    const context = await browser.newContext({ viewport: PHONE, locale: 'de-DE', timezoneId: 'Pacific/Auckland' });
    await context.route(`${NEUTRAL}**`, (route) => route.fulfill({ contentType: 'text/html', body: '<title>Wetter</title><p>Sonnig</p>' }));
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    await page.goto(`${lotsed.url}/`);
    await page.locator('#view-start').waitFor({ timeout: 10000 }).catch((e) => {
        throw new Error(`${e.message}; page problems: ${problems.join(' | ')}`);
    });
    return { context, page, problems };
}

test('closed: the hours in words and the next opening in the service\'s time zone, German and English', async () => {
    const { context, page, problems } = await phone();
    await page.locator('#closed').waitFor();
    const de = (await page.locator('#closed-hours').textContent()).trim();
    assert.doesNotMatch(de, /\d\d:\d\d-\d\d:\d\d/, `not the raw setting: ${de}`);
    assert.match(de, new RegExp(`${DAYS_DE[openDays[3]]} 10–14 Uhr`));
    assert.match(de, /14–20 Uhr/);
    assert.ok(de.includes(DAYS_DE[openDays[0]]), de);
    // the next opening: the first open day at 14:00 in Berlin, not Auckland's clock
    const next = (await page.locator('#closed-next').textContent()).trim();
    assert.match(next, new RegExp(`^Wir sind wieder da: ${DAYS_DE[openDays[0]]}, .* um 14:00 Uhr\\.$`), next);
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w <= PHONE.width, `the page is ${w} px wide`);
    await page.screenshot({ path: join(SHOTS, 'start-closed-hours-360.png'), fullPage: true });

    await page.selectOption('#lang', 'en');
    const en = (await page.locator('#closed-hours').textContent()).trim();
    assert.match(en, new RegExp(`${DAYS_EN[openDays[3]]} 10:00–14:00`), en);
    assert.match(await page.locator('#closed-next').textContent(), new RegExp(`We are back: ${DAYS_EN[openDays[0]]} .* 14:00\\.`));
    await page.screenshot({ path: join(SHOTS, 'start-closed-hours-en-360.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await context.close();
});

test('quick exit: the button and Escape twice go to the configured page; nothing to go back to', async () => {
    // the button
    let { context, page } = await phone();
    await page.click('#quick-exit');
    await page.waitForURL(NEUTRAL);
    await page.goBack();
    assert.ok(!page.url().startsWith(lotsed.url), `back leads to ${page.url()}, not the service`);
    await context.close();

    // Escape once does nothing; twice leaves
    ({ context, page } = await phone());
    await page.locator('#exit-hint summary').click();
    await page.locator('#exit-hint p', { hasText: 'privaten Fenster' }).waitFor();
    await page.screenshot({ path: join(SHOTS, 'start-exit-hint-360.png'), fullPage: true });
    await page.keyboard.press('Escape');
    await page.waitForTimeout(300);
    assert.equal(page.url(), `${lotsed.url}/`);
    await page.keyboard.press('Escape');
    await page.waitForURL(NEUTRAL);
    await page.goBack();
    assert.ok(!page.url().startsWith(lotsed.url), `back leads to ${page.url()}, not the service`);
    await context.close();
});

test('queue with nobody there for the topic: said so, phone numbers, writing; a counsellor comes: the place', async () => {
    const URL = env('LOTSE_URL');
    const context = await browser.newContext({ viewport: PHONE, locale: 'de-DE' });
    const page = await context.newPage();
    await page.goto(`${URL}/`);
    await page.check('input[name="topic"][value="friends"]');
    await page.click('#start-button');
    await page.locator('#view-queue').waitFor();
    await page.locator('#queue-nobody:has-text("Gerade ist niemand für dein Thema da")').waitFor();
    assert.equal(await page.locator('#queue-pos').isHidden(), true, 'no "Du bist als Nächstes dran" when nobody is there');
    assert.equal(await page.locator('#queue-eta').isHidden(), true, 'no estimate when nobody is there');
    assert.equal(await page.locator('#queue-help a[href="tel:116111"]').isVisible(), true);
    assert.equal(await page.locator('#queue-help a[href="tel:112"]').isVisible(), true);
    if ((await (await fetch(`${URL}/config.json`)).json()).mail === true) await page.locator('#queue-mail').waitFor();
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w <= PHONE.width, `the page is ${w} px wide`);
    await page.screenshot({ path: join(SHOTS, 'queue-nobody-360.png'), fullPage: true });

    // a counsellor serving the topic logs in: the place and an estimate
    const counsellor = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', join(HERE, 'mail-counsellor.mjs')], {
        env: { ...process.env, LOTSE_URL: URL, MAIL_HANDLE: env('LOTSE_COUNSELLOR2'), MAIL_PASSWORD: env('LOTSE_COUNSELLOR2_PASSWORD') },
        stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
        await page.locator('#queue-pos:has-text("Du bist als Nächstes dran")').waitFor({ timeout: 20000 });
        assert.equal(await page.locator('#queue-nobody').isHidden(), true);
        assert.equal(await page.locator('#queue-help').isHidden(), true);
        assert.match(await page.locator('#queue-eta').textContent(), /Das dauert etwa|Es geht gleich los/);
        await page.screenshot({ path: join(SHOTS, 'queue-someone-360.png'), fullPage: true });
    } finally {
        counsellor.kill('SIGTERM');
        await context.close();
    }
});
