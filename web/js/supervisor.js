// supervisor.js — live queue load from the server's queue_summary pushes:
// numbers, a per-topic table, a trouble banner and two small SVG charts whose
// history is kept in memory only (since the page was opened). Never content.
import { apply, bindSwitch, onLanguageChange, setText, setTexts, setTopicText, shortDuration, t } from './i18n.js';
import { login } from './protocol.js';
import { connect } from './ws.js';

setTexts({
    de: {
        brand: 'Supervision',
        skip: 'Zum Inhalt',
        'lang.switch': 'English',
        logout: 'Abmelden',
        'login.title': 'Anmelden',
        'login.handle': 'Benutzername',
        'login.password': 'Passwort',
        'login.button': 'Anmelden',
        'login.notsupervisor': 'Dieses Konto ist kein Supervisor-Konto.',
        'login.lost': 'Die Verbindung zum Server ist abgebrochen. Bitte melde dich neu an.',
        'error.auth_failed': 'Benutzername oder Passwort stimmt nicht.',
        'error.rate_limited': 'Zu viele Versuche. Bitte warte ein paar Minuten.',
        'error.db_unavailable': 'Der Server erreicht seine Datenbank gerade nicht. Bitte versuche es gleich noch einmal.',
        'error.busy': 'Der Server ist gerade ausgelastet. Bitte versuche es gleich noch einmal.',
        'error.other': 'Das hat nicht geklappt ({code}).',
        'dash.title': 'Lage jetzt',
        'dash.well': 'Alles ruhig.',
        'dash.nodata': 'Warte auf die ersten Zahlen vom Server …',
        'dash.note': 'Die Zahlen kommen live vom Server. Inhalte von Chats sieht niemand hier.',
        'trouble.long': 'Jemand wartet schon länger als 10 Minuten.',
        'trouble.nobody': 'Es wartet jemand, aber keine Beraterin und kein Berater ist verfügbar.',
        'stat.waiting': 'Wartend',
        'stat.longest': 'Längste Wartezeit',
        'stat.online': 'Beratende online',
        'stat.available': 'davon verfügbar',
        'stat.full': 'voll ausgelastet',
        'stat.active': 'Laufende Chats',
        'topics.title': 'Wartend pro Thema',
        'topics.topic': 'Thema',
        'topics.waiting': 'Wartend',
        'topics.longest': 'Längste Wartezeit',
        'chart.title': 'Verlauf (seit diese Seite offen ist)',
        'chart.waiting': 'Wartende',
        'chart.longest': 'Längste Wartezeit in Minuten',
        'chart.ago': 'vor {min} Min.',
        'chart.now': 'jetzt',
        'chart.summary': '{what}, letzte {min} Minuten: jetzt {now}, höchstens {max}.',
    },
    en: {
        brand: 'Supervision',
        skip: 'Skip to content',
        'lang.switch': 'Deutsch',
        logout: 'Log out',
        'login.title': 'Log in',
        'login.handle': 'User name',
        'login.password': 'Password',
        'login.button': 'Log in',
        'login.notsupervisor': 'This is not a supervisor account.',
        'login.lost': 'The connection to the server was lost. Please log in again.',
        'error.auth_failed': 'User name or password is wrong.',
        'error.rate_limited': 'Too many attempts. Please wait a few minutes.',
        'error.db_unavailable': 'The server cannot reach its database right now. Please try again shortly.',
        'error.busy': 'The server is busy right now. Please try again shortly.',
        'error.other': 'That did not work ({code}).',
        'dash.title': 'Right now',
        'dash.well': 'All calm.',
        'dash.nodata': 'Waiting for the first numbers from the server …',
        'dash.note': 'The numbers come live from the server. Nobody sees chat content here.',
        'trouble.long': 'Someone has been waiting for more than 10 minutes.',
        'trouble.nobody': 'Someone is waiting, but no counsellor is available.',
        'stat.waiting': 'Waiting',
        'stat.longest': 'Longest wait',
        'stat.online': 'Counsellors online',
        'stat.available': 'of them available',
        'stat.full': 'at capacity',
        'stat.active': 'Active chats',
        'topics.title': 'Waiting per topic',
        'topics.topic': 'Topic',
        'topics.waiting': 'Waiting',
        'topics.longest': 'Longest wait',
        'chart.title': 'History (since this page was opened)',
        'chart.waiting': 'Waiting',
        'chart.longest': 'Longest wait in minutes',
        'chart.ago': '{min} min ago',
        'chart.now': 'now',
        'chart.summary': '{what}, last {min} minutes: now {now}, at most {max}.',
    },
});

