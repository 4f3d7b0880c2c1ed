// Browser end-to-end, the trust chain (PROTOCOL.md §6 "Organisation
// certificate"): run.sh makes a network key and a client that pins only it
// (LOTSE_NET_WEB, served here in place of the published client by routing).
// An organisation certified by that network key: its counsellor's chat starts
// and the young person's page names the organisation from the certificate
// ("Name · Organisation"). An organisation certified by another, forged network
// key: the young person's page refuses its counsellor's keys and says so.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { LAPTOP, PHONE, certifiedCounsellor, env, launch, lotsectl, newContext as contextOf, psql, shotsDir,
    youngWaiting } from './kit.mjs';

const URL = env('LOTSE_URL');
const WEB = env('LOTSE_NET_WEB');
const WORK = env('LOTSE_WORK');
const TOPIC = 'other';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let SHOTS;
let browser;
const problems = [];

let NORD_KEY;
let FALSCH_KEY;

before(async () => {
    SHOTS = shotsDir();
    NORD_KEY = organisation('nord', 'Familienhilfe Nord', env('LOTSE_NETKEY'), 'nora', 'nora-test-password');
    FALSCH_KEY = organisation('falsch', 'Falsche Stelle', env('LOTSE_FORGED_NETKEY'), 'fritz', 'fritz-test-password');
    // lotsed reads the organisations every 30 s (ORGS_RELOAD_MS in server/src/orgs.h):
    // until it knows these two, their counsellors may take no chat
    await new Promise((resolve) => setTimeout(resolve, 32000));
    // pages whose bytes are routed in talk to 127.0.0.1 like the served ones
    browser = await launch(['--disable-features=LocalNetworkAccessChecks']);
});

after(async () => {
    if (problems.length) console.log(`# page problems:\n${problems.join('\n')}`);
    if (browser) await browser.close();
});

/** A context whose pages are the client published in web (default: the
 * network-pinned one): the server's answers (headers, CSP) with its bytes. */
async function netContext(viewport, web = WEB) {
    const context = await contextOf(browser, problems, { viewport });
    await context.route(`${URL}/**`, async (route) => {
        const u = new globalThis.URL(route.request().url());
        const file = join(web, u.pathname.endsWith('/') ? `${u.pathname}index.html` : u.pathname);
        if (!file.startsWith(web) || !existsSync(file) || !statSync(file).isFile()) return route.continue();
        const res = await route.fetch();
        return route.fulfill({ response: res, body: readFileSync(file) });
    });
    await context.route('https://www.google.de/**', (route) =>
        route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>Google</title><p>neutral</p>' }));
    return context;
}

/** Organisation slug with its own key, certified by the network key file netkey,
 * and a counsellor handle in it (topic TOPIC). Returns the organisation key file. */
function organisation(slug, name, netkey, handle, password) {
    const key = join(WORK, `${slug}.key`);
    if (!existsSync(key)) lotsectl(['orgkey-create', '--out', key]);
    psql(`INSERT INTO organisations (slug, name) VALUES ('${slug}', '${name}') ON CONFLICT (slug) DO NOTHING`);
    lotsectl(['org-certify', slug, '--netkey', netkey, '--orgkey', `${key}.pub`]);
    lotsectl(['account-add', '--handle', handle, '--role', 'counsellor', '--name', handle[0].toUpperCase() + handle.slice(1),
        '--topics', TOPIC, '--password-stdin', '--pwhash-cost', 'min', '--insecure-for-tests'], `${password}\n`);
    psql(`UPDATE accounts SET org_id = (SELECT id FROM organisations WHERE slug = '${slug}') WHERE handle = '${handle}'`);
    return key;
}

test('a counsellor of an organisation the network certified: the young person sees "Name · Organisation"', async () => {
    const key = NORD_KEY;
    const cctx = await netContext(LAPTOP);
    const c = await certifiedCounsellor(cctx, 'nora', 'nora-test-password', 0, key);
    assert.equal(await c.locator('#uncertified').isHidden(), true); // the console trusts its own chain
    const yctx = await netContext(PHONE);
    const y = await youngWaiting(yctx, TOPIC);
    await c.click('#take');
    await y.locator('#text:enabled').waitFor();
    await y.locator('#chat-title', { hasText: 'Nora · Familienhilfe Nord' }).waitFor();
    await y.locator('#messages', { hasText: 'Geprüft: Familienhilfe Nord gehört zum Beratungsnetz.' }).waitFor();
    await y.screenshot({ path: join(SHOTS, 'young-chain-organisation.png') });
    await yctx.close();
    await cctx.close();
    assert.deepEqual(problems, []);
});

test('an organisation certified by a forged network key: the young person\'s page refuses its counsellor', async () => {
    const key = FALSCH_KEY;
    const cctx = await netContext(LAPTOP);
    // its own console finds no pinned root for the certificate either
    const page = await cctx.newPage();
    await page.goto(`${URL}/counsellor/`);
    await page.locator('#view-login').waitFor();
    const pk = (await page.locator('#device-pk').textContent()).trim();
    lotsectl(['device-certify', '--handle', 'fritz', '--device', pk, '--orgkey', key]);
    await page.fill('#handle', 'fritz');
    await page.fill('#password', 'fritz-test-password');
    await page.click('#login-button');
    await page.locator('#view-console').waitFor();
    assert.equal(await page.locator('#uncertified').isHidden(), false);
    await page.close();
    await cctx.close();

    // a console published with the organisation's own key pinned accepts it and
    // takes the chat: the young person's page, pinned to the network key, refuses
    const own = join(WORK, 'web-falsch');
    if (!existsSync(own)) {
        execFileSync(join(ROOT, 'deploy', 'client-publish.sh'),
            ['--web', join(ROOT, 'web'), '--out', own, '--root', `org:${key}.pub:falsch`], { encoding: 'utf8' });
    }
    const octx = await netContext(LAPTOP, own);
    // the server names the main organisation's key, which that console does not pin
    await octx.route(`${URL}/config.json`, async (route) => {
        const r = await route.fetch();
        route.fulfill({ response: r, json: { ...(await r.json()), org_public_key: null } });
    });
    const c = await certifiedCounsellor(octx, 'fritz', 'fritz-test-password', 0, key);
    const yctx = await netContext(PHONE);
    const y = await youngWaiting(yctx, TOPIC);
    await c.click('#take');
    await y.locator('#view-refused').waitFor();
    assert.equal(await y.locator('#view-chat').isHidden(), true);
    await y.screenshot({ path: join(SHOTS, 'young-chain-forged.png') });
    await yctx.close();
    await octx.close();
    assert.deepEqual(problems, []);
});
