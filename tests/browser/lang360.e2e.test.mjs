// Browser end-to-end (issue 15): the young person's page in each of its seven
// languages on a 360 × 740 phone, walked through every screen — the start page
// (picker, topics, the hint on leaving unseen), the routing step (postcode
// digits, the longest federal state, the counselling language), the queue with
// the notices of the routing outcome ("pool", then "org" with names) and of no
// counsellor free who speaks the language (keep waiting / German / a message),
// the chat with a counsellor (the real console), and the end with the one
// question. On every screen a text element that overflows its box
// (scrollWidth > clientWidth) or the viewport (beyond 0 … 360 px, either side:
// Arabic is right to left) fails the test. The routing outcome is put into the
// real server's `welcome` and `queue` by a WebSocket route (the contract of
// common15.md), so the notices show whatever the server's organisations;
// {"t":"lang","lang":null} is answered there too. Screenshots start-<lang>-360.png
// and, in Arabic, the inner screens.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { LAPTOP, PHONE, certifiedCounsellor, env, launch, newContext, psql, shotsDir } from './kit.mjs';

const URL = env('LOTSE_URL');
const LANGS = ['de', 'en', 'ls', 'tr', 'ar', 'ru', 'uk'];
const NAMES = ['Deutsch', 'English', 'Leichte Sprache', 'Türkçe', 'العربية', 'Русский', 'Українська'];
const ORGS = ['Familienhilfe Nord', 'Jugend- und Familienberatung Süd-West e. V.'];
const TOPIC = 'school';

let browser;
let SHOTS;
let counsellor; // {context, page}
const problems = [];

before(async () => {
    SHOTS = shotsDir();
    browser = await launch();
    // the counsellor counsels in every language (routing by language, issue 15)
    psql(`UPDATE accounts SET languages = '{de,en,tr,ar,ru,uk}' WHERE handle = '${env('LOTSE_COUNSELLOR')}'`);
    const context = await newContext(browser, problems, { viewport: LAPTOP });
    counsellor = { context, page: await certifiedCounsellor(context, env('LOTSE_COUNSELLOR'), env('LOTSE_COUNSELLOR_PASSWORD')) };
});

after(async () => {
    if (counsellor) await counsellor.context.close();
    if (browser) await browser.close();
});

/** Every visible text element that overflows its box or the phone's width. */
function overflowing(page) {
    return page.evaluate((width) => {
        const out = [];
        const ctx = document.createElement('canvas').getContext('2d');
        const ARROW = 16; // the select's own arrow
        const sel = 'h1, h2, p, label, legend, summary, button, a, li, select, .topic, .msg .body, [data-i18n]';
        for (const el of document.querySelectorAll(sel)) {
            if (el.getClientRects().length === 0 || el.closest('.sr-only')) continue;
            const r = el.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) continue;
            const what = `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}[${(el.textContent || '').trim().slice(0, 40)}]`;
            const style = getComputedStyle(el);
            if (style.display !== 'inline' && el.tagName !== 'SELECT' && el.scrollWidth > el.clientWidth + 1) {
                out.push(`${what}: scrollWidth ${el.scrollWidth} > clientWidth ${el.clientWidth}`);
            }
            if (r.right > width + 0.5 || r.left < -0.5) out.push(`${what}: ${Math.round(r.left)}…${Math.round(r.right)} px`);
            if (el.tagName === 'SELECT') { // an option's name would be cut off when chosen
                ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
                const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - ARROW;
                for (const o of el.options) {
                    const text = ctx.measureText(o.textContent.trim()).width;
                    if (text > room) out.push(`select#${el.id}: "${o.textContent.trim()}" needs ${Math.round(text)} px, has ${Math.round(room)}`);
                }
            }
        }
        const w = document.documentElement.scrollWidth;
        if (w > width) out.push(`the page is ${w} px wide`);
        return out;
    }, PHONE.width);
}

/** A full-page screenshot from the top (the sticky bar where it belongs). */
async function shot(page, name) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

async function noOverflow(page, where) {
    assert.deepEqual(await overflowing(page), [], `${where}: overflows`);
}

