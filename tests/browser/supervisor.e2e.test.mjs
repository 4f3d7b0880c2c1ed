// Browser end-to-end: the supervisor's view on a 1280-pixel laptop (issue #14,
// point 11), against the run's lotsed (service time zone Europe/Berlin) on a
// device set to New York: the list of counsellors with two real counsellor
// consoles taking chats from real young people (online, chats now, the longest
// running chat growing on the page), one counsellor's browser going away
// (away, then gone after the resume grace), and today's and this week's
// history from the hourly statistics, read with the login's stats token and
// checked against the database.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { LAPTOP, certifiedCounsellor, env, launch, newContext, psql, shotsDir, youngWaiting } from './kit.mjs';

const URL = env('LOTSE_URL');
let SHOTS;
const ZONE = 'Europe/Berlin'; // the run's lotsed: the default setting timezone

let browser;
const problems = [];
const contexts = [];

before(async () => {
    SHOTS = shotsDir();
    browser = await launch();
});

after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    if (browser) await browser.close();
});

/** A fresh laptop profile, far from the service's time zone. */
async function laptop() {
    const context = await newContext(browser, problems, { viewport: LAPTOP, timezoneId: 'America/New_York' });
    contexts.push(context);
    return context;
}

async function laptopPage(path) {
    const context = await laptop();
    const page = await context.newPage();
    await page.goto(URL + path);
    return { context, page };
}

/** A counsellor's console on a device lotsectl certified, logged in, available. */
async function counsellor(handle, password) {
    const context = await laptop();
    return { context, page: await certifiedCounsellor(context, handle, password) };
}

/** A young person who waits in topic until the counsellor page c takes the chat. */
async function takenBy(c, topic) {
    const y = await youngWaiting(await laptop(), topic);
    await c.locator('#take:enabled').waitFor();
    await c.click('#take');
    await y.locator('#view-chat').waitFor();
    return y;
}

/** Seconds as the page says them (i18n.js shortDuration, German). */
function duration(secs) {
    if (secs < 60) return `${secs} s`;
    const m = Math.floor(secs / 60);
    return m < 60 ? `${m} Min.` : `${Math.floor(m / 60)} Std. ${m % 60} Min.`;
}

/** Hourly rows of earlier today and of the two days before in topic "other";
 * the run's own sessions are in the current hour, which the aggregate leaves
 * alone. */
function seedHistory() {
    // organisation 1 ('main'): sam's, whose figures the page shows
    const row = (daysAgo, hour, v) => psql(`INSERT INTO stats_hourly (hour, topic, org_id, sessions, abandoned, escalated,
        wait_p50, wait_p90, mean_duration, mail_opened, mail_answered_within_target, feedback_yes, feedback_some,
        feedback_no)
        VALUES ((date_trunc('day', now() AT TIME ZONE '${ZONE}') - interval '${daysAgo} days'
        + interval '${hour} hours') AT TIME ZONE '${ZONE}', 'other', 1, ${v.join(', ')})
        ON CONFLICT (hour, topic, org_id) DO UPDATE SET sessions = EXCLUDED.sessions, abandoned = EXCLUDED.abandoned,
        escalated = EXCLUDED.escalated, wait_p50 = EXCLUDED.wait_p50, wait_p90 = EXCLUDED.wait_p90,
        mean_duration = EXCLUDED.mean_duration, mail_opened = EXCLUDED.mail_opened,
        mail_answered_within_target = EXCLUDED.mail_answered_within_target, feedback_yes = EXCLUDED.feedback_yes,
        feedback_some = EXCLUDED.feedback_some, feedback_no = EXCLUDED.feedback_no`);
    row(0, 0, [5, 1, 1, 45, 240, 900, 2, 1, 2, 1, 0]);
    row(1, 15, [7, 2, 0, 80, 400, 1500, 3, 3, 3, 0, 1]);
    row(2, 11, [4, 0, 1, 20, 70, 600, 1, 0, 1, 1, 0]);
}

