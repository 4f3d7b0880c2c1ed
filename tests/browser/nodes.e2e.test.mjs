// Browser end-to-end: two lotsed nodes on one PostgreSQL behind the Debian
// nginx (issue 16, PROTOCOL.md §5.4, deploy/NODES.md). The pages go through
// nginx: /ws and the static files to either node, /n/a/ and /n/b/ to that one.
// A young person and a counsellor chat; the node that serves gets SIGTERM;
// both pages follow `moved` to the other node, resume there and go on. What
// each side sent while the node handed over arrives exactly once, and nobody
// sees anything but the calm "reconnecting" banner. Then the same with kill -9:
// the standby takes the lease when it runs out, the pages fall back from the
// dead node's path to the generic /ws and resume on the new node.
//
// Its own database (lotse_nodes, made here), the run's organisation key and
// published client; nginx runs as a child with its own prefix in a temporary
// folder. Skipped when lotsed has no node_name setting yet.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { certifiedCounsellor, counsellorSays, env, launch, newContext, takeNext, youngSays, youngWaiting } from './kit.mjs';

const NGINX = process.env.NGINX || '/usr/sbin/nginx';
const LOTSED = join(dirname(env('LOTSECTL')), 'lotsed');
const NODES = ['a', 'b'];
const LEASE_S = 3; // node_lease: a kill -9 is noticed within 3 s
const GRACE_S = 60; // resume_grace: room for the take-over

function hasNodeSetting() {
    try {
        return readFileSync(LOTSED).includes('node_handover');
    } catch {
        return false;
    }
}
const skip = !hasNodeSetting() || !existsSync(NGINX) ? 'lotsed without node_name, or no nginx' : false;

let work;
let browser;
let nginx;
const nodes = new Map(); // name -> {port, proc, log}
const problems = [];