/**
 * A young person's phone whose WebSocket goes through a route to the real
 * server: welcome gets route "pool" and lang_staffed false; later queue
 * messages lose the server's own routing fields; {"t":"lang","lang":null} is
 * recorded and answered with a queue naming ORGS. sent: the page's messages.
 */
async function phone() {
    const context = await newContext(browser, problems, { viewport: PHONE });
    const sent = [];
    const page = await context.newPage();
    let toPage = null;
    await page.routeWebSocket(/\/ws/, (ws) => {
        toPage = (msg) => ws.send(JSON.stringify(msg));
        const server = ws.connectToServer();
        ws.onMessage((m) => {
            if (typeof m === 'string') {
                const msg = JSON.parse(m);
                sent.push(msg);
                if (msg.t === 'lang') {
                    ws.send(JSON.stringify({ t: 'queue', pos: 1, eta: 30, route: 'org', orgs: ORGS }));
                    return;
                }
            }
            server.send(m);
        });
        server.onMessage((m) => {
            if (typeof m !== 'string') {
                ws.send(m);
                return;
            }
            const msg = JSON.parse(m);
            for (const k of ['route', 'orgs', 'lang_staffed']) delete msg[k];
            if (msg.t === 'welcome') Object.assign(msg, { route: 'pool', lang_staffed: false });
            ws.send(JSON.stringify(msg));
        });
    });
    return { context, page, sent, inject: (msg) => toPage(msg) };
}

