// Browser end-to-end, the young person's side at 360 × 740 (issue #14, points 3
// and 7): a reload keeps the visible conversation (sessionStorage, this tab
// only), quick exit and the end clear it; when the counsellor ends, the
// conversation stays on screen with the hint that nothing is saved, and the one
// anonymous question is answered once and counted in stats_hourly. The
// counsellor is the real console in a 1280-pixel context. Set up by run.sh.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
    LAPTOP, PHONE, certifiedCounsellor as consoleIn, counsellorSays, env, launch, newContext as contextOf,
    psql, shotsDir, takeNext, youngSays, youngWaiting
} from './kit.mjs';

const URL = env('LOTSE_URL');
let SHOTS;
// "before" screenshots were taken from main with LOTSE_SHOT_PREFIX=young-ending-before
const SHOT = process.env.LOTSE_SHOT_PREFIX || 'young-ending-after';

let browser;
const problems = [];

before(async () => {
    SHOTS = shotsDir();
    browser = await launch();
});

after(async () => {
    if (browser) await browser.close();
});

async function newContext(viewport) {
    const context = await contextOf(browser, problems, { viewport });
    await context.route('https://www.google.de/**', (route) =>
        route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Google</title><p>neutral</p>' }));
    return context;
}

/** A count of this hour's stats_hourly row of topic (column and topic are the test's own). */
const thisHour = (column, topic) => Number(psql(`SELECT coalesce(sum(${column}), 0) FROM stats_hourly`
    + ` WHERE hour = date_trunc('hour', now()) AND topic = '${topic}'`));

async function certifiedCounsellor() {
    const context = await newContext(LAPTOP);
    return { context, page: await consoleIn(context, env('LOTSE_COUNSELLOR'), env('LOTSE_COUNSELLOR_PASSWORD')) };
}

/** A young person (phone) in a running chat with the console c; returns {y, panel}. */
async function chatting(c, yctx, topic) {
    const y = await youngWaiting(yctx, topic);
    return { y, panel: await takeNext(c, y) };
}

async function youngSaysDelivered(y, text) {
    await youngSays(y, text);
    await y.locator('.msg.mine', { hasText: text }).locator('.state.delivered').waitFor();
}

async function counsellorSaysTo(panel, y, text) {
    await counsellorSays(panel, text);
    await y.locator('.msg.theirs', { hasText: text }).waitFor();
}

/** The counsellor ends the chat (a confirmation, where the console asks one, is given). */
async function counsellorEnds(panel) {
    await panel.locator('button', { hasText: 'Chat beenden' }).click();
    const confirm = panel.locator('[data-confirm-end]:visible, .end-confirm button.danger:visible');
    if (await confirm.count()) await confirm.first().click();
}

/** The texts of the young person's conversation, in order (system lines included). */
const shown = (y) => y.locator('#messages li').evaluateAll((lis) => lis.map((li) =>
    `${li.classList.contains('mine') ? 'Y' : li.classList.contains('theirs') ? 'C' : 'S'}:${li.querySelector('.body')?.textContent ?? li.textContent}`));

test('the counsellor ends: the conversation stays, the hint says nothing is saved, one answer is counted', async () => {
    const { context: cctx, page: c } = await certifiedCounsellor();
    const yctx = await newContext(PHONE);
    const { y, panel } = await chatting(c, yctx, 'school');
    await youngSaysDelivered(y, 'Hallo, ich brauche Hilfe');
    await counsellorSaysTo(panel, y, 'Ich bin da. Erzähl.');
    await youngSaysDelivered(y, 'Danke, das hat geholfen');
    await counsellorSaysTo(panel, y, 'Gern. Schreib jederzeit wieder.');
    const during = await shown(y);
    await counsellorEnds(panel);
    await y.locator('#view-over, #chat-ended').first().waitFor();
    await y.waitForTimeout(300);
    await y.screenshot({ path: join(SHOTS, `${SHOT}-360.png`), fullPage: true });
    if (SHOT.includes('before')) { // main: the conversation is gone
        await cctx.close();
        await yctx.close();
        return;
    }
    // the conversation is still there, in the same order, with the hint
    assert.deepEqual((await shown(y)).slice(0, during.length), during);
    await y.locator('#chat-ended').waitFor();
    assert.match(await y.locator('#chat-ended').textContent(), /nirgends gespeichert/);
    assert.equal(await y.locator('#text').isVisible(), false, 'no composer after the end');
    // the end cleared what the tab kept
    assert.deepEqual(await y.evaluate(() => Object.keys(sessionStorage)), []);
    // one answer, counted in this hour's row of the topic
    const count = () => thisHour('feedback_some', 'school');
    const was = count();
    await y.locator('#feedback button', { hasText: 'Ein bisschen' }).click();
    await y.locator('#feedback-thanks').waitFor();
    assert.equal(await y.locator('#feedback button:enabled').count(), 0, 'answerable once');
    await y.evaluate(() => window.scrollTo(0, 0));
    await y.screenshot({ path: join(SHOTS, `${SHOT}-answered-360.png`), fullPage: true });
    for (let i = 0; i < 50 && count() === was; i++) await y.waitForTimeout(100);
    assert.equal(count(), was + 1);
    // leaving clears the screen and starts over
    await y.click('#ended-leave');
    await y.locator('#view-start').waitFor();
    assert.equal(await y.locator('#messages li').count(), 0);
    await cctx.close();
    await yctx.close();
    assert.deepEqual(problems.splice(0), [], 'console errors');
});

test('a reload keeps the conversation in order; quick exit and the end clear what the tab kept', async () => {
    const { context: cctx, page: c } = await certifiedCounsellor();
    const yctx = await newContext(PHONE);
    const { y, panel } = await chatting(c, yctx, 'family');
    await youngSaysDelivered(y, 'Erste Nachricht');
    await counsellorSaysTo(panel, y, 'Erste Antwort');
    await youngSaysDelivered(y, 'Zweite Nachricht mit <b>Zeichen</b> & "Anführung"');
    await counsellorSaysTo(panel, y, 'Zweite Antwort');
    const before = await shown(y);
    assert.ok(before.length >= 5, JSON.stringify(before));
    // what the tab keeps: exactly the lines shown, plaintext only in this tab
    assert.deepEqual((await y.evaluate(() => Object.keys(sessionStorage))).sort(),
        ['lotse.conversation', 'lotse.resume', 'lotse.sid']);

    await y.reload();
    await y.locator('.msg.system', { hasText: 'Der Chat geht weiter.' }).waitFor();
    await y.locator('#text:enabled').waitFor();
    const after = await shown(y);
    assert.deepEqual(after.slice(0, before.length), before, 'the same messages in the same order');
    assert.equal(after.length, before.length + 1); // + "Der Chat geht weiter."
    await y.screenshot({ path: join(SHOTS, 'young-reload-kept-360.png'), fullPage: true });
    // the chat goes on, and a second reload keeps the new lines too
    await youngSaysDelivered(y, 'Nach dem Neuladen');
    await counsellorSaysTo(panel, y, 'Antwort danach');
    await y.reload();
    await y.locator('#text:enabled').waitFor();
    const again = await shown(y);
    assert.deepEqual(again.slice(0, before.length), before);
    assert.ok(again.includes('Y:Nach dem Neuladen') && again.includes('C:Antwort danach'), JSON.stringify(again));

    // quick exit (Escape twice): the tab keeps nothing
    await y.keyboard.press('Escape');
    await y.keyboard.press('Escape');
    await y.waitForURL('https://www.google.de/**');
    await y.goBack().catch(() => {}); // replaced: there is no entry to go back to
    const left = await yctx.newPage();
    await left.goto(`${URL}/`);
    await left.locator('#view-start').waitFor();
    assert.equal(await left.locator('#messages li').count(), 0);
    await left.close();
    // the same origin in the quick-exited tab: nothing stored
    await y.goto(`${URL}/`);
    await y.locator('#view-start').waitFor();
    assert.deepEqual(await y.evaluate(() => Object.keys(sessionStorage)), []);
    await panel.locator('.msg.system').last().waitFor();

    // a second chat, ended by the counsellor: the end clears what the tab kept
    const second = await chatting(c, yctx, 'friends');
    await youngSaysDelivered(second.y, 'Noch eine Frage');
    assert.ok(await second.y.evaluate(() => sessionStorage.getItem('lotse.conversation')));
    await counsellorEnds(second.panel);
    await second.y.locator('#chat-ended').waitFor();
    assert.deepEqual(await second.y.evaluate(() => Object.keys(sessionStorage)), []);
    // a reload after the end starts clean
    await second.y.reload();
    await second.y.locator('#view-start').waitFor();
    assert.equal(await second.y.locator('#messages li').count(), 0);
    await cctx.close();
    await yctx.close();
    assert.deepEqual(problems.splice(0), [], 'console errors');
});

test('the young person ends: the conversation stays with the question; leaving starts clean', async () => {
    const { context: cctx, page: c } = await certifiedCounsellor();
    const yctx = await newContext(PHONE);
    const { y, panel } = await chatting(c, yctx, 'other');
    await youngSaysDelivered(y, 'Ich glaube, das reicht für heute');
    await counsellorSaysTo(panel, y, 'Alles Gute!');
    const count = () => thisHour('feedback_yes', 'other');
    const was = count();
    await y.click('#end-chat');
    await y.click('#end-yes');
    await y.locator('#chat-ended').waitFor();
    await panel.locator('.msg.system', { hasText: 'Die junge Person hat den Chat beendet.' }).waitFor();
    assert.equal(await y.locator('#ended-reason').textContent(), 'Du hast den Chat beendet.');
    assert.equal(await y.locator('.msg.theirs', { hasText: 'Alles Gute!' }).count(), 1);
    assert.deepEqual(await y.evaluate(() => Object.keys(sessionStorage)), []);
    await y.locator('#feedback button', { hasText: 'Ja' }).click();
    await y.locator('#feedback-thanks').waitFor();
    for (let i = 0; i < 50 && count() === was; i++) await y.waitForTimeout(100);
    assert.equal(count(), was + 1);
    await y.click('#ended-leave');
    await y.locator('#view-start').waitFor();
    // a new chat on the same page starts with an empty list, a composer and its end button
    await y.check('input[name="topic"][value="other"]');
    await y.click('#start-form button[type="submit"]');
    await y.locator('#view-queue').waitFor();
    await c.click('#take');
    await y.locator('#text:enabled').waitFor();
    assert.equal(await y.locator('.msg.mine, .msg.theirs').count(), 0);
    assert.equal(await y.locator('#end-chat').isVisible(), true);
    await y.click('#end-chat');
    await y.click('#end-yes');
    await y.locator('#chat-ended').waitFor();
    await cctx.close();
    await yctx.close();
    assert.deepEqual(problems.splice(0), [], 'console errors');
});