function freePort() {
    return new Promise((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A fresh database for the two nodes, migrated, with anna (counsellor). */
function makeDatabase() {
    const admin = env('LOTSE_DB').replace(/dbname=\S+/, 'dbname=postgres');
    execFileSync('psql', [admin, '-Xqc', 'DROP DATABASE IF EXISTS lotse_nodes']);
    execFileSync('psql', [admin, '-Xqc', 'CREATE DATABASE lotse_nodes']);
    const db = admin.replace('dbname=postgres', 'dbname=lotse_nodes');
    const ctl = (args, input) => execFileSync(env('LOTSECTL'), ['--db', db, ...args], { encoding: 'utf8', input });
    ctl(['migrate']);
    ctl(['account-add', '--handle', env('LOTSE_COUNSELLOR'), '--role', 'counsellor', '--name', 'Anna',
        '--topics', 'family,school,friends,prison,other', '--password-stdin', '--pwhash-cost', 'min', '--insecure-for-tests'],
    `${env('LOTSE_COUNSELLOR_PASSWORD')}\n`);
    return db;
}

/** Starts node name (again) on its port; resolves once /healthz answers. */
async function startNode(name) {
    const n = nodes.get(name);
    const log = openSync(join(env('LOTSE_ARTIFACTS'), `lotsed-node-${name}.log`), 'a');
    n.proc = spawn(LOTSED, ['--db', env('LOTSE_DB'), '--listen-address', '127.0.0.1', '--listen-port', String(n.port),
        '--web-root', env('LOTSE_WEB'), '--org-public-key', env('LOTSE_ORG_PUB'), '--log-level', 'info',
        '--resume-grace', String(GRACE_S), '--pow-source-free', '1000',
        '--node-name', name, '--node-lease', String(LEASE_S), '--node-handover', '10'], { stdio: ['ignore', log, log] });
    n.exited = new Promise((resolve) => n.proc.on('exit', (code, signal) => resolve({ code, signal })));
    for (let i = 0; i < 100; i++) {
        try {
            const r = await fetch(`http://127.0.0.1:${n.port}/healthz`);
            if (r.ok) return;
        } catch {
            /* not up yet */
        }
        await sleep(100);
    }
    throw new Error(`node ${name} did not come up (tests/artifacts/lotsed-node-${name}.log)`);
}

/** nginx as in deploy/nginx/lotse-nodes.conf, reduced to what the test needs. */
async function startNginx(port) {
    const prefix = join(work, 'nginx');
    mkdirSync(join(prefix, 'logs'), { recursive: true });
    const proxied = `
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $lotse_connection_upgrade;
        proxy_read_timeout 120s;
        proxy_buffering off;
        proxy_max_temp_file_size 0;`;
    const up = (n) => `127.0.0.1:${nodes.get(n).port}`;
    const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${prefix}/body;
    proxy_temp_path ${prefix}/proxy;
    fastcgi_temp_path ${prefix}/fastcgi;
    uwsgi_temp_path ${prefix}/uwsgi;
    scgi_temp_path ${prefix}/scgi;
    map $http_upgrade $lotse_connection_upgrade { default upgrade; '' ''; }
    upstream lotse_any {
        server ${up('a')} max_fails=0;
        server ${up('b')} max_fails=0;
    }
    upstream lotse_a { server ${up('a')}; }
    upstream lotse_b { server ${up('b')}; }
    server {
        listen 127.0.0.1:${port};
        location / { proxy_pass http://lotse_any; proxy_next_upstream error timeout http_502; ${proxied} }
        location /n/a/ { proxy_pass http://lotse_a/; ${proxied} }
        location /n/b/ { proxy_pass http://lotse_b/; ${proxied} }
    }
}
`;
    writeFileSync(join(prefix, 'nginx.conf'), conf);
    const log = openSync(join(env('LOTSE_ARTIFACTS'), 'nginx-nodes.log'), 'w');
    nginx = spawn(NGINX, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', 'stderr'], { stdio: ['ignore', log, log] });
    for (let i = 0; i < 50; i++) {
        try {
            if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return;
        } catch {
            /* not up yet */
        }
        await sleep(100);
    }
    throw new Error('nginx did not come up (tests/artifacts/nginx-nodes.log)');
}

/** Asks node name (through nginx, its own path) with a resume that cannot
 * succeed: a node that does not serve answers `moved`. The answer or null. */
async function ask(page, name) {
    return page.evaluate((name) => new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/n/${name}/ws`, 'lotse.v1');
        const done = (v) => {
            resolve(v);
            try {
                ws.close();
            } catch {
                /* closed */
            }
        };
        ws.onopen = () => ws.send(JSON.stringify({ t: 'resume', v: 1, token: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' }));
        ws.onmessage = (e) => typeof e.data === 'string' && done(JSON.parse(e.data));
        ws.onclose = () => done(null);
        setTimeout(() => done(null), 3000);
    }), name);
}

/** The node that serves now: the one that does not answer `moved`, as the other one says. */
async function serving(page, timeoutMs = 20000) {
    const until = Date.now() + timeoutMs;
    for (;;) {
        const answers = {};
        for (const n of NODES) answers[n] = nodes.get(n).proc && nodes.get(n).proc.exitCode === null ? await ask(page, n) : null;
        for (const n of NODES) {
            const other = NODES.find((x) => x !== n);
            const a = answers[n];
            if (a && a.t !== 'moved' && (!answers[other] || (answers[other].t === 'moved' && answers[other].node === n))) return n;
        }
        if (Date.now() > until) throw new Error(`no node serves: ${JSON.stringify(answers)}`);
        await sleep(300);
    }
}

/** The page's lines of text in the chat (its own: .mine, the other's: .theirs). */
async function lines(list, kind) {
    return list.locator(`.msg.${kind} .body`).allTextContents();
}

/** Waits until text is shown in list (kind) and then checks that it is there once. */
async function arrivesOnce(list, kind, text) {
    await list.locator(`.msg.${kind}`, { hasText: text }).first().waitFor({ state: 'attached', timeout: 30000 });
    await sleep(1500); // a duplicate would come right behind it
    const n = (await lines(list, kind)).filter((t) => t === text).length;
    assert.equal(n, 1, `"${text}" shown ${n} times`);
}

before(async () => {
    if (skip) return;
    work = mkdtempSync('/tmp/lotse-nodes-');
    process.env.LOTSE_DB = makeDatabase();
    for (const n of NODES) nodes.set(n, { port: await freePort(), proc: null });
    // a first, so a holds the lease; b comes up as the standby
    await startNode('a');
    await sleep(1500);
    await startNode('b');
    const port = await freePort();
    await startNginx(port);
    process.env.LOTSE_URL = `http://127.0.0.1:${port}`;
    browser = await launch();
});

after(async () => {
    if (browser) await browser.close();
    for (const n of nodes.values()) if (n.proc && n.proc.exitCode === null) n.proc.kill('SIGKILL');
    if (nginx && nginx.exitCode === null) nginx.kill('SIGQUIT');
    if (work && process.env.LOTSE_KEEP_WORK !== '1') rmSync(work, { recursive: true, force: true });
});

/** Waits until the page's connection banner is gone or says "back". */
async function backOnline(page) {
    await page.waitForFunction(() => {
        const b = document.getElementById('conn-banner');
        return b.hidden || b.dataset.i18n === 'conn.back';
    }, null, { timeout: 40000 });
}

test('SIGTERM on the serving node: young person and counsellor go on on the other node, nothing lost, nothing twice', { skip, timeout: 180000 }, async () => {
    const cctx = await newContext(browser, problems);
    const yctx = await newContext(browser, problems);
    // the probe's page (ask) is no one's: its errors (a favicon) do not count
    const probe = await (await newContext(browser, [])).newPage();
    await probe.goto(`${env('LOTSE_URL')}/healthz`);
    const first = await serving(probe);

    // the counsellor logs in through the generic path (either node: a
    // standby's `moved` sends the login on), the young person waits, a chat
    const c = await certifiedCounsellor(cctx, env('LOTSE_COUNSELLOR'), env('LOTSE_COUNSELLOR_PASSWORD'));
    const y = await youngWaiting(yctx, 'family');
    const panel = await takeNext(c, y);
    await youngSays(y, 'vorher: hallo');
    await panel.locator('.msg.theirs', { hasText: 'vorher: hallo' }).waitFor();
    await counsellorSays(panel, 'vorher: ich bin da');
    await y.locator('.msg.theirs', { hasText: 'vorher: ich bin da' }).waitFor();

    // every WebSocket the pages open from now on
    const urls = [];
    for (const p of [c, y]) p.on('websocket', (ws) => urls.push(new URL(ws.url()).pathname));

    // SIGTERM: the node hands over; both write while it does
    const gone = nodes.get(first);
    gone.proc.kill('SIGTERM');
    await youngSays(y, 'während: young 1');
    await counsellorSays(panel, 'während: counsellor 1');
    const { code, signal } = await gone.exited;
    assert.equal(signal, null, 'the node exits by itself');
    assert.equal(code, 0, 'exit 0 after the hand-over');
    await youngSays(y, 'während: young 2');
    await counsellorSays(panel, 'während: counsellor 2');

    await backOnline(y);
    await backOnline(c);
    const second = NODES.find((n) => n !== first);
    assert.ok(urls.includes(`/n/${second}/ws`), `a page connected to /n/${second}/ws: ${urls.join(' ')}`);

    for (const t of ['während: young 1', 'während: young 2']) await arrivesOnce(panel, 'theirs', t);
    for (const t of ['während: counsellor 1', 'während: counsellor 2']) await arrivesOnce(y, 'theirs', t);
    await youngSays(y, 'nachher: noch da?');
    await arrivesOnce(panel, 'theirs', 'nachher: noch da?');
    await counsellorSays(panel, 'nachher: ja');
    await arrivesOnce(y, 'theirs', 'nachher: ja');
    assert.equal(await y.locator('#view-chat').isVisible(), true, 'the young person is still in the chat');
    assert.equal(await c.locator('#view-console').isVisible(), true, 'the counsellor is still logged in');
    assert.equal(await y.locator('.msg.system', { hasText: 'beendet' }).count(), 0);

    // the rolling update goes on: the stopped node comes back as the standby
    await startNode(first);
    assert.equal(await serving(probe), second);

    // kill -9 of the serving node: the standby takes the lease when it runs
    // out; the pages try the dead node's path, then the generic /ws
    urls.length = 0;
    nodes.get(second).proc.kill('SIGKILL');
    await nodes.get(second).exited;
    await youngSays(y, 'kill: young');
    await counsellorSays(panel, 'kill: counsellor');
    await backOnline(y);
    await backOnline(c);
    // the dead node's path first, then (after two refusals) the generic path
    assert.ok(urls.includes(`/n/${second}/ws`) && urls.includes('/ws'), `the pages' connections: ${urls.join(' ')}`);
    assert.ok(urls.indexOf(`/n/${second}/ws`) < urls.indexOf('/ws'), `the pages' connections: ${urls.join(' ')}`);
    await arrivesOnce(panel, 'theirs', 'kill: young');
    await arrivesOnce(y, 'theirs', 'kill: counsellor');
    await y.locator('.msg.mine .state.delivered').last().waitFor();

    // nobody saw an error: only the browser's own notes about refused sockets
    // (the dead node's path) are allowed
    const real = problems.filter((p) => !/WebSocket connection to .* failed|502 \(Bad Gateway\)/.test(p));
    assert.deepEqual(real, []);
    await cctx.close();
    await yctx.close();
});