for (const [i, lang] of LANGS.entries()) {
    test(`${NAMES[i]} (${lang}) at 360 px: start, routing step, queue notices, chat, end — nothing overflows`, async () => {
        const { context, page, sent, inject } = await phone();
        await page.goto(`${URL}/`);
        await page.locator('#view-start').waitFor();
        // the picker names each language in itself
        assert.deepEqual((await page.locator('#lang option').allTextContents()).map((s) => s.trim()), NAMES);
        await page.selectOption('#lang', lang);
        const html = page.locator('html');
        assert.equal(await html.getAttribute('dir'), lang === 'ar' ? 'rtl' : 'ltr');
        assert.equal(await html.getAttribute('lang'), lang === 'ls' ? 'de' : lang);
        assert.equal(await page.locator('#start-button').textContent(), (await import(`../../web/js/lang/${lang}.js`)).default['start.button']);
        // the counselling language follows the page (Leichte Sprache: German)
        assert.equal(await page.locator('#route-lang').inputValue(), lang === 'ls' ? 'de' : lang);
        await shot(page, `start-${lang}-360.png`);
        await noOverflow(page, `${lang} start`);
        // the helpline number reads 116 111, on one line, whatever the direction
        const [a116, a111] = await page.locator('footer p').evaluate((p) => {
            const n = p.firstChild;
            const at = (s) => {
                const r = document.createRange();
                r.setStart(n, n.data.indexOf(s));
                r.setEnd(n, n.data.indexOf(s) + 3);
                return r.getBoundingClientRect();
            };
            return [at('116'), at('111')].map((r) => ({ x: r.x, y: r.y }));
        });
        assert.equal(a116.y, a111.y, `${lang}: 116 111 on one line`);
        assert.ok(a116.x < a111.x, `${lang}: 116 before 111 from left to right`);
        await page.locator('#exit-hint summary').click();
        await noOverflow(page, `${lang} start with the hint open`);

        // the routing step: a federal state with a long name, then postcode digits
        await page.check(`input[name="topic"][value="${TOPIC}"]`);
        await page.selectOption('#route-state', 'DE-MV');
        await noOverflow(page, `${lang} routing step (federal state)`);
        await page.fill('#route-plz', '1');
        await page.click('#start-button');
        await page.locator('#route-plz-bad').waitFor();
        assert.equal(await page.locator('#route-state').inputValue(), '', 'a postcode replaces the state');
        if (lang === 'ar') await shot(page, 'route-ar-360.png');
        await noOverflow(page, `${lang} routing step (postcode too short)`);
        await page.fill('#route-plz', '104');

        // the queue: the whole network takes it, nobody speaks the language
        await page.click('#start-button');
        await page.locator('#view-queue').waitFor();
        const hello = sent.find((m) => m.t === 'hello');
        assert.equal(hello.region, '104');
        assert.equal(hello.lang, lang === 'ls' ? 'de' : lang);
        await page.locator('#queue-route').waitFor();
        const german = lang === 'de' || lang === 'ls'; // German asked for: no other language to offer
        if (!german) await page.locator('#queue-lang').waitFor();
        if (lang === 'ar' || lang === 'ls') {
            await shot(page, `queue-${lang}-360.png`);
        }
        await noOverflow(page, `${lang} queue (pool, language not staffed)`);
        if (german) {
            assert.equal(await page.locator('#queue-lang').isHidden(), true);
            inject({ t: 'queue', pos: 1, eta: 30, route: 'org', orgs: ORGS });
        } else {
            // "continue in German": the requirement goes, the place stays
            await page.click('#lang-german');
            await page.locator('#queue-lang').waitFor({ state: 'hidden' });
            assert.deepEqual(sent.filter((m) => m.t === 'lang'), [{ t: 'lang', lang: null }]);
        }
        // the route names the organisations
        await page.locator('#queue-route', { hasText: `${ORGS[0]}, ${ORGS[1]}` }).waitFor();
        if (lang === 'de') assert.equal(await page.locator('#queue-route').textContent(), `Deine Anfrage geht an: ${ORGS.join(', ')}.`);
        await noOverflow(page, `${lang} queue (org)`);

        // a counsellor takes the chat
        const c = counsellor.page;
        const before = await c.locator('#panels [role="tabpanel"]').count();
        await c.locator('#take:enabled').click();
        const tab = c.locator('#panels [role="tabpanel"]').nth(before);
        await tab.waitFor();
        const panel = c.locator(`#panel-${await tab.getAttribute('data-sid')}`);
        await page.locator('#text:enabled').waitFor();
        await page.fill('#text', 'Hallo! Ich weiß nicht, mit wem ich sonst reden soll.');
        await page.press('#text', 'Enter');
        await page.locator('.msg.mine .state.delivered').waitFor();
        const reply = 'Ich bin da und höre dir zu. Erzähl mir, was los ist.';
        await panel.locator('textarea').fill(reply);
        await panel.locator('button[type="submit"]', { hasText: 'Senden' }).click();
        await page.locator('.msg.theirs', { hasText: reply }).waitFor();
        await page.locator('#safety-toggle').click();
        if (lang === 'ar') await shot(page, 'chat-ar-360.png');
        await noOverflow(page, `${lang} chat`);

        // the counsellor ends: the question
        await panel.locator('button', { hasText: 'Chat beenden' }).click();
        const confirm = panel.locator('[data-confirm-end]:visible, .end-confirm button.danger:visible');
        if (await confirm.count()) await confirm.first().click();
        await page.locator('#chat-ended').waitFor();
        await page.locator('#feedback').waitFor();
        if (lang === 'ar') await shot(page, 'end-ar-360.png');
        await noOverflow(page, `${lang} end`);
        await page.click('#ended-leave');
        await page.locator('#view-start').waitFor();
        await context.close();
        assert.deepEqual(problems, []);
    });
}

test('the routing step skipped in one tap: hello carries neither region nor lang', async () => {
    const { context, page, sent } = await phone();
    await page.goto(`${URL}/#tr`);
    await page.locator('#view-start').waitFor();
    assert.equal(await page.locator('#lang').inputValue(), 'tr', 'a link opens the page in a language');
    await page.check(`input[name="topic"][value="${TOPIC}"]`);
    await page.fill('#route-plz', '10');
    await page.click('#route-skip');
    assert.equal(await page.locator('#route-fields').isHidden(), true);
    await page.click('#start-button');
    await page.locator('#view-queue').waitFor();
    const hello = sent.find((m) => m.t === 'hello');
    assert.equal('region' in hello, false);
    assert.equal('lang' in hello, false);
    await page.click('#leave-queue');
    await page.locator('#view-over').waitFor();
    await context.close();
    assert.deepEqual(problems, []);
});