/** Today's, this week's and the seven days' figures, as the page must show
 * them: the days as GET /stats gives them, their sums weighted as
 * supervisor-history.js does. */
function expected(which) {
    const since = {
        today: `date_trunc('day', now() AT TIME ZONE '${ZONE}')`,
        week: `date_trunc('week', now() AT TIME ZONE '${ZONE}')`,
        seven: `date_trunc('day', now() AT TIME ZONE '${ZONE}') - interval '6 days'`,
    }[which];
    const out = psql(`WITH d AS (SELECT sum(sessions) s, sum(abandoned) a, sum(escalated) e,
        coalesce(round(sum(wait_p50::bigint * sessions)::numeric / nullif(sum(sessions), 0)), 0) p50,
        coalesce(round(sum(wait_p90::bigint * sessions)::numeric / nullif(sum(sessions), 0)), 0) p90,
        coalesce(round(sum(mean_duration::bigint * (sessions - abandoned))::numeric
          / nullif(sum(sessions - abandoned), 0)), 0) dur, sum(mail_opened) mo, sum(mail_answered_within_target) mt,
        sum(feedback_yes) fy, sum(feedback_some) fs, sum(feedback_no) fn
        FROM stats_hourly WHERE hour >= (${since}) AT TIME ZONE '${ZONE}' AND org_id = 1
        GROUP BY (hour AT TIME ZONE '${ZONE}')::date)
        SELECT sum(s), sum(a), sum(e), round(sum(p50 * s) / nullif(sum(s), 0)), round(sum(p90 * s) / nullif(sum(s), 0)),
        round(sum(dur * (s - a)) / nullif(sum(s - a), 0)), sum(mo), sum(mt), sum(fy), sum(fs), sum(fn) FROM d`);
    const [s, a, e, p50, p90, dur, mo, mt, fy, fs, fn] = out.split('|').map(Number);
    return [String(s), String(a), String(e), duration(p50), duration(p90), duration(dur), String(mo), String(mt),
        `${fy} · ${fs} · ${fn}`];
}

async function cells(row) {
    return row.locator('td').allTextContents();
}