const $ = (id) => document.getElementById(id);
const TROUBLE_WAIT_S = 600;
const WINDOW_MS = 30 * 60 * 1000;
const SAMPLE_MS = 5000;
const SVG = 'http://www.w3.org/2000/svg';

let conn = null;
let loggedIn = false;
let summary = null; // the last push
let summaryAt = 0; // when it arrived (ms)
const history = []; // {t, waiting, longest}
let lastSample = 0;

// ---- login -------------------------------------------------------------------------------

function showLogin(errorKey, vars) {
    loggedIn = false;
    $('view-dash').hidden = true;
    $('view-login').hidden = false;
    $('logout').hidden = true;
    $('who').textContent = '';
    $('login-button').disabled = false;
    if (errorKey) {
        setText($('login-error'), errorKey, vars);
        $('login-error').hidden = false;
    }
}

function doLogin(ev) {
    ev.preventDefault();
    const handle = $('handle').value.trim();
    const password = $('password').value;
    if (!handle || !password) return;
    $('login-error').hidden = true;
    $('login-button').disabled = true;
    if (conn) conn.close();
    const c = connect({
        onOpen: () => c.sendJson(login(handle, password)),
        onMessage: (m) => c === conn && onMessage(m),
        onClose: () => c === conn && onLost(),
    });
    conn = c;
    $('password').value = '';
}

function onLost() {
    conn = null;
    showLogin(loggedIn ? 'login.lost' : 'error.other', { code: 'connection' });
}

function onMessage(m) {
    if (m.t === 'login_ok') {
        if (m.role !== 'supervisor') {
            conn.close();
            conn = null;
            showLogin('login.notsupervisor');
            return;
        }
        loggedIn = true;
        $('who').textContent = m.name || '';
        $('view-login').hidden = true;
        $('view-dash').hidden = false;
        $('logout').hidden = false;
        $('dash-title').tabIndex = -1;
        $('dash-title').focus();
    } else if (m.t === 'queue_summary') {
        summary = m;
        summaryAt = Date.now();
        history.push({ t: summaryAt, waiting: m.waiting | 0, longest: m.longest | 0 });
        render();
    } else if (m.t === 'error' && !loggedIn) {
        const known = ['auth_failed', 'rate_limited', 'db_unavailable', 'busy'];
        showLogin(known.includes(m.code) ? `error.${m.code}` : 'error.other', { code: m.code });
    }
}

// ---- numbers -------------------------------------------------------------------------------

/**
 * The server pushes only on change. Between pushes nobody joined or left the
 * queue, so whoever waits longest is still waiting: their wait grows by the
 * time since the push.
 */
function grown(longest, waiting) {
    return waiting > 0 ? longest + Math.floor((Date.now() - summaryAt) / 1000) : 0;
}

function render() {
    if (!summary) return;
    const m = summary;
    const longest = grown(m.longest | 0, m.waiting | 0);
    $('no-data').hidden = true;
    $('v-waiting').textContent = String(m.waiting | 0);
    $('v-longest').textContent = m.waiting ? shortDuration(longest) : '–';
    $('v-online').textContent = String(m.counsellors_online ?? '–');
    $('v-available').textContent = String(m.counsellors_available ?? '–');
    $('v-full').textContent = String(m.counsellors_at_capacity ?? '–');
    $('v-active').textContent = String(m.active ?? '–');

    const tooLong = longest > TROUBLE_WAIT_S;
    const nobody = m.waiting > 0 && (m.counsellors_available | 0) === 0;
    $('stat-longest').classList.toggle('bad', tooLong);
    $('stat-available').classList.toggle('bad', nobody);
    // rebuilt only when it changes, so a screen reader announces it once
    const state = `${tooLong}/${nobody}`;
    const banner = $('trouble');
    if (banner.dataset.state !== state) {
        banner.dataset.state = state;
        banner.replaceChildren();
        for (const [on, key] of [[tooLong, 'trouble.long'], [nobody, 'trouble.nobody']]) {
            if (!on) continue;
            const p = document.createElement('p');
            p.className = 'trouble-line';
            setText(p, key);
            banner.append(p);
        }
    }
    banner.hidden = !tooLong && !nobody;
    $('all-well').hidden = tooLong || nobody;

    const rows = $('topic-rows');
    rows.replaceChildren();
    for (const topic of m.topics || []) {
        const tr = document.createElement('tr');
        tr.dataset.topic = topic.topic;
        const th = document.createElement('th');
        th.scope = 'row';
        setTopicText(th, topic.topic);
        const w = document.createElement('td');
        w.className = 'num waiting';
        w.textContent = String(topic.waiting | 0);
        const l = document.createElement('td');
        l.className = 'num';
        l.textContent = topic.waiting ? shortDuration(grown(topic.longest | 0, topic.waiting)) : '–';
        tr.append(th, w, l);
        rows.append(tr);
    }
    renderCharts(longest);
}

// ---- charts (inline SVG, no library) -----------------------------------------------------------

function el(name, attrs, cls) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (cls) e.setAttribute('class', cls);
    return e;
}

function niceMax(v) {
    for (const step of [1, 2, 5, 10, 20, 30, 50, 100, 200, 500, 1000]) if (v <= step) return step;
    return Math.ceil(v / 1000) * 1000;
}

/** A step chart of {t, v} points over the last WINDOW_MS, with an optional threshold line. */
function chart(points, { label, cls, threshold, unit = '' }) {
    const W = 420;
    const H = 150;
    const L = 40;
    const R = 10;
    const T = 10;
    const B = 24;
    const now = Date.now();
    const from = now - WINDOW_MS;
    const visible = points.filter((p) => p.t >= from);
    const before = points.filter((p) => p.t < from).pop();
    if (before) visible.unshift({ t: from, v: before.v });
    const maxV = niceMax(Math.max(2, threshold || 0, ...visible.map((p) => p.v)));
    const x = (tm) => L + ((tm - from) / WINDOW_MS) * (W - L - R);
    const y = (v) => T + (1 - v / maxV) * (H - T - B);

    const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', preserveAspectRatio: 'xMidYMid meet' });
    const nowV = visible.length ? visible[visible.length - 1].v : 0;
    const peak = visible.reduce((a, p) => Math.max(a, p.v), 0);
    const summaryText = t('chart.summary', { what: label, min: WINDOW_MS / 60000, now: `${nowV}${unit}`, max: `${peak}${unit}` });
    svg.setAttribute('aria-label', summaryText);
    const title = el('title', {});
    title.textContent = summaryText;
    svg.append(title);

    for (const v of [0, maxV / 2, maxV]) {
        if (!Number.isInteger(v) && maxV < 10) continue; // whole numbers on small scales
        svg.append(el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v) }, v === 0 ? 'axis' : 'grid'));
        const tx = el('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' });
        tx.textContent = String(Math.round(v * 10) / 10);
        svg.append(tx);
    }
    if (threshold) svg.append(el('line', { x1: L, x2: W - R, y1: y(threshold), y2: y(threshold) }, 'threshold'));
    const ago = el('text', { x: L, y: H - 6 });
    ago.textContent = t('chart.ago', { min: WINDOW_MS / 60000 });
    const nowLabel = el('text', { x: W - R, y: H - 6, 'text-anchor': 'end' });
    nowLabel.textContent = t('chart.now');
    svg.append(ago, nowLabel);

    if (visible.length) {
        const pts = [];
        visible.forEach((p, i) => {
            if (i > 0) pts.push(`${x(p.t).toFixed(1)},${y(visible[i - 1].v).toFixed(1)}`);
            pts.push(`${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
        });
        pts.push(`${x(now).toFixed(1)},${y(nowV).toFixed(1)}`);
        svg.append(el('polyline', { points: pts.join(' ') }, cls));
    }
    const heading = document.createElement('h3');
    heading.className = 'small';
    heading.textContent = label;
    return [heading, svg];
}

function renderCharts(longestNow) {
    const now = Date.now();
    // sample between pushes too, so the longest wait is drawn as it grows
    if (summary && now - lastSample >= SAMPLE_MS) {
        lastSample = now;
        history.push({ t: now, waiting: summary.waiting | 0, longest: longestNow });
    }
    while (history.length > 2 && history[1].t < now - WINDOW_MS) history.shift();
    const waiting = history.map((h) => ({ t: h.t, v: h.waiting }));
    const longest = history.map((h) => ({ t: h.t, v: Math.round((h.longest / 60) * 10) / 10 }));
    $('chart-waiting').replaceChildren(...chart(waiting, { label: t('chart.waiting'), cls: 'line-waiting' }));
    $('chart-longest').replaceChildren(...chart(longest, {
        label: t('chart.longest'), cls: 'line-longest', threshold: TROUBLE_WAIT_S / 60,
    }));
}

// ---- start ---------------------------------------------------------------------------------------

function main() {
    bindSwitch($('lang'));
    onLanguageChange(() => {
        document.title = t('brand');
        render();
    });
    $('login-form').addEventListener('submit', doLogin);
    $('logout').addEventListener('click', () => {
        if (conn) conn.close();
        conn = null;
        summary = null;
        history.length = 0;
        showLogin();
    });
    setInterval(render, 1000);
    apply();
}

main();