test('the supervisor sees the counsellors now, one going away and gone, and today and this week from the statistics', async () => {
    seedHistory();
    const { page: s } = await laptopPage('/supervisor/');
    await s.fill('#handle', env('LOTSE_SUPERVISOR'));
    await s.fill('#password', env('LOTSE_SUPERVISOR_PASSWORD'));
    await s.click('#login-button');
    await s.locator('#view-dash').waitFor();
    await s.locator('#staff-card:not([hidden])').waitFor();
    // the counsellors of earlier tests are gone once their resume grace (15 s) is over
    await s.locator('#staff-none').waitFor({ state: 'visible', timeout: 30000 });

    // two counsellors take chats from real young people: anna two, ben one
    const anna = await counsellor(env('LOTSE_COUNSELLOR'), env('LOTSE_COUNSELLOR_PASSWORD'));
    const ben = await counsellor(env('LOTSE_COUNSELLOR2'), env('LOTSE_COUNSELLOR2_PASSWORD'));
    await takenBy(anna.page, 'family');
    await takenBy(anna.page, 'school');
    await takenBy(ben.page, 'friends');
    const annaRow = s.locator('#staff-rows tr[data-handle="anna"]');
    const benRow = s.locator('#staff-rows tr[data-handle="ben"]');
    await annaRow.locator('.k-chats', { hasText: /^2 von 2$/ }).waitFor();
    await benRow.locator('.k-chats', { hasText: /^1 von 2$/ }).waitFor();
    assert.equal(await annaRow.locator('.k-state').textContent(), 'online, verfügbar');
    assert.equal(await benRow.locator('.k-state').textContent(), 'online, verfügbar');
    // the longest chat's duration grows on the page between two lists
    const first = await annaRow.locator('.k-longest').textContent();
    assert.match(first, /^\d+ s$/);
    await s.waitForFunction((before) => {
        const now = document.querySelector('#staff-rows tr[data-handle="anna"] .k-longest').textContent;
        return /^\d+ s$/.test(now) && parseInt(now, 10) >= parseInt(before, 10) + 2;
    }, first);
    assert.match(await benRow.locator('.k-longest').textContent(), /^\d+ s$/);
    const handles = await s.locator('#staff-rows th').allTextContents();
    assert.ok(handles.indexOf('anna') < handles.indexOf('ben'), 'sorted by handle');

    // today and this week, from the statistics, in Berlin's days on a New York laptop
    await s.locator('#hist-card:not([hidden])').waitFor();
    const berlinDay = new Date().toLocaleDateString('en-CA', { timeZone: ZONE });
    const today = s.locator(`#hist-rows tr.today[data-day="${berlinDay}"]`);
    await today.waitFor();
    assert.match(await today.locator('th').textContent(), /\(heute\)$/);
    assert.deepEqual(await cells(today), expected('today'));
    assert.deepEqual(await cells(s.locator('#hist-total tr.week')), expected('week'));
    assert.deepEqual(await cells(s.locator('#hist-total tr.seven')), expected('seven'));
    assert.equal(await s.locator('#hist-rows tr').count(), 7);
    // the days before this week's Monday are shown, apart
    const fromMonday = (new Date(`${berlinDay}T12:00:00Z`).getUTCDay() + 6) % 7;
    assert.equal(await s.locator('#hist-rows tr.before-week').count(), 6 - fromMonday);
    const asOf = (await s.locator('#hist-note').textContent()).match(/Stand (\d\d):\d\d Uhr, Zeitzone Europe\/Berlin/);
    assert.ok(asOf, 'the note says when and in which zone');
    // Berlin's hour, not New York's (the device's)
    assert.equal(asOf[1], new Date().toLocaleTimeString('de-DE', { timeZone: ZONE, hour: '2-digit', hourCycle: 'h23' }).slice(0, 2));
    await s.waitForTimeout(600);
    await s.screenshot({ path: join(SHOTS, 'supervisor-staff-history-1280.png'), fullPage: true });

    // nothing of a young person or a chat: no session id, no topic in the list
    const sids = await anna.page.locator('#panels [role="tabpanel"]').evaluateAll((ps) => ps.map((p) => p.dataset.sid));
    const listText = await s.locator('#staff-card').textContent();
    for (const sid of sids) assert.equal(listText.includes(sid), false);
    assert.equal(/Familie|Schule/.test(listText), false);

    // ben's browser goes away: away for the resume grace (15 s in run.sh), then gone
    await ben.context.close();
    await benRow.locator('.k-state', { hasText: /^Verbindung weg seit \d+ s$/ }).waitFor();
    assert.equal(await benRow.getAttribute('class'), 'k k-away');
    await s.waitForTimeout(1500);
    await s.screenshot({ path: join(SHOTS, 'supervisor-staff-away-1280.png'), fullPage: true });
    await benRow.waitFor({ state: 'detached', timeout: 30000 });
    await annaRow.locator('.k-chats', { hasText: /^2 von 2$/ }).waitFor();

    // in English too
    await s.click('#lang');
    await s.locator('#staff-list-title', { hasText: 'Counsellors now' }).waitFor();
    assert.equal(await annaRow.locator('.k-state').textContent(), 'online, available');
    assert.equal(await annaRow.locator('.k-chats').textContent(), '2 of 2');
    await s.locator('#hist-total th', { hasText: 'This week' }).waitFor();
    assert.match(await today.locator('th').textContent(), /\(today\)$/);
    await s.screenshot({ path: join(SHOTS, 'supervisor-staff-history-en-1280.png'), fullPage: true });
    await s.click('#lang');

    // logging out forgets the list and the figures
    await s.click('#logout');
    assert.equal(await s.locator('#staff-rows tr').count(), 0);
    assert.equal(await s.locator('#hist-rows tr').count(), 0);
    assert.deepEqual(problems, []);
});
